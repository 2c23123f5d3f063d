"""The GAQL parser: documented examples, error codes, and properties over generated queries."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.tools.sandbox.gaql import (
    DATE_RANGES,
    Condition,
    GaqlError,
    Ordering,
    Query,
    parse,
    render,
)


def test_parses_a_typical_report_query():
    query = parse(
        "SELECT campaign.id, metrics.clicks FROM campaign "
        "WHERE segments.date DURING LAST_7_DAYS AND campaign.status IN ('ENABLED', PAUSED) "
        "AND metrics.cost_micros > 1000000 ORDER BY metrics.clicks DESC, campaign.id LIMIT 5"
    )
    assert query == Query(
        select=("campaign.id", "metrics.clicks"),
        resource="campaign",
        where=(
            Condition("segments.date", "DURING", ("LAST_7_DAYS",)),
            Condition("campaign.status", "IN", ("ENABLED", "PAUSED")),
            Condition("metrics.cost_micros", ">", (Decimal(1000000),)),
        ),
        order_by=(Ordering("metrics.clicks", True), Ordering("campaign.id", False)),
        limit=5,
    )


def test_keywords_are_case_insensitive_and_between_takes_dates():
    query = parse("select campaign.id from campaign where segments.date between '2026-10-01' and \"2026-10-07\"")
    assert query.where == (Condition("segments.date", "BETWEEN", ("2026-10-01", "2026-10-07")),)


def test_is_null_like_not_in_and_parameters():
    query = parse(
        "SELECT ad_group.id FROM ad_group WHERE ad_group.name LIKE 'Hik%' AND ad_group.id NOT IN (1, 2) "
        "AND campaign.name IS NOT NULL PARAMETERS include_drafts = true"
    )
    assert [c.op for c in query.where] == ["LIKE", "NOT IN", "IS NOT NULL"]
    assert query.parameters == {"include_drafts": True}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "EXPECTED_SELECT"),
        ("campaign.id FROM campaign", "EXPECTED_SELECT"),
        ("SELECT campaign.id", "EXPECTED_FROM"),
        ("SELECT campaign.id FROM", "UNEXPECTED_END_OF_QUERY"),
        ("SELECT campaign.id FROM campaign.x", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
        ("SELECT campaign.id FROM campaign WHERE", "UNEXPECTED_END_OF_QUERY"),
        ("SELECT campaign.id FROM campaign WHERE campaign.id ~ 3", "BAD_SYMBOL"),
        ("SELECT campaign.id FROM campaign WHERE campaign.id IN 3", "EXPECTED_LIST"),
        ("SELECT campaign.id FROM campaign WHERE campaign.id IN (3", "EXPECTED_LIST"),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date DURING LAST_3_WEEKS",
            "INVALID_VALUE_WITH_DURING_OPERATOR",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date BETWEEN '2026-01-01' '2026-01-02'",
            "EXPECTED_AND",
        ),
        ("SELECT campaign.id FROM campaign LIMIT 0", "BAD_LIMIT_VALUE"),
        ("SELECT campaign.id FROM campaign LIMIT -1", "BAD_LIMIT_VALUE"),
        ("SELECT campaign.id FROM campaign ORDER campaign.id", "EXPECTED_BY"),
        ("SELECT campaign.id FROM campaign extra", "UNEXPECTED_INPUT"),
        ("SELECT campaign.id, campaign.id FROM campaign", "PROHIBITED_FIELD_COMBINATION_IN_SELECT_CLAUSE"),
        ("SELECT FROM campaign", "BAD_FIELD_NAME"),
    ],
)
def test_errors_carry_the_query_error_code(text, code):
    with pytest.raises(GaqlError) as info:
        parse(text)
    assert info.value.code == code


_IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: (
        s.upper()
        not in {
            "SELECT",
            "FROM",
            "WHERE",
            "AND",
            "ORDER",
            "BY",
            "ASC",
            "DESC",
            "LIMIT",
            "IN",
            "NOT",
            "BETWEEN",
            "DURING",
            "LIKE",
            "IS",
            "NULL",
            "PARAMETERS",
            "TRUE",
            "FALSE",
        }
    )
)
_FIELD = st.lists(_IDENT, min_size=2, max_size=4).map(".".join)
_VALUE = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6),
    st.from_regex(r"[A-Z][A-Z_]{0,10}", fullmatch=True).filter(
        lambda s: (
            s
            not in {
                "TRUE",
                "FALSE",
                "AND",
                "IN",
                "NOT",
                "IS",
                "NULL",
                "LIKE",
                "BY",
                "ASC",
                "DESC",
                "FROM",
                "WHERE",
                "ORDER",
                "LIMIT",
                "SELECT",
                "BETWEEN",
                "DURING",
                "PARAMETERS",
            }
        )
    ),
)
_CONDITION = st.one_of(
    st.builds(
        lambda f, op, v: Condition(f, op, (v,)),
        _FIELD,
        st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
        _VALUE,
    ),
    st.builds(
        lambda f, vs: Condition(f, "IN", tuple(vs)),
        _FIELD,
        st.lists(_VALUE, min_size=1, max_size=4),
    ),
    st.builds(
        lambda f, vs: Condition(f, "NOT IN", tuple(vs)),
        _FIELD,
        st.lists(_VALUE, min_size=1, max_size=4),
    ),
    st.builds(lambda f, a, b: Condition(f, "BETWEEN", (a, b)), _FIELD, _VALUE, _VALUE),
    st.builds(lambda f, r: Condition(f, "DURING", (r,)), _FIELD, st.sampled_from(sorted(DATE_RANGES))),
    st.builds(lambda f: Condition(f, "IS NULL"), _FIELD),
)
_QUERY = st.builds(
    Query,
    select=st.lists(_FIELD, min_size=1, max_size=5, unique=True).map(tuple),
    resource=_IDENT,
    where=st.lists(_CONDITION, max_size=4).map(tuple),
    order_by=st.lists(st.builds(Ordering, _FIELD, st.booleans()), max_size=3).map(tuple),
    limit=st.one_of(st.none(), st.integers(min_value=1, max_value=10**6)),
)


@given(_QUERY)
def test_render_then_parse_round_trips(query):
    assert parse(render(query)) == query


@given(st.text(max_size=120))
def test_arbitrary_text_never_crashes_the_parser(text):
    try:
        parse(text)
    except GaqlError as exc:
        assert exc.code and exc.message


@given(_QUERY, st.integers(min_value=0, max_value=200))
def test_truncated_queries_fail_cleanly(query, cut):
    text = render(query)
    try:
        parse(text[: min(cut, len(text))])
    except GaqlError as exc:
        assert exc.code

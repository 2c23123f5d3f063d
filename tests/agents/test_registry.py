"""Approval ids: exact, or a unique prefix of at least 8 characters; a decided one says by whom."""

import pytest

from adpilot.agents.registry import RunRegistry
from adpilot.errors import UsageError

PENDING = [{"id": "seo.0db7807ca507318a"}, {"id": "seo.0db7ffffffffffff"}, {"id": "bid-1112.aa11"}]


@pytest.fixture
def registry(tmp_path):
    registry = RunRegistry(tmp_path / "runs.sqlite")
    registry.upsert("t1", "t1", "maintenance", ["1112223333"], "waiting", PENDING)
    yield registry
    registry.close()


def test_exact_ids_and_unique_prefixes_name_one_approval(registry):
    assert registry.find_pending("bid-1112.aa11")[1] == "bid-1112.aa11"  # exact, even when short
    assert registry.find_pending("seo.0db78")[1] == "seo.0db7807ca507318a"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "at least 8"),
        ("7318a", "at least 8"),  # a suffix names nothing
        ("318a", "at least 8"),
        ("seo.0db7", "matches 2 approvals"),
        ("seo.1234567", "no pending approval"),
    ],
)
def test_anything_else_is_an_error_never_a_guess(registry, given, message):
    with pytest.raises(UsageError, match=message):
        registry.find_pending(given)


def test_a_decided_approval_names_who_decided_it_by_prefix_too(registry):
    registry.record_decision("seo.0db7807ca507318a", "t1", "approve", "lena")  # her process died ...
    registry.record_decision("seo.0db7807ca507318a", "t1", "reject", "tom")  # ... tom's decision was taken
    assert registry.decision("seo.0db7807ca507318a").approver == "tom"
    registry.upsert("t1", "t1", "maintenance", ["1112223333"], "waiting", PENDING[1:])
    with pytest.raises(UsageError, match="already decided: rejected by tom"):
        registry.find_pending("seo.0db7807c")

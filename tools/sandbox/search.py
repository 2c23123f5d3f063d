"""Executes parsed GAQL against a sandbox customer, returning rows in the REST wire shape.

Rows are nested objects with camelCase keys (``{"campaign": {"resourceName": …, "id": "111"},
"metrics": {"clicks": "12", "costMicros": "9400000"}}``); int64 values are JSON strings and
doubles are numbers, as the real API serialises them.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from adpilot.tools.sandbox.gaql import Condition, GaqlError, Query, Value
from adpilot.tools.sandbox.world import (
    AdGroup,
    AdGroupAd,
    AdGroupCriterion,
    Campaign,
    CampaignBudget,
    ChangeEvent,
    Customer,
    Stat,
)


class CustomerClient(BaseModel):
    """One account under a manager, as the ``customer_client`` resource serves it (queried on the
    manager; the manager itself is the level-0 row)."""

    resource_name: str
    client_customer: str
    id: str
    descriptive_name: str
    level: str  # int64
    manager: bool
    currency_code: str
    time_zone: str
    status: Literal["ENABLED", "CANCELED", "SUSPENDED", "CLOSED"] = "ENABLED"
    hidden: bool = False
    test_account: bool = False


_CUSTOMER_FIELDS = ("resource_name", "id", "descriptive_name", "currency_code", "time_zone")

# resource → (model, resources whose fields may be selected alongside it)
_RESOURCES: dict[str, tuple[type[BaseModel] | None, tuple[str, ...]]] = {
    "customer": (Customer, ()),
    "campaign_budget": (CampaignBudget, ("customer",)),
    "campaign": (Campaign, ("campaign_budget", "customer")),
    "ad_group": (AdGroup, ("campaign", "campaign_budget", "customer")),
    "ad_group_ad": (AdGroupAd, ("ad_group", "campaign", "campaign_budget", "customer")),
    "ad_group_criterion": (
        AdGroupCriterion,
        ("ad_group", "campaign", "campaign_budget", "customer"),
    ),
    "keyword_view": (
        None,
        ("ad_group_criterion", "ad_group", "campaign", "campaign_budget", "customer"),
    ),
    "change_event": (ChangeEvent, ()),
    "customer_client": (CustomerClient, ()),
}
_MODELS = {name: model for name, (model, _) in _RESOURCES.items()}

_INT_METRICS = ("impressions", "clicks", "cost_micros")
_DOUBLE_METRICS = ("conversions", "conversions_value", "ctr", "average_cpc", "cost_per_conversion")
METRICS = frozenset(_INT_METRICS + _DOUBLE_METRICS)
SEGMENTS = frozenset({"date"})


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {camel(k): _camel_keys(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def _annotation(model: type[BaseModel], path: list[str]) -> Any:
    """The type annotation at ``path`` inside ``model``, or raise KeyError."""
    annotation: Any = model
    for part in path:
        inner = _unwrap(annotation)
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)) or part not in inner.model_fields:
            raise KeyError(part)
        annotation = inner.model_fields[part].annotation
    return annotation


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def _enum_values(annotation: Any) -> frozenset[str] | None:
    inner = _unwrap(annotation)
    if typing.get_origin(inner) is Literal:
        return frozenset(str(a) for a in typing.get_args(inner))
    return None


@dataclass(frozen=True)
class _Field:
    name: str
    kind: str  # attribute | metric | segment
    resource: str = ""
    path: tuple[str, ...] = ()
    enum: frozenset[str] | None = None
    numeric: bool = False


def resolve_field(name: str, resource: str) -> _Field:
    """Check a field name against the FROM resource; raise GaqlError naming what is wrong."""
    prefix, _, rest = name.partition(".")
    if prefix == "metrics":
        if rest not in METRICS:
            raise GaqlError("UNRECOGNIZED_FIELD", f"unrecognized field {name!r}; metrics are {sorted(METRICS)}")
        return _Field(name, "metric", numeric=True)
    if prefix == "segments":
        if rest not in SEGMENTS:
            raise GaqlError(
                "UNRECOGNIZED_FIELD",
                f"unrecognized field {name!r}; segments are {sorted(SEGMENTS)}",
            )
        return _Field(name, "segment")
    _, related = _RESOURCES[resource]
    if prefix != resource and prefix not in related:
        if prefix in _RESOURCES:
            raise GaqlError(
                "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
                f"{prefix!r} fields cannot be selected FROM {resource}",
            )
        raise GaqlError("UNRECOGNIZED_FIELD", f"unrecognized field {name!r}")
    if not rest:
        raise GaqlError("UNRECOGNIZED_FIELD", f"{name!r} names a resource, not a field")
    path = rest.split(".")
    if prefix == "keyword_view":
        if path != ["resource_name"]:
            raise GaqlError("UNRECOGNIZED_FIELD", f"unrecognized field {name!r}")
        return _Field(name, "attribute", prefix, tuple(path))
    model = _MODELS[prefix]
    assert model is not None
    if model is Customer and path[0] not in _CUSTOMER_FIELDS:
        raise GaqlError("UNRECOGNIZED_FIELD", f"unrecognized field {name!r}")
    try:
        annotation = _annotation(model, path)
    except KeyError as exc:
        raise GaqlError("UNRECOGNIZED_FIELD", f"unrecognized field {name!r} (no {exc.args[0]!r})") from None
    inner = _unwrap(annotation)
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        subfields = ", ".join(f"{name}.{f}" for f in inner.model_fields)
        raise GaqlError("UNRECOGNIZED_FIELD", f"{name!r} is a message; select one of: {subfields}")
    numeric = path[-1] in ("id", "criterion_id", "level") or path[-1].endswith("_micros")
    return _Field(name, "attribute", prefix, tuple(path), _enum_values(annotation), numeric)


@dataclass
class _Row:
    key: str
    entities: dict[str, BaseModel]
    resource_names: dict[str, str]
    metrics: Stat | None = None
    date: str | None = None


def _date_range(literal: str, today: dt.date) -> tuple[dt.date, dt.date]:
    yesterday = today - dt.timedelta(days=1)
    if literal == "TODAY":
        return today, today
    if literal == "YESTERDAY":
        return yesterday, yesterday
    match = re.fullmatch(r"LAST_(\d+)_DAYS", literal)
    if match:
        return today - dt.timedelta(days=int(match.group(1))), yesterday
    if literal == "THIS_MONTH":
        return today.replace(day=1), today
    if literal == "LAST_MONTH":
        end = today.replace(day=1) - dt.timedelta(days=1)
        return end.replace(day=1), end
    if literal == "THIS_WEEK_MON_TODAY":
        return today - dt.timedelta(days=today.weekday()), today
    start = today - dt.timedelta(days=today.weekday() + 7)
    return start, start + dt.timedelta(days=6)


def _as_date(value: Value) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise GaqlError("INVALID_DATE_FORMAT", f"{value!r} is not a date (YYYY-MM-DD)") from None


def _date_window(conditions: Iterable[Condition], today: dt.date) -> tuple[dt.date, dt.date] | None:
    low, high = dt.date.min, dt.date.max
    bounded_low = bounded_high = False
    for cond in conditions:
        if cond.field != "segments.date":
            continue
        if cond.op == "DURING":
            start, end = _date_range(str(cond.values[0]), today)
        elif cond.op == "BETWEEN":
            start, end = _as_date(cond.values[0]), _as_date(cond.values[1])
        elif cond.op == "=":
            start = end = _as_date(cond.values[0])
        elif cond.op in (">=", ">"):
            start, end = _as_date(cond.values[0]), dt.date.max
            if cond.op == ">":
                start += dt.timedelta(days=1)
        elif cond.op in ("<=", "<"):
            start, end = dt.date.min, _as_date(cond.values[0])
            if cond.op == "<":
                end -= dt.timedelta(days=1)
        elif cond.op == "IN":
            dates = [_as_date(v) for v in cond.values]
            start, end = min(dates), max(dates)
        else:
            raise GaqlError("BAD_OPERATOR", f"operator {cond.op} is not supported on segments.date")
        low, high = max(low, start), min(high, end)
        bounded_low = bounded_low or start != dt.date.min
        bounded_high = bounded_high or end != dt.date.max
    if not (bounded_low or bounded_high):
        return None
    if not (bounded_low and bounded_high):
        raise GaqlError("EXPECTED_FILTERS_ON_DATE_RANGE", "segments.date needs a finite date range")
    return low, high


def _entity_rows(customer: Customer, resource: str, clients: list[CustomerClient] | None = None) -> list[_Row]:
    campaigns = {c.resource_name: c for c in customer.campaigns.values()}
    budgets = {b.resource_name: b for b in customer.campaign_budgets.values()}
    groups = {g.resource_name: g for g in customer.ad_groups.values()}

    def with_parents(entities: dict[str, BaseModel]) -> dict[str, BaseModel]:
        group = entities.get("ad_group")
        if isinstance(group, AdGroup) and group.campaign in campaigns:
            entities["campaign"] = campaigns[group.campaign]
        campaign = entities.get("campaign")
        if isinstance(campaign, Campaign) and campaign.campaign_budget in budgets:
            entities["campaign_budget"] = budgets[campaign.campaign_budget]
        entities["customer"] = customer
        return entities

    rows: list[_Row] = []
    if resource == "change_event":
        for key, event in customer.change_events.items():
            rows.append(_Row(key, {"change_event": event}, {"change_event": event.resource_name}))
        return sorted(rows, key=lambda r: int(r.key))
    if resource == "customer_client":
        for index, client in enumerate(clients or []):
            rows.append(_Row(str(index), {"customer_client": client}, {"customer_client": client.resource_name}))
        return rows
    if resource == "customer":
        rows.append(_Row(customer.id, {"customer": customer}, {"customer": customer.resource_name}))
    elif resource == "campaign_budget":
        for key, budget in customer.campaign_budgets.items():
            rows.append(_Row(key, with_parents({"campaign_budget": budget}), {}))
    elif resource == "campaign":
        for key, campaign in customer.campaigns.items():
            rows.append(_Row(key, with_parents({"campaign": campaign}), {}))
    elif resource == "ad_group":
        for key, group in customer.ad_groups.items():
            rows.append(_Row(key, with_parents({"ad_group": group}), {}))
    elif resource == "ad_group_ad":
        for key, ad in customer.ad_group_ads.items():
            rows.append(_Row(key, with_parents({"ad_group_ad": ad, "ad_group": groups[ad.ad_group]}), {}))
    else:
        for key, criterion in customer.ad_group_criteria.items():
            entities = with_parents({"ad_group_criterion": criterion, "ad_group": groups[criterion.ad_group]})
            rows.append(_Row(key, entities, {}))
    for row in rows:
        for name, entity in row.entities.items():
            row.resource_names[name] = getattr(entity, "resource_name", "")
        if resource == "keyword_view":
            row.resource_names["keyword_view"] = f"customers/{customer.id}/keywordViews/{row.key}"
    return sorted(rows, key=lambda r: tuple(int(p) for p in r.key.split("~")))


def _stat_owner(customer: Customer, resource: str) -> Callable[[str], str | None]:
    """Maps a stats key 'adgroup~criterion~ad' to the key of the row it belongs to."""
    group_campaign = {g.id: g.campaign.rsplit("/", 1)[1] for g in customer.ad_groups.values()}
    campaign_budget = {c.id: c.campaign_budget.rsplit("/", 1)[1] for c in customer.campaigns.values()}

    def owner(key: str) -> str | None:
        group, criterion, ad = key.split("~")
        if resource == "customer":
            return customer.id
        if resource == "ad_group":
            return group
        if resource == "ad_group_ad":
            return f"{group}~{ad}"
        if resource in ("ad_group_criterion", "keyword_view"):
            return f"{group}~{criterion}"
        campaign = group_campaign.get(group)
        if resource == "campaign":
            return campaign
        return campaign_budget.get(campaign or "")

    return owner


def _add(total: list[int], stat: Stat) -> None:
    # Plain ints: adding into validated models re-validated every field on every row.
    total[0] += stat.impressions
    total[1] += stat.clicks
    total[2] += stat.cost_micros
    total[3] += stat.conversions
    total[4] += stat.conversions_value_micros


def _stat(total: list[int]) -> Stat:
    return Stat.model_construct(
        impressions=total[0],
        clicks=total[1],
        cost_micros=total[2],
        conversions=total[3],
        conversions_value_micros=total[4],
    )


def _metric(stat: Stat, name: str) -> int | float:
    if name in ("impressions", "clicks", "cost_micros"):
        return int(getattr(stat, name))
    if name == "conversions":
        return float(stat.conversions)
    if name == "conversions_value":
        return stat.conversions_value_micros / 1_000_000
    if name == "ctr":
        return stat.clicks / stat.impressions if stat.impressions else 0.0
    if name == "average_cpc":
        return stat.cost_micros / stat.clicks if stat.clicks else 0.0
    return stat.cost_micros / stat.conversions if stat.conversions else 0.0


def _value(row: _Row, spec: _Field) -> Any:
    if spec.kind == "metric":
        return _metric(row.metrics or Stat(), spec.name.split(".", 1)[1])
    if spec.kind == "segment":
        return row.date
    if spec.resource == "keyword_view":
        return row.resource_names["keyword_view"]
    node: Any = row.entities.get(spec.resource)
    for part in spec.path:
        node = getattr(node, part, None) if node is not None else None
    if isinstance(node, list):
        return [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in node]
    return node


def _comparable(value: Any, spec: _Field) -> Any:
    if spec.numeric and value is not None and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def _literal(value: Value, spec: _Field) -> Any:
    if spec.enum is not None:
        if not isinstance(value, str) or value not in spec.enum:
            raise GaqlError(
                "BAD_ENUM_CONSTANT",
                f"{value!r} is not a valid {spec.name}; expected one of {sorted(spec.enum)}",
            )
        return value
    if spec.numeric:
        try:
            return Decimal(str(value))
        except ArithmeticError:
            raise GaqlError("BAD_NUMBER", f"{value!r} is not a number for {spec.name}") from None
    return value


def _matches(row: _Row, cond: Condition, spec: _Field) -> bool:
    actual = _comparable(_value(row, spec), spec)
    if cond.op == "IS NULL":
        return actual in (None, "", [])
    if cond.op == "IS NOT NULL":
        return actual not in (None, "", [])
    values = [_literal(v, spec) for v in cond.values]
    if cond.op == "LIKE":
        pattern = re.escape(str(values[0])).replace("%", ".*").replace("_", ".")
        return actual is not None and re.fullmatch(pattern, str(actual), re.IGNORECASE) is not None
    if cond.op == "IN":
        return actual in values
    if cond.op == "NOT IN":
        return actual not in values
    if actual is None:
        return False
    try:
        if cond.op == "BETWEEN":
            return bool(values[0] <= actual <= values[1])
        first = values[0]
        return {
            "=": actual == first,
            "!=": actual != first,
            "<": actual < first,
            "<=": actual <= first,
            ">": actual > first,
            ">=": actual >= first,
        }[cond.op]
    except TypeError:
        raise GaqlError("BAD_VALUE", f"cannot compare {spec.name} with {cond.values[0]!r}") from None


def _place(target: dict[str, Any], name: str, value: Any, spec: _Field) -> None:
    parts = name.split(".")
    node = target
    for part in parts[:-1]:
        node = node.setdefault(camel(part), {})
    if spec.kind == "metric" and isinstance(value, int):
        value = str(value)
    node[camel(parts[-1])] = _camel_keys(value)


def execute(
    query: Query, customer: Customer, today: dt.date, clients: list[CustomerClient] | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Run ``query`` against one customer; returns (results, fieldMask). The field mask is the
    REST JSON form: lowerCamelCase paths (``campaignBudget.amountMicros``). ``clients``: the
    accounts under this customer, when it is a manager (the customer_client resource)."""
    if query.resource not in _RESOURCES:
        raise GaqlError(
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
            f"unknown resource {query.resource!r}; supported: {', '.join(sorted(_RESOURCES))}",
        )
    selected = [resolve_field(name, query.resource) for name in query.select]
    filters = [(cond, resolve_field(cond.field, query.resource)) for cond in query.where]
    orderings = [(o, resolve_field(o.field, query.resource)) for o in query.order_by]
    for ordering, spec in orderings:
        if spec.kind == "attribute" and spec.path and _value_is_list(spec):
            raise GaqlError("BAD_FIELD_NAME", f"cannot ORDER BY repeated field {ordering.field}")
    wants_metrics = any(s.kind == "metric" for s in selected + [f for _, f in filters] + [f for _, f in orderings])
    by_date = any(s.kind == "segment" for s in selected)
    window = _date_window((c for c, _ in filters), today)
    if by_date and window is None:
        raise GaqlError(
            "EXPECTED_FILTERS_ON_DATE_RANGE",
            "selecting segments.date requires a finite date range in WHERE",
        )

    if query.resource in ("change_event", "customer_client") and any(
        s.kind != "attribute" for s in selected + [f for _, f in filters]
    ):
        raise GaqlError("PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE", f"{query.resource} has no metrics or segments")
    base_rows = _entity_rows(customer, query.resource, clients)
    rows: list[_Row] = base_rows
    if wants_metrics or by_date:
        owner = _stat_owner(customer, query.resource)
        totals: dict[tuple[str, str | None], list[int]] = {}
        for day, day_stats in customer.stats.items():
            if window is not None and not (window[0] <= dt.date.fromisoformat(day) <= window[1]):
                continue
            for key, stat in day_stats.items():
                row_key = owner(key)
                if row_key is not None:
                    _add(totals.setdefault((row_key, day if by_date else None), [0, 0, 0, 0, 0]), stat)
        if by_date:
            rows = [
                _Row(row.key, row.entities, row.resource_names, _stat(total), day)
                for row in base_rows
                for (key, day), total in sorted(totals.items(), key=lambda item: item[0][1] or "")
                if key == row.key and total[0]
            ]
        else:
            for row in base_rows:
                row.metrics = _stat(totals.get((row.key, None), [0, 0, 0, 0, 0]))
    rows = [
        row for row in rows if all(_matches(row, cond, spec) for cond, spec in filters if cond.field != "segments.date")
    ]
    for ordering, spec in reversed(orderings):
        present = [r for r in rows if _value(r, spec) is not None]
        missing = [r for r in rows if _value(r, spec) is None]
        present.sort(key=lambda r: _comparable(_value(r, spec), spec), reverse=ordering.descending)
        rows = present + missing
    if query.limit is not None:
        rows = rows[: query.limit]

    results = []
    for row in rows:
        result: dict[str, Any] = {}
        resources = {query.resource} | {s.resource for s in selected if s.kind == "attribute"}
        for name in sorted(resources):
            result.setdefault(camel(name), {})["resourceName"] = row.resource_names.get(name, "")
        for spec in selected:
            _place(result, spec.name, _value(row, spec), spec)
        results.append(result)
    return results, ",".join(".".join(camel(part) for part in name.split(".")) for name in query.select)


def _value_is_list(spec: _Field) -> bool:
    model = _MODELS.get(spec.resource)
    if model is None:
        return False
    return typing.get_origin(_unwrap(_annotation(model, list(spec.path)))) is list

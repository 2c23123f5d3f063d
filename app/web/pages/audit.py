"""The audit trail: the rows the filters select (as `adpilot audit show` reads them: one sentence a
change, reads hidden unless asked for), the chain's verification, and the export (jsonl or csv)."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from adpilot.app.audit_view import (
    EXPORT_FORMATS,
    Filters,
    account_of,
    change_phrase,
    export_records,
    fold,
    money_accounts,
    open_audit,
    outcome_phrase,
    read_currencies,
    rule_phrase,
    select,
    write_export,
)
from adpilot.app.web.core import HEADERS, Ctx, Refused, field, page, respond
from adpilot.app.web.html import Markup, table, tag
from adpilot.errors import AdpilotError

FILTERS = ("account", "entity", "run", "role", "tool", "decision", "kind", "since", "until")
DEFAULT_LIMIT = 200


def filters_of(ctx: Ctx, default_limit: int | None) -> Filters:
    """The query's filters (every one as `audit show` takes it; an empty field is no filter)."""
    query = ctx.request.query_params
    given: dict[str, Any] = {name: query.get(name) or None for name in FILTERS}
    limit = query.get("limit") or (str(default_limit) if default_limit else "")
    if limit and not limit.isdigit():
        raise Refused(400, f"limit {limit!r}: a number of rows")
    try:
        return Filters.from_args(
            SimpleNamespace(**given, limit=int(limit) if limit else None, reads=query.get("reads") == "1")
        )
    except AdpilotError as exc:
        raise Refused(400, str(exc)) from None


def _query(filters: Filters) -> str:
    from urllib.parse import urlencode

    pairs = {name: getattr(filters, name) for name in FILTERS if getattr(filters, name) is not None}
    pairs = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in pairs.items()}
    if filters.reads:
        pairs["reads"] = "1"
    if filters.limit is not None:
        pairs["limit"] = str(filters.limit)
    return urlencode(pairs)


def _filter_form(ctx: Ctx, filters: Filters) -> Markup:
    t = ctx.t
    query = ctx.request.query_params
    inputs = [
        field(name, tag("input", id=f"f-{name}", name=name, value=query.get(name) or ""), id_=f"f-{name}")
        for name in FILTERS
    ]
    limit = field(
        t["audit.limit"],
        tag("input", id="f-limit", name="limit", type="number", min="1", value=str(filters.limit or "")),
        id_="f-limit",
    )
    reads = tag(
        "p",
        tag("input", id="f-reads", name="reads", type="checkbox", value="1", checked=filters.reads),
        " ",
        tag("label", t["audit.reads"], for_="f-reads"),
        class_="field",
    )
    return tag(
        "form",
        tag("div", inputs, limit, reads, class_="grid"),
        tag("button", t["audit.filter"], type="submit"),
        method="get",
        action="/audit",
        class_="filters",
    )


@page("viewer")
async def audit(ctx: Ctx) -> Response:
    t = ctx.t
    filters = filters_of(ctx, DEFAULT_LIMIT)
    log = open_audit(ctx.config)
    try:
        records = select(log, filters)
    finally:
        log.close()
    decided: dict[int, Any] = {}
    if filters.kind is None:
        records, decided, _ = fold(records)
    currencies = await read_currencies(ctx.config, money_accounts(records))
    rows = []
    for r in records:
        account = account_of(r) or "-"
        why = rule_phrase(decided[r.seq].rule, decided[r.seq].reason) if r.seq in decided else None
        rows.append(
            [
                r.seq,
                r.ts.replace("T", " ")[:19],
                account,
                f"{r.role} ({r.actor})",
                f"{change_phrase(r, currencies.get(account))} — {outcome_phrase(r, why)}",
            ]
        )
    query = _query(filters)
    links = tag(
        "p",
        tag("a", t["audit.verify"], href="/audit/verify"),
        " · ",
        [
            [tag("a", f"{t['audit.export']} ({fmt})", href=f"/audit/export?format={fmt}&{query}"), " "]
            for fmt in EXPORT_FORMATS
        ],
    )
    listing = (
        table([t["col.seq"], t["col.time"], t["col.account"], t["col.who"], t["col.what"]], rows)
        if rows
        else tag("p", t["audit.none"])
    )
    return respond(ctx, t["audit.title"], [_filter_form(ctx, filters), links, listing])


@page("viewer")
async def verify(ctx: Ctx) -> Response:
    from adpilot.app.governed import verify_audit

    t = ctx.t
    try:
        status = verify_audit(ctx.config)
        body = tag("p", t["audit.intact"].format(rows=status["rows"]), class_="ok", role="status")
        code = 200
    except AdpilotError as exc:
        body = tag("p", t["audit.broken"].format(message=str(exc)), class_="error", role="alert")
        code = 409
    return respond(ctx, t["audit.verify"], [body, tag("p", tag("a", t["back"], href="/audit"))], status=code)


@page("viewer")
async def export(ctx: Ctx) -> Response:
    fmt = ctx.request.query_params.get("format", "jsonl")
    if fmt not in EXPORT_FORMATS:
        raise Refused(400, f"format {fmt!r}: one of {', '.join(EXPORT_FORMATS)}")
    filters = filters_of(ctx, None)
    out = io.StringIO()
    write_export(export_records(ctx.config, filters), fmt, out)
    media = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    headers = {**HEADERS, "Content-Disposition": f'attachment; filename="adpilot-audit.{fmt}"'}
    return Response(out.getvalue(), media_type=f"{media}; charset=utf-8", headers=headers)


routes = [
    Route("/audit", audit, methods=["GET"]),
    Route("/audit/verify", verify, methods=["GET"]),
    Route("/audit/export", export, methods=["GET"]),
]

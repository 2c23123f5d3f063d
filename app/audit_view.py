"""Reading the audit trail: `adpilot audit show`, `audit show SEQ`, `audit why SEQ`, `audit export`.

The list reads as sentences a marketer understands: what changed (money in the account's own
currency, never a guessed one; statuses as ``ENABLED → PAUSED``; a post as the fields that changed),
who asked for it and why the Guard decided as it did (the rule in words, from
:data:`adpilot.app.approvals.RULE_TITLES`). Reads are hidden unless asked for; every line fits the
terminal (at most :data:`MAX_WIDTH` columns), cut with "…" at a word boundary.

The story of one change (``audit show SEQ`` / ``audit why SEQ``) follows it through the log and the
run registry: the Guard's decision, the intent written before the side effect, the result, the
person who approved it (or rejected it), and any rollback that undid it later.

The export is for auditors and SIEMs: ``jsonl`` carries every record whole (with ``prev_hash`` and
``hash``, so the chain can be verified again), ``csv`` one flat row per record with the nested
fields JSON-encoded.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

from adpilot.config import Config
from adpilot.errors import UsageError
from adpilot.money import describe_micros
from adpilot.statedir import StateDir
from adpilot.tables import MAX_WIDTH, clip, fit_table, one_line, terminal_width
from adpilot.tools.audit import AuditLog, AuditRecord
from adpilot.tools.rollback import parse_time as rollback_time

EXPORT_FORMATS = ("jsonl", "csv")
_NESTED = ("args", "before", "after", "result")
_MONEY_TOOLS = frozenset({"set_campaign_budget", "set_keyword_bid"})
_LOCALE = "en"  # the trail is read in one language: the rule titles' English
_HOLD_TOOLS = frozenset({"hold", "release"})  # a person's hold on an entity and its release


# --- width ---------------------------------------------------------------------------------------


def wrap(label: str, text: str, width: int, indent: int = 14) -> list[str]:
    """``label: text`` wrapped at word boundaries to ``width``, continuation lines indented."""
    import textwrap

    first = f"  {label + ':':<{indent - 2}}"
    return textwrap.wrap(
        one_line(text) or "-",
        width=width,
        initial_indent=first,
        subsequent_indent=" " * indent,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [first.rstrip()]


# --- filters ---------------------------------------------------------------------------------------


def parse_time(flag: str, text: str | None) -> dt.datetime | None:
    """An ISO time with a zone given for ``flag`` (None when not given), or a usage error naming it."""
    return None if text is None else rollback_time(flag, text)


@dataclass(frozen=True)
class Filters:
    """What `audit show` and `audit export` select; every filter given must match."""

    account: str | None = None
    entity: str | None = None
    run: str | None = None
    role: str | None = None
    tool: str | None = None
    decision: str | None = None
    kind: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    reads: bool = False  # include the rows of read-only tools
    limit: int | None = None  # only the newest rows

    @classmethod
    def from_args(cls, args: Any, *, reads: bool | None = None) -> Filters:
        """From parsed command-line arguments (times checked here: a bad one names its flag)."""
        limit = getattr(args, "limit", None)
        if limit is not None and limit < 1:
            raise UsageError(f"--limit {limit}: give a number of rows, at least 1")
        since = parse_time("--since", getattr(args, "since", None))
        until = parse_time("--until", getattr(args, "until", None))
        if since is not None and until is not None and until <= since:
            raise UsageError("--until must be later than --since")
        kind = getattr(args, "kind", None)
        if kind is not None and kind not in ("decision", "intent", "result"):
            raise UsageError(f"--kind {kind!r}: one of decision, intent, result")
        return cls(
            account=getattr(args, "account", None),
            entity=getattr(args, "entity", None),
            run=getattr(args, "run", None),
            role=getattr(args, "role", None),
            tool=getattr(args, "tool", None),
            decision=getattr(args, "decision", None),
            kind=kind,
            since=since,
            until=until,
            reads=bool(getattr(args, "reads", False)) if reads is None else reads,
            limit=limit,
        )


def read_tools() -> tuple[str, ...]:
    """The read-only tools (``kind == "read"`` in the catalogue): their rows are reads."""
    from adpilot.tools.catalogue import CATALOGUE

    return tuple(spec.name for spec in CATALOGUE if spec.kind == "read")


def select(audit: AuditLog, filters: Filters) -> list[AuditRecord]:
    """The records ``filters`` select, oldest first (filtered in SQL)."""
    return audit.records(
        run_id=filters.run,
        tool=filters.tool,
        kind=filters.kind,
        role=filters.role,
        decision=filters.decision,
        account=filters.account,
        entity=filters.entity,
        since=filters.since,
        until=filters.until,
        exclude_tools=() if filters.reads or filters.tool is not None else read_tools(),
        limit=filters.limit,
    )


def open_audit(config: Config) -> AuditLog:
    """The state directory's audit log, for reading (no key needed to read it)."""
    return AuditLog(StateDir(config.state_dir).audit)


def audit_rows(config: Config, filters: Filters | None = None) -> list[dict[str, Any]]:
    """The selected records as dictionaries (`audit show --json`)."""
    audit = open_audit(config)
    try:
        return [record.to_dict() for record in select(audit, filters or Filters())]
    finally:
        audit.close()


# --- accounts and money ------------------------------------------------------------------------


def account_of(record: AuditRecord | Mapping[str, Any]) -> str | None:
    """The account a row touches: the customer id of its Google Ads entity or its ``customer_id``
    argument, ``"cms"`` for a WordPress entity, else None."""
    entity, args = _get(record, "entity"), _get(record, "args")
    if isinstance(entity, str) and entity:
        platform, _, rest = entity.partition(":")
        if platform == "google_ads":
            return rest.partition(":")[0] or None
        if platform == "wordpress":
            return "cms"
    customer = args.get("customer_id") if isinstance(args, dict) else None
    return str(customer) if customer else None


def _get(record: AuditRecord | Mapping[str, Any], name: str) -> Any:
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name)


def money_accounts(records: Iterable[AuditRecord | Mapping[str, Any]]) -> list[str]:
    """The accounts whose currency the rows need (those with a budget or bid in them)."""
    found = {account_of(r) for r in records if _get(r, "tool") in _MONEY_TOOLS}
    return sorted(a for a in found if a and a != "cms")


async def read_currencies(config: Config, accounts: Sequence[str]) -> dict[str, str]:
    """Each account's currency as the platform says it (``customer.currency_code``); an account it
    cannot be read for is left out, so its money is shown in micros — never in a guessed currency."""
    if not accounts:
        return {}
    from adpilot.compose import connect
    from adpilot.errors import AdpilotError

    found: dict[str, str] = {}
    try:
        persist = StateDir(config.state_dir).sandbox_world.exists()
        async with connect(config, persist=persist) as platforms:
            for account in accounts:
                try:
                    rows = await platforms.google_ads.search(account, "SELECT customer.currency_code FROM customer")
                except AdpilotError:
                    continue
                code = str(rows[0].get("customer", {}).get("currencyCode") or "") if rows else ""
                if code:
                    found[account] = code
    except AdpilotError:  # e.g. no credentials here: amounts are shown in micros
        return found
    return found


def account_currencies(config: Config, accounts: Sequence[str]) -> dict[str, str]:
    """:func:`read_currencies`, from synchronous code."""
    if not accounts:
        return {}
    import asyncio

    return asyncio.run(read_currencies(config, accounts))


# --- one row in words ------------------------------------------------------------------------


def _strings() -> dict[str, str]:
    from adpilot.app.approvals import strings

    return strings(_LOCALE)


def change_phrase(record: AuditRecord | Mapping[str, Any], currency: str | None) -> str:
    """What a row changes (or asks, or reads), in one short phrase a marketer reads."""
    from adpilot.app.approvals import change_text

    tool, args = str(_get(record, "tool")), _get(record, "args")
    args = args if isinstance(args, dict) else {}
    before, after = _get(record, "before"), _get(record, "after")
    cur = currency or ""
    s = _strings()
    if tool == "escalate":
        return "asks a person to decide: " + one_line(args.get("reason") or "")
    if tool in _HOLD_TOOLS:  # `adpilot hold` / `release` (AuditLog.record_hold)
        from adpilot.tools.patience import describe

        return f"{tool} of {describe(str(args.get('entity') or ''))}"
    if tool in _MONEY_TOOLS:
        amount = args.get("amount_micros") if tool == "set_campaign_budget" else args.get("cpc_bid_micros")
        if before is None:  # refused before the value was read: the amount asked for
            unit = s["per_day"] if tool == "set_campaign_budget" else s["per_click"]
            what = (
                f"budget {args.get('budget_id')}"
                if tool == "set_campaign_budget"
                else (f"keyword {args.get('ad_group_id')}~{args.get('criterion_id')}")
            )
            return f"{what} → {describe_micros(amount if after is None else after, cur)} {unit}"
        text = change_text(tool, args, before, after, cur, s)
        return text.replace(f" {s['per_click']}", " per click")
    if tool in ("set_campaign_status", "set_ad_status"):
        return change_text(tool, args, before, after, cur, s).replace(f"{s['unknown']} →", "→")
    if tool == "create_responsive_search_ad":
        every = [one_line(h) for h in args.get("headlines") or []]
        more = f" (+{len(every) - 3} more headlines)" if len(every) > 3 else ""
        return f"new ad in ad group {args.get('ad_group_id')}: “{' | '.join(every[:3])}”{more}"
    if tool == "update_post":
        return f"post {args.get('post_id')}: " + post_fields_phrase(args, before, after)
    if tool == "publish_post":
        return f"post {args.get('post_id')}: {before or 'draft'} → publish"
    if tool == "create_draft":
        return f"new draft “{one_line(args.get('title') or '')}”"
    shown = ", ".join(f"{k} {_value(v)}" for k, v in args.items() if v not in (None, "", [], {}))
    return f"{tool.replace('_', ' ')}" + (f": {shown}" if shown else "")


def _value(value: object) -> str:
    """An argument's value in a few words: text quoted and cut, a list as its first items."""
    if isinstance(value, list):
        head = ", ".join(_value(v) for v in value[:2])
        return f"[{head}{f', +{len(value) - 2} more' if len(value) > 2 else ''}]"
    if isinstance(value, dict):
        return "{" + ", ".join(str(k) for k in value) + "}"
    if isinstance(value, str) and (len(value) > 40 or " " in value):
        return quoted(value)
    return one_line(value)


_POST_FIELDS = ("title", "meta_description", "excerpt", "content")


def quoted(value: object, width: int = 40) -> str:
    """A short text value in quotes, cut at a word boundary; an empty one as (empty)."""
    text = one_line(value or "")
    return f"“{clip(text, width)}”" if text else "(empty)"


def post_fields_phrase(args: Mapping[str, Any], before: Any, after: Any) -> str:
    """The fields a post update changes: short ones as old → new, long or multi-line ones (the body,
    markup) as "… edited"."""
    if isinstance(after, dict):
        old = before if isinstance(before, dict) else {}
        known = [k for k in _POST_FIELDS if k in after]
        changed = [k for k in [*known, *sorted(set(after) - set(known))] if old.get(k) != after[k]]
        parts = []
        for name in changed:
            was, now = str(old.get(name) or ""), str(after[name] or "")
            if name == "content" or "\n" in was + now or max(len(was), len(now)) > 300:
                parts.append(f"{name} edited")
            else:
                parts.append(f"{name} {quoted(was)} → {quoted(now)}")
        return "; ".join(parts) if parts else "no field changes"
    asked = [k for k in _POST_FIELDS if k in args]
    return ("fields " + ", ".join(asked)) if asked else "no fields"


_DECIDED = {
    "allow": "allowed",
    "escalate": "waits for a person",
    "deny": "denied",
    "dry_run": "dry run",
    "reject": "rejected",
}


def rule_phrase(rule: str | None, reason: str | None) -> str:
    """Why the Guard decided so, in words (:data:`RULE_TITLES`), else its own message."""
    from adpilot.app.approvals import RULE_TITLES

    titles = RULE_TITLES.get(_LOCALE, RULE_TITLES["en"])
    detail = one_line(reason or "").removeprefix("needs a person's approval: ").removeprefix("dry run: ")
    if rule and rule in titles:
        return titles[rule]
    if rule == "approval":  # "approved by lena, tom: <the rule it needed approval by>"
        return detail.partition(": ")[0]
    return detail or (rule or "")


def outcome_phrase(record: AuditRecord | Mapping[str, Any], why: str | None = None) -> str:
    """The row's outcome and reason: "allowed: within policy", "done", "waits for a person: …"."""
    kind, decision = _get(record, "kind"), _get(record, "decision")
    if kind == "decision" and _get(record, "tool") in _HOLD_TOOLS:  # who, until when, why
        return one_line(_get(record, "reason") or "")
    if kind == "decision":
        if _get(record, "rule") == "read":
            return "read"
        verb = _DECIDED.get(str(decision), str(decision))
        because = why or rule_phrase(_get(record, "rule"), _get(record, "reason"))
        return f"{verb}: {because}" if because else verb
    if kind == "intent":
        return "started (sent to the platform next)"
    status = _get(record, "status")
    result = _get(record, "result")
    if status == "ok":
        text = "done"
        reason = _get(record, "reason")
        if reason:
            text += f" ({one_line(reason)})"
    elif status == "unknown":
        text = "sent, answer lost: may have landed"
    else:
        message = result.get("message") if isinstance(result, dict) else result
        text = f"{status or 'failed'}" + (f": {one_line(message)}" if message else "")
    return f"{text}: {why}" if why else text


# --- the list ------------------------------------------------------------------------------------


def fold(records: Sequence[AuditRecord]) -> tuple[list[AuditRecord], dict[int, AuditRecord], int]:
    """One line per change: the decision (``allow``) and the intent a result of the same key follows
    are folded into that result (it says all they say; its line names the decision's reason). An
    intent without a result — an interrupted call — and every other decision stay.

    Returns the rows kept, each folded decision by the seq of its result, and how many were folded."""
    results = {r.idempotency_key: r for r in records if r.kind == "result" and r.idempotency_key}
    kept: list[AuditRecord] = []
    decided: dict[int, AuditRecord] = {}
    for record in records:
        key = record.idempotency_key
        result = results.get(key) if key and record.kind != "result" else None
        if result is not None and record.seq < result.seq:
            if record.kind == "decision":
                decided[result.seq] = record
            continue
        kept.append(record)
    return kept, decided, len(records) - len(kept)


def undone_row(record: AuditRecord) -> int | None:
    """The audit row a rollback's row undoes (its key names it), else None."""
    import re

    if not record.run_id.startswith("rollback-") or not record.idempotency_key:
        return None
    found = re.fullmatch(r"rollback-([0-9]+)(?:\.[0-9]+)?(?:-[0-9a-f]{8})?", record.idempotency_key.partition(":")[2])
    return int(found.group(1)) if found else None


MAX_ROW_LINES = 3  # a row's sentence wraps onto at most this many lines


def render_list(
    records: Sequence[AuditRecord],
    currencies: Mapping[str, str] | None = None,
    *,
    width: int | None = None,
    reasons: Mapping[int, str] | None = None,
    decided: Mapping[int, AuditRecord] | None = None,
    folded: int = 0,
) -> str:
    """The rows as a table that fits ``width``: seq, time (UTC; a line for each new day), account,
    role, and one sentence — what changed, then what became of it and why — wrapped onto at most
    :data:`MAX_ROW_LINES` lines. ``reasons``: a better "why" for some rows (e.g. an agent's
    rationale), by seq; ``decided``: the decision folded into a result (:func:`fold`), by its seq."""
    import textwrap

    width = min(width or terminal_width(), MAX_WIDTH)
    if not records:
        return "no audit rows match"
    currencies = currencies or {}
    reasons = reasons or {}
    decided = decided or {}
    headers = ["seq", "time", "account", "who", "what happened, and why"]
    fixed: list[list[str]] = []
    sentences: list[str] = []
    for record in records:
        account = account_of(record) or "-"
        fixed.append([str(record.seq), record.ts[11:19], account, record.role])
        why = reasons.get(record.seq) or _decided_why(decided.get(record.seq))
        undo = undone_row(record)
        change = ("undo of row " + str(undo) + ": " if undo is not None else "") + change_phrase(
            record, currencies.get(account)
        )
        sentences.append(f"{change} — {outcome_phrase(record, why)}")
    widths = [max(len(row[i]) for row in [headers[:4], *fixed]) for i in range(4)]
    gap = "  "
    text_width = max(20, width - sum(widths) - len(gap) * 4)

    def line(cells: Sequence[str], text: str) -> str:
        parts = [cells[0].rjust(widths[0]), *(c.ljust(w) for c, w in zip(cells[1:], widths[1:], strict=True))]
        return clip((gap.join(parts) + gap + text).rstrip(), width)

    out = [line(headers[:4], headers[4]), line(["-" * w for w in widths], "-" * min(text_width, 40))]
    previous = ""
    for record, cells, sentence in zip(records, fixed, sentences, strict=True):
        if record.ts[:10] != previous:
            previous = record.ts[:10]
            out.append(clip(f"— {previous} (UTC) —", width))
        wrapped = textwrap.wrap(one_line(sentence), width=text_width, break_on_hyphens=False) or [""]
        if len(wrapped) > MAX_ROW_LINES:
            rest = " ".join(wrapped[MAX_ROW_LINES - 1 :])
            wrapped = [*wrapped[: MAX_ROW_LINES - 1], clip(rest, text_width - 1) if len(rest) > text_width else rest]
        out.append(line(cells, wrapped[0]))
        out.extend(line(["", "", "", ""], more) for more in wrapped[1:])
    if folded:
        note = f"({folded} decision and intent row(s) folded into the changes they led to; --kind shows each row)"
        out.append(clip(note, width))
    return "\n".join(out)


def show_list(config: Config, filters: Filters, *, width: int | None = None) -> str:
    """`adpilot audit show` with ``filters``: the table, money in each account's currency."""
    audit = open_audit(config)
    try:
        records = select(audit, filters)
        empty = not records and not audit.records(limit=1)
    finally:
        audit.close()
    if empty:
        return "the audit log is empty"
    if not records:
        if filters == Filters():
            return "no audit rows but reads (--reads shows them)"
        return "no audit rows match these filters" + ("" if filters.reads else " (reads are hidden: --reads)")
    decided: dict[int, AuditRecord] = {}
    folded = 0
    if filters.kind is None:
        records, decided, folded = fold(records)
    currencies = account_currencies(config, money_accounts(records))
    return render_list(records, currencies, width=width, decided=decided, folded=folded)


def _decided_why(decision: AuditRecord | None) -> str | None:
    """The reason of a decision folded into its result: the rule in words, or the Guard's message."""
    if decision is None:
        return None
    return rule_phrase(decision.rule, decision.reason) or None


# --- the story of one change ----------------------------------------------------------------------


@dataclass
class Story:
    """Everything the log and the registry know of the change one audit row belongs to."""

    seq: int
    row: AuditRecord
    rows: list[AuditRecord]  # the change's own rows: escalations, decisions, intent, result
    account: str | None
    currency: str | None
    approval: dict[str, Any] | None = None
    undos: list[AuditRecord] = field(default_factory=list)
    undo_waiting: list[dict[str, Any]] = field(default_factory=list)

    @property
    def result(self) -> AuditRecord | None:
        return next((r for r in reversed(self.rows) if r.kind == "result"), None)

    @property
    def decision(self) -> AuditRecord | None:
        keyed = [r for r in self.rows if r.kind == "decision" and r.idempotency_key]
        if keyed:
            return keyed[-1]
        return next((r for r in reversed(self.rows) if r.kind == "decision"), None)

    def as_data(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "account": self.account,
            "currency": self.currency,
            "change": change_phrase(self.decision or self.row, self.currency),
            "row": self.row.to_dict(),
            "rows": [r.to_dict() for r in self.rows],
            "approval": self.approval,
            "rollback": [r.to_dict() for r in self.undos],
            "rollback_waiting": self.undo_waiting,
        }


def _registry_rows(config: Config, query: str, params: Sequence[Any]) -> list[sqlite3.Row]:
    """Rows of the run registry, read only (no registry yet: none)."""
    path = StateDir(config.state_dir).registry
    if not Path(path).exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return list(db.execute(query, params).fetchall())
    except sqlite3.OperationalError:  # an older registry without these tables
        return []
    finally:
        db.close()


def _approval(config: Config, rows: Sequence[AuditRecord]) -> dict[str, Any] | None:
    """The approval a person gave or refused for this change: asked for its call (same call hash,
    same thread), with who asked, who approved, and the decision."""
    if not rows:
        return None
    hashes = sorted({r.call_hash for r in rows})
    threads = sorted({r.thread_id for r in rows})
    marks_h, marks_t = ", ".join("?" * len(hashes)), ", ".join("?" * len(threads))
    found = _registry_rows(
        config,
        "SELECT pending_id, thread_id, state, requester, needed, asked_at, expires_at, detail FROM approvals "
        f"WHERE call_hash IN ({marks_h}) AND thread_id IN ({marks_t}) ORDER BY asked_at, rowid",
        [*hashes, *threads],
    )
    if not found:
        return None
    asked = found[-1]
    pending_id = str(asked["pending_id"])
    return _approval_data(config, asked, pending_id)


def _approval_data(config: Config, asked: sqlite3.Row, pending_id: str) -> dict[str, Any]:
    approvers = [
        str(r["approver"])
        for r in _registry_rows(
            config, "SELECT approver FROM approvers WHERE pending_id = ? ORDER BY at, rowid", [pending_id]
        )
    ]
    decided = _registry_rows(config, "SELECT decision, approver, at FROM decisions WHERE pending_id = ?", [pending_id])
    return {
        "id": pending_id,
        "state": str(asked["state"]),
        "requester": str(asked["requester"]),
        "needed": int(asked["needed"]),
        "asked_at": str(asked["asked_at"]),
        "expires_at": str(asked["expires_at"]),
        "approvers": approvers,
        "decision": (
            {"decision": str(decided[0]["decision"]), "approver": str(decided[0]["approver"]), "at": decided[0]["at"]}
            if decided
            else None
        ),
    }


def _undo_approvals(config: Config, seq: int) -> list[dict[str, Any]]:
    """Undos of row ``seq`` that a rollback asked a person to approve (``rollback-<seq>[.n]-<hex>``)."""
    found = _registry_rows(
        config,
        "SELECT pending_id, thread_id, state, requester, needed, asked_at, expires_at, detail FROM approvals "
        "WHERE pending_id LIKE ? OR pending_id LIKE ? ORDER BY asked_at, rowid",
        [f"rollback-{seq}-%", f"rollback-{seq}.%"],
    )
    return [_approval_data(config, row, str(row["pending_id"])) for row in found]


def story(config: Config, seq: int, *, currencies: Mapping[str, str] | None = None) -> Story:
    """The whole story of the change audit row ``seq`` belongs to (an unknown row: a usage error)."""
    audit = open_audit(config)
    try:
        row = audit.get(seq)
        if row is None:
            last = audit.records(limit=1)
            hint = f"the log holds rows 1 to {last[0].seq}" if last else "the audit log is empty"
            raise UsageError(f"there is no audit row {seq} ({hint}; see `adpilot audit show`)")
        rows = _change_rows(audit, row)
        result = next((r for r in reversed(rows) if r.kind == "result" and r.status == "ok"), None)
        undos = audit.undoing(result.seq) if result is not None else []
    finally:
        audit.close()
    account = account_of(row)
    if currencies is None:
        currencies = account_currencies(config, [account] if row.tool in _MONEY_TOOLS and account else [])
    told = Story(seq, row, rows, account, currencies.get(account or ""))
    told.approval = _approval(config, rows) if row.tool != "escalate" else None
    told.undos = undos
    told.undo_waiting = _undo_approvals(config, result.seq) if result is not None else []
    return told


def _change_rows(audit: AuditLog, row: AuditRecord) -> list[AuditRecord]:
    """The rows of one change: every row of its idempotency key, and the escalations, rejections
    and refusals of the same call in the same thread (they carry no key)."""
    if row.kind == "decision" and row.rule == "read":
        return [row]
    same_call = audit.records(thread_id=row.thread_id, call_hash=row.call_hash)
    keys = {r.idempotency_key for r in same_call if r.idempotency_key}
    if row.idempotency_key:
        # Only this attempt's key: another key of the same call is another change (made again later).
        keys = {row.idempotency_key}
        unkeyed = [r for r in same_call if not r.idempotency_key and r.seq <= row.seq]
        keyed = audit.records(idempotency_key=row.idempotency_key)
        return sorted({r.seq: r for r in [*unkeyed, *keyed]}.values(), key=lambda r: r.seq)
    if keys:
        later = [r for r in same_call if r.idempotency_key and r.seq > row.seq]
        first_key = later[0].idempotency_key if later else None
        chosen = [r for r in same_call if not r.idempotency_key or r.idempotency_key == first_key]
        return chosen
    return same_call


def _when(ts: str) -> str:
    return f"{ts[:10]} {ts[11:19]} UTC"


def render_story(told: Story, *, width: int | None = None, details: bool = False) -> str:
    """The story as lines that fit ``width``: what changed, who asked, the rule, the approval, the
    result, the rollback; ``details`` adds the row's identifiers (`audit show SEQ`)."""
    width = min(width or terminal_width(), MAX_WIDTH)
    row, currency = told.row, told.currency
    decision, result = told.decision, told.result
    lines = [clip(f"Audit row {row.seq}: {row.kind} of {row.tool}, {_when(row.ts)}", width)]
    anchor = decision or row
    account = told.account or "-"
    money = f" (money in {currency})" if currency else ""
    lines += wrap("Change", f"{change_phrase(anchor, currency)} — account {account}{money}", width)
    who = f"the {row.role} role in run {row.run_id} (actor {row.actor})"
    if told.approval is not None and told.approval.get("requester"):
        who += f"; asked for by {told.approval['requester']}"
    lines += wrap("Who", who, width)
    if row.tool == "escalate":
        lines += wrap("Asks", one_line((row.args or {}).get("reason") or row.reason or ""), width)
    for r in told.rows:
        if r.kind == "decision" and r is not decision:
            label = {"escalate": "Escalated", "reject": "Rejected", "deny": "Refused"}.get(str(r.decision), "Earlier")
            lines += wrap(label, f"row {r.seq} ({_when(r.ts)}): {outcome_phrase(r)}", width)
    if decision is not None and decision.rule == "read":
        lines += wrap("Rule", "a read: allowed to every role with the scope, changes nothing", width)
        decision = None
    if decision is not None:
        detail = one_line(decision.reason or "").removeprefix("needs a person's approval: ")
        shown = rule_phrase(decision.rule, decision.reason)
        rule = f" (rule {decision.rule}" + ("" if detail in ("", shown) else f": {detail}") + ")"
        lines += wrap("Rule", f"{outcome_phrase(decision)}{rule if decision.rule else ''}", width)
    approval = told.approval
    if approval is not None:
        given = ", ".join(approval["approvers"]) or "nobody yet"
        verdict = approval.get("decision")
        if verdict is not None:
            verb = {"approve": "approved", "reject": "rejected", "edit": "edited and approved"}.get(
                verdict["decision"], verdict["decision"]
            )
            state = f"{verb} by {verdict['approver']} at {_when(str(verdict['at']))}"
        else:
            state = f"{approval['state']}, expires {_when(approval['expires_at'])}"
        text = (
            f"{approval['id']}: asked by {approval['requester']} at {_when(approval['asked_at'])}; "
            f"{state}; approvals {len(approval['approvers'])} of {approval['needed']} ({given})"
        )
        lines += wrap("Approval", text, width)
    elif decision is not None and decision.decision == "allow" and decision.tool not in _HOLD_TOOLS:
        lines += wrap("Approval", "none needed: within the policy's limits", width)
    intent = next((r for r in told.rows if r.kind == "intent"), None)
    if result is not None:
        lines += wrap("Result", f"{outcome_phrase(result)} at {_when(result.ts)} (row {result.seq})", width)
    elif intent is not None:
        text = f"row {intent.seq} was written before the call, and no result followed: interrupted or unanswered"
        lines += wrap("Result", text, width)
    elif approval is not None and approval.get("decision") is None and approval["state"] == "open":
        lines += wrap(
            "Result", f"nothing changed yet: waits for a person (adpilot approvals show {approval['id']})", width
        )
    elif approval is not None and (approval.get("decision") or {}).get("decision") in ("approve", "edit"):
        text = f"approved, but no change of this call was carried out (see adpilot audit show --run {row.run_id})"
        lines += wrap("Result", text, width)
    elif decision is not None and decision.decision != "allow":
        lines += wrap("Result", "nothing was changed", width)
    lines += _rollback_lines(told, width)
    if details:
        lines.append(clip("  Rows:", width))
        lines += fit_table(
            ["seq", "time", "kind", "outcome"],
            [[r.seq, r.ts[11:19], r.kind, outcome_phrase(r)] for r in told.rows],
            width=width - 4,
            flexible=(3,),
            align_right=(0,),
        )
        lines[-len(told.rows) - 2 :] = ["    " + line for line in lines[-len(told.rows) - 2 :]]
        lines += wrap("Entity", row.entity or "-", width)
        lines += wrap("Key", row.idempotency_key or "-", width)
        lines += wrap("Call hash", row.call_hash, width)
        lines += wrap("Policy", row.policy_hash, width)
        lines += wrap("Chain", f"{row.prev_hash} → {row.hash}", width)
    return "\n".join(lines)


def _rollback_lines(told: Story, width: int) -> list[str]:
    result = told.result
    if result is None or result.status != "ok":
        return []
    lines: list[str] = []
    for undo in told.undos:
        if undo.kind != "result":
            continue
        verb = "undone" if undo.status == "ok" else f"undo {undo.status}"
        text = f"{verb} by {undo.run_id} at {_when(undo.ts)} (row {undo.seq}): {change_phrase(undo, told.currency)}"
        lines += wrap("Rollback", text, width)
    for waiting in told.undo_waiting:
        verdict = waiting.get("decision")
        state = f"{verdict['decision']} by {verdict['approver']}" if verdict else waiting["state"]
        lines += wrap("Rollback", f"an undo waits for a person as {waiting['id']} ({state})", width)
    if not lines:
        lines += wrap("Rollback", f"not rolled back (adpilot audit rollback --seq {result.seq})", width)
    return lines


# --- export ------------------------------------------------------------------------------------------

RecordSource = Callable[[AuditLog, Filters], list[AuditRecord]]


def export_records(config: Config, filters: Filters, source: RecordSource = select) -> list[AuditRecord]:
    """The records an export writes: ``source`` picks them from the log (by default the filters)."""
    audit = open_audit(config)
    try:
        return source(audit, filters)
    finally:
        audit.close()


def write_export(records: Iterable[AuditRecord], fmt: str, out: TextIO) -> int:
    """Write ``records`` as ``jsonl`` (each record whole, one JSON object a line) or ``csv`` (a
    header, then one flat row per record, nested fields JSON-encoded); returns how many."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format {fmt!r}: one of {', '.join(EXPORT_FORMATS)}")
    count = 0
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
        return count
    names = [f.name for f in fields(AuditRecord)]
    writer = csv.writer(out)
    writer.writerow(names)
    for record in records:
        data = record.to_dict()
        writer.writerow([_csv_cell(name, data[name]) for name in names])
        count += 1
    return count


def _csv_cell(name: str, value: Any) -> str:
    if name in _NESTED:
        return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "" if value is None else str(value)


# --- rollback outcome ------------------------------------------------------------------------------

_UNDO_OUTCOMES = {
    "undone": "undone",
    "already_undone": "already undone",
    "conflict": "conflict, left alone",
    "escalated": "waits for a person",
    "denied": "denied",
    "failed": "failed",
    "not_reversible": "cannot be undone",
    "would_undo": "would be undone",
}


def render_rollback(outcome: Mapping[str, Any], config: Config | None = None, *, width: int | None = None) -> str:
    """`adpilot audit rollback` as a table a marketer reads: each change and what became of its undo
    (money in the account's currency, statuses and fields in words)."""
    width = min(width or terminal_width(), MAX_WIDTH)
    steps = list(outcome.get("steps") or [])
    dry = "dry run: " if outcome.get("dry_run") else ""
    lines = [clip(f"{dry}rollback of {outcome['rolled_back']} (audited as run {outcome['run_id']})", width)]
    if not steps:
        lines.append("nothing to undo")
        return "\n".join(lines)
    accounts = sorted({a for s in steps if s.get("tool") in _MONEY_TOOLS and (a := _step_account(s))})
    currencies = account_currencies(config, accounts) if config is not None else {}
    body = []
    for s in steps:
        account = _step_account(s)
        currency = currencies.get(account or "")
        body.append(
            [
                s["audit_seq"],
                account or "-",
                _restore_phrase(s, currency),
                _UNDO_OUTCOMES.get(str(s["outcome"]), str(s["outcome"])),
                _undo_detail(s),
            ]
        )
    lines += fit_table(
        ["row", "account", "restores", "outcome", "detail"], body, width=width, flexible=(2, 4), align_right=(0,)
    )
    for s in steps:
        if s.get("approval"):
            lines.append(clip(f"row {s['audit_seq']}: waits for a person as {s['approval']}: {s['approve']}", width))
        elif s.get("already_waiting"):
            lines.append(clip(f"row {s['audit_seq']}: already waiting as {s['already_waiting']}", width))
    return "\n".join(lines)


def _undo_detail(step: Mapping[str, Any]) -> str:
    """A step's detail for people: a dry run's planned calls (raw arguments) become their note only."""
    import re

    detail = one_line(step.get("detail") or "")
    if step.get("outcome") == "would_undo":
        note = re.search(r"\(([^()]*)\)$", detail)
        return note.group(1) if note else ""
    return detail.removeprefix("needs a person's approval: ")


def _step_account(step: Mapping[str, Any]) -> str | None:
    return account_of({"entity": step.get("entity"), "args": {}})


def _restore_phrase(step: Mapping[str, Any], currency: str | None) -> str:
    """What the undo sets back: the value before the change, in words."""
    tool, entity, restore = str(step.get("tool")), str(step.get("entity") or ""), step.get("restore")
    key = entity.rpartition(":")[2]
    s = _strings()
    if tool == "set_campaign_budget":
        return f"budget {key} back to {describe_micros(restore, currency or '')} {s['per_day']}"
    if tool == "set_keyword_bid":
        shown = "the ad group's bid" if restore is None else f"{describe_micros(restore, currency or '')} per click"
        return f"keyword {key} back to {shown}"
    if tool == "set_campaign_status":
        return f"campaign {key} back to {restore}"
    if tool == "set_ad_status":
        return f"ad {key} back to {restore}"
    if tool == "create_responsive_search_ad":
        return f"new ad in ad group {key}: paused"
    if tool == "update_post":
        fields_ = ", ".join(sorted(restore)) if isinstance(restore, dict) else "its fields"
        return f"post {key}: {fields_} as before"
    if tool == "publish_post":
        return f"post {key} back to {restore}"
    if tool == "create_draft":
        return f"draft {key}: left in the CMS"
    return f"{tool} {key}".strip()

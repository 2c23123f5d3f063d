"""What a person is shown before deciding an approval: `adpilot approvals show` and `list`.

One small table of strings per language (``STRINGS``; the config's ``locale`` picks it). Money is
shown in the account's currency (:func:`adpilot.money.format_micros`), never as micros. The
projected spend impact is computed from the entity's delivery over the last 7 days, read through
the Guard (role ``operator``, audited like every read).
"""

from __future__ import annotations

import datetime as dt
import difflib
import uuid
from typing import Any

from adpilot.agents.outcomes import proposed_call
from adpilot.agents.registry import Asked, RunRecord, RunRegistry
from adpilot.config import Config
from adpilot.money import describe_micros
from adpilot.statedir import StateDir
from adpilot.tables import table

HISTORY_DAYS = 7

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Approval {id}",
        "status.waiting": "waiting",
        "status.expired": "EXPIRED — void, cannot be decided; the next run that meets this change asks again",
        "change": "Change",
        "why": "Why",
        "rule": "rule",
        "spend": "Spend",
        "content": "Compliance",
        "citations": "Evidence",
        "asked": "Asked by",
        "asked.value": "{requester} — run {run}, role {role}, model {model}, at {at} UTC",
        "expires": "Expires",
        "expires.in": "{at} UTC (in {hours} h)",
        "expires.ago": "{at} UTC ({hours} h ago)",
        "approvals": "Approvals",
        "approvals.value": "{given} of {needed}{who}",
        "approvals.more": "; needs {more} more approval(s) from a different person",
        "approvals.requester": "; {requester} asked for it and cannot approve it",
        "decide": "Decide",
        "per_day": "per day",
        "per_click": "per click (max CPC)",
        "no_history": "no delivery history in the last 7 days",
        "no_spend": "no direct effect on spend",
        "history.budget": "last 7 days {cost} per day ({share} % of the current budget {budget})",
        "history.bid": "last 7 days {cost} per day at this keyword",
        "history.campaign": "last 7 days {cost} per day",
        "projection": "projected {delta} per day, {week} over the next 7 days",
        "projection.cap": "; at most {cap} per day",
        "projection.same": "assuming the same delivery as in the last 7 days",
        "unknown": "unknown",
        "verdict": "verdict {verdict}",
        "no_findings": "no findings",
        "content_changed": "the content changed since it was escalated; an approval would not cover it",
        "empty": "(empty)",
        "field.changed": "{field} changed ({removed} line(s) out, {added} in)",
        "field.same": "everything else stays as it is",
        "col.id": "id",
        "col.change": "change",
        "col.reason": "reason",
        "col.age": "age",
        "col.expires": "expires",
        "col.approvals": "approvals",
        "none": "no approvals are waiting",
        "expired": "expired",
        "hours": "{hours} h",
        "minutes": "{minutes} min",
    },
    "de": {
        "title": "Freigabe {id}",
        "status.waiting": "wartet",
        "status.expired": "ABGELAUFEN — ungültig, kann nicht mehr entschieden werden; der nächste Lauf fragt erneut",
        "change": "Änderung",
        "why": "Grund",
        "rule": "Regel",
        "spend": "Ausgaben",
        "content": "Compliance",
        "citations": "Belege",
        "asked": "Angefragt von",
        "asked.value": "{requester} — Lauf {run}, Rolle {role}, Modell {model}, am {at} UTC",
        "expires": "Läuft ab",
        "expires.in": "{at} UTC (in {hours} h)",
        "expires.ago": "{at} UTC (vor {hours} h)",
        "approvals": "Freigaben",
        "approvals.value": "{given} von {needed}{who}",
        "approvals.more": "; noch {more} Freigabe(n) einer anderen Person nötig",
        "approvals.requester": "; {requester} hat die Änderung angefragt und kann sie nicht freigeben",
        "decide": "Entscheiden",
        "per_day": "pro Tag",
        "per_click": "pro Klick (max. CPC)",
        "no_history": "keine Auslieferung in den letzten 7 Tagen",
        "no_spend": "keine direkte Auswirkung auf die Ausgaben",
        "history.budget": "letzte 7 Tage {cost} pro Tag ({share} % des aktuellen Budgets {budget})",
        "history.bid": "letzte 7 Tage {cost} pro Tag für dieses Keyword",
        "history.campaign": "letzte 7 Tage {cost} pro Tag",
        "projection": "voraussichtlich {delta} pro Tag, {week} in den nächsten 7 Tagen",
        "projection.cap": "; höchstens {cap} pro Tag",
        "projection.same": "bei gleicher Auslieferung wie in den letzten 7 Tagen",
        "unknown": "unbekannt",
        "verdict": "Ergebnis {verdict}",
        "no_findings": "keine Befunde",
        "content_changed": "der Inhalt hat sich seit der Anfrage geändert; eine Freigabe würde ihn nicht abdecken",
        "empty": "(leer)",
        "field.changed": "{field} geändert ({removed} Zeile(n) raus, {added} rein)",
        "field.same": "alles andere bleibt, wie es ist",
        "col.id": "ID",
        "col.change": "Änderung",
        "col.reason": "Grund",
        "col.age": "Alter",
        "col.expires": "läuft ab",
        "col.approvals": "Freigaben",
        "none": "keine Freigaben offen",
        "expired": "abgelaufen",
        "hours": "{hours} h",
        "minutes": "{minutes} Min.",
    },
}


# Why a change waits for a person, per rule, in words a marketer reads; the Guard's own message
# (with the exact numbers) follows as the detail.
RULE_TITLES: dict[str, dict[str, str]] = {
    "en": {
        "budget.max_increase": "the budget rises by more than one change may raise it",
        "budget.cumulative_increase": "the budget rises too far within the last 24 hours",
        "budget.max_decrease": "the budget is cut by more than one change may cut it",
        "budget.cumulative_decrease": "the budget falls too far within the last 24 hours",
        "bid.max_change": "the bid changes by more than one change may change it",
        "bid.cumulative_change": "the bid moves too far within the last 24 hours",
        "campaign.status": "a campaign is switched on or off",
        "cms.published_update": "a live page or post changes",
        "content.needs_review": "the compliance check needs a person's judgement",
        "freeze": "a freeze window of the policy is in force",
        "approval.stale": "the value changed since it was asked; the change is asked again",
        "approval.content_changed": "the content changed since it was asked; it is asked again",
        "approval.four_eyes": "this change needs a further approver",
        "agent.escalate": "an agent asks a person to decide",
    },
    "de": {
        "budget.max_increase": "das Budget steigt stärker, als eine einzelne Änderung es darf",
        "budget.cumulative_increase": "das Budget steigt innerhalb von 24 Stunden zu stark",
        "budget.max_decrease": "das Budget sinkt stärker, als eine einzelne Änderung es darf",
        "budget.cumulative_decrease": "das Budget sinkt innerhalb von 24 Stunden zu stark",
        "bid.max_change": "das Gebot ändert sich stärker, als eine einzelne Änderung es darf",
        "bid.cumulative_change": "das Gebot bewegt sich innerhalb von 24 Stunden zu stark",
        "campaign.status": "eine Kampagne wird ein- oder ausgeschaltet",
        "cms.published_update": "eine veröffentlichte Seite oder ein Beitrag ändert sich",
        "content.needs_review": "die Compliance-Prüfung braucht das Urteil einer Person",
        "freeze": "ein Änderungsstopp der Richtlinie gilt gerade",
        "approval.stale": "der Wert hat sich seit der Anfrage geändert; die Änderung wird neu angefragt",
        "approval.content_changed": "der Inhalt hat sich seit der Anfrage geändert; er wird neu angefragt",
        "approval.four_eyes": "diese Änderung braucht eine weitere Freigabe",
        "agent.escalate": "ein Agent bittet eine Person um die Entscheidung",
    },
}


def why_text(rule: str | None, reason: str, locale: str) -> str:
    """The reason in the reader's language (by rule), with the Guard's exact message as detail."""
    s = strings(locale)
    title = RULE_TITLES.get(locale, RULE_TITLES["en"]).get(rule or "")
    detail = reason.removeprefix("needs a person's approval: ")
    if title is None:
        return (f"{s['rule']} {rule}: " if rule else "") + detail
    return f"{title} ({s['rule']} {rule}: {detail})"


def strings(locale: str) -> dict[str, str]:
    return STRINGS.get(locale, STRINGS["en"])


def _signed(micros: int, currency: str) -> str:
    return ("+" if micros >= 0 else "−") + describe_micros(abs(micros), currency)


def minute_text(iso: str | None) -> str:
    """A stored ISO time to the minute, as `approvals` shows it: "2026-12-03 12:10"."""
    return (iso or "").replace("T", " ")[:16]


def _span(seconds: float, s: dict[str, str]) -> str:
    seconds = abs(seconds)
    if seconds < 3600:
        return s["minutes"].format(minutes=int(seconds // 60))
    return s["hours"].format(hours=int(seconds // 3600))


def change_text(tool: str, args: dict[str, Any], before: Any, after: Any, currency: str, s: dict[str, str]) -> str:
    """The change in one line a marketer can read: what, and from which value to which."""
    if tool == "set_campaign_budget":
        target = f"budget {args.get('budget_id')}"
        line = f"{target}: {describe_micros(before, currency)} → {describe_micros(after, currency)} {s['per_day']}"
        try:
            delta = int(after) - int(before)
            pct = f", {'+' if delta >= 0 else '−'}{abs(delta) * 100 / int(before):.0f} %" if int(before) else ""
            line += f" ({_signed(delta, currency)}{pct})"
        except (TypeError, ValueError):
            pass
        return line
    if tool == "set_keyword_bid":
        target = f"keyword {args.get('ad_group_id')}~{args.get('criterion_id')}"
        return f"{target}: {describe_micros(before, currency)} → {describe_micros(after, currency)} {s['per_click']}"
    if tool == "set_campaign_status":
        return f"campaign {args.get('campaign_id')}: {before or s['unknown']} → {args.get('status')}"
    if tool == "set_ad_status":
        return f"ad {args.get('ad_group_id')}~{args.get('ad_id')}: {before or s['unknown']} → {args.get('status')}"
    if tool == "create_responsive_search_ad":
        headlines = " | ".join(str(h) for h in args.get("headlines") or [])
        return f"new ad in ad group {args.get('ad_group_id')}: {headlines[:120]} → {args.get('final_url')}"
    if tool in ("update_post", "publish_post", "create_draft"):
        what = f"post {args.get('post_id')}" if args.get("post_id") is not None else "new draft"
        if tool == "publish_post":
            return f"{what}: {before or s['unknown']} → publish"
        if tool == "update_post" and isinstance(after, dict):
            old = before if isinstance(before, dict) else {}
            changed = [k for k in _POST_FIELDS if k in after and old.get(k) != after[k]]
            return f"{what}: " + ", ".join(changed) if changed else what
        shown = "; ".join(f"{k}: {_short(args[k], s, 60)}" for k in _POST_FIELDS if k in args)
        return f"{what}: {shown}" if shown else what
    return f"{tool} {args}"


_POST_FIELDS = ("title", "content", "excerpt", "meta_description")
_DIFF_LINES = 12


def _short(value: Any, s: dict[str, str], width: int = 90) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        return s["empty"]
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def _common_prefix(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _changed_lines(diff: list[str], s: dict[str, str]) -> list[tuple[str, str]]:
    """Each changed line shortened around where it differs: an edited line shows the edit, not the
    (identical) start both versions share."""
    gone = [line[2:] for line in diff if line.startswith("-")]
    came = [line[2:] for line in diff if line.startswith("+")]
    out = []
    for line in diff:
        text = line[2:]
        others = came if line.startswith("-") else gone
        shared = max((_common_prefix(text, other) for other in others), default=0)
        start = max(0, shared - 30) if shared > 60 else 0
        out.append((line[0], ("…" if start else "") + _short(text[start:], s, 110)))
    return out


def post_changes(before: Any, after: Any, s: dict[str, str]) -> list[str]:
    """What a post change does, field by field: short fields as old → new, long ones (the body) as
    the lines that go and come, so a person approves a difference, not a whole page."""
    if not isinstance(after, dict):
        return []
    old = before if isinstance(before, dict) else {}
    lines: list[str] = []
    for field in _POST_FIELDS:
        if field not in after or old.get(field) == after[field]:
            continue
        was, now = str(old.get(field) or ""), str(after[field] or "")
        if field != "content" and "\n" not in was + now:
            lines.append(f"{field}: {_short(was, s)} → {_short(now, s)}")
            continue
        removed = [line for line in difflib.ndiff(was.splitlines(), now.splitlines()) if line[:1] in "-+"]
        lines.append(
            s["field.changed"].format(
                field=field,
                removed=sum(1 for line in removed if line.startswith("-")),
                added=sum(1 for line in removed if line.startswith("+")),
            )
        )
        lines.extend(f"  {sign} {text}" for sign, text in _changed_lines(removed[:_DIFF_LINES], s))
        if len(removed) > _DIFF_LINES:
            lines.append(f"  … (+{len(removed) - _DIFF_LINES})")
    if lines and set(_POST_FIELDS) - set(after):
        lines.append(s["field.same"])
    return lines


def _share(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.0f}" if whole else "?"


async def _impact(
    guard: Any, tool: str, args: dict[str, Any], before: Any, after: Any, currency: str
) -> dict[str, Any]:
    """Spend per day over the last 7 days and the projected change, from the Guard's reads."""
    customer = args.get("customer_id")
    if tool not in ("set_campaign_budget", "set_keyword_bid", "set_campaign_status") or not customer:
        return {"kind": "none"}
    if tool == "set_keyword_bid":
        result = await guard.call(
            "operator", "get_performance", {"customer_id": customer, "level": "keyword", "days": HISTORY_DAYS}
        )
        rows = [
            r
            for r in (result.data or [])
            if str(r.get("ad_group_id")) == str(args.get("ad_group_id"))
            and str(r.get("criterion_id")) == str(args.get("criterion_id"))
        ]
        cost = sum(int(r.get("cost_micros") or 0) for r in rows)
        if not cost:
            return {"kind": "no_history"}
        per_day = cost // HISTORY_DAYS
        projected = per_day * int(after) // int(before) if before else per_day
        return {"kind": "bid", "cost_per_day": per_day, "delta_per_day": projected - per_day}
    campaigns = (await guard.call("operator", "list_campaigns", {"customer_id": customer})).data or []
    if tool == "set_campaign_budget":
        ids = {str(c["campaign_id"]) for c in campaigns if str(c.get("budget_id")) == str(args.get("budget_id"))}
    else:
        ids = {str(args.get("campaign_id"))}
    result = await guard.call(
        "operator", "get_performance", {"customer_id": customer, "level": "campaign", "days": HISTORY_DAYS}
    )
    cost = sum(int(r.get("cost_micros") or 0) for r in (result.data or []) if str(r.get("campaign_id")) in ids)
    if not cost:
        return {"kind": "no_history"}
    per_day = cost // HISTORY_DAYS
    if tool == "set_campaign_status":
        delta = -per_day if args.get("status") == "PAUSED" else 0 if before == "ENABLED" else per_day
        return {"kind": "campaign", "cost_per_day": per_day, "delta_per_day": delta}
    old, new = int(before), int(after)
    projected = min(new, per_day * new // old) if old else per_day
    return {
        "kind": "budget",
        "cost_per_day": per_day,
        "budget": old,
        "delta_per_day": projected - per_day,
        "cap_per_day": new - old,
    }


def impact_text(impact: dict[str, Any], currency: str, s: dict[str, str]) -> str:
    kind = impact.get("kind")
    if kind == "none":
        return s["no_spend"]
    if kind == "no_history":
        return s["no_history"]
    cost = describe_micros(impact["cost_per_day"], currency)
    if kind == "budget":
        history = s["history.budget"].format(
            cost=cost,
            share=_share(impact["cost_per_day"], impact["budget"]),
            budget=describe_micros(impact["budget"], currency),
        )
    elif kind == "bid":
        history = s["history.bid"].format(cost=cost)
    else:
        history = s["history.campaign"].format(cost=cost)
    delta = int(impact["delta_per_day"])
    line = f"{history}; " + s["projection"].format(
        delta=_signed(delta, currency), week=_signed(delta * HISTORY_DAYS, currency)
    )
    if "cap_per_day" in impact:
        line += s["projection.cap"].format(cap=_signed(int(impact["cap_per_day"]), currency))
    return f"{line} ({s['projection.same']})"


async def _content(guard: Any, role: str, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """The compliance verdict, findings and cited evidence of the content the call would publish."""
    spec = guard.tools.get(tool)
    if spec is None or spec.assess is None:
        return None
    try:
        assessment = await spec.assess(guard.context, spec.args.model_validate(args))
    except Exception:  # a display: an entity that cannot be read is shown without its content
        return None
    if assessment.content is None:
        return None
    verdict = guard.context.content_gate.check(assessment.content)
    return {
        "verdict": verdict.verdict,
        "content_hash": verdict.content_hash,
        "findings": list(verdict.findings),
        "backing": list(verdict.backing),
    }


async def describe(config: Config, pending_id: str) -> dict[str, Any]:
    """Everything `approvals show` prints, as data (also its ``--json``)."""
    from adpilot.app.governed import acting

    registry = RunRegistry(StateDir(config.state_dir).registry)
    try:
        record, full = registry.find_pending(pending_id)
        asked = registry.asked(full)
    finally:
        registry.close()
    item = next(p for p in record.pending if p["id"] == full)
    tool, args = proposed_call(item)
    detail = asked.detail if asked is not None else {}
    before, after = detail.get("before"), detail.get("after")
    async with acting(config, f"show-{uuid.uuid4().hex[:8]}", label="adpilot approvals show") as guard:
        customer = args.get("customer_id")
        currency = str(detail.get("currency") or (await guard.context.currency(str(customer)) if customer else ""))
        impact = await _impact(guard, tool, args, before, after, currency)
        content = await _content(guard, item["role"], tool, args)
    if content is not None and item.get("content_hash"):
        content["changed_since_asked"] = content["content_hash"] != item.get("content_hash")
    return _as_data(record, item, asked, tool, args, currency, impact, content)


def _as_data(
    record: RunRecord,
    item: dict[str, Any],
    asked: Asked | None,
    tool: str,
    args: dict[str, Any],
    currency: str,
    impact: dict[str, Any],
    content: dict[str, Any] | None,
) -> dict[str, Any]:
    detail = asked.detail if asked is not None else {}
    return {
        "id": item["id"],
        "thread_id": record.thread_id,
        "run_id": detail.get("run_id") or record.run_id,
        "run_kind": record.kind,
        "role": item.get("role"),
        "model": detail.get("model") or "",
        "requester": asked.requester if asked is not None else None,
        "asked_at": asked.asked_at if asked is not None else record.created,
        "expires_at": asked.expires_at if asked is not None else None,
        "expired": bool(asked is not None and asked.expired()),
        "tool": tool,
        "args": args,
        "entity": detail.get("entity"),
        "currency": currency,
        "before": detail.get("before"),
        "after": detail.get("after"),
        "rule": detail.get("rule"),
        "reason": item.get("reason"),
        "impact": impact,
        "content": content,
        "approvers": list(asked.approvers) if asked is not None else [],
        "needed": asked.needed if asked is not None else 1,
    }


def asked_text(data: dict[str, Any], s: dict[str, str]) -> str:
    """Who asked for an approval's change, in which run, role and model, and when."""
    return s["asked.value"].format(
        requester=data.get("requester") or s["unknown"],
        run=data["run_id"],
        role=data.get("role"),
        model=data.get("model") or s["unknown"],
        at=minute_text(data.get("asked_at")),
    )


def approvals_text(data: dict[str, Any], s: dict[str, str]) -> str:
    """How many approvals an approval has and needs, by whom, and who may not give one."""
    approvers = data["approvers"]
    value = s["approvals.value"].format(
        given=len(approvers), needed=data["needed"], who=f" ({', '.join(approvers)})" if approvers else ""
    )
    if data["needed"] > len(approvers):
        value += s["approvals.more"].format(more=data["needed"] - len(approvers))
    if data.get("requester") and data["needed"] > 1:
        value += s["approvals.requester"].format(requester=data["requester"])
    return value


def render_show(data: dict[str, Any], locale: str, *, now: dt.datetime | None = None) -> str:
    s = strings(locale)
    now = now or dt.datetime.now(dt.UTC)
    status = s["status.expired"] if data["expired"] else s["status.waiting"]
    currency = data["currency"]
    lines = [f"{s['title'].format(id=data['id'])} — {status}"]

    def row(label: str, value: str) -> None:
        lines.append(f"  {label + ':':<16}{value}")

    row(
        s["change"],
        f"{data['tool']} — " + change_text(data["tool"], data["args"], data["before"], data["after"], currency, s),
    )
    lines.extend(f"  {'':<16}{line}" for line in post_changes(data["before"], data["after"], s))
    row(s["why"], why_text(data.get("rule"), str(data.get("reason") or ""), locale))
    row(s["spend"], impact_text(data["impact"], currency, s))
    content = data.get("content")
    if content is not None:
        findings = "; ".join(
            f"[{f.get('severity', '')}] {f.get('rule', '')} {f.get('field', '')}: "
            f"“{f.get('text', '')}” — {f.get('message', '')}"
            for f in content["findings"]
        )
        row(s["content"], s["verdict"].format(verdict=content["verdict"]) + ": " + (findings or s["no_findings"]))
        for backed in content["backing"]:
            row(s["citations"], f"“{backed.get('claim')}” — {backed.get('evidence')}: {backed.get('source')}")
        if content.get("changed_since_asked"):
            row("", s["content_changed"])
    row(s["asked"], asked_text(data, s))
    if data.get("expires_at"):
        expires = dt.datetime.fromisoformat(data["expires_at"])
        key = "expires.ago" if expires <= now else "expires.in"
        row(
            s["expires"],
            s[key].format(at=minute_text(data["expires_at"]), hours=int(abs((expires - now).total_seconds()) // 3600)),
        )
    row(s["approvals"], approvals_text(data, s))
    if not data["expired"]:
        row(
            s["decide"],
            f"adpilot approvals approve {data['id']} | reject {data['id']} | edit {data['id']} --set KEY=VALUE",
        )
    return "\n".join(lines)


def list_rows(config: Config) -> list[dict[str, Any]]:
    """The waiting approvals with what `approvals list` shows of each (also its ``--json``)."""
    registry = RunRegistry(StateDir(config.state_dir).registry)
    try:
        rows = []
        for record, item, asked in registry.waiting_items():
            tool, args = proposed_call(item)
            detail = asked.detail if asked is not None else {}
            rows.append(
                {
                    **item,
                    "thread_id": record.thread_id,
                    "run_kind": record.kind,
                    "call": {"tool": tool, "args": args},
                    "currency": detail.get("currency") or "",
                    "rule": detail.get("rule"),
                    "before": detail.get("before"),
                    "after": detail.get("after"),
                    "asked_at": asked.asked_at if asked is not None else record.created,
                    "expires_at": asked.expires_at if asked is not None else None,
                    "expired": bool(asked is not None and asked.expired()),
                    "approvers": list(asked.approvers) if asked is not None else [],
                    "needed": asked.needed if asked is not None else 1,
                    "requester": asked.requester if asked is not None else None,
                }
            )
        return rows
    finally:
        registry.close()


def render_list(rows: list[dict[str, Any]], locale: str, *, now: dt.datetime | None = None) -> str:
    s = strings(locale)
    if not rows:
        return s["none"]
    now = now or dt.datetime.now(dt.UTC)
    body = []
    for r in rows:
        tool, args = r["call"]["tool"], r["call"]["args"]
        age = _span((now - dt.datetime.fromisoformat(r["asked_at"])).total_seconds(), s) if r.get("asked_at") else ""
        if r["expired"]:
            expires = s["expired"]
        elif r.get("expires_at"):
            expires = _span((dt.datetime.fromisoformat(r["expires_at"]) - now).total_seconds(), s)
        else:
            expires = ""
        body.append(
            [
                r["id"],
                change_text(tool, args, r.get("before"), r.get("after"), r.get("currency") or "", s)[:70],
                RULE_TITLES.get(locale, RULE_TITLES["en"]).get(str(r.get("rule")), str(r.get("reason") or ""))[:60],
                age,
                expires,
                f"{len(r['approvers'])}/{r['needed']}",
            ]
        )
    return table(
        [s["col.id"], s["col.change"], s["col.reason"], s["col.age"], s["col.expires"], s["col.approvals"]], body
    )

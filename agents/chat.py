"""Understanding the operator without a model: a command in German or English, answered in kind.

:func:`understand` parses the chat text (:mod:`adpilot.agents.commands`), resolves the names in it
(:mod:`adpilot.agents.resolve`, through the Guard's read tools) and either answers at once
(performance, the worst ad, today's changes, approvals, help) or hands the supervisor a task whose
commands carry ids — the very path an id command takes through planning and the Guard. What it
cannot map gets a suggestion; with a model configured, it is left to the model instead.
:func:`answer_after` words the outcome of such a task. Answers are in the message's language
(:func:`adpilot.agents.commands.detect_language`), money in the account's currency as that
language writes it, never as micros.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

from adpilot.agents.commands import (
    HELP_DE,
    HELP_EN,
    Command,
    CommandError,
    Language,
    detect_language,
    parse_command,
    suggest,
)
from adpilot.agents.context import RunContext
from adpilot.agents.resolve import Entity, Kind, Resolution, catalogue, resolve
from adpilot.agents.state import Outcome, RunState, Task
from adpilot.errors import AdpilotError
from adpilot.money import format_money
from adpilot.tools.catalogue import COPY_FIELDS

_ALL = frozenset({"es", "it", "alles", "everything", "all", "das konto", "the account", "die kampagnen"})

T: dict[str, dict[str, str]] = {
    "en": {
        "campaign": "campaign",
        "budget": "budget",
        "ad_group": "ad group",
        "ad": "ad",
        "keyword": "keyword",
        "none": "“{query}”: nothing matches that command in the run's accounts ({accounts}).",
        "closest": "Closest: {names}.",
        "ambiguous": "“{query}” is ambiguous — did you mean {names}?",
        "or": " or ",
        "broken": "I did not understand “{text}”: {error}",
        "currency": "The account {account} is billed in {currency}, not {asked}; give the amount in {currency}.",
        "no_data": "{name}: no data in the last 7 days.",
        "perf": "{name}{status}, last {days} days: {impressions} impressions, {clicks} clicks (CTR {ctr}), "
        "cost {cost}, {conversions} conversions{per_conversion}",
        "per_conversion": ", {cost} per conversion",
        "account": "account {account}",
        "unreadable": "Cannot read the performance of {name}: {error}",
        "worst": "The worst ad in {scope} is {ad} — by {metric}: {value}, among {count} ads with enough data.",
        "worst.learning": "{learning} enabled ad(s) were not compared: still learning (fewer than {impressions} "
        "impressions in 30 days or younger than {days} days) or the only enabled ad of their ad group.",
        "worst.few": "{scope} has {count} ad(s) to compare (at least {impressions} impressions in 30 days, {days} "
        "days old, not the only enabled ad of their ad group); a worst ad needs at least two, so none is named.",
        "metric.cpa": "conversions per cost",
        "metric.ctr": "click-through rate (no conversions to compare)",
        "value.cpa": "{conversions} conversions for {cost}",
        "value.ctr": "CTR {ctr} over {impressions} impressions",
        "will_pause": "Pausing it (ad {id}).",
        "changes.none": "No changes today ({day} UTC).",
        "changes.head": "Changes today ({day} UTC):",
        "changes.why": "The story of one change, with the agent's rationale: /why SEQ (adpilot audit why SEQ).",
        "outcome.done": "done",
        "outcome.escalate": "waits for a person",
        "outcome.deny": "refused",
        "within_policy": "within policy",
        "outcome.unknown": "sent, the answer was lost: it may have landed",
        "outcome.failed": "failed",
        "new_ad": "new ad in ad group",
        "post": "post",
        "run": "run",
        "expired": ", expired",
        "approvals.none": "No approvals are waiting.",
        "approvals.head": "Approvals waiting:",
        "approvals.hint": "Decide with /approve ID or /reject ID in the console, or adpilot approvals approve ID.",
        "done": "Done",
        "copy_check": "Copy check of {copy}: {verdict}",
        "verdict.pass": "passes the copy rules",
        "verdict.needs_review": "needs a person's review",
        "verdict.fail": "breaks the copy rules",
        "text.pass": "passes",
        "waiting": "Waiting for your approval",
        "not_done": "Not done",
        "invalid": "Invalid call by the {role} agent, nothing done",
        "per_day": "per day",
        "per_click": "per click",
        "PAUSED": "paused",
        "ENABLED": "enabled",
        "nothing": "Nothing to do.",
        "no_change": "No change was made.",
        "stopped": "The run stopped: {reason}.",
        "adds": "The assistant adds",
        "quote": "“{}”",
    },
    "de": {
        "campaign": "Kampagne",
        "budget": "Budget",
        "ad_group": "Anzeigengruppe",
        "ad": "Anzeige",
        "keyword": "Keyword",
        "none": "Zu „{query}“ passt nichts in den Konten dieses Laufs ({accounts}).",
        "closest": "Am nächsten: {names}.",
        "ambiguous": "„{query}“ ist nicht eindeutig — meinten Sie {names}?",
        "or": " oder ",
        "broken": "Ich habe „{text}“ nicht verstanden: {error}",
        "currency": "Das Konto {account} rechnet in {currency} ab, nicht in {asked}; bitte den Betrag in {currency}.",
        "no_data": "{name}: keine Daten in den letzten 7 Tagen.",
        "perf": "{name}{status}, letzte {days} Tage: {impressions} Impressionen, {clicks} Klicks (CTR {ctr}), "
        "Kosten {cost}, {conversions} Conversions{per_conversion}",
        "per_conversion": ", {cost} pro Conversion",
        "account": "Konto {account}",
        "unreadable": "Die Leistung von {name} ist nicht lesbar: {error}",
        "worst": "Die schlechteste Anzeige in {scope} ist {ad} — nach {metric}: {value}, unter {count} Anzeigen "
        "mit genug Daten.",
        "worst.learning": "{learning} aktive Anzeige(n) wurden nicht verglichen: sie lernen noch (weniger als "
        "{impressions} Impressionen in 30 Tagen oder jünger als {days} Tage) oder sind die einzige aktive Anzeige "
        "ihrer Anzeigengruppe.",
        "worst.few": "{scope} hat {count} Anzeige(n) zum Vergleichen (mindestens {impressions} Impressionen in 30 "
        "Tagen, {days} Tage alt, nicht die einzige aktive Anzeige ihrer Gruppe); für eine schlechteste Anzeige "
        "braucht es mindestens zwei, daher keine.",
        "metric.cpa": "Conversions pro Kosten",
        "metric.ctr": "Klickrate (keine Conversions zum Vergleichen)",
        "value.cpa": "{conversions} Conversions für {cost}",
        "value.ctr": "CTR {ctr} bei {impressions} Impressionen",
        "will_pause": "Ich pausiere sie (Anzeige {id}).",
        "changes.none": "Heute keine Änderungen ({day} UTC).",
        "changes.head": "Änderungen heute ({day} UTC):",
        "changes.why": "Die Geschichte einer Änderung, mit der Begründung des Agenten: /why SEQ "
        "(adpilot audit why SEQ).",
        "outcome.done": "erledigt",
        "outcome.escalate": "wartet auf eine Person",
        "outcome.deny": "abgelehnt",
        "within_policy": "innerhalb der Richtlinie",
        "outcome.unknown": "gesendet, die Antwort ging verloren: vielleicht ausgeführt",
        "outcome.failed": "fehlgeschlagen",
        "new_ad": "neue Anzeige in Anzeigengruppe",
        "post": "Beitrag",
        "run": "Lauf",
        "expired": ", abgelaufen",
        "approvals.none": "Keine Freigaben offen.",
        "approvals.head": "Offene Freigaben:",
        "approvals.hint": "Entscheiden mit /approve ID oder /reject ID in der Konsole, "
        "oder adpilot approvals approve ID.",
        "done": "Erledigt",
        "copy_check": "Textprüfung von {copy}: {verdict}",
        "verdict.pass": "entspricht den Textregeln",
        "verdict.needs_review": "braucht die Prüfung durch eine Person",
        "verdict.fail": "verstößt gegen die Textregeln",
        "text.pass": "in Ordnung",
        "waiting": "Wartet auf Ihre Freigabe",
        "not_done": "Nicht erledigt",
        "invalid": "Ungültiger Aufruf des Agenten {role}, nichts getan",
        "per_day": "pro Tag",
        "per_click": "pro Klick",
        "PAUSED": "pausiert",
        "ENABLED": "aktiv",
        "nothing": "Nichts zu tun.",
        "no_change": "Es wurde nichts geändert.",
        "stopped": "Der Lauf wurde angehalten: {reason}.",
        "adds": "Der Assistent ergänzt",
        "quote": "„{}“",
    },
}


class Unclear(Exception):
    """The text could not be mapped; the message is the answer (without a model)."""


def language_of(state: RunState, ctx: RunContext) -> Language:
    default: Language = "de" if ctx.config.locale == "de" else "en"
    return detect_language(str(state["trigger"].get("text", "")), default)


def number(value: float, language: Language, digits: int = 0) -> str:
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".") if language == "de" else text


def percent(part: float, whole: float, language: Language) -> str:
    share = 100 * part / whole if whole else 0.0
    return number(share, language, 2) + (" %" if language == "de" else "%")


def label(entity: Entity, language: Language) -> str:
    return f"{T[language][entity.kind]} {T[language]['quote'].format(entity.name)} ({entity.id})"


async def understand(state: RunState, ctx: RunContext, *, model: bool) -> dict[str, Any] | None:
    """The supervisor's update for a chat message the grammar understands; with ``model``, None for
    anything it cannot map (the model gets it); without, a suggestion."""
    text = str(state["trigger"].get("text", ""))
    language = language_of(state, ctx)
    try:
        command = parse_command(text, language)
        if command is None:
            raise Unclear(suggest(text, language))
        return await _handle(command, ctx)
    except CommandError as exc:
        if model:
            return None
        return {"answer": T[language]["broken"].format(text=text.strip(), error=exc) + "\n" + _help(language)}
    except Unclear as unclear:
        return None if model else {"answer": str(unclear)}


def _help(language: Language) -> str:
    return HELP_DE if language == "de" else HELP_EN


async def _find(ctx: RunContext, query: str, kinds: tuple[Kind, ...], language: Language) -> Entity:
    """The one entity ``query`` names, else :class:`Unclear` with a "did you mean"."""
    entities = await catalogue(ctx.guard, kinds)
    return found_or_unclear(resolve(entities, query, kinds), ctx, language)


def found_or_unclear(resolution: Resolution, ctx: RunContext, language: Language) -> Entity:
    s = T[language]
    if resolution.found is not None:
        return resolution.found
    if resolution.matches:
        names = s["or"].join(label(e, language) for e in resolution.matches[:4])
        raise Unclear(s["ambiguous"].format(query=resolution.query, names=names))
    message = s["none"].format(query=resolution.query, accounts=", ".join(sorted(ctx.guard.run.accounts)))
    if resolution.suggestions:
        names = ", ".join(label(e, language) for e in resolution.suggestions)
        message += " " + s["closest"].format(names=names)
    raise Unclear(message)


async def _handle(command: Command, ctx: RunContext) -> dict[str, Any]:
    language, params = command.language, command.params
    if command.action == "help":
        return {"answer": _help(language)}
    if command.action == "approvals":
        return {"answer": _approvals(ctx, language)}
    if command.action == "changes":
        return {"answer": await _changes(ctx, language)}
    if command.action == "performance":
        return {"answer": await _performance(ctx, params["target"], language)}
    if command.action in ("worst_ad", "pause_worst_ad"):
        return await _worst(ctx, command)
    ids: dict[str, Any]
    if command.action in ("pause_campaign", "enable_campaign"):
        entity = await _find(ctx, params["target"], ("campaign",), language)
        ids = {"campaign": entity.id}
    elif command.action in ("pause_ad", "enable_ad"):
        entity = await _find(ctx, params["target"], ("ad",), language)
        ids = {"group": entity.ad_group_id, "ad": entity.own_id}
    elif command.action == "set_budget":
        entity = await _find(ctx, params["target"], ("budget",), language)
        ids = {"budget": entity.id, **await _money(ctx, entity.account, params, language)}
    else:  # set_bid
        entity = await _keyword(ctx, params, language)
        ids = {
            "group": entity.ad_group_id,
            "criterion": entity.own_id,
            **await _money(ctx, entity.account, params, language),
        }
    resolved = Command(command.action, command.role, {**ids, "account": entity.account, "label": entity.name}, language)
    return {"current": _task(_task_text(command), resolved)}


def _task_text(command: Command) -> str:
    return f"{command.action.replace('_', ' ')} {command.params.get('target', '')}".strip()


def _task(text: str, command: Command) -> Task:
    return {
        "id": "cmd-1",
        "role": command.role or "bidding",
        "account": None,
        "text": text,
        "commands": [command.as_dict()],
    }


async def _money(ctx: RunContext, account: str, params: dict[str, Any], language: Language) -> dict[str, Any]:
    """The amount in the account's currency; a different currency named is refused."""
    currency = await ctx.guard.context.currency(account) or "EUR"
    asked = params.get("currency")
    if asked and asked != currency:
        raise Unclear(T[language]["currency"].format(account=account, currency=currency, asked=asked))
    return {"amount_micros": params["amount_micros"], "currency": currency}


async def _keyword(ctx: RunContext, params: dict[str, Any], language: Language) -> Entity:
    entities = await catalogue(ctx.guard, ("keyword", "ad_group") if params.get("group") else ("keyword",))
    if params.get("group"):
        group = found_or_unclear(resolve(entities, params["group"], ("ad_group",)), ctx, language)
        entities = [
            e
            for e in entities
            if e.kind == "keyword" and e.account == group.account and e.ad_group_id == group.ad_group_id
        ]
    return found_or_unclear(resolve(entities, params["target"], ("keyword",)), ctx, language)


# --- answers ---------------------------------------------------------------------------------


def _approvals(ctx: RunContext, language: Language) -> str:
    """The approvals waiting in the state directory's run registry: the list `/approvals` shows."""
    from adpilot.agents.outcomes import proposed_call
    from adpilot.agents.registry import RunRegistry
    from adpilot.statedir import StateDir

    s = T[language]
    registry = RunRegistry(StateDir(ctx.config.state_dir).registry)
    try:
        lines = []
        for record, item, asked in registry.waiting_items():
            tool, args = proposed_call(item)
            currency = str((asked.detail if asked is not None else {}).get("currency") or "")
            state = s["expired"] if asked is not None and asked.expired() else ""
            change = _change(tool, args, currency, language)
            reason = str(item["reason"]).removeprefix("needs a person's approval: ")
            lines.append(f"  {item['id']}  {change} — {reason} ({s['run']} {record.thread_id}{state})")
    finally:
        registry.close()
    if not lines:
        return s["approvals.none"]
    return "\n".join([s["approvals.head"], *lines, s["approvals.hint"]])


async def _changes(ctx: RunContext, language: Language) -> str:
    """Today's changes (UTC) from the audit trail: each change carried out (or refused, or waiting
    for a person), what became of it, and the Guard's reason."""
    from adpilot.tools.catalogue import CATALOGUE

    s = T[language]
    reads = tuple(spec.name for spec in CATALOGUE if spec.kind == "read")
    now = ctx.guard.context.now()
    start = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    records = [r for r in ctx.guard.audit.records(since=start, exclude_tools=reads) if r.tool != "escalate"]
    decided = {r.idempotency_key: r for r in records if r.kind == "decision" and r.idempotency_key}
    finished = {r.idempotency_key for r in records if r.kind == "result"}
    shown = [
        r
        for r in records
        if r.kind == "result"
        or (r.kind == "decision" and r.decision in ("escalate", "deny") and r.idempotency_key not in finished)
    ]
    day = start.date().isoformat()
    if not shown:
        return s["changes.none"].format(day=day)
    currencies: dict[str, str] = {}
    lines = [s["changes.head"].format(day=day)]
    for record in shown:
        account = str((record.args or {}).get("customer_id") or "")
        if account and account not in currencies:
            currencies[account] = await _currency(ctx, account)
        change = _change(record.tool, dict(record.args or {}), currencies.get(account, ""), language)
        decision = decided.get(record.idempotency_key or "") if record.kind == "result" else record
        lines.append(f"  {record.ts[11:16]} #{record.seq} {record.role}: {change} — {_outcome(record, decision, s)}")
    lines.append(s["changes.why"])
    return "\n".join(lines)


def _outcome(record: Any, decision: Any, s: dict[str, str]) -> str:
    """What became of a change, and the Guard's reason."""

    def why(row: Any) -> str:
        if row is None:
            return ""
        if row.rule == "allow":
            return s["within_policy"]
        return str(row.reason or row.rule or "").removeprefix("needs a person's approval: ")

    if record.kind == "decision":
        return f"{s['outcome.' + str(record.decision)]}: {why(record)}"
    if record.status == "ok":
        return f"{s['outcome.done']}: {why(decision)}".rstrip(": ")
    if record.status == "unknown":
        return s["outcome.unknown"]
    message = record.result.get("message") if isinstance(record.result, dict) else record.result
    return f"{s['outcome.failed']}: {message or record.status}"


_ROUND = re.compile(r"\.r[0-9]+$")


def _latest(outcomes: list[Outcome]) -> list[Outcome]:
    """Each change once, as it ended in this run: a change that waited for a person and was then
    decided, edited (``….edit``), asked again (``….r2``) or re-escalated keeps its last outcome."""

    def base(outcome: Outcome) -> str | None:
        proposal = outcome.get("proposal_id")
        return _ROUND.sub("", str(proposal).removesuffix(".edit")) if proposal else None

    last = {base(o): index for index, o in enumerate(outcomes) if base(o) is not None}
    return [o for index, o in enumerate(outcomes) if base(o) is None or last[base(o)] == index]


async def _currency(ctx: RunContext, account: str) -> str:
    """The currency of one of this run's accounts ("" for any other — a model may name one — or
    when it cannot be read: the amount is then shown in micros, never in a guessed currency)."""
    if not account or account not in ctx.guard.run.accounts:
        return ""
    try:
        return await ctx.guard.context.currency(account)
    except AdpilotError:
        return ""


def copy_check_note(args: dict[str, Any], data: Any, language: Language) -> str:
    """A copy check's verdict in words, with each rule that fired: the operator reads the verdict
    from the check itself, never from a model's account of it. With several texts, each one's
    own: which of them broke which rule, and which pass."""
    s = T[language]
    quote = s["quote"]
    entries = [(f"{key}[{i}]", str(t)) for key in COPY_FIELDS for i, t in enumerate(args.get(key) or [])]
    copy = ", ".join(quote.format(t) for _, t in entries[:3]) + (" …" if len(entries) > 3 else "")
    result = data if isinstance(data, dict) else {}
    verdict = str(result.get("verdict") or "")
    findings = [f for f in result.get("findings") or [] if isinstance(f, dict)]
    line = s["copy_check"].format(copy=copy, verdict=s.get(f"verdict.{verdict}", verdict))

    def fired(found: list[dict[str, Any]], whole: str = "") -> str:
        """Each rule with the words it fired on (left out where they are the whole text named)."""
        return "; ".join(
            f"{f.get('rule')}: {f.get('message')}"
            + ("" if f.get("text") == whole else f" ({quote.format(f.get('text'))})")
            for f in found
        )

    if len(entries) < 2:
        return f"{line} — {fired(findings)}" if findings else line
    fields = {field for field, _ in entries}
    parts = [
        f"{quote.format(text)}: {fired(mine, text) if mine else s['text.pass']}"
        for field, text in entries
        for mine in [[f for f in findings if f.get("field") == field]]
    ]
    general = [f for f in findings if f.get("field") not in fields]
    return f"{line} — {'; '.join(parts)}" + (f"; {fired(general)}" if general else "")


def _change(tool: str, args: dict[str, Any], currency: str, language: Language) -> str:
    """One change in words, money formatted for ``language`` (the tool's name in brackets)."""
    s = T[language]

    def money(value: Any) -> str:
        try:
            micros = int(value)
        except (TypeError, ValueError):
            return str(value)
        return format_money(micros, currency, language) if currency else f"{micros} micros"

    if tool == "set_campaign_budget":
        text = f"{s['budget']} {args.get('budget_id')} → {money(args.get('amount_micros'))} {s['per_day']}"
    elif tool == "set_keyword_bid":
        key = f"{args.get('ad_group_id')}~{args.get('criterion_id')}"
        text = f"{s['keyword']} {key} → {money(args.get('cpc_bid_micros'))} {s['per_click']}"
    elif tool == "set_campaign_status":
        text = f"{s['campaign']} {args.get('campaign_id')} → {s.get(str(args.get('status')), args.get('status'))}"
    elif tool == "set_ad_status":
        key = f"{args.get('ad_group_id')}~{args.get('ad_id')}"
        text = f"{s['ad']} {key} → {s.get(str(args.get('status')), args.get('status'))}"
    elif tool == "create_responsive_search_ad":
        headlines = " | ".join(str(h) for h in (args.get("headlines") or [])[:3])
        text = f"{s['new_ad']} {args.get('ad_group_id')}: “{headlines}”"
    elif "post_id" in args:
        fields = ", ".join(sorted(k for k in args if k != "post_id"))
        text = f"{s['post']} {args.get('post_id')}" + (f": {fields}" if fields else "")
    else:
        text = ", ".join(f"{k} {v}" for k, v in args.items() if isinstance(v, str | int) and k != "customer_id")
    return f"{text} ({tool})"


async def _performance(ctx: RunContext, target: str, language: Language) -> str:
    s = T[language]
    accounts = sorted(ctx.guard.run.accounts)
    if target in accounts or target.casefold() in _ALL:
        chosen = [target] if target in accounts else accounts
        lines = []
        for account in chosen:
            rows = await ctx.guard.call(
                "bidding", "get_performance", {"customer_id": account, "level": "campaign", "days": 7}
            )
            if rows.error is not None:
                return s["unreadable"].format(name=s["account"].format(account=account), error=rows.error.message)
            currency = await ctx.guard.context.currency(account)
            lines.append(s["account"].format(account=account) + ":")
            lines += ["  " + _perf_line(r, r["campaign_name"], None, 7, currency, language) for r in rows.data]
        return "\n".join(lines)
    entity = await _find(ctx, target, ("campaign", "ad_group", "keyword", "ad"), language)
    level = {"campaign": "campaign", "ad_group": "ad_group", "keyword": "keyword", "ad": "ad"}[entity.kind]
    currency = await ctx.guard.context.currency(entity.account)
    lines = []
    for days in (7, 30):
        rows = await ctx.guard.call(
            "bidding", "get_performance", {"customer_id": entity.account, "level": level, "days": days}
        )
        if rows.error is not None:
            return s["unreadable"].format(name=label(entity, language), error=rows.error.message)
        mine = [r for r in rows.data if _row_id(r, entity.kind) == entity.id]
        if not mine:
            lines.append(s["no_data"].format(name=label(entity, language)))
            continue
        status = str(entity.data.get("status") or mine[0].get("status") or "")
        lines.append(_perf_line(mine[0], label(entity, language), status, days, currency, language))
    return "\n".join(lines)


def _row_id(row: dict[str, Any], kind: str) -> str:
    if kind == "campaign":
        return str(row.get("campaign_id"))
    if kind == "ad_group":
        return str(row.get("ad_group_id"))
    own = row.get("criterion_id") if kind == "keyword" else row.get("ad_id")
    return f"{row.get('ad_group_id')}~{own}"


def _perf_line(row: dict[str, Any], name: str, status: str | None, days: int, currency: str, language: Language) -> str:
    s = T[language]
    cost = int(row.get("cost_micros") or 0)
    conversions = float(row.get("conversions") or 0.0)
    per = (
        s["per_conversion"].format(cost=format_money(round(cost / conversions), currency or "EUR", language))
        if conversions
        else ""
    )
    return s["perf"].format(
        name=name,
        status=f" ({s.get(status, status)})" if status else "",
        days=days,
        impressions=number(int(row.get("impressions") or 0), language),
        clicks=number(int(row.get("clicks") or 0), language),
        ctr=percent(int(row.get("clicks") or 0), int(row.get("impressions") or 0), language),
        cost=format_money(cost, currency or "EUR", language),
        conversions=number(conversions, language, 1),
        per_conversion=per,
    )


async def _worst(ctx: RunContext, command: Command) -> dict[str, Any]:
    """The worst proven ad of an ad group or campaign: lowest conversions per cost when every
    compared ad has cost and some converted, else lowest CTR. Only ads past the learning rules
    (policy ``patience.learning.ad``) are compared, and at least two of them."""
    from adpilot.agents.patience import load_patience
    from adpilot.agents.skills.bidding import proven

    language, s = command.language, T[command.language]
    scope = await _find(ctx, command.params["target"], ("ad_group", "campaign"), language)
    account = scope.account
    groups_of_campaign = {
        e.id for e in await catalogue(ctx.guard, ("ad_group",)) if e.account == account and e.campaign_id == scope.id
    }
    groups = {scope.id} if scope.kind == "ad_group" else groups_of_campaign
    ads = await ctx.guard.call("bidding", "get_performance", {"customer_id": account, "level": "ad", "days": 30})
    if ads.error is not None:
        raise Unclear(s["unreadable"].format(name=label(scope, language), error=ads.error.message))
    patience, _ = await load_patience(ctx.guard, ctx.config.state_dir, account)
    learning = patience.rules.learning.ad
    ages = patience.age_days(account, "ad_group_ad")
    live = [a for a in ads.data if str(a["ad_group_id"]) in groups and a.get("status") == "ENABLED"]
    enabled = Counter(str(a["ad_group_id"]) for a in live)
    # the only enabled ad of its group is no candidate: pausing it would leave the group without ads
    compared = [a for a in live if proven(a, learning, ages) and enabled[str(a["ad_group_id"])] > 1]
    rules = {"impressions": number(learning.min_impressions, language), "days": learning.min_days}
    if len(compared) < 2:
        return {"answer": s["worst.few"].format(scope=label(scope, language), count=len(compared), **rules)}
    currency = await ctx.guard.context.currency(account) or "EUR"
    by_cost = all(int(a["cost_micros"]) > 0 for a in compared) and any(float(a["conversions"]) > 0 for a in compared)

    def ctr(ad: dict[str, Any]) -> float:
        return int(ad["clicks"]) / max(int(ad["impressions"]), 1)

    if by_cost:
        worst = min(compared, key=lambda a: (float(a["conversions"]) / int(a["cost_micros"]), ctr(a)))
        metric = s["metric.cpa"]
        value = s["value.cpa"].format(
            conversions=number(float(worst["conversions"]), language, 1),
            cost=format_money(int(worst["cost_micros"]), currency, language),
        )
    else:
        worst = min(compared, key=ctr)
        metric = s["metric.ctr"]
        value = s["value.ctr"].format(
            ctr=percent(int(worst["clicks"]), int(worst["impressions"]), language),
            impressions=number(int(worst["impressions"]), language),
        )
    key = f"{worst['ad_group_id']}~{worst['ad_id']}"
    names = {e.id: e for e in await catalogue(ctx.guard, ("ad",)) if e.account == account}
    ad = label(names[key], language) if key in names else f"{s['ad']} {key}"
    lines = [s["worst"].format(scope=label(scope, language), ad=ad, metric=metric, value=value, count=len(compared))]
    if len(live) > len(compared):
        lines.append(s["worst.learning"].format(learning=len(live) - len(compared), **rules))
    if command.action == "worst_ad":
        return {"answer": "\n".join(lines)}
    lines.append(s["will_pause"].format(id=key))
    why = f"worst ad in {scope.kind} {scope.id} by {'conversions per cost' if by_cost else 'CTR'}"
    params = {"group": str(worst["ad_group_id"]), "ad": str(worst["ad_id"]), "account": account, "label": why}
    pause = Command("pause_ad", "bidding", params, language)
    return {"current": _task(_task_text(command), pause), "notes": lines}


async def answer_after(state: RunState, ctx: RunContext) -> str:
    """The answer once a command's task is done: the notes, then each outcome in words."""
    language = language_of(state, ctx)
    lines = [*(state.get("notes") or []), *await outcome_lines(list(state.get("outcomes") or []), ctx, language)]
    return "\n".join(lines) or T[language]["nothing"]


async def outcome_lines(outcomes: list[Outcome], ctx: RunContext, language: Language) -> list[str]:
    """Each outcome in words: what became of it, the change with money in the account's currency."""
    s = T[language]
    lines = []
    for outcome in _latest(outcomes):
        account = str(outcome.get("account") or (outcome.get("args") or {}).get("customer_id") or "")
        currency = await _currency(ctx, account)
        change = _change(outcome["tool"], dict(outcome.get("args") or {}), currency, language)
        message = (outcome.get("error") or {}).get("message")
        if (outcome.get("error") or {}).get("type") == "invalid_call":
            lines.append(f"{s['invalid'].format(role=outcome['role'])}: {outcome['tool']} — {message}")
        elif outcome["decision"] == "allow" and outcome["ok"]:
            lines.append(f"{s['done']}: {change}")
        elif outcome["decision"] == "escalate":
            lines.append(f"{s['waiting']}: {change} — {message or ''}".rstrip(" —"))
        else:
            lines.append(f"{s['not_done']}: {change} — {message or outcome['decision']}")
    return lines

"""Patience: what the maintenance skills leave alone, and the holds people put on entities.

A change needs time to show in the data, and a person's change is a decision the skills must not
undo behind their back. Before a skill's proposals become a plan, :meth:`Patience.screen` drops
every proposal on an entity that

* changed (by adpilot, a person or any other tool) less than ``patience.cooldown_days`` of its
  kind ago — a budget, a bid, an ad's or a campaign's status, a new ad in an ad group;
* a person changed less than ``patience.person_hold_days`` ago: through adpilot (`adpilot tool
  call`, a chat command, an approved *edit*, a rejected proposal, a rollback — the audit log
  records who) or directly in Google Ads (the account's ``change_event`` history, any client
  other than the API: the web interface, Editor, the mobile app, …);
* is on an explicit hold (``adpilot hold ENTITY [--days N]``, stored in ``holds.sqlite`` in the
  state directory) — an account, a campaign (its budget, ad groups, ads and keywords with it),
  an ad group (its ads and keywords), an ad, a keyword, a budget or a page.

Each dropped proposal leaves a note saying until when and why. Learning periods (no verdict on a
new ad or keyword) are applied inside the bidding skill, from the ages this history knows.
The compliance sweep is not held back: a live ad that breaks the copy rules is paused at once.
The rules and defaults are explained in docs/MAINTENANCE.md.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adpilot.agents.proposal import Proposal
from adpilot.errors import AdpilotError, UsageError
from adpilot.policies.model import Patience as PatiencePolicy
from adpilot.tools.audit import AuditRecord
from adpilot.tools.guard import Guard

HOLDS_FILE = "holds.sqlite"
# Runs whose changes a person asked for: `adpilot tool call`, rollbacks, chat (console and --once).
PERSON_RUNS = ("cli-", "rollback-", "chat-")
# What each changing tool changes, as a cooldown kind (policy patience.cooldown_days).
KIND_OF_TOOL = {
    "set_campaign_budget": "budget",
    "set_keyword_bid": "bid",
    "set_ad_status": "ad_status",
    "set_campaign_status": "campaign_status",
    "create_responsive_search_ad": "new_ad",
    "create_draft": "cms",
    "update_post": "cms",
    "publish_post": "cms",
}
# Hold names a person may type → the entity kind of the audit log.
KIND_NAMES = {
    "ad": "ad_group_ad",
    "ad_group_ad": "ad_group_ad",
    "keyword": "ad_group_criterion",
    "criterion": "ad_group_criterion",
    "ad_group_criterion": "ad_group_criterion",
    "budget": "campaign_budget",
    "campaign_budget": "campaign_budget",
    "campaign": "campaign",
    "ad_group": "ad_group",
    "adgroup": "ad_group",
}
SHOWN_KIND = {
    "ad_group_ad": "ad",
    "ad_group_criterion": "keyword",
    "campaign_budget": "budget",
    "campaign": "campaign",
    "ad_group": "ad group",
}
# change_event resource collections → entity kinds
COLLECTIONS = {
    "campaignBudgets": "campaign_budget",
    "campaigns": "campaign",
    "adGroups": "ad_group",
    "adGroupAds": "ad_group_ad",
    "adGroupCriteria": "ad_group_criterion",
}
ACCOUNT_ID = re.compile(r"[1-9][0-9]{9}")


# --- entity names ---------------------------------------------------------------------------


def entity_of(tool: str, args: dict[str, Any]) -> str | None:
    """The audit-log entity a call of ``tool`` changes (None: not a change adpilot knows)."""
    customer = args.get("customer_id")
    if tool == "set_campaign_budget":
        return f"google_ads:{customer}:campaign_budget:{args.get('budget_id')}"
    if tool == "set_keyword_bid":
        return f"google_ads:{customer}:ad_group_criterion:{args.get('ad_group_id')}~{args.get('criterion_id')}"
    if tool == "set_ad_status":
        return f"google_ads:{customer}:ad_group_ad:{args.get('ad_group_id')}~{args.get('ad_id')}"
    if tool == "set_campaign_status":
        return f"google_ads:{customer}:campaign:{args.get('campaign_id')}"
    if tool == "create_responsive_search_ad":
        return f"google_ads:{customer}:ad_group:{args.get('ad_group_id')}"
    if tool in ("update_post", "publish_post") and args.get("post_id") is not None:
        return f"wordpress:post:{args.get('post_id')}"
    return None


def parse_entity(text: str) -> str:
    """What a person typed after ``adpilot hold`` as the entity name holds are stored under.

    ``ad:2101~31001``, ``keyword:2801~48001``, ``budget:9101``, ``campaign:111``,
    ``ad_group:2101`` (each optionally after an account, ``1112223333:ad:2101~31001``, or as the
    audit log names it, ``google_ads:1112223333:ad_group_ad:2101~31001``), ``account:1112223333``
    and ``post:501``. Without an account, a hold applies to that id in every account."""
    raw = text.strip()
    parts = raw.split(":")
    if parts[0] == "google_ads":
        parts = parts[1:]
    if parts[0] == "wordpress":
        parts = parts[1:]
    if len(parts) == 2 and parts[0] == "post" and parts[1].isdigit():
        return f"wordpress:post:{int(parts[1])}"
    if len(parts) == 2 and parts[0] == "account" and ACCOUNT_ID.fullmatch(parts[1]):
        return f"google_ads:{parts[1]}:*"
    if len(parts) == 1 and ACCOUNT_ID.fullmatch(parts[0]):
        return f"google_ads:{parts[0]}:*"
    account = "*"
    if len(parts) == 3 and ACCOUNT_ID.fullmatch(parts[0]):
        account, parts = parts[0], parts[1:]
    if len(parts) == 2 and parts[0] in KIND_NAMES:
        kind, key = KIND_NAMES[parts[0]], parts[1]
        pair = kind in ("ad_group_ad", "ad_group_criterion")
        if re.fullmatch(r"[0-9]+~[0-9]+" if pair else r"[0-9]+", key):
            return f"google_ads:{account}:{kind}:{key}"
    raise UsageError(
        f"{text!r} names no entity: use ad:GROUP~AD, keyword:GROUP~CRITERION, budget:ID, campaign:ID, "
        "ad_group:ID (each optionally after ACCOUNT:), account:ACCOUNT or post:ID"
    )


def describe(entity: str) -> str:
    """An entity as a person reads it: "ad 2101~31001 (1112223333)", "post 501"."""
    parts = entity.split(":")
    if parts[0] == "wordpress":
        return " ".join(parts[1:])
    if len(parts) == 3 and parts[2] == "*":
        return f"account {parts[1]}"
    if len(parts) == 4:
        shown = f"{SHOWN_KIND.get(parts[2], parts[2])} {parts[3]}"
        return shown if parts[1] == "*" else f"{shown} ({parts[1]})"
    return entity


# --- explicit holds -------------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    entity: str
    since: dt.datetime
    until: dt.datetime | None  # None: until released
    by: str
    reason: str

    def active(self, now: dt.datetime) -> bool:
        return self.until is None or now < self.until


class HoldStore:
    """Explicit holds, durable in the state directory (``holds.sqlite``): one row per entity."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / HOLDS_FILE
        self._db = sqlite3.connect(self.path, timeout=30)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS holds (entity TEXT PRIMARY KEY, since TEXT NOT NULL, until TEXT, "
            "by TEXT NOT NULL, reason TEXT NOT NULL)"
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> HoldStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, entity: str, *, by: str, reason: str = "", days: float | None = None, now: dt.datetime) -> Hold:
        """Hold ``entity`` for ``days`` (None: until released); a hold already there is replaced."""
        until = now + dt.timedelta(days=days) if days is not None else None
        hold = Hold(entity, now, until, by, reason)
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO holds VALUES (?, ?, ?, ?, ?)",
                (entity, now.isoformat(), until.isoformat() if until else None, by, reason),
            )
        return hold

    def release(self, entity: str) -> bool:
        with self._db:
            return self._db.execute("DELETE FROM holds WHERE entity = ?", (entity,)).rowcount > 0

    def holds(self, now: dt.datetime | None = None) -> list[Hold]:
        """Every hold (only the active ones at ``now`` when given), oldest first."""
        rows = self._db.execute("SELECT entity, since, until, by, reason FROM holds ORDER BY since").fetchall()
        found = [
            Hold(e, dt.datetime.fromisoformat(s), dt.datetime.fromisoformat(u) if u else None, b, r)
            for e, s, u, b, r in rows
        ]
        return [h for h in found if now is None or h.active(now)]


@contextmanager
def hold_store(state_dir: Path) -> Iterator[HoldStore]:
    store = HoldStore(state_dir)
    try:
        yield store
    finally:
        store.close()


# --- what happened to each entity -----------------------------------------------------------


@dataclass(frozen=True)
class Change:
    entity: str
    at: dt.datetime
    person: bool  # a person's decision (not a skill's or a model's)
    who: str


def is_person(record: AuditRecord) -> bool:
    """Whether an audit row records a change (or a rejection) a person made through adpilot."""
    return (
        record.run_id.startswith(PERSON_RUNS)
        or record.role == "operator"
        or str(record.idempotency_key or "").endswith(".edit")
        or record.decision == "reject"
    )


def _who(record: AuditRecord) -> str:
    if record.decision == "reject":
        return record.reason or f"rejected ({record.actor})"
    if str(record.idempotency_key or "").endswith(".edit"):
        return f"an edit approved ({record.actor})"
    if record.run_id.startswith("rollback-"):
        return f"a rollback ({record.actor})"
    if record.run_id.startswith(PERSON_RUNS) or record.role == "operator":
        return f"{record.actor} as {record.role}, run {record.run_id}"
    return f"{record.actor} ({record.role})"


def _created_ad(record: AuditRecord) -> str | None:
    """The entity of the ad a create_responsive_search_ad result created."""
    if record.tool != "create_responsive_search_ad" or not isinstance(record.result, dict):
        return None
    ad_id = record.result.get("ad_id")
    if ad_id is None or not record.entity:
        return None
    prefix, _, group = record.entity.rpartition(":ad_group:")
    return f"{prefix}:ad_group_ad:{group}~{ad_id}" if prefix else None


@dataclass
class History:
    """The changes the skills weigh: newest change and newest person's change per entity, and
    when ads and keywords were created (as far as the audit log and change history reach)."""

    changes: dict[str, Change] = field(default_factory=dict)
    by_person: dict[str, Change] = field(default_factory=dict)
    created: dict[str, dt.datetime] = field(default_factory=dict)

    def add(self, change: Change) -> None:
        for table, wanted in ((self.changes, True), (self.by_person, change.person)):
            if wanted and (change.entity not in table or table[change.entity].at < change.at):
                table[change.entity] = change

    def add_records(self, records: Iterable[AuditRecord]) -> None:
        for record in records:
            at = dt.datetime.fromisoformat(record.ts)
            if record.kind == "decision":  # a person's rejection of a proposed change
                entity = record.entity or entity_of(record.tool, record.args or {})
                if entity:
                    self.add(Change(entity, at, True, _who(record)))
                continue
            if record.kind != "result" or record.status not in ("ok", "unknown") or not record.entity:
                continue
            if record.tool not in KIND_OF_TOOL:
                continue
            self.add(Change(record.entity, at, is_person(record), _who(record)))
            created = _created_ad(record)
            if created:
                self.created.setdefault(created, at)
                self.add(Change(created, at, is_person(record), _who(record)))

    def add_change_events(self, account: str, events: Iterable[Any], zone: dt.tzinfo, now: dt.datetime) -> None:
        """Google Ads' own change history: every client, a person's when not made through the API.

        An event later than ``now`` (the audit log's clock) means the two clocks disagree — a test's
        or a simulation's fixed clock: it is left out, and the audit log alone speaks for adpilot."""
        for event in events:
            match = re.fullmatch(r"customers/([0-9]+)/([A-Za-z]+)/([0-9~]+)", str(event.resource_name))
            kind = COLLECTIONS.get(match.group(2)) if match else None
            if match is None or kind is None:
                continue
            try:
                at = dt.datetime.fromisoformat(str(event.date_time)).replace(tzinfo=zone)
            except ValueError:
                continue
            if at > now + dt.timedelta(hours=1):
                continue
            entity = f"google_ads:{account}:{kind}:{match.group(3)}"
            client = str(event.client_type or "GOOGLE_ADS_API")
            person = client != "GOOGLE_ADS_API"
            who = f"{event.user_email or 'someone'} in Google Ads ({client})"
            self.add(Change(entity, at.astimezone(dt.UTC), person, who))
            if event.operation == "CREATE" and kind in ("ad_group_ad", "ad_group_criterion"):
                known = self.created.get(entity)
                self.created[entity] = at if known is None else min(known, at)
                if kind == "ad_group_ad":
                    group = match.group(3).split("~")[0]
                    self.add(Change(f"google_ads:{account}:ad_group:{group}", at, person, who))


# --- the screen -----------------------------------------------------------------------------


def _days(value: float) -> str:
    return f"{value:g} day" + ("" if value == 1 else "s")


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class Patience:
    """The policy's patience over one account's (or the CMS's) history, at ``now``."""

    rules: PatiencePolicy
    now: dt.datetime
    history: History = field(default_factory=History)
    holds: list[Hold] = field(default_factory=list)
    parents: dict[str, str] = field(default_factory=dict)  # ad group / budget id → campaign id

    def age_days(self, account: str, kind: str) -> dict[str, float]:
        """Days since creation of the account's ads (``kind`` ad_group_ad) or keywords, by GROUP~ID."""
        prefix = f"google_ads:{account}:{kind}:"
        return {
            entity[len(prefix) :]: (self.now - at).total_seconds() / 86400
            for entity, at in self.history.created.items()
            if entity.startswith(prefix)
        }

    def _covering(self, entity: str) -> list[str]:
        """The hold names that cover ``entity``: itself, any account, its account, its ad group, its campaign."""
        parts = entity.split(":")
        if parts[0] != "google_ads" or len(parts) != 4:
            return [entity]
        _, account, kind, key = parts
        names = [entity, f"google_ads:*:{kind}:{key}", f"google_ads:{account}:*"]
        group = key.split("~")[0] if kind in ("ad_group_ad", "ad_group_criterion", "ad_group") else None
        campaign = None
        if group is not None:
            names += [f"google_ads:{account}:ad_group:{group}", f"google_ads:*:ad_group:{group}"]
            campaign = self.parents.get(f"ad_group:{group}")
        elif kind == "campaign_budget":
            campaign = self.parents.get(f"campaign_budget:{key}")
        if campaign:
            names += [f"google_ads:{account}:campaign:{campaign}", f"google_ads:*:campaign:{campaign}"]
        return names

    def blocked(self, tool: str, args: dict[str, Any]) -> str | None:
        """Why the skills must not make this change now (None: they may)."""
        entity = entity_of(tool, args)
        if entity is None:
            return None
        covering = set(self._covering(entity))
        for hold in self.holds:
            if hold.entity in covering and hold.active(self.now):
                lasts = f"until {_when(hold.until)}" if hold.until else "until released (adpilot release)"
                why = f": {hold.reason}" if hold.reason else ""
                return f"{describe(hold.entity)} is on hold by {hold.by} {lasts}{why}"
        person = self.history.by_person.get(entity)
        if person is not None and self.rules.person_hold_days:
            until = person.at + dt.timedelta(days=self.rules.person_hold_days)
            if self.now < until:
                return (
                    f"a person's decision ({person.who}, {_when(person.at)}): held "
                    f"{_days(self.rules.person_hold_days)}, until {_when(until)}"
                )
        kind = KIND_OF_TOOL.get(tool)
        days = getattr(self.rules.cooldown_days, kind, 0) if kind else 0
        last = self.history.changes.get(entity)
        if last is not None and days:
            until = last.at + dt.timedelta(days=days)
            if self.now < until:
                what = "new ad" if kind == "new_ad" else str(kind).replace("_", " ")
                return f"changed {_when(last.at)} by {last.who}: {what} cooldown {_days(days)}, until {_when(until)}"
        return None

    def screen(self, proposals: list[Proposal]) -> tuple[list[Proposal], list[str]]:
        """The proposals the skills may make now, and a note for each one left for later."""
        kept: list[Proposal] = []
        notes: list[str] = []
        for proposal in proposals:
            why = self.blocked(proposal.tool, proposal.args)
            if why is None:
                kept.append(proposal)
            else:
                entity = entity_of(proposal.tool, proposal.args) or proposal.tool
                notes.append(f"left alone: {describe(entity)} ({proposal.tool}) — {why}")
        return kept, notes


async def _time_zone(guard: Guard, account: str) -> dt.tzinfo:
    """The account's time zone (change history times are in it); UTC when it cannot be read."""
    try:
        rows = await guard.platforms.google_ads.search(account, "SELECT customer.time_zone FROM customer")
        name = str(((rows[0] if rows else {}).get("customer") or {}).get("timeZone") or "UTC")
        return ZoneInfo(name)
    except (AdpilotError, ZoneInfoNotFoundError, ValueError):
        return dt.UTC


async def load_patience(
    guard: Guard, state_dir: Path, account: str | None, *, parents: dict[str, str] | None = None
) -> tuple[Patience, list[str]]:
    """The patience of one account (None: the CMS) from the audit log, Google Ads' change history
    and the explicit holds — and notes on what could not be read."""
    rules = guard.policy.patience
    now = guard.context.now()
    reach = max(
        rules.person_hold_days,
        rules.learning.ad.min_days,
        rules.learning.keyword.min_days,
        *(getattr(rules.cooldown_days, kind) for kind in type(rules.cooldown_days).model_fields),
    )
    since = now - dt.timedelta(days=reach + 1)
    history = History()
    audit = guard.audit
    history.add_records(audit.records(account=account or "cms", kind="result", since=since))
    history.add_records(
        r
        for r in audit.records(kind="decision", decision="reject", since=since)
        # rejection rows name no entity: their account is the call's
        if (r.args or {}).get("customer_id") == account or (account is None and "post_id" in (r.args or {}))
    )
    notes: list[str] = []
    if account is not None:
        # Google keeps 30 days of change history, and wants a finite window inside them — on its
        # own clock, which is the wall clock (the audit log's may be another, in tests and evals).
        wall = dt.datetime.now(dt.UTC)
        start = wall - dt.timedelta(days=min(reach + 1, 28))
        try:
            zone = await _time_zone(guard, account)
            events = await guard.platforms.google_ads.change_events(account, since=start, until=wall)
            history.add_change_events(account, events, zone, now)
        except AdpilotError as exc:
            notes.append(
                f"account {account}: Google Ads' change history could not be read ({exc}); changes made "
                "outside adpilot are not known to this run's cooldowns and holds"
            )
    holds: list[Hold] = []
    if (state_dir / HOLDS_FILE).exists():  # reading creates nothing
        with hold_store(state_dir) as store:
            holds = store.holds(now)
    return Patience(rules, now, history, holds, parents or {}), notes

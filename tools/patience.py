"""Patience, as data and rules: what a change must wait for, whoever applies the rules.

A change needs time to show in the data, and a person's change is a decision automation must not
undo behind their back. :meth:`Patience.held` says why a change must wait, from three sources:

* the entity changed (by adpilot, a person or any other tool) less than ``patience.cooldown_days``
  of its kind ago — a budget, a bid, an ad's or a campaign's status, a new ad in an ad group;
* a person changed it less than ``patience.person_hold_days`` ago (:func:`is_person`);
* it is on an explicit hold (:class:`HoldStore`, ``holds.sqlite`` in the state directory) — an
  account, a campaign (its budget, ad groups, ads and keywords with it), an ad group (its ads and
  keywords), an ad, a keyword, a budget or a page.

Two places apply the same rules: the maintenance skills' proposals are screened with them before
they become a plan (:mod:`adpilot.agents.patience`), and the Guard denies any other change an
automated run makes against them (rules ``patience.hold``, ``patience.person`` and
``patience.cooldown``; see :mod:`adpilot.tools.guard`). docs/MAINTENANCE.md explains them.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from adpilot.policies.model import Patience as PatiencePolicy
from adpilot.tools.audit import AuditRecord
from adpilot.tools.catalogue import entity_of

HOLDS_FILE = "holds.sqlite"
# Runs whose changes a person asked for: `adpilot tool call`, rollbacks, chat (console and --once).
PERSON_RUNS = ("cli-", "rollback-", "chat-")
# Runs nobody asked for: maintenance passes (`adpilot maintain`, the schedule, whether skills or a
# model plan them). The Guard holds back their changes (:meth:`adpilot.tools.guard.Guard._patience`).
AUTOMATED_RUNS = ("maint-",)
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


def days_text(value: float) -> str:
    """A waiting period as reports write it: "1 day", "3 days", "0.5 days"."""
    return f"{value:g} day" + ("" if value == 1 else "s")


def utc_text(moment: dt.datetime) -> str:
    """A moment as reports write it: "2026-12-06 12:10 UTC"."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class Proposed(Protocol):
    """What the screen needs of a proposal: the call it would make."""

    @property
    def tool(self) -> str: ...

    @property
    def args(self) -> dict[str, Any]: ...


P = TypeVar("P", bound=Proposed)


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

    def held(self, tool: str, args: dict[str, Any]) -> tuple[str, str] | None:
        """Why this change must wait now, as (rule, reason): ``patience.hold`` (an explicit hold),
        ``patience.person`` (a person's recent change) or ``patience.cooldown``; None: it may go ahead."""
        entity = entity_of(tool, args)
        if entity is None:
            return None
        covering = set(self._covering(entity))
        for hold in self.holds:
            if hold.entity in covering and hold.active(self.now):
                lasts = f"until {utc_text(hold.until)}" if hold.until else "until released (adpilot release)"
                why = f": {hold.reason}" if hold.reason else ""
                return "patience.hold", f"{describe(hold.entity)} is on hold by {hold.by} {lasts}{why}"
        person = self.history.by_person.get(entity)
        if person is not None and self.rules.person_hold_days:
            until = person.at + dt.timedelta(days=self.rules.person_hold_days)
            if self.now < until:
                return "patience.person", (
                    f"a person's decision ({person.who}, {utc_text(person.at)}): held "
                    f"{days_text(self.rules.person_hold_days)}, until {utc_text(until)}"
                )
        kind = KIND_OF_TOOL.get(tool)
        days = getattr(self.rules.cooldown_days, kind, 0) if kind else 0
        last = self.history.changes.get(entity)
        if last is not None and days:
            until = last.at + dt.timedelta(days=days)
            if self.now < until:
                what = "new ad" if kind == "new_ad" else str(kind).replace("_", " ")
                reason = (
                    f"changed {utc_text(last.at)} by {last.who}: {what} cooldown {days_text(days)}, "
                    f"until {utc_text(until)}"
                )
                return "patience.cooldown", reason
        return None

    def blocked(self, tool: str, args: dict[str, Any]) -> str | None:
        """Why the skills must not make this change now (None: they may)."""
        found = self.held(tool, args)
        return None if found is None else found[1]

    def screen(self, proposals: Sequence[P]) -> tuple[list[P], list[str]]:
        """The proposals the skills may make now, and a note for each one left for later."""
        kept: list[P] = []
        notes: list[str] = []
        for proposal in proposals:
            why = self.blocked(proposal.tool, proposal.args)
            if why is None:
                kept.append(proposal)
            else:
                entity = entity_of(proposal.tool, proposal.args) or proposal.tool
                notes.append(f"left alone: {describe(entity)} ({proposal.tool}) — {why}")
        return kept, notes


def judge_days(rules: PatiencePolicy, tool: str) -> int | None:
    """After how many days a change of ``tool`` can be judged: the end of its cooldown — for a new
    ad, of its learning period when that is longer (rotation compares it only then). None: the
    policy sets no waiting period for it (pages, a cooldown of 0)."""
    kind = KIND_OF_TOOL.get(tool)
    days = int(getattr(rules.cooldown_days, kind, 0)) if kind else 0
    if tool == "create_responsive_search_ad":
        days = max(days, rules.learning.ad.min_days)
    return days or None

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

Each dropped proposal leaves a note saying until when and why. The rules themselves live in
:mod:`adpilot.tools.patience`: the Guard applies the same ones to every other change an automated
run makes (a backstop; this screen keeps such changes out of the plan in the first place).
Learning periods (no verdict on a new ad or keyword) are applied inside the bidding skill, from the
ages this history knows.
The compliance sweep is not held back: a live ad that breaks the copy rules is paused at once.
The rules and defaults are explained in docs/MAINTENANCE.md.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adpilot.errors import AdpilotError, UsageError
from adpilot.tools.catalogue import entity_of
from adpilot.tools.guard import Guard
from adpilot.tools.patience import (
    HOLDS_FILE,
    KIND_OF_TOOL,
    PERSON_RUNS,
    Change,
    History,
    Hold,
    HoldStore,
    Patience,
    describe,
    hold_store,
    is_person,
)

__all__ = [
    "HOLDS_FILE",
    "KIND_OF_TOOL",
    "PERSON_RUNS",
    "Change",
    "History",
    "Hold",
    "HoldStore",
    "Patience",
    "describe",
    "entity_of",
    "hold_store",
    "is_person",
    "load_patience",
    "parse_entity",
]

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
ACCOUNT_ID = re.compile(r"[1-9][0-9]{9}")


# --- entity names ---------------------------------------------------------------------------


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

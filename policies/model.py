"""The policy pack as typed data: roles and scopes, account scope, allowed domains, limits."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_serializer,
    field_validator,
    model_validator,
)

from adpilot.errors import MoneyError
from adpilot.money import micros_to_units, minimum_unit_micros, units_to_micros

Decision = Literal["allow", "escalate", "deny"]


def _punycode_label(value: str, label: str) -> str:
    """An ``xn--`` label decoded; only a label that is exactly the encoding of what it decodes
    to (and that is not plain ASCII) is accepted, so no two spellings name one label."""
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
        exact = not decoded.isascii() and "xn--" + decoded.encode("punycode").decode("ascii") == label
    except (UnicodeError, ValueError):
        exact = False
    if not exact:
        raise ValueError(f"{value!r} has a malformed punycode label {label!r}")
    return decoded


def normalise_domain(value: str) -> str:
    """A domain name as the Guard compares it: lower case, without a trailing dot, its punycode
    (``xn--``) labels decoded, so ``WWW.Example.`` and ``www.example`` are one name and an IDN
    compares in the letters a reader sees. Anything that is not a plain host name (a scheme, a
    port, a path, user info, percent escapes, empty labels) raises ValueError."""
    name = value.strip().lower()
    name = name[:-1] if name.endswith(".") else name
    if not name:
        raise ValueError(f"{value!r} is not a domain name")
    labels = []
    for label in name.split("."):
        if label.startswith("xn--"):
            label = _punycode_label(value, label)
        if not label or not all(ch.isalnum() or ch == "-" for ch in label):
            raise ValueError(f"{value!r} is not a domain name")
        labels.append(label)
    return ".".join(labels)


Domain = Annotated[str, AfterValidator(normalise_domain)]


def _scope(value: str) -> str:
    parts = value.split(":")
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"{value!r} is not a scope like 'ads:read'")
    return value


Scope = Annotated[str, AfterValidator(_scope)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _units(value: Any) -> int:
    """An amount written in a currency's units ("500", "0.05", 80000) as integer micros.

    YAML reads ``0.05`` as a float; its shortest decimal spelling is taken, never its binary value."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected an amount such as '500' or '0.05', got {value!r}")
    text = repr(value) if isinstance(value, float) else str(value)
    try:
        return units_to_micros(text.strip())
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc


# An amount in the currency's units as written in the pack ("500", "0.05"), held as integer micros;
# dumped in units again, so that a dumped policy validates to the same policy.
Units = Annotated[int, BeforeValidator(_units), PlainSerializer(micros_to_units, return_type=str)]


def _currency_code(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code such as 'EUR'")
    return value


CurrencyCode = Annotated[str, AfterValidator(_currency_code)]


class CurrencyLimits(_Strict):
    """The money limits of one currency, in its units: per budget and day, keyword bids, and the
    sum of an account's enabled budgets per day."""

    budget_max: Units = Field(..., gt=0)
    bid_min: Units = Field(..., gt=0)
    bid_max: Units = Field(..., gt=0)
    account_daily_max: Units | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> CurrencyLimits:
        if self.bid_min > self.bid_max:
            raise ValueError("bid_min must not exceed bid_max")
        if self.account_daily_max is not None and self.account_daily_max < self.budget_max:
            raise ValueError("account_daily_max must not be below budget_max")
        return self


class BudgetLimits(_Strict):
    # The older, single-currency form of currencies.EUR.budget_max (micros); overrides it when set.
    max_amount_micros: int | None = Field(None, gt=0)
    max_increase_pct: int = Field(..., ge=0)
    max_cumulative_increase_pct: int = Field(..., ge=0)
    min_decrease_to_pct: int = Field(..., ge=0, le=100)
    # A cut to below this share of the highest amount of the window escalates (None: off).
    min_cumulative_decrease_to_pct: int | None = Field(None, ge=0, le=100)
    window_hours: int = Field(24, gt=0)


class BidLimits(_Strict):
    # The older, single-currency form of currencies.EUR.bid_min/bid_max (micros); override them when set.
    min_micros: int | None = Field(None, gt=0)
    max_micros: int | None = Field(None, gt=0)
    max_change_pct: int = Field(..., ge=0)
    max_cumulative_change_pct: int | None = Field(None, ge=0)
    window_hours: int = Field(24, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> BidLimits:
        if self.min_micros is not None and self.max_micros is not None and self.min_micros > self.max_micros:
            raise ValueError("min_micros must not exceed max_micros")
        return self


class AdStatusLimits(_Strict):
    min_enabled_per_ad_group: int = Field(1, ge=0)


class ContentDecisions(_Strict):
    pass_: Decision = Field("allow", alias="pass")
    needs_review: Decision = "escalate"
    fail: Decision = "deny"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Limits(_Strict):
    budget: BudgetLimits
    keyword_bid: BidLimits
    # Caps and bid bounds per account currency; an account in a currency not listed is refused.
    currencies: dict[CurrencyCode, CurrencyLimits] = Field(default_factory=dict)
    # Executed changes one run may make per account (and to the CMS); the next stops the run (`budget`).
    changes_per_run: int = Field(50, gt=0)
    campaign_status: Decision = "escalate"
    ad_status: AdStatusLimits = AdStatusLimits()
    published_post_update: Decision = "escalate"
    content: ContentDecisions = ContentDecisions()

    @model_validator(mode="after")
    def _legacy_eur(self) -> Limits:
        """The single-currency keys of earlier packs are the EUR entry (and create it if missing)."""
        legacy = {
            "budget_max": self.budget.max_amount_micros,
            "bid_min": self.keyword_bid.min_micros,
            "bid_max": self.keyword_bid.max_micros,
        }
        given = {key: value for key, value in legacy.items() if value is not None}
        if not given:
            return self
        current = self.currencies.get("EUR")
        if current is None and len(given) < 3:
            missing = ", ".join(sorted(set(legacy) - set(given)))
            raise ValueError(f"limits.currencies.EUR is missing and the older keys do not give {missing}")
        # The older keys are micros; the entry is written in units.
        merged = {**(current.model_dump() if current else {}), **{k: micros_to_units(v) for k, v in given.items()}}
        currencies = {**self.currencies, "EUR": CurrencyLimits.model_validate(merged)}
        object.__setattr__(self, "currencies", currencies)
        return self

    @model_validator(mode="after")
    def _billable(self) -> Limits:
        for code, limits in self.currencies.items():
            unit = minimum_unit_micros(code)
            for key in CurrencyLimits.model_fields:
                value = getattr(limits, key)
                if value is not None and value % unit:
                    raise ValueError(
                        f"currencies.{code}.{key} ({micros_to_units(value)} {code}) is not a whole multiple of "
                        f"{micros_to_units(unit)} {code}, the smallest amount {code} is billed in"
                    )
        return self

    def for_currency(self, currency: str) -> CurrencyLimits | None:
        return self.currencies.get(currency.upper())


ACTIONS = {
    "budget": ("set_campaign_budget",),
    "bid": ("set_keyword_bid",),
    "campaign_status": ("set_campaign_status",),
    "ad_status": ("set_ad_status",),
    "ad": ("create_responsive_search_ad",),
    "cms": ("create_draft", "update_post", "publish_post"),
}
"""Action names a freeze window or a four-eyes rule may use, and the tools each stands for (a
tool's own name works too)."""


def _action(value: str) -> str:
    tools = {tool for group in ACTIONS.values() for tool in group}
    if value not in ACTIONS and value not in tools:
        known = ", ".join(sorted(ACTIONS))
        raise ValueError(f"{value!r} is not an action ({known}) or a tool that changes something")
    return value


Action = Annotated[str, AfterValidator(_action)]


def tools_of(actions: tuple[str, ...]) -> frozenset[str]:
    """The tools a list of actions names (empty list: every changing tool)."""
    if not actions:
        return frozenset(tool for group in ACTIONS.values() for tool in group)
    return frozenset(tool for action in actions for tool in ACTIONS.get(action, (action,)))


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone, e.g. '2026-11-27T00:00:00+01:00'")
    return value


AwareTime = Annotated[dt.datetime, AfterValidator(_aware)]


class FreezeWindow(_Strict):
    """A time in which matching changes go to a person (or are refused): Black Friday, a launch."""

    from_: AwareTime = Field(..., alias="from")
    to: AwareTime
    accounts: tuple[str, ...] = ()  # customer ids, or "cms"; empty: every account and the CMS
    actions: tuple[Action, ...] = ()  # empty: every change
    decision: Literal["escalate", "deny"] = "escalate"
    reason: str = Field(..., min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, accounts: tuple[str, ...]) -> tuple[str, ...]:
        for account in accounts:
            if account != "cms" and not re.fullmatch(r"[1-9][0-9]{9}", account):
                raise ValueError(f"{account!r} is not a 10-digit customer id or 'cms'")
        return accounts

    @model_validator(mode="after")
    def _ordered(self) -> FreezeWindow:
        if self.to <= self.from_:
            raise ValueError("'to' must be after 'from'")
        return self

    def covers(self, when: dt.datetime, tool: str, account: str | None) -> bool:
        if not self.from_ <= when < self.to or tool not in tools_of(self.actions):
            return False
        return not self.accounts or (account is not None and account in self.accounts)


class FourEyesRule(_Strict):
    """Changes that need two different people's approval (the requester is never one of them)."""

    actions: tuple[Action, ...] = ()  # empty: every change
    # Only raises above this amount per day (budgets) or per click (bids), per currency; an account
    # currency not listed here needs two approvers for every matching raise.
    increase_above: dict[CurrencyCode, Units] | None = None
    approvers: int = Field(2, ge=2)


class Cooldowns(_Strict):
    """Days after any change of an entity (by adpilot, a person or any other tool) in which the
    maintenance skills leave it alone: the change needs time to show in the data."""

    budget: int = Field(3, ge=0)  # a campaign budget
    bid: int = Field(3, ge=0)  # a keyword's CPC bid
    ad_status: int = Field(7, ge=0)  # an ad paused or enabled
    campaign_status: int = Field(7, ge=0)  # a campaign paused or enabled
    new_ad: int = Field(0, ge=0)  # a new ad in an ad group (0: off)


class AdLearning(_Strict):
    """A new ad gets no verdict (and rotation does not compare it) before it has both."""

    min_impressions: int = Field(1000, ge=0)  # in the 30 days rotation reads
    min_days: int = Field(14, ge=0)  # since it was created (an ad of unknown age counts as old)


class KeywordLearning(_Strict):
    """A keyword's bid moves only with this much data (every keyword) and age (a new one)."""

    min_clicks: int = Field(30, ge=1)  # in the 14 days the bid rule reads
    min_days: int = Field(14, ge=0)  # since it was created (a keyword of unknown age counts as old)


class Learning(_Strict):
    ad: AdLearning = AdLearning()
    keyword: KeywordLearning = KeywordLearning()


class Patience(_Strict):
    """What maintenance leaves alone (docs/MAINTENANCE.md): entities changed recently, ads and
    keywords still learning, and entities a person changed or put on hold. The skills' proposals
    are screened with it, and the Guard denies any other change a maintenance run makes against
    it (rules ``patience.hold``, ``patience.person``, ``patience.cooldown``)."""

    cooldown_days: Cooldowns = Cooldowns()
    learning: Learning = Learning()
    # An entity a person changed (adpilot tool call, chat, an approved edit, a rejected proposal, a
    # rollback, or directly in Google Ads) is left alone this many days.
    person_hold_days: int = Field(14, ge=0)


class ApprovalPolicy(_Strict):
    expire_after_hours: int = Field(72, gt=0)  # a pending approval older than this is void
    four_eyes: tuple[FourEyesRule, ...] = ()


class Policy(_Strict):
    name: str
    version: int = 1
    roles: dict[str, frozenset[Scope]]
    accounts: tuple[str, ...] = ("*",)
    # Domains a new ad's final URL may point to (each with its subdomains). Empty: the registrable
    # domains of the account's existing ads, read from the platform when the Guard decides.
    allowed_domains: tuple[Domain, ...] = ()
    limits: Limits
    freeze: tuple[FreezeWindow, ...] = ()
    approvals: ApprovalPolicy = ApprovalPolicy()
    patience: Patience = Patience()

    @field_serializer("roles")
    def _sorted_scopes(self, roles: dict[str, frozenset[str]]) -> dict[str, list[str]]:
        # A set's iteration order changes with each process's string hashing; the dump (and
        # so the hash every audit row records) must not.
        return {role: sorted(scopes) for role, scopes in roles.items()}

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, accounts: tuple[str, ...]) -> tuple[str, ...]:
        for account in accounts:
            if account != "*" and not re.fullmatch(r"[1-9][0-9]{9}", account):
                raise ValueError(f"{account!r} is not '*' or a 10-digit customer id")
        return accounts

    @property
    def hash(self) -> str:
        """A short content hash recorded with every audit row: which rules decided."""
        canonical = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def scopes(self, role: str) -> frozenset[str]:
        return self.roles.get(role, frozenset())

    def allows_account(self, customer_id: str) -> bool:
        return "*" in self.accounts or customer_id in self.accounts


def covers(granted: frozenset[str], required: str) -> bool:
    """A granted scope covers itself and everything below it: ads:write covers ads:write:bids."""
    return any(required == scope or required.startswith(scope + ":") for scope in granted)

"""The policy pack as typed data: roles and scopes, account scope, allowed domains, limits."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator

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


class BudgetLimits(_Strict):
    max_amount_micros: int = Field(..., gt=0)
    max_increase_pct: int = Field(..., ge=0)
    max_cumulative_increase_pct: int = Field(..., ge=0)
    min_decrease_to_pct: int = Field(..., ge=0, le=100)
    window_hours: int = Field(24, gt=0)


class BidLimits(_Strict):
    min_micros: int = Field(..., gt=0)
    max_micros: int = Field(..., gt=0)
    max_change_pct: int = Field(..., ge=0)
    max_cumulative_change_pct: int | None = Field(None, ge=0)
    window_hours: int = Field(24, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> BidLimits:
        if self.min_micros > self.max_micros:
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
    campaign_status: Decision = "escalate"
    ad_status: AdStatusLimits = AdStatusLimits()
    published_post_update: Decision = "escalate"
    content: ContentDecisions = ContentDecisions()


class Policy(_Strict):
    name: str
    version: int = 1
    roles: dict[str, frozenset[Scope]]
    accounts: tuple[str, ...] = ("*",)
    # Domains a new ad's final URL may point to (each with its subdomains). Empty: the registrable
    # domains of the account's existing ads, read from the platform when the Guard decides.
    allowed_domains: tuple[Domain, ...] = ()
    limits: Limits

    @field_serializer("roles")
    def _sorted_scopes(self, roles: dict[str, frozenset[str]]) -> dict[str, list[str]]:
        # A set's iteration order changes with each process's string hashing; the dump (and
        # so the hash every audit row records) must not.
        return {role: sorted(scopes) for role, scopes in roles.items()}

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, accounts: tuple[str, ...]) -> tuple[str, ...]:
        for account in accounts:
            if account != "*" and not (account.isdigit() and len(account) == 10):
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

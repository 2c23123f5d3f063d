"""The arguments a language model sees and sends, turned into the tool contract before the Guard.

The contract (SCENARIOS.md §1) is the platform's: ids as bare digits, money as integer micros.
A model gets those wrong in ways that look right — "3101~31001" for ad 2101~31001, 6000000 for
60 EUR — so a model is offered, and this layer accepts, what it can get right:

- ids as the platform writes them: ``ad_group_id~ad_id`` and ``ad_group_id~criterion_id``
  ("2101~31001"), resource names (``customers/1112223333/adGroupAds/2101~31001``) and customer
  ids with dashes ("111-222-3333");
- money as decimal text in the account's currency (``amount`` "60", "60.50", "60 €",
  "60,50 EUR"; ``cpc_bid`` for bids), converted with the account's currency as the Guard reads it
  and its billable unit (:mod:`adpilot.money`); ``amount_micros`` / ``cpc_bid_micros`` stay
  accepted;
- or money as a signed change of the current value (``change`` "+5", "-2.50", "-25 %"), which a
  small model gets right where it gets the sum wrong: the current budget or keyword bid is read
  from the platform now and the new value computed in integer micros (:func:`changed_micros`);
- the ids of the run in each write tool's description (read once per run from the platform
  through the Guard's context, capped, shown as data), so that it copies real ids instead of
  inventing them.

Nothing is guessed: an id the run does not have ("3101~31001" when ad group 3101 does not exist),
a currency other than the account's, more decimals than the currency bills, a negative or
non-numeric amount ("55 * 1000000") is an :class:`ArgumentProblem` naming the field and what is
expected (with the valid ids), and nothing is written: the agents' plan audits it as an invalid call
(``adpilot.agents.loop.in_contract``); a langchain tool (:mod:`adpilot.tools.langchain_tools`)
sends it to the Guard marked, so that it is refused as invalid arguments and audited with the
problem in the row (:meth:`ModelArguments.refuse`).
"""

from __future__ import annotations

import functools
import json
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from adpilot.errors import MoneyError, PlatformError
from adpilot.money import INT64_MAX, format_micros, minimum_unit_micros, minor_digits, units_to_micros
from adpilot.tools.guard import Guard
from adpilot.tools.result import ToolError, ToolResult
from adpilot.tools.spec import ToolSpec

Kind = Literal["budget", "campaign", "ad_group", "ad", "keyword", "post"]
CMS = "cms"  # the account of the WordPress site's posts in :class:`RunIds`
MAX_LISTED = 40  # entries of the run's ids in one tool description
PROBLEM_FIELD = "_argument_problem"  # the mark that makes the Guard refuse (and audit) a refused call

# Any spelling of a data block's tags inside the data: "</data>", "< / TOOL_RESULT", "<data ...".
_DELIMITER = re.compile(r"<(\s*/?\s*(?:data|tool_result)\b)", re.IGNORECASE)


def escape_data(text: str) -> str:
    """Data that cannot close (or open) the block it is shown in: a page or a tool result that
    contains "</tool_result>" would otherwise end the block and speak as the system."""
    return _DELIMITER.sub(r"&lt;\1", text)


class ArgumentProblem(ValueError):
    """A model's argument that cannot become the contract's: ``message`` names the field and what
    is expected."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = f"{field_name}: {message}"


# --- the run's ids --------------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """One entity of the run a model may name: ``id`` as the platform writes it ("2101~31001");
    ``names``: what an operator may call it by (a campaign's or ad group's name, a keyword's
    text, an ad's headlines)."""

    kind: Kind
    account: str
    id: str
    label: str
    names: tuple[str, ...] = ()


@dataclass
class RunIds:
    """The entities of the run's accounts a role can read; ``read`` says which (account, kind)
    lists were read, so that an id is refused only against a list that exists."""

    currencies: dict[str, str] = field(default_factory=dict)
    entities: list[Known] = field(default_factory=list)
    read: set[tuple[str, Kind]] = field(default_factory=set)

    def of(self, account: str, kind: Kind) -> list[Known]:
        return [e for e in self.entities if e.account == account and e.kind == kind]

    def knows(self, account: str, kind: Kind, entity_id: str) -> bool | None:
        """Whether the id is one of the account's (None: that list was not read)."""
        if (account, kind) not in self.read:
            return None
        return any(e.id == entity_id for e in self.of(account, kind))


KIND_WORD = {
    "budget": "budget",
    "campaign": "campaign",
    "ad_group": "ad group",
    "ad": "ad",
    "keyword": "keyword",
    "post": "post",
}


async def read_run_ids(guard: Guard, role: str, accounts: Iterable[str] | None = None) -> RunIds:
    """The run's entities that ``role`` may read (its read tools), read from the platform through
    the Guard's context as its snapshot is (not as the agent's calls: they are the prompt's data,
    not the agent's actions); a list that cannot be read is left out."""
    tools = {spec.name for spec in guard.tools_for(role)}
    ids = RunIds()
    if "list_posts" in tools and accounts is None:
        await _read_posts(guard, ids)
    ads = guard.context.platforms.google_ads
    wanted = guard.run.accounts if accounts is None else accounts
    for account in sorted(a for a in wanted if a in guard.run.accounts and guard.policy.allows_account(a)):
        if "list_campaigns" not in tools:
            continue
        try:
            currency = await guard.context.currency(account)
            campaigns = await guard.context.fresh_campaigns(account)
        except PlatformError:
            continue
        ids.currencies[account] = currency
        ids.read |= {(account, "budget"), (account, "campaign")}
        for c in campaigns:
            name = json.dumps(c.name, ensure_ascii=False)
            money = format_micros(c.budget_micros, currency) if currency else f"{c.budget_micros} micros"
            ids.entities.append(Known("budget", account, c.budget_id, f"{money}/day, campaign {name}", (c.name,)))
            ids.entities.append(
                Known("campaign", account, c.id, f"{name} ({c.status}), budget {c.budget_id}", (c.name,))
            )
        try:
            rows = await ads.search(account, "SELECT ad_group.id, ad_group.name, campaign.id FROM ad_group")
            ids.read.add((account, "ad_group"))
            for row in rows:
                group, campaign = row.get("adGroup") or {}, row.get("campaign") or {}
                name = json.dumps(str(group.get("name", "")), ensure_ascii=False)
                ids.entities.append(
                    Known(
                        "ad_group",
                        account,
                        str(group.get("id")),
                        f"{name} (campaign {campaign.get('id')})",
                        (str(group.get("name", "")),),
                    )
                )
            for k in await ads.keywords(account):
                bid = f", bid {format_micros(k.cpc_bid_micros, currency)}" if currency else ""
                text = json.dumps(k.text, ensure_ascii=False)
                ids.entities.append(
                    Known("keyword", account, f"{k.ad_group_id}~{k.criterion_id}", text + bid, (k.text,))
                )
            ids.read.add((account, "keyword"))
            for ad in await ads.ads(account):
                headline = json.dumps(ad.headlines[0] if ad.headlines else "", ensure_ascii=False)
                ids.entities.append(
                    Known(
                        "ad",
                        account,
                        f"{ad.ad_group_id}~{ad.ad_id}",
                        f"{headline} ({ad.status})",
                        tuple(ad.headlines),
                    )
                )
            ids.read.add((account, "ad"))
        except PlatformError:
            continue
    return ids


async def _read_posts(guard: Guard, ids: RunIds) -> None:
    """The site's posts and pages (every status but trash) into ``ids``, as ``post`` entities of
    the account :data:`CMS`; an unreadable site is left out."""
    try:
        posts = await guard.context.platforms.wordpress.list_posts()
    except PlatformError:
        return
    ids.read.add((CMS, "post"))
    for post in posts:
        meta = "has a meta description" if post.meta_description.strip() else "no meta description"
        label = f"{json.dumps(post.title, ensure_ascii=False)} ({post.type}, {post.status}, {meta})"
        ids.entities.append(Known("post", CMS, str(post.id), label, (post.title,)))


# --- ids in the platform's notations --------------------------------------------------------

_RESOURCE = re.compile(r"customers/([0-9]+)/(campaignBudgets|campaigns|adGroups|adGroupAds|adGroupCriteria)/([0-9~]+)")
_RESOURCE_FIELD = {
    "campaignBudgets": "budget_id",
    "campaigns": "campaign_id",
    "adGroups": "ad_group_id",
    "adGroupAds": "ad_id",
    "adGroupCriteria": "criterion_id",
}
_DASHED_CUSTOMER = re.compile(r"([0-9]{3})-([0-9]{3})-([0-9]{4})")
_PAIR = re.compile(r"([0-9]+)~([0-9]+)")
ID_FIELDS = ("customer_id", "budget_id", "campaign_id", "ad_group_id", "ad_id", "criterion_id")
FIELD_KIND: dict[str, Kind] = {
    "budget_id": "budget",
    "campaign_id": "campaign",
    "ad_group_id": "ad_group",
    "ad_id": "ad",
    "criterion_id": "keyword",
}


def _text(value: Any) -> Any:
    """An id as text (a model may send 9001 as a number); anything else is left to the Guard."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _set(args: dict[str, Any], name: str, value: str, source: str) -> None:
    """Set an id derived from another field; a different value given for it is a contradiction."""
    given = _text(args.get(name))
    if given not in (None, "", value):
        raise ArgumentProblem(name, f"{given!r} contradicts {source}, which names {name.replace('_id', '')} {value}")
    args[name] = value


def platform_ids(args: dict[str, Any]) -> dict[str, Any]:
    """The id fields of ``args`` in the contract's spelling: resource names, ``group~own`` pairs
    and dashed customer ids split into the fields they name. Raises :class:`ArgumentProblem` on
    a contradiction (a resource of another kind or account than the field or the call names)."""
    out = dict(args)
    for name in ID_FIELDS:
        if name not in out:
            continue
        value = _text(out[name])
        if not isinstance(value, str):
            continue
        if (resource := _RESOURCE.fullmatch(value)) is not None:
            customer, collection, key = resource.groups()
            if _RESOURCE_FIELD[collection] != name:
                expected = _RESOURCE_FIELD[collection]
                raise ArgumentProblem(name, f"{value!r} is a resource name for {expected}, not for {name}")
            _set(out, "customer_id", customer, f"the resource name {value!r}")
            value = key
        elif name == "customer_id" and (
            (dashed := _DASHED_CUSTOMER.fullmatch(value)) or (dashed := re.fullmatch(r"customers/([0-9]+)", value))
        ):
            value = "".join(dashed.groups())
        if name in ("ad_id", "criterion_id") and (pair := _PAIR.fullmatch(value)) is not None:
            group, own = pair.groups()
            _set(out, "ad_group_id", group, f"{name} {value!r}")
            value = own
        elif "~" in value:
            raise ArgumentProblem(name, f"{value!r} is not an id; only ad_id and criterion_id take 'ad_group_id~id'")
        out[name] = value
    return out


# --- money ----------------------------------------------------------------------------------

_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY"}
_AMOUNT = re.compile(
    r"(?P<before>[A-Za-z]{3}|[€$£¥])?\s*(?P<number>[0-9]+(?:[.,][0-9]+)?)\s*(?P<after>[A-Za-z]{3}|[€$£¥])?"
)


class _NotAnAmount(ValueError):
    """Why a value is not an amount in the account's currency, as said after the value ("is negative")."""


def _money_expected(currency: str) -> str:
    digits = minor_digits(currency)
    shape = "a whole number" if digits == 0 else f"a number with at most {digits} decimals"
    return f"give the amount in {currency} as decimal text ({shape}, optionally followed by {currency})"


def _amount_micros(value: Any, currency: str) -> int:
    """:func:`money_micros` without the field: :class:`_NotAnAmount` says what is wrong."""
    if isinstance(value, bool) or value is None:
        raise _NotAnAmount("is not an amount")
    if isinstance(value, float):
        if not value.is_integer():
            raise _NotAnAmount("is a number with a fraction (give it as text)")
        value = int(value)
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise _NotAnAmount("is not an amount")
    text = value.strip()
    if text.startswith("-") or re.match(r"^([A-Za-z]{3}|[€$£¥])?\s*-", text):
        raise _NotAnAmount("is negative")
    match = _AMOUNT.fullmatch(text)
    if match is None or (match["before"] and match["after"]):
        raise _NotAnAmount("is not an amount (a plain number: no arithmetic, no micros)")
    written = match["before"] or match["after"]
    if written:
        code = _SYMBOLS.get(written, written.upper())
        if code != currency.upper():
            raise _NotAnAmount(f"is in {code}, but the account bills in {currency}")
    number = match["number"].replace(",", ".")
    decimals = len(number.partition(".")[2])
    if decimals > minor_digits(currency):
        unit = format_micros(minimum_unit_micros(currency), currency)
        raise _NotAnAmount(f"has {decimals} decimals, but {currency} is billed in steps of {unit}")
    try:
        return units_to_micros(number)
    except MoneyError as exc:
        raise _NotAnAmount(f"is not an exact amount ({exc})") from exc


def money_micros(value: Any, currency: str, field_name: str) -> int:
    """Decimal text in ``currency`` ("60", "60.00", "60 €", "60,50 EUR"; an integer too) as
    integer micros, exactly. Raises :class:`ArgumentProblem` for another currency, more decimals
    than the currency bills, a negative, fractional-float or non-numeric amount."""
    try:
        return _amount_micros(value, currency)
    except _NotAnAmount as exc:
        raise ArgumentProblem(field_name, f"{value!r} {exc}; {_money_expected(currency)}") from None


CHANGE = "change"  # the model-facing field for a change of the current amount or bid
_SIGNED = re.compile(r"(?P<before>[A-Za-z]{3}|[€$£¥])?\s*(?P<sign>[+-])\s*(?P<rest>.*)", re.DOTALL)
_PERCENT = re.compile(r"(?P<sign>[+-])\s*(?P<number>[0-9]+(?:[.,][0-9]+)?)\s*%")
_BASIS_POINTS = 10_000  # hundredths of a percent in 100%


def _nearest_unit(numerator: int, denominator: int, unit: int) -> int:
    """The multiple of ``unit`` nearest to ``numerator / denominator``, a half rounded up."""
    quotient, remainder = divmod(numerator, denominator * unit)
    return (quotient + (2 * remainder >= denominator * unit)) * unit


def changed_micros(current: int, change: Any, currency: str, field_name: str = CHANGE) -> int:
    """``current`` micros changed by ``change``, in integer arithmetic (never a float), rounded to
    the nearest billable unit of ``currency``, a half rounded up (0.50 EUR + 1% = 0.51 EUR).

    ``change`` is text with a leading sign: an amount in ``currency`` as :func:`money_micros` reads
    it ("+5", "-2.50", "+5 €", "-0,40 EUR") or a percentage of ``current`` with at most 2 decimals
    ("+10%", "-12.5 %"). Raises :class:`ArgumentProblem`, saying the expected form, for anything
    else, for a change of 0 or one that rounds to no change, and for a result that is not a positive
    int64 amount."""
    expected = (
        f"give {field_name} as text with a sign: an amount in {currency} ('+5', '-2.50'), or a percentage with "
        "at most 2 decimals ('+10%', '-12.5 %')"
    )
    text = change.strip() if isinstance(change, str) else None
    unit = minimum_unit_micros(currency)
    if text is not None and "%" in text:
        percent = _PERCENT.fullmatch(text)
        if percent is None:
            raise ArgumentProblem(field_name, f"{change!r} is not a signed percentage; {expected}")
        whole, _, fraction = percent["number"].replace(",", ".").partition(".")
        if len(fraction) > 2:
            raise ArgumentProblem(field_name, f"{change!r} has {len(fraction)} decimals; {expected}")
        size = int(whole) * 100 + int(fraction.ljust(2, "0"))  # hundredths of a percent
        numerator = current * (_BASIS_POINTS + size * (-1 if percent["sign"] == "-" else 1))
        denominator = _BASIS_POINTS
    else:
        signed = _SIGNED.fullmatch(text) if text is not None else None
        if signed is None:
            raise ArgumentProblem(field_name, f"{change!r} is not a signed change; {expected}")
        amount = f"{signed['before'] or ''}{signed['rest']}"
        try:
            delta = _amount_micros(amount, currency)
        except _NotAnAmount as exc:
            raise ArgumentProblem(field_name, f"{change!r}: {amount.strip()!r} {exc}; {expected}") from None
        size = delta
        numerator, denominator = current + delta * (-1 if signed["sign"] == "-" else 1), 1
    if size == 0:
        raise ArgumentProblem(field_name, f"{change!r} is no change; {expected}")
    result = _nearest_unit(numerator, denominator, unit)
    if result == current:
        shown = format_micros(unit, currency)
        raise ArgumentProblem(
            field_name, f"{change!r} changes {format_micros(current, currency)} by less than {shown}; {expected}"
        )
    if result <= 0:
        raise ArgumentProblem(
            field_name, f"{change!r} would leave {format_micros(result, currency)}; give a positive amount"
        )
    if result > INT64_MAX:
        raise ArgumentProblem(field_name, f"{change!r} would leave more than the platform can hold; {expected}")
    return result


# The money tools: (the contract's field in micros, the model-facing field as decimal text).
MONEY = {"set_campaign_budget": ("amount_micros", "amount"), "set_keyword_bid": ("cpc_bid_micros", "cpc_bid")}


# --- the model-facing schema and description -------------------------------------------------

_ID_HELP = {
    "customer_id": "10-digit customer id, as listed; with dashes (3-3-4 digits) or as 'customers/ID' works too",
    "budget_id": "budget id (digits) or its resource name",
    "campaign_id": "campaign id (digits) or its resource name",
    "ad_group_id": "ad group id (digits); may be left out when ad_id or criterion_id is written 'ad_group_id~id'",
    "ad_id": "ad id as listed ('ad_group_id~ad_id'), or the ad's own digits with ad_group_id, or its resource name",
    "criterion_id": "keyword id as listed ('ad_group_id~criterion_id'), or its own digits with ad_group_id, "
    "or its resource name",
}
_MONEY_HELP = {
    "amount": "the new daily amount the budget is set TO ('set to 45 EUR', 'auf 45 Euro'), as decimal text in the "
    "account's currency with at most its decimals, optionally followed by its code; not micros",
    "cpc_bid": "the new max CPC the bid is set TO ('raise it to 1 euro'), as decimal text in the account's currency "
    "with at most its decimals, optionally followed by its code; not micros; null removes the keyword's own bid",
}
_CHANGE_HELP = (
    "instead of {decimal}: a change BY an amount or a share of the current value, with a sign ('raise by 5 EUR' "
    "is '+5', 'um 5 Euro senken' is '-5', 'cut by a quarter' is '-25%', 'add 10 percent' is '+10%')"
)
_TOOL_KINDS: dict[str, Kind] = {
    "set_campaign_budget": "budget",
    "set_campaign_status": "campaign",
    "set_keyword_bid": "keyword",
    "set_ad_status": "ad",
    "create_responsive_search_ad": "ad_group",
    "update_post": "post",
    "publish_post": "post",
}


@functools.cache
def model_facing(spec: ToolSpec) -> type[BaseModel]:
    """The argument model a model is shown (and its calls are checked against) for ``spec``: the
    contract's, with ids as text in the platform's notations and money as decimal text in the
    account's currency (the micros field optional). It checks form only; :class:`ModelArguments`
    converts to the contract, and the Guard validates that again."""
    fields: dict[str, Any] = {}
    for name, help_text in _ID_HELP.items():
        info = spec.args.model_fields.get(name)
        if info is None or not info.is_required():
            continue
        optional = name == "ad_group_id" and spec.name in ("set_ad_status", "set_keyword_bid")
        fields[name] = (
            (str | int | None, Field(None, description=help_text))
            if optional
            else (
                str | int,
                Field(..., description=help_text),
            )
        )
    if spec.name in MONEY:
        micros, decimal = MONEY[spec.name]
        fields[decimal] = (str | int | None, Field(None, description=_MONEY_HELP[decimal]))
        help_micros = f"the same in integer micros (1 unit = 1000000); give {decimal}, {CHANGE} or {micros}, only one"
        fields[micros] = (str | int | None, Field(None, description=help_micros))
        fields[CHANGE] = (str | None, Field(None, description=_CHANGE_HELP.format(decimal=decimal)))
    if not fields:
        return spec.args
    return create_model(f"{spec.args.__name__}ForModels", __base__=spec.args, **fields)


def model_schema(spec: ToolSpec) -> dict[str, Any]:
    """The JSON schema of :func:`model_facing` (what a chat model is bound to)."""
    return model_facing(spec).model_json_schema()


# --- the layer, per run and role ------------------------------------------------------------

_CACHE: dict[int, tuple[weakref.ref[Guard], dict[str, ModelArguments]]] = {}


class ModelArguments:
    """One role's model-facing view of its tools in one run (the Guard's)."""

    def __init__(self, guard: Guard, role: str, ids: RunIds) -> None:
        self.guard = guard
        self.role = role
        self.ids = ids

    @classmethod
    async def for_run(cls, guard: Guard, role: str) -> ModelArguments:
        """The layer for ``role`` in ``guard``'s run; the run's ids are read once (per Guard)."""
        key = id(guard)
        entry = _CACHE.get(key)
        if entry is None or entry[0]() is not guard:
            entry = (weakref.ref(guard), {})
            _CACHE[key] = entry
            weakref.finalize(guard, _CACHE.pop, key, None)
        roles = entry[1]
        if role not in roles:
            roles[role] = cls(guard, role, await read_run_ids(guard, role))
        return roles[role]

    def description(self, spec: ToolSpec) -> str:
        """``spec``'s description, with the run's ids it may name (write tools) shown as data."""
        kind = _TOOL_KINDS.get(spec.name)
        text = spec.description
        if spec.name in MONEY:
            currencies = ", ".join(f"{a}: {c}" for a, c in sorted(self.ids.currencies.items()) if c)
            text += (
                f" Give {MONEY[spec.name][1]} as decimal text in the account's currency ({currencies}), or "
                f"{CHANGE} as a signed change of the current value ('+5', '-10%')."
            )
        if kind is None or (kind == "post" and (CMS, "post") not in self.ids.read):
            return text
        lines = [f"account {a} ({c or 'currency unknown'})" for a, c in sorted(self.ids.currencies.items())]
        listed = [e for e in self.ids.entities if e.kind == kind]
        if kind == "post":
            lines = [f"post {e.id}: {e.label}" for e in listed[:MAX_LISTED]]
        else:
            lines += [f"{KIND_WORD[kind]} {e.id} in {e.account}: {e.label}" for e in listed[:MAX_LISTED]]
        if len(listed) > MAX_LISTED:
            lines.append(f"… {len(listed) - MAX_LISTED} more: use the list tools")
        body = escape_data("\n".join(lines))
        return f'{text} Use only these ids of this run:\n<data source="ids of this run">\n{body}\n</data>'

    async def contract(self, tool: str, args: Any) -> Any:
        """``args`` as the contract of ``tool`` has them; :class:`ArgumentProblem` when they cannot be."""
        spec = self.guard.tools.get(tool)
        if spec is None or not isinstance(args, dict):
            return args  # the Guard refuses an unknown tool or non-object arguments itself
        if tool == "escalate" and isinstance(args.get("proposal"), dict):
            proposal = args["proposal"]
            if isinstance(proposal.get("args"), dict) and str(proposal.get("tool")) in self.guard.tools:
                inner = await self.contract(str(proposal["tool"]), proposal["args"])
                return {**args, "proposal": {**proposal, "args": inner}}
            return args
        out = platform_ids(args)
        account = out.get("customer_id")
        if not isinstance(account, str) or account not in self.guard.run.accounts:
            return out  # another account (or none): the Guard refuses it as such
        await self._check_ids(tool, account, out)
        if tool in MONEY:
            await self._money(tool, account, args, out)
        return out

    async def _money(self, tool: str, account: str, args: dict[str, Any], out: dict[str, Any]) -> None:
        """Set the micros field of ``out`` from the model's money field (amount, cpc_bid, change)."""
        micros, decimal = MONEY[tool]
        value = out.pop(decimal, None)
        change = out.pop(CHANGE, None)
        if isinstance(change, str) and not change.strip():
            change = None  # a small model fills the fields it does not use with ""
        if change is not None:
            given = [name for name, v in ((decimal, value), (micros, out.get(micros))) if v is not None]
            if given:
                raise ArgumentProblem(
                    CHANGE,
                    f"give one of {CHANGE}, {decimal} or {micros}; this call gives {' and '.join([CHANGE, *given])}",
                )
            currency = await self._currency(account, CHANGE, micros)
            out[micros] = str(changed_micros(await self._current(tool, account, out), change, currency))
        elif value is not None and out.get(micros) is not None:
            raise ArgumentProblem(decimal, f"give {decimal} or {micros}, not both")
        elif value is not None:
            out[micros] = str(money_micros(value, await self._currency(account, decimal, micros), decimal))
        elif micros not in out and not (decimal in args and tool == "set_keyword_bid"):  # null: no own bid
            currency = self.ids.currencies.get(account) or "the account's currency"
            raise ArgumentProblem(
                decimal, f"missing: the new amount in {currency} as decimal text (or {CHANGE}: '+5', '-10%')"
            )
        elif micros not in out:
            out[micros] = None

    async def _currency(self, account: str, field_name: str, micros: str) -> str:
        currency = await self.guard.context.currency(account)
        if not currency:
            raise ArgumentProblem(field_name, f"account {account} does not say its currency; give {micros}")
        return currency

    async def _current(self, tool: str, account: str, args: dict[str, Any]) -> int:
        """The amount or bid a change is relative to, as the platform has it now."""
        _, decimal = MONEY[tool]
        try:
            if tool == "set_campaign_budget":
                budget = args.get("budget_id")
                for campaign in await self.guard.context.fresh_campaigns(account):
                    if campaign.budget_id == budget:
                        return campaign.budget_micros
                raise ArgumentProblem("budget_id", f"no campaign of account {account} has budget {budget}")
            keyword = f"{args.get('ad_group_id')}~{args.get('criterion_id')}"
            for k in await self.guard.context.platforms.google_ads.keywords(account):
                if f"{k.ad_group_id}~{k.criterion_id}" == keyword:
                    if not k.own_bid or not k.cpc_bid_micros:
                        raise ArgumentProblem(CHANGE, f"keyword {keyword} has no own bid; give {decimal}")
                    return k.cpc_bid_micros
            raise ArgumentProblem("criterion_id", f"keyword {keyword} does not exist in account {account}")
        except PlatformError as exc:
            raise ArgumentProblem(CHANGE, f"the current value could not be read ({exc}); give {decimal}") from exc

    async def _check_ids(self, tool: str, account: str, args: dict[str, Any]) -> None:
        """Every id the call names is one of the run's lists (read again once before refusing: the
        run may have created it); an id of a list the role could not read is left to the Guard."""
        wanted: list[tuple[str, Kind, str]] = []
        for name, kind in FIELD_KIND.items():
            value = args.get(name)
            if not isinstance(value, str) or not value:
                continue
            if kind in ("ad", "keyword"):  # known as "ad_group_id~own id"
                if not args.get("ad_group_id"):
                    raise ArgumentProblem(
                        "ad_group_id", f"missing: give {name} as 'ad_group_id~{name}' as listed, or ad_group_id"
                    )
                value = f"{args.get('ad_group_id')}~{value}"
            wanted.append((name, kind, value))
        if any(kind in ("ad", "keyword") for _, kind, _ in wanted):  # the pair names its ad group too
            wanted = [w for w in wanted if w[1] != "ad_group"]
        for name, kind, value in wanted:
            if self.ids.knows(account, kind, value) is not False:
                continue
            fresh = await read_run_ids(self.guard, self.role, [account])
            self.ids.entities = [e for e in self.ids.entities if e.account != account] + fresh.entities
            if fresh.knows(account, kind, value) is not False:
                continue
            valid = [f"{e.id} ({e.label})" for e in fresh.of(account, kind)][:MAX_LISTED]
            shown = "; ".join(valid) if valid else "none"
            raise ArgumentProblem(
                name,
                f"{KIND_WORD[kind]} {value} does not exist in account {account}; the valid {KIND_WORD[kind]} ids "
                f"are: {shown}",
            )

    async def refuse(
        self, tool: str, args: Any, problem: ArgumentProblem, proposal_id: str | None = None
    ) -> ToolResult:
        """Refuse a call whose arguments cannot become the contract's: it goes to the Guard marked
        (so it is refused as invalid arguments and audited, the problem in the row), and the model
        reads the problem."""
        marked = {**(args if isinstance(args, dict) else {"_raw": args}), PROBLEM_FIELD: problem.message}
        result = await self.guard.call(self.role, tool, marked, proposal_id=proposal_id)
        error = ToolError("invalid_arguments", problem.message, "tool.arguments")
        return ToolResult(tool, "deny", error=error, call_hash=result.call_hash, audit_seq=result.audit_seq)

    async def call(self, tool: str, args: Any, *, proposal_id: str | None = None) -> ToolResult:
        """One call as a model made it: converted, then through the Guard (or refused, audited)."""
        try:
            contract = await self.contract(tool, args)
        except ArgumentProblem as problem:
            return await self.refuse(tool, args, problem, proposal_id)
        return await self.guard.call(self.role, tool, contract, proposal_id=proposal_id)

"""The tool catalogue of SCENARIOS.md §1: names, arguments and scopes exactly as specified.

Arguments are strict pydantic models (``extra="forbid"``); ids are strings (integers are
accepted and converted, floats never), money is integer micros given as int or string.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from adpilot.memory.documents import DocKind
from adpilot.money import parse_micros
from adpilot.normalise import skeleton
from adpilot.policies.content import Content
from adpilot.policies.model import normalise_domain
from adpilot.policies.rules import (
    Ruling,
    account_daily_total,
    ad_status_change,
    bid_change,
    budget_change,
    campaign_status_change,
)
from adpilot.tools.google_ads import CampaignInfo
from adpilot.tools.spec import Assessment, Reversal, ToolContext, ToolSpec, ToolUnavailable, Undo, ads_entity
from adpilot.tools.state import MISSING
from adpilot.tools.wordpress import WpPost

if TYPE_CHECKING:
    from adpilot.tools.audit import AuditRecord

# One spelling per id: ASCII digits without a leading zero. Anything else ("09001", " 9001",
# Arabic-Indic or full-width digits) would address the same entity through int() while the audit
# log and the rolling windows keyed it as another. (Python's \d, and the Rust regex behind
# pydantic's ``pattern``, match any Unicode digit: the patterns say [0-9].)
_ENTITY_ID = re.compile(r"[1-9][0-9]{0,18}")
_CUSTOMER_ID = re.compile(r"[1-9][0-9]{9}")
_INT64_MAX = 2**63 - 1


def _canonical(value: Any, pattern: re.Pattern[str], what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        # No example id in the message: a model reads it as a correction, and copies what it reads.
        raise ValueError(f"{what} is a string of ASCII digits, got {type(value).__name__} {value!r}")
    text = str(value)
    if not pattern.fullmatch(text) or int(text) > _INT64_MAX:
        raise ValueError(f"{what} must be ASCII digits without a leading zero or spaces; got {text!r}")
    return text


def _entity_id(value: Any) -> str:
    return _canonical(value, _ENTITY_ID, "an id")


def _customer_id(value: Any) -> str:
    return _canonical(value, _CUSTOMER_ID, "a customer id (10 digits)")


def _post_id(value: Any) -> int:
    if isinstance(value, str):
        return int(_canonical(value, _ENTITY_ID, "a post id"))
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"a post id is a positive integer such as 501, got {type(value).__name__} {value!r}")
    return value


def _micros(value: Any) -> int:
    return parse_micros(value, field="micros")


CustomerId = Annotated[
    str, BeforeValidator(_customer_id), Field(pattern=r"^[1-9][0-9]{9}$", description="10-digit customer id")
]
EntityId = Annotated[str, BeforeValidator(_entity_id), Field(pattern=r"^[1-9][0-9]{0,18}$")]
Micros = Annotated[int, BeforeValidator(_micros), Field(description="integer micros (1 EUR = 1000000)")]
PostId = Annotated[int, BeforeValidator(_post_id), Field(strict=True, gt=0)]
# Every WordPress status but draft (and trash) shows the post to someone beyond its editors, or
# will without anyone acting again (future): the Guard treats all of them as live.
LIVE_STATUSES = frozenset({"publish", "future", "pending", "private"})
Status = Literal["ENABLED", "PAUSED"]
Text = Annotated[str, Field(min_length=1)]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListCampaigns(_Args):
    customer_id: CustomerId


class GetPerformance(_Args):
    customer_id: CustomerId
    level: Literal["campaign", "ad_group", "ad", "keyword"]
    days: Literal[1, 7, 14, 30] = 7


class ListAds(_Args):
    customer_id: CustomerId
    ad_group_id: EntityId | None = None


class SetCampaignBudget(_Args):
    customer_id: CustomerId
    budget_id: EntityId
    amount_micros: Micros


class SetCampaignStatus(_Args):
    customer_id: CustomerId
    campaign_id: EntityId
    status: Status


class SetKeywordBid(_Args):
    customer_id: CustomerId
    ad_group_id: EntityId
    criterion_id: EntityId
    cpc_bid_micros: Micros | None = Field(
        ..., description="integer micros (1 EUR = 1000000); null removes the keyword's own bid: its ad group's applies"
    )


class SetAdStatus(_Args):
    customer_id: CustomerId
    ad_group_id: EntityId
    ad_id: EntityId
    status: Status


class CreateResponsiveSearchAd(_Args):
    customer_id: CustomerId
    ad_group_id: EntityId
    headlines: list[Text] = Field(..., min_length=1)
    descriptions: list[Text] = Field(..., min_length=1)
    final_url: str = Field(..., pattern=r"^https?://\S+$")
    evidence: list[str] = Field(default_factory=list, description="evidence references backing claims in the copy")


COPY_FIELDS = ("headlines", "descriptions", "texts")  # CheckCopy's copy, in the order it is checked


class CheckCopy(_Args):
    texts: list[str] = Field(default_factory=list)
    headlines: list[str] = Field(default_factory=list)
    descriptions: list[str] = Field(default_factory=list)
    channel: Literal["google_ads", "cms"] = "google_ads"
    locale: Literal["de", "en"] = "de"
    evidence: list[str] = Field(default_factory=list, description="evidence registry ids cited for claims")
    product: str = Field("", description="what the copy advertises (product or ad group): evidence must cover it")
    customer_id: CustomerId | None = Field(
        None, description="the Google Ads account the copy is for: its market's feed facts (prices, shipping) apply"
    )

    @model_validator(mode="after")
    def _something_to_check(self) -> CheckCopy:
        if not (self.texts or self.headlines or self.descriptions):
            raise ValueError("give texts, headlines or descriptions to check")
        return self


class ListPosts(_Args):
    status: Literal["publish", "future", "draft", "pending", "private"] | None = None
    search: str | None = None


class GetPost(_Args):
    post_id: PostId


class CreateDraft(_Args):
    title: Text
    content: str
    excerpt: str = ""
    meta_description: str = ""


class UpdatePost(_Args):
    post_id: PostId
    title: Text | None = None
    content: str | None = None
    excerpt: str | None = None
    meta_description: str | None = None
    json_ld: str | None = Field(
        None, description="the page's structured data (JSON-LD text), kept by the SEO plugin, never in the content"
    )
    status: Literal["draft", "pending", "private"] | None = Field(
        None, description="take a post offline (publishing is publish_post)"
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdatePost:
        if not self.fields() and self.status is None:
            raise ValueError("name at least one of title, content, excerpt, meta_description, json_ld, status")
        return self

    def fields(self) -> dict[str, str]:
        """The text fields to set (``status`` is separate: it changes visibility, not text)."""
        return {k: v for k, v in self.model_dump(exclude={"post_id", "status"}).items() if v is not None}


class PublishPost(_Args):
    post_id: PostId


class SearchKnowledge(_Args):
    query: Text
    k: int = Field(4, ge=1, le=20)
    # only passages of documents of these content kinds (adpilot.memory.documents.DOC_KINDS); None: all
    kinds: list[DocKind | Literal["unspecified"]] | None = Field(None, max_length=7)


class Escalate(_Args):
    reason: Text
    proposal: dict[str, Any] | None = None


# The product's skills as read-only tools (a model chooses; the skill computes). Declared here with
# the other tools; their implementations are the agents' skills, which the tools must not import:
# the agents install them on a run's Guard (adpilot.agents.skill_tools), and a Guard without them
# answers that the tool is unavailable.


class PerformanceSummary(_Args):
    customer_id: CustomerId
    campaign_id: EntityId | None = Field(None, description="one campaign; omit for the whole account")
    days: Literal[7, 14, 30] = 7


class SeoAudit(_Args):
    post_id: PostId | None = Field(None, description="one post or page; omit for every published one")


class CreativeProposals(_Args):
    customer_id: CustomerId
    ad_group_id: EntityId | None = Field(None, description="one ad group; omit for the whole account")


SKILL_TOOLS = ("performance_summary", "seo_audit", "creative_proposals")


# --- entities ---------------------------------------------------------------------------


def _post_entity(post_id: int) -> str:
    return f"wordpress:post:{post_id}"


def entity_of(tool: str, args: dict[str, Any]) -> str | None:
    """The audit-log entity a call of ``tool`` changes, as its assessment names it (None: not a
    change whose entity the arguments name). Patience and the Guard's patience rule key on it."""
    customer = str(args.get("customer_id"))
    if tool == "set_campaign_budget":
        return ads_entity(customer, "campaign_budget", str(args.get("budget_id")))
    if tool == "set_keyword_bid":
        return ads_entity(customer, "ad_group_criterion", f"{args.get('ad_group_id')}~{args.get('criterion_id')}")
    if tool == "set_ad_status":
        return ads_entity(customer, "ad_group_ad", f"{args.get('ad_group_id')}~{args.get('ad_id')}")
    if tool == "set_campaign_status":
        return ads_entity(customer, "campaign", str(args.get("campaign_id")))
    if tool == "create_responsive_search_ad":
        return ads_entity(customer, "ad_group", str(args.get("ad_group_id")))
    if tool in ("update_post", "publish_post") and args.get("post_id") is not None:
        return _post_entity(args["post_id"])
    return None


def _cms_content(post: WpPost, locale: str, changes: dict[str, str] | None = None) -> Content:
    text = {**post.published_text(), **(changes or {})}
    # Structured data is checked as the page carries it: a JSON-LD block (none when empty).
    if json_ld := text.pop("json_ld", ""):
        text["json_ld"] = f'<script type="application/ld+json">{json_ld}</script>'
    return Content(channel="cms", locale=locale, fields=tuple((name, text[name]) for name in sorted(text)))


# --- reads ----------------------------------------------------------------------------


async def _list_campaigns(ctx: ToolContext, args: ListCampaigns) -> Any:
    campaigns = await ctx.platforms.google_ads.campaigns(args.customer_id)
    return [
        {
            "campaign_id": c.id,
            "name": c.name,
            "status": c.status,
            "budget_id": c.budget_id,
            "budget_amount_micros": str(c.budget_micros),
        }
        for c in campaigns
    ]


async def _list_ads(ctx: ToolContext, args: ListAds) -> Any:
    ads = await ctx.platforms.google_ads.ads(args.customer_id, args.ad_group_id)
    return [
        {
            "ad_group_id": ad.ad_group_id,
            "ad_id": ad.ad_id,
            "status": ad.status,
            "headlines": list(ad.headlines),
            "descriptions": list(ad.descriptions),
            "final_urls": list(ad.final_urls),
        }
        for ad in ads
    ]


async def _get_performance(ctx: ToolContext, args: GetPerformance) -> Any:
    rows = await ctx.platforms.google_ads.performance(args.customer_id, args.level, args.days)
    result = []
    for row in rows:
        row = {**row, "cost_micros": str(row["cost_micros"])}
        if args.level == "keyword":  # the bid in force: the keyword's own, else its ad group's
            own, default = row.pop("cpc_bid_micros"), row.pop("ad_group_cpc_bid_micros")
            row["cpc_bid_micros"] = own if own is not None else default
        result.append(row)
    return result


def _post_summary(post: WpPost) -> dict[str, Any]:
    return {"post_id": post.id, "type": post.type, "status": post.status, "title": post.title, "link": post.link}


async def _list_posts(ctx: ToolContext, args: ListPosts) -> Any:
    posts = await ctx.platforms.wordpress.list_posts(status=args.status, search=args.search)
    return [_post_summary(p) for p in posts]


async def _get_post(ctx: ToolContext, args: GetPost) -> Any:
    post = await ctx.platforms.wordpress.get_post(args.post_id)
    if post is None:
        return None
    return {**_post_summary(post), **post.published_text(), "slug": post.slug}


async def _check_copy(ctx: ToolContext, args: CheckCopy) -> Any:
    content = Content(
        channel=args.channel,
        locale=args.locale,
        headlines=tuple(args.headlines),
        descriptions=tuple(args.descriptions),
        texts=tuple(args.texts),
        evidence=tuple(args.evidence),
        subject=args.product,
        account=args.customer_id or "",
    )
    verdict = ctx.content_gate.check(content)
    return {
        "verdict": verdict.verdict,
        "content_hash": verdict.content_hash,
        "findings": list(verdict.findings),
        "backing": list(verdict.backing),
    }


async def _search_knowledge(ctx: ToolContext, args: SearchKnowledge) -> Any:
    if ctx.memory is None:
        raise ToolUnavailable("memory is not configured for this run")
    passages = ctx.memory.search_knowledge(args.query, tenant=ctx.tenant, k=args.k, kinds=args.kinds)
    return [p.as_dict() for p in passages]


async def _escalate(ctx: ToolContext, args: Escalate) -> Any:
    return {"escalated": True, "reason": args.reason}


async def _needs_skills(ctx: ToolContext, args: Any) -> Any:
    raise ToolUnavailable("this tool is one of the agents' skills; it runs inside an agent run, not here")


# --- budgets --------------------------------------------------------------------------


def _serving_budgets(campaigns: list[CampaignInfo], *, enabling: str | None = None) -> dict[str, int]:
    """The budgets that serve at least one enabled campaign (``enabling`` counted as enabled),
    each once, with its amount: what the account can spend per day."""
    return {c.budget_id: c.budget_micros for c in campaigns if c.status == "ENABLED" or c.id == enabling}


async def _assess_budget(ctx: ToolContext, args: SetCampaignBudget) -> Assessment:
    entity = ads_entity(args.customer_id, "campaign_budget", args.budget_id)
    budget = await ctx.fresh_budget(args.customer_id, args.budget_id)  # money: never the snapshot
    if budget is None:
        return Assessment(entity, not_found=f"budget {args.budget_id} not found in customer {args.customer_id}")
    limits = ctx.policy.limits
    current, new = budget.amount_micros, args.amount_micros
    low, high = ctx.range_in_window(entity, limits.budget.window_hours, current)
    currency = await ctx.currency(args.customer_id)
    rulings = [budget_change(limits, currency, current, new, low=low, high=high)]
    if rulings[0].decision != "deny" and new > current:  # a cut never raises what the account spends
        serving = _serving_budgets(await ctx.fresh_campaigns(args.customer_id))
        total = sum(serving.values())
        after = total - serving[budget.id] + new if budget.id in serving else total
        rulings.append(account_daily_total(limits, currency, total, after))
    return Assessment(entity, current, new, rulings, noop=current == new)


async def _set_budget(ctx: ToolContext, args: SetCampaignBudget) -> Any:
    await ctx.platforms.google_ads.set_budget_amount(args.customer_id, args.budget_id, args.amount_micros)
    ctx.state.update(
        ads_entity(args.customer_id, "campaign_budget", args.budget_id),
        lambda budget: dataclasses.replace(budget, amount_micros=args.amount_micros),
    )
    return {"budget_id": args.budget_id, "amount_micros": str(args.amount_micros)}


async def _validate_budget(ctx: ToolContext, args: SetCampaignBudget) -> Any:
    await ctx.platforms.google_ads.set_budget_amount(
        args.customer_id, args.budget_id, args.amount_micros, validate_only=True
    )
    return {"budget_id": args.budget_id, "amount_micros": str(args.amount_micros), "validated": True}


# --- campaign status ------------------------------------------------------------------


async def _assess_campaign_status(ctx: ToolContext, args: SetCampaignStatus) -> Assessment:
    entity = ads_entity(args.customer_id, "campaign", args.campaign_id)
    current = await ctx.campaign_status(args.customer_id, args.campaign_id)
    if current is None or current == "REMOVED":
        return Assessment(entity, not_found=f"campaign {args.campaign_id} not found in customer {args.customer_id}")
    rulings = [campaign_status_change(ctx.policy.limits.campaign_status, current, args.status)]
    if args.status == "ENABLED" and current != "ENABLED":
        rulings += await _campaign_ads_rulings(ctx, args.customer_id, args.campaign_id)
        # Its budget starts to spend (unless another enabled campaign already shares it).
        campaigns = await ctx.fresh_campaigns(args.customer_id)
        before = sum(_serving_budgets(campaigns).values())
        after = sum(_serving_budgets(campaigns, enabling=args.campaign_id).values())
        currency = await ctx.currency(args.customer_id)
        rulings.append(account_daily_total(ctx.policy.limits, currency, before, after))
    return Assessment(entity, current, args.status, rulings, noop=current == args.status)


def _serving_ad(
    ctx: ToolContext, ad: Any, *, customer_id: str, subject: str, evidence: tuple[str, ...] = ()
) -> Content:
    """An existing ad's copy as the gate judges it when the ad would serve again."""
    return Content(
        channel="google_ads",
        locale=ctx.locale,
        headlines=ad.headlines,
        descriptions=ad.descriptions,
        complete_ad=True,
        evidence=evidence,
        subject=subject,
        account=customer_id,
    )


async def _campaign_ads_rulings(ctx: ToolContext, customer_id: str, campaign_id: str) -> list[Ruling]:
    """Enabling a campaign brings its enabled ads back in front of people: each one's copy and
    final URL meet today's rules, as enabling an ad would (strictest wins)."""
    rows = await ctx.platforms.google_ads.search(
        customer_id, f"SELECT ad_group.id, ad_group.name FROM ad_group WHERE campaign.id = {int(campaign_id)}"
    )
    groups = (row.get("adGroup", {}) for row in rows)
    names = {str(group.get("id", "")): str(group.get("name", "")) for group in groups}
    decisions = ctx.policy.limits.content
    rulings: list[Ruling] = []
    allowed = await allowed_domains(ctx, customer_id)
    for ad in await ctx.platforms.google_ads.ads(customer_id):  # one read for the account, not one per group
        if ad.ad_group_id in names and ad.status == "ENABLED":
            content = _serving_ad(ctx, ad, customer_id=customer_id, subject=names[ad.ad_group_id])
            verdict = ctx.content_gate.check(content)
            if verdict.verdict != "pass":
                decision = decisions.fail if verdict.verdict == "fail" else decisions.needs_review
                reason = f"enabled ad {ad.ad_group_id}~{ad.ad_id} would serve again: {verdict.summary()}"
                rulings.append(Ruling(decision, f"content.{verdict.verdict}", reason))
            rulings.extend(r for url in ad.final_urls if (r := final_url_ruling(url, allowed)) is not None)
    return rulings


async def _set_campaign_status(ctx: ToolContext, args: SetCampaignStatus) -> Any:
    await ctx.platforms.google_ads.set_campaign_status(args.customer_id, args.campaign_id, args.status)
    ctx.state.update(ads_entity(args.customer_id, "campaign", args.campaign_id), lambda _: args.status)
    return {"campaign_id": args.campaign_id, "status": args.status}


async def _validate_campaign_status(ctx: ToolContext, args: SetCampaignStatus) -> Any:
    await ctx.platforms.google_ads.set_campaign_status(
        args.customer_id, args.campaign_id, args.status, validate_only=True
    )
    return {"campaign_id": args.campaign_id, "status": args.status, "validated": True}


# --- keyword bids ---------------------------------------------------------------------


async def _assess_bid(ctx: ToolContext, args: SetKeywordBid) -> Assessment:
    entity = ads_entity(args.customer_id, "ad_group_criterion", f"{args.ad_group_id}~{args.criterion_id}")
    keyword = await ctx.fresh_keyword(args.customer_id, args.ad_group_id, args.criterion_id)  # money: read now
    if keyword is None or keyword.status == "REMOVED":
        return Assessment(entity, not_found=f"keyword {args.ad_group_id}~{args.criterion_id} not found")
    limits = ctx.policy.limits
    current = keyword.cpc_bid_micros
    if args.cpc_bid_micros is None:  # remove its own bid: the ad group's default is the bid in force then
        if keyword.default_bid_micros is None:
            return Assessment(entity, not_found=f"the ad group of keyword {args.ad_group_id} has no default bid")
        new, noop = keyword.default_bid_micros, not keyword.own_bid
    else:
        new, noop = args.cpc_bid_micros, keyword.own_bid and current == args.cpc_bid_micros
    low, high = ctx.range_in_window(entity, limits.keyword_bid.window_hours, current)
    currency = await ctx.currency(args.customer_id)
    ruling = bid_change(limits, currency, current, new, low=low, high=high)
    return Assessment(entity, current, new, [ruling], noop=noop)


async def _set_bid(ctx: ToolContext, args: SetKeywordBid) -> Any:
    key = ads_entity(args.customer_id, "ad_group_criterion", f"{args.ad_group_id}~{args.criterion_id}")
    criterion = f"{args.ad_group_id}~{args.criterion_id}"
    # Whether the keyword had a bid of its own before (assess has just read it, under the lease): a
    # rollback restores an inherited bid as inherited, not as the same amount pinned on the keyword.
    known = ctx.state.get(key)
    if known is MISSING:  # no snapshot (ttl 0)
        known = await ctx.platforms.google_ads.keyword(args.customer_id, args.ad_group_id, args.criterion_id)
    own_before = {"own_bid_before": known.own_bid} if known is not None else {}
    ads = ctx.platforms.google_ads
    if args.cpc_bid_micros is None:
        await ads.clear_keyword_bid(args.customer_id, args.ad_group_id, args.criterion_id)
        ctx.state.invalidate(key)  # the bid in force is now the ad group's: read it when next needed
        return {"criterion": criterion, "cpc_bid_micros": None, "uses": "ad group default", **own_before}
    await ads.set_keyword_bid(args.customer_id, args.ad_group_id, args.criterion_id, args.cpc_bid_micros)
    ctx.state.update(
        key, lambda keyword: dataclasses.replace(keyword, cpc_bid_micros=args.cpc_bid_micros, own_bid=True)
    )
    return {"criterion": criterion, "cpc_bid_micros": str(args.cpc_bid_micros), **own_before}


async def _validate_bid(ctx: ToolContext, args: SetKeywordBid) -> Any:
    ads = ctx.platforms.google_ads
    if args.cpc_bid_micros is None:
        await ads.clear_keyword_bid(args.customer_id, args.ad_group_id, args.criterion_id, validate_only=True)
    else:
        await ads.set_keyword_bid(
            args.customer_id, args.ad_group_id, args.criterion_id, args.cpc_bid_micros, validate_only=True
        )
    return {"criterion": f"{args.ad_group_id}~{args.criterion_id}", "validated": True}


# --- ad status ------------------------------------------------------------------------


async def _assess_ad_status(ctx: ToolContext, args: SetAdStatus) -> Assessment:
    entity = ads_entity(args.customer_id, "ad_group_ad", f"{args.ad_group_id}~{args.ad_id}")
    ads = await ctx.ad_group_ads(args.customer_id, args.ad_group_id)
    ad = next((a for a in ads if a.ad_id == args.ad_id), None)
    if ad is None:
        return Assessment(entity, not_found=f"ad {args.ad_group_id}~{args.ad_id} not found")
    others = sum(1 for a in ads if a.ad_id != args.ad_id and a.status == "ENABLED")
    rulings = [ad_status_change(ctx.policy.limits.ad_status, args.status, others)]
    content = None
    if args.status == "ENABLED" and ad.status != "ENABLED":
        # Enabling puts the ad in front of people again: its copy and its final URL meet the rules
        # of today, with the evidence it was created with.
        content = _serving_ad(
            ctx,
            ad,
            customer_id=args.customer_id,
            subject=await _ad_group_name(ctx, args.customer_id, args.ad_group_id),
            evidence=_creation_evidence(ctx, args),
        )
        allowed = await allowed_domains(ctx, args.customer_id, excluding_ad=args.ad_id)
        rulings.extend(r for url in ad.final_urls if (r := final_url_ruling(url, allowed)) is not None)
    return Assessment(entity, ad.status, args.status, rulings, content=content, noop=ad.status == args.status)


def _creation_evidence(ctx: ToolContext, args: SetAdStatus) -> tuple[str, ...]:
    """The evidence the ad was created with, as the audit log recorded its creation."""
    for row in ctx.audit.records(tool="create_responsive_search_ad", kind="result"):
        created = row.result if isinstance(row.result, dict) else {}
        if (
            row.status == "ok"
            and created.get("ad_id") == args.ad_id
            and row.args.get("customer_id") == args.customer_id
            and row.args.get("ad_group_id") == args.ad_group_id
        ):
            return tuple(str(e) for e in row.args.get("evidence") or ())
    return ()


async def _set_ad_status(ctx: ToolContext, args: SetAdStatus) -> Any:
    await ctx.platforms.google_ads.set_ad_status(args.customer_id, args.ad_group_id, args.ad_id, args.status)
    ctx.state.update(
        ads_entity(args.customer_id, "ad_group_ads", args.ad_group_id),
        lambda ads: tuple(dataclasses.replace(a, status=args.status) if a.ad_id == args.ad_id else a for a in ads),
    )
    return {"ad": f"{args.ad_group_id}~{args.ad_id}", "status": args.status}


async def _validate_ad_status(ctx: ToolContext, args: SetAdStatus) -> Any:
    await ctx.platforms.google_ads.set_ad_status(
        args.customer_id, args.ad_group_id, args.ad_id, args.status, validate_only=True
    )
    return {"ad": f"{args.ad_group_id}~{args.ad_id}", "validated": True}


# --- final URLs -----------------------------------------------------------------------

# Without the public suffix list: second-level labels under which a country's registrations sit
# ("shop.example.co.uk" belongs to "example.co.uk"), and shared platforms that give each customer
# a subdomain ("x.myshopify.com" is not "myshopify.com"). A policy that names its
# ``allowed_domains`` does not depend on either.
_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gob", "gov", "gv", "ltd", "mil", "ne", "net", "nom", "or", "org"})
_SHARED_HOSTS = (
    "amazonaws.com",
    "appspot.com",
    "azurewebsites.net",
    "blogspot.com",
    "cloudfront.net",
    "firebaseapp.com",
    "github.io",
    "herokuapp.com",
    "jimdosite.com",
    "myshopify.com",
    "netlify.app",
    "pages.dev",
    "squarespace.com",
    "vercel.app",
    "web.app",
    "webflow.io",
    "wixsite.com",
    "wordpress.com",
    "workers.dev",
)
_NUMERIC_LABEL = re.compile(r"\d+|0x[0-9a-f]*")


def registrable_domain(host: str) -> str:
    """The part of ``host`` its owner registered: ``www.alpine-outfitters.example`` →
    ``alpine-outfitters.example``."""
    labels = host.split(".")
    for shared in _SHARED_HOSTS:
        if host.endswith("." + shared):
            return ".".join(labels[-(shared.count(".") + 2) :])
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def url_host(url: str) -> tuple[str, str]:
    """(host as the Guard compares it, host as written) of an http(s) URL that names a domain.

    Raises ValueError saying why the URL does not name one plainly: another scheme, user info
    ("https://shop.example@evil.example/" goes to evil.example), an IP address, a backslash
    or control character (browsers read those differently from URL parsers), a malformed host.
    """
    if any(ch == "\\" or ord(ch) < 0x21 or 0x7F <= ord(ch) < 0xA0 for ch in url):
        raise ValueError("it contains a backslash, space or control character, which browsers read differently")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"its scheme is {parts.scheme!r}, not http or https")
    netloc = parts.netloc
    if "@" in netloc:
        raise ValueError(f"it has user info before '@', so its host is really {netloc.rpartition('@')[2]!r}")
    if netloc.startswith("["):
        raise ValueError(f"its host {netloc!r} is an IP address")
    raw, _, port = netloc.partition(":")
    if port and not port.isdigit():
        raise ValueError(f"its port {port!r} is not a number")
    try:
        host = normalise_domain(raw)
    except ValueError as exc:
        raise ValueError(f"its host {raw!r} is not a domain name") from exc
    if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]) or _is_ip(host):
        raise ValueError(f"its host {raw!r} is an IP address")
    return host, raw


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _shown(host: str, raw: str) -> str:
    """A host for a message: non-ASCII letters also escaped (they may look like ASCII ones), and
    the host as written when that differs ("aIpine" with a capital I, a punycode label)."""
    text = repr(host)
    if not host.isascii():
        text += f" ({host.encode('ascii', 'backslashreplace').decode()})"
    if (raw[:-1] if raw.endswith(".") else raw) != host:
        text += f", written {raw!r}"
    return text


def _imitated(host: str, raw: str, allowed: tuple[str, ...]) -> str | None:
    """The allowed domain ``host`` is made to look like: the same UTS #39 skeleton ("аlpine" with a
    Cyrillic "а", "exarnple"), as the host or inside it ("alpine-outfitters.example.evil.test")."""
    labels = (raw[:-1] if raw.endswith(".") else raw).split(".")
    try:  # as written: the case kept ("aIpine" with a capital I), punycode labels decoded
        written = ".".join(normalise_domain(label) if label.lower().startswith("xn--") else label for label in labels)
    except ValueError:
        written = host
    shapes = {f".{skeleton(form)}." for form in (host, written)}
    for domain in allowed:
        if any(f".{skeleton(domain)}." in shape for shape in shapes):
            return domain
    return None


def final_url_ruling(url: str, allowed: tuple[str, ...]) -> Ruling | None:
    """None when ``url`` points into an allowed domain (or a subdomain of one); otherwise a denial
    (rule ``content.final_url``) that names the host and the allowed domains."""
    named = ", ".join(allowed) if allowed else "none (the policy names none and the account has no ads)"
    try:
        host, raw = url_host(url)
    except ValueError as exc:
        return Ruling("deny", "content.final_url", f"final URL {url!r} is refused: {exc}; allowed domains: {named}")
    if any(host == domain or host.endswith("." + domain) for domain in allowed):
        return None
    imitated = _imitated(host, raw, allowed)
    if imitated is not None:
        reason = f"final URL host {_shown(host, raw)} imitates {imitated!r}: it looks like it but is another domain"
    else:
        reason = f"final URL host {_shown(host, raw)} is not an allowed domain or a subdomain of one"
    return Ruling("deny", "content.final_url", f"{reason}; allowed domains: {named}")


async def allowed_domains(ctx: ToolContext, customer_id: str, *, excluding_ad: str | None = None) -> tuple[str, ...]:
    """The policy's ``allowed_domains``; if it names none, the registrable domains of the
    account's ads (but ``excluding_ad``), read from the platform now."""
    if ctx.policy.allowed_domains:
        return ctx.policy.allowed_domains
    found: set[str] = set()
    for ad in await ctx.platforms.google_ads.ads(customer_id):
        if ad.ad_id == excluding_ad:
            continue
        for url in ad.final_urls:
            try:
                found.add(registrable_domain(url_host(url)[0]))
            except ValueError:
                continue
    return tuple(sorted(found))


# --- new ads --------------------------------------------------------------------------


async def _ad_group_name(ctx: ToolContext, customer_id: str, ad_group_id: str) -> str:
    """What an ad advertises, as far as the platform says: its ad group's name (the evidence of a
    claim must cover it)."""

    async def load() -> str:
        rows = await ctx.platforms.google_ads.search(
            customer_id, f"SELECT ad_group.id, ad_group.name FROM ad_group WHERE ad_group.id = {int(ad_group_id)}"
        )
        return str(rows[0].get("adGroup", {}).get("name", "")) if rows else ""

    return await ctx.state.read(ads_entity(customer_id, "ad_group_name", ad_group_id), load)


async def _assess_rsa(ctx: ToolContext, args: CreateResponsiveSearchAd) -> Assessment:
    content = Content(
        channel="google_ads",
        locale=ctx.locale,
        headlines=tuple(args.headlines),
        descriptions=tuple(args.descriptions),
        complete_ad=True,
        evidence=tuple(args.evidence),
        subject=await _ad_group_name(ctx, args.customer_id, args.ad_group_id),
        account=args.customer_id,
    )
    after = {"headlines": args.headlines, "descriptions": args.descriptions, "final_url": args.final_url}
    domain = final_url_ruling(args.final_url, await allowed_domains(ctx, args.customer_id))
    rulings = [domain] if domain is not None else []
    return Assessment(ads_entity(args.customer_id, "ad_group", args.ad_group_id), None, after, rulings, content=content)


async def _create_rsa(ctx: ToolContext, args: CreateResponsiveSearchAd) -> Any:
    result = await ctx.platforms.google_ads.create_responsive_search_ad(
        args.customer_id, args.ad_group_id, args.headlines, args.descriptions, args.final_url
    )
    ctx.state.invalidate(ads_entity(args.customer_id, "ad_group_ads", args.ad_group_id))
    name = result.resource_names[0] or ""
    return {"resource_name": name, "ad_id": name.rsplit("~", 1)[-1]}


async def _validate_rsa(ctx: ToolContext, args: CreateResponsiveSearchAd) -> Any:
    await ctx.platforms.google_ads.create_responsive_search_ad(
        args.customer_id, args.ad_group_id, args.headlines, args.descriptions, args.final_url, validate_only=True
    )
    return {"validated": True}


RECONCILE_LOOKBACK = dt.timedelta(days=29)  # change_event answers for the last 30 days only


async def _find_rsa(ctx: ToolContext, args: CreateResponsiveSearchAd) -> Any:
    """An ad with exactly these texts in the ad group: the lost create did land. The ad list shows
    live ads; the account's change history (``change_event``) also finds one that landed and was
    paused or removed since, so the create is never repeated on a guess."""
    ads = ctx.platforms.google_ads
    for ad in await ads.ads(args.customer_id, args.ad_group_id):
        if list(ad.headlines) == args.headlines and list(ad.descriptions) == args.descriptions:
            return {
                "resource_name": f"customers/{args.customer_id}/adGroupAds/{args.ad_group_id}~{ad.ad_id}",
                "ad_id": ad.ad_id,
            }
    found = await ads.find_created_ad(
        args.customer_id,
        args.ad_group_id,
        list(args.headlines),
        list(args.descriptions),
        since=dt.datetime.now(dt.UTC) - RECONCILE_LOOKBACK,  # the platform's time, not the audit clock
    )
    if found is None:
        return None
    return {"resource_name": found, "ad_id": found.rsplit("~", 1)[-1]}


# --- CMS ------------------------------------------------------------------------------


async def _assess_draft(ctx: ToolContext, args: CreateDraft) -> Assessment:
    return Assessment("wordpress:post:new", None, {"title": args.title, "status": "draft"})


async def _create_draft(ctx: ToolContext, args: CreateDraft) -> Any:
    post = await ctx.platforms.wordpress.create_post(
        title=args.title, content=args.content, excerpt=args.excerpt, meta_description=args.meta_description
    )
    return _post_summary(post)


async def _find_draft(ctx: ToolContext, args: CreateDraft) -> Any:
    for post in await ctx.platforms.wordpress.list_posts(status="draft", search=args.title):
        if post.title == args.title and post.content == args.content:
            return _post_summary(post)
    return None


async def _assess_update(ctx: ToolContext, args: UpdatePost) -> Assessment:
    entity = _post_entity(args.post_id)
    post = await ctx.platforms.wordpress.get_post(args.post_id)
    if post is None:
        return Assessment(entity, not_found=f"post {args.post_id} not found")
    text_changes = args.fields()
    changes: dict[str, str] = dict(text_changes)
    before = {name: post.published_text()[name] for name in changes}
    if args.status is not None:
        changes["status"] = args.status
        before["status"] = post.status
    was_live = post.status in LIVE_STATUSES
    goes_live = (args.status or post.status) in LIVE_STATUSES
    if not was_live and not goes_live:
        return Assessment(entity, before, changes, noop=before == changes)
    rulings = []
    if was_live:
        rulings.append(
            Ruling(
                ctx.policy.limits.published_post_update,
                "cms.published_update",
                f"post {post.id} is live ({post.status}); changing it needs approval",
            )
        )
    # Taking a page offline publishes nothing; changing the text of a live page publishes the new
    # text, and making a draft pending, private or future publishes all of it.
    publishes = goes_live and (bool(text_changes) or args.status not in (None, post.status))
    return Assessment(
        entity,
        before,
        changes,
        rulings,
        extra_scopes=("cms:publish",),
        content=_cms_content(post, ctx.locale, text_changes) if publishes else None,
        noop=before == changes,
    )


async def _update_post(ctx: ToolContext, args: UpdatePost) -> Any:
    post = await ctx.platforms.wordpress.get_post(args.post_id)
    assert post is not None
    fields: dict[str, str] = dict(args.fields())
    if args.status is not None:
        fields["status"] = args.status
    updated = await ctx.platforms.wordpress.update_post(post, fields)
    return _post_summary(updated)


async def _assess_publish(ctx: ToolContext, args: PublishPost) -> Assessment:
    entity = _post_entity(args.post_id)
    post = await ctx.platforms.wordpress.get_post(args.post_id)
    if post is None:
        return Assessment(entity, not_found=f"post {args.post_id} not found")
    return Assessment(
        entity, post.status, "publish", content=_cms_content(post, ctx.locale), noop=post.status == "publish"
    )


async def _publish_post(ctx: ToolContext, args: PublishPost) -> Any:
    post = await ctx.platforms.wordpress.get_post(args.post_id)
    assert post is not None
    updated = await ctx.platforms.wordpress.update_post(post, {"status": "publish"})
    return _post_summary(updated)


async def _published_post(ctx: ToolContext, args: PublishPost | UpdatePost) -> Content | None:
    """The post's text as it is live now (None when it is not live)."""
    post = await ctx.platforms.wordpress.get_post(args.post_id)
    if post is None or post.status not in LIVE_STATUSES:
        return None
    return _cms_content(post, ctx.locale)


async def _unpublish_post(ctx: ToolContext, args: PublishPost | UpdatePost) -> Any:
    post = await ctx.platforms.wordpress.get_post(args.post_id)
    if post is None or post.status not in LIVE_STATUSES:
        return None
    return _post_summary(await ctx.platforms.wordpress.update_post(post, {"status": "draft"}))


# --- rollback: how each change is undone (tools/rollback.py) ------------------------------
# Each takes the change's ``result`` row and gives the governed calls that restore its ``before``;
# ``Undo.expect`` is the row's ``after`` as assessing the undo reports the current value.


def _reverse_set(field: str) -> Any:
    def reverse(row: AuditRecord) -> Reversal:
        return Reversal((Undo(row.tool, {**row.args, field: row.before}, row.after),))

    return reverse


def _reverse_bid(row: AuditRecord) -> Reversal:
    result = row.result if isinstance(row.result, dict) else {}
    own_before = result.get("own_bid_before")
    if own_before is False:  # it used its ad group's default: remove the bid the change gave it
        note = "it had no bid of its own: its own bid is removed, its ad group's default applies again"
        return Reversal((Undo(row.tool, {**row.args, "cpc_bid_micros": None}, row.after),), note=note)
    note = ""
    if own_before is None:
        note = "the audit row does not say whether the keyword had a bid of its own; restored as its own bid"
    return Reversal((Undo(row.tool, {**row.args, "cpc_bid_micros": row.before}, row.after),), note=note)


def _reverse_rsa(row: AuditRecord) -> Reversal:
    """A created ad is paused, never removed (its history and statistics stay)."""
    ad_id = row.result.get("ad_id") if isinstance(row.result, dict) else None
    if not ad_id:
        return Reversal(reason="the audit row does not name the ad it created")
    args = {"customer_id": row.args["customer_id"], "ad_group_id": row.args["ad_group_id"], "ad_id": str(ad_id)}
    return Reversal((Undo("set_ad_status", {**args, "status": "PAUSED"}, "ENABLED"),), note="the created ad is paused")


def _reverse_draft(row: AuditRecord) -> Reversal:
    post = row.result.get("post_id") if isinstance(row.result, dict) else None
    return Reversal(
        reason=(
            f"a created draft (post {post}) is left in the CMS: a draft is not public, and rollback deletes no "
            "content; trash it in WordPress if it is not wanted"
        )
    )


def _reverse_update(row: AuditRecord) -> Reversal:
    """Restore the stored before-values of exactly the fields the update changed; a status it took
    offline from ``publish`` comes back through ``publish_post`` (the gate checks that content)."""
    before = row.before if isinstance(row.before, dict) else None
    after = row.after if isinstance(row.after, dict) else None
    if before is None or after is None or set(before) != set(after):
        return Reversal(reason="the audit row does not hold the values the update replaced")
    post_id = row.args["post_id"]
    texts = {name: value for name, value in before.items() if name != "status"}
    status = before.get("status")
    calls: list[Undo] = []
    if status is None or status in ("draft", "pending", "private"):
        args = {"post_id": post_id, **texts, **({"status": status} if status is not None else {})}
        return Reversal((Undo("update_post", args, after),))
    if status != "publish":
        return Reversal(
            reason=f"the post was {status!r} before (scheduled); the audit row has no date: restore it in WordPress"
        )
    if texts:
        calls.append(Undo("update_post", {"post_id": post_id, **texts}, {k: after[k] for k in texts}))
    calls.append(Undo("publish_post", {"post_id": post_id}, after["status"]))
    return Reversal(tuple(calls))


def _reverse_publish(row: AuditRecord) -> Reversal:
    if row.before not in ("draft", "pending", "private"):
        return Reversal(reason=f"the post was {row.before!r} before; only draft, pending or private can be restored")
    return Reversal(
        (Undo("update_post", {"post_id": row.args["post_id"], "status": row.before}, {"status": "publish"}),)
    )


CATALOGUE: tuple[ToolSpec, ...] = (
    ToolSpec(
        "list_campaigns",
        "List the campaigns of a customer with budgets.",
        ListCampaigns,
        "ads:read",
        "read",
        _list_campaigns,
    ),
    ToolSpec(
        "get_performance",
        "Metrics per campaign, ad group, ad or keyword over the last days.",
        GetPerformance,
        "ads:read",
        "read",
        _get_performance,
    ),
    ToolSpec(
        "list_ads",
        "List the responsive search ads of a customer (or one ad group) with their copy.",
        ListAds,
        "ads:read",
        "read",
        _list_ads,
    ),
    ToolSpec(
        "set_campaign_budget",
        "Set a campaign budget's daily amount (micros).",
        SetCampaignBudget,
        "ads:write:budgets",
        "set",
        _set_budget,
        _assess_budget,
        _validate_budget,
        reverse=_reverse_set("amount_micros"),
    ),
    ToolSpec(
        "set_campaign_status",
        "Enable or pause a campaign.",
        SetCampaignStatus,
        "ads:write:status:campaign",
        "set",
        _set_campaign_status,
        _assess_campaign_status,
        _validate_campaign_status,
        reverse=_reverse_set("status"),
    ),
    ToolSpec(
        "set_keyword_bid",
        "Set a keyword's max CPC bid (micros).",
        SetKeywordBid,
        "ads:write:bids",
        "set",
        _set_bid,
        _assess_bid,
        _validate_bid,
        reverse=_reverse_bid,
    ),
    ToolSpec(
        "set_ad_status",
        "Enable or pause an ad.",
        SetAdStatus,
        "ads:write:status:ad",
        "set",
        _set_ad_status,
        _assess_ad_status,
        _validate_ad_status,
        reverse=_reverse_set("status"),
    ),
    ToolSpec(
        "create_responsive_search_ad",
        "Create a responsive search ad in an ad group.",
        CreateResponsiveSearchAd,
        "ads:write:creatives",
        "create",
        _create_rsa,
        _assess_rsa,
        _validate_rsa,
        reconcile=_find_rsa,
        reverse=_reverse_rsa,
    ),
    ToolSpec("list_posts", "List CMS posts and pages.", ListPosts, "cms:read", "read", _list_posts),
    ToolSpec("get_post", "Read one CMS post or page with its text.", GetPost, "cms:read", "read", _get_post),
    ToolSpec(
        "create_draft",
        "Create a NEW draft article (not published); to change an existing post or page, use update_post.",
        CreateDraft,
        "cms:write:draft",
        "create",
        _create_draft,
        _assess_draft,
        reconcile=_find_draft,
        reverse=_reverse_draft,
    ),
    ToolSpec(
        "update_post",
        "Change an EXISTING post or page: its title, content, excerpt or meta description (write a missing one).",
        UpdatePost,
        "cms:write:draft",
        "set",
        _update_post,
        _assess_update,
        reverse=_reverse_update,
        published=_published_post,
        unpublish=_unpublish_post,
    ),
    ToolSpec(
        "publish_post",
        "Publish a draft post.",
        PublishPost,
        "cms:publish",
        "set",
        _publish_post,
        _assess_publish,
        reverse=_reverse_publish,
        published=_published_post,
        unpublish=_unpublish_post,
    ),
    ToolSpec(
        "search_knowledge",
        "Search the brand knowledge base; passages come with citations (kb:SOURCE#CHUNK) usable as evidence "
        "and their document's kind; `kinds` limits the search to some kinds (product, service, review: facts; "
        "legal, brand_voice, care_guide: guidelines, never copy).",
        SearchKnowledge,
        "memory:read",
        "read",
        _search_knowledge,
    ),
    ToolSpec(
        "check_copy",
        "Check ad or page copy against the compliance rules (advisory; publishing is always checked).",
        CheckCopy,
        "compliance:check",
        "read",
        _check_copy,
    ),
    ToolSpec("escalate", "Hand a decision to a person, with the reason.", Escalate, None, "meta", _escalate),
    ToolSpec(
        "performance_summary",
        "An account's or a campaign's spend, conversions, ROAS and budget pacing, in words and numbers.",
        PerformanceSummary,
        "ads:read",
        "read",
        _needs_skills,
    ),
    ToolSpec(
        "seo_audit",
        "The SEO audit of the published pages (or one): findings and the fix proposed for each page; "
        "nothing is changed.",
        SeoAudit,
        "cms:read",
        "read",
        _needs_skills,
    ),
    ToolSpec(
        "creative_proposals",
        "The creative skill's proposed changes for an account's ads (or one ad group): new ads, restated "
        "lines, pauses — as data; nothing is applied (apply one with its tool and arguments).",
        CreativeProposals,
        "ads:read",
        "read",
        _needs_skills,
    ),
)

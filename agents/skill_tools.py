"""The product's skills as tools: a model chooses a skill instead of computing its answer.

``performance_summary``, ``seo_audit`` and ``creative_proposals`` are declared in the tool
catalogue (:data:`adpilot.tools.catalogue.SKILL_TOOLS`: arguments, read scopes, descriptions) like
every other tool; their implementations are the agents' skills, which the tools layer must not
import. :func:`install` gives a Guard those implementations — the composition of a run (and of a
single `adpilot tool call`) does — so a call passes the Guard like any read: the caller's scope is
checked and the call audited, and the skill's own reads go through the same Guard, audited as
reads of the skill's role. ``check_copy`` needs no skill code: it is the compliance engine's
verdict, as `adpilot check-copy` gives it. Proposals come back as data; applying one is a call of
its tool through the Guard like any other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from adpilot.agents.chat import _perf_line
from adpilot.agents.commands import Language
from adpilot.agents.skills.creative import creative_proposals
from adpilot.agents.skills.seo import ReadFailed, StructuredData, read_posts
from adpilot.agents.skills.seo import audit as seo_audit
from adpilot.money import format_money
from adpilot.policies.compliance import Brand
from adpilot.tools.catalogue import CreativeProposals, PerformanceSummary, SeoAudit
from adpilot.tools.guard import Guard
from adpilot.tools.spec import ToolContext, ToolUnavailable

Skill = Callable[[ToolContext, Any], Awaitable[Any]]


def _failed(tool: str, result: Any) -> ToolUnavailable:
    error = result.error.message if result.error is not None else "no answer"
    return ToolUnavailable(f"{tool} could not read what it needs: {error}")


def performance(guard: Guard) -> Skill:
    """Spend, conversions, ROAS and pacing (share of the days' budget spent) per campaign."""

    async def run(ctx: ToolContext, args: PerformanceSummary) -> Any:
        account = args.customer_id
        language: Language = "de" if guard.locale == "de" else "en"
        campaigns = await guard.call("bidding", "list_campaigns", {"customer_id": account})
        rows = await guard.call(
            "bidding", "get_performance", {"customer_id": account, "level": "campaign", "days": args.days}
        )
        if not campaigns.ok or not rows.ok:
            raise _failed("performance_summary", campaigns if not campaigns.ok else rows)
        currency = await guard.context.currency(account) or "EUR"
        metrics = {str(r["campaign_id"]): r for r in rows.data}
        summary = []
        for campaign in campaigns.data:
            cid = str(campaign["campaign_id"])
            if args.campaign_id is not None and cid != args.campaign_id:
                continue
            row = metrics.get(cid, {"cost_micros": 0, "conversions": 0.0, "conversions_value": 0.0})
            cost, budget = int(row.get("cost_micros") or 0), int(campaign["budget_amount_micros"])
            value = float(row.get("conversions_value") or 0.0)
            pacing = round(100 * cost / (budget * args.days)) if budget else None
            roas = round(value / (cost / 1_000_000), 2) if cost else None
            words = _perf_line(row, str(campaign["name"]), str(campaign["status"]), args.days, currency, language)
            if pacing is not None:
                per_day = format_money(budget, currency, language)
                words += f"; spent {pacing} % of {args.days} days' budget ({per_day}/day)"
            if roas is not None:
                words += f"; ROAS {roas}"
            summary.append(
                {
                    "campaign_id": cid,
                    "name": campaign["name"],
                    "status": campaign["status"],
                    "budget_per_day": format_money(budget, currency, language),
                    "spend": format_money(cost, currency, language),
                    "conversions": float(row.get("conversions") or 0.0),
                    "conversion_value": value,
                    "roas": roas,
                    "pacing_pct": pacing,
                    "summary": words,
                }
            )
        if args.campaign_id is not None and not summary:
            known = ", ".join(str(c["campaign_id"]) for c in campaigns.data)
            raise ToolUnavailable(f"campaign {args.campaign_id} is not in account {account}; its campaigns: {known}")
        return {"customer_id": account, "currency": currency, "days": args.days, "campaigns": summary}

    return run


def seo(guard: Guard, brand: Brand, structured: StructuredData) -> Skill:
    """The SEO skill's audit of the published pages (the maintenance run's, unchanged)."""

    async def run(ctx: ToolContext, args: SeoAudit) -> Any:
        try:
            posts = await read_posts(guard)
        except ReadFailed as failed:
            raise ToolUnavailable(f"seo_audit could not read the CMS: {failed}") from failed
        site = "/".join(posts[0].link.split("/", 3)[:3]) if posts else ""
        report = seo_audit(posts, site=site, brand=brand.name, structured_data=structured).as_dict()
        if args.post_id is not None:
            report["findings"] = [f for f in report["findings"] if f["post_id"] == args.post_id]
            report["proposals"] = [p for p in report["proposals"] if p["args"].get("post_id") == args.post_id]
        return {**report, "applied": False}

    return run


def creative(guard: Guard, brand: Brand) -> Skill:
    """The creative skill's proposals for an account (or one ad group), not applied."""

    async def run(ctx: ToolContext, args: CreativeProposals) -> Any:
        proposals = await creative_proposals(guard, args.customer_id, brand, use_memory=guard.memory is not None)
        chosen = [p for p in proposals if args.ad_group_id is None or p.args.get("ad_group_id") == args.ad_group_id]
        return {"proposals": [p.as_dict() for p in chosen], "applied": False}

    return run


def install(guard: Guard, brand: Brand, *, seo_fields: str = "adpilot") -> Guard:
    """Give ``guard`` the skills behind the catalogue's skill tools (its run's Guard: the skills'
    reads go through it). ``seo_fields`` is the configuration's ``wordpress.seo_fields``: who
    writes a page's structured data (``adpilot``: a field of ours; else the SEO plugin)."""
    structured: StructuredData = "field" if seo_fields == "adpilot" else "plugin"
    skills = {
        "performance_summary": performance(guard),
        "seo_audit": seo(guard, brand, structured),
        "creative_proposals": creative(guard, brand),
    }
    for name, run in skills.items():
        if name in guard.tools:
            guard.tools[name] = dataclasses.replace(guard.tools[name], run=run)
    return guard

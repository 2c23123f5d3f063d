"""A readable summary of a sandbox world: accounts, campaigns, last-7-day results, CMS pages."""

from __future__ import annotations

from typing import Any

from adpilot.config import Config
from adpilot.money import format_micros
from adpilot.tables import table
from adpilot.tools.sandbox.gaql import parse
from adpilot.tools.sandbox.search import execute
from adpilot.tools.sandbox.world import World

_CAMPAIGN_QUERY = (
    "SELECT campaign.id, campaign.name, campaign.status, campaign_budget.id, campaign_budget.amount_micros, "
    "metrics.impressions, metrics.clicks, metrics.cost_micros, metrics.conversions, metrics.conversions_value "
    "FROM campaign WHERE segments.date DURING LAST_7_DAYS ORDER BY campaign.id"
)


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def world_summary(world: World) -> dict[str, Any]:
    """The summary as data (the ``--json`` form)."""
    accounts = []
    for customer in world.google_ads.customers.values():
        rows, _ = execute(parse(_CAMPAIGN_QUERY), customer, world.sim.today)
        campaigns = []
        for row in rows:
            metrics = row["metrics"]
            campaigns.append(
                {
                    "id": row["campaign"]["id"],
                    "name": row["campaign"]["name"],
                    "status": row["campaign"]["status"],
                    "budget_id": row["campaignBudget"]["id"],
                    # a shared budget with only a total amount has no daily amount to show
                    "budget_micros": _int_or_none(row["campaignBudget"].get("amountMicros")),
                    "impressions_7d": int(metrics["impressions"]),
                    "clicks_7d": int(metrics["clicks"]),
                    "cost_micros_7d": int(metrics["costMicros"]),
                    "conversions_7d": metrics["conversions"],
                    "conversion_value_7d": metrics["conversionsValue"],
                }
            )
        accounts.append(
            {
                "customer_id": customer.id,
                "name": customer.descriptive_name,
                "currency": customer.currency_code,
                "ads": len(customer.ad_group_ads),
                "keywords": len(customer.ad_group_criteria),
                "campaigns": campaigns,
            }
        )
    posts = [
        {
            "id": p.id,
            "type": p.type,
            "status": p.status,
            "title": p.title,
            "meta_description": bool(p.meta_description),
        }
        for p in sorted(world.cms.posts.values(), key=lambda p: p.id)
    ]
    return {
        "seed": world.sim.seed,
        "today": world.sim.today.isoformat(),
        "accounts": accounts,
        "posts": posts,
    }


def render_summary(summary: dict[str, Any]) -> str:
    out = [f"Sandbox world (seed {summary['seed']}), today {summary['today']}", ""]
    for account in summary["accounts"]:
        cur = account["currency"]
        out.append(
            f"{account['name']} — customer {account['customer_id']} "
            f"({account['ads']} ads, {account['keywords']} keywords)"
        )
        rows = [
            [
                c["id"],
                c["name"],
                c["status"],
                f"{c['budget_id']}: "
                + (format_micros(c["budget_micros"], cur) if c["budget_micros"] is not None else "total budget"),
                c["clicks_7d"],
                format_micros(c["cost_micros_7d"], cur),
                f"{c['conversions_7d']:g}",
                f"{c['conversion_value_7d']:.2f} {cur}",
            ]
            for c in account["campaigns"]
        ]
        out.append(
            table(
                [
                    "id",
                    "campaign",
                    "status",
                    "daily budget",
                    "clicks 7d",
                    "cost 7d",
                    "conv 7d",
                    "value 7d",
                ],
                rows,
                align_right=(4, 5, 6, 7),
            )
        )
        out.append("")
    out.append("CMS")
    out.append(
        table(
            ["id", "type", "status", "title", "meta description"],
            [
                [
                    p["id"],
                    p["type"],
                    p["status"],
                    p["title"],
                    "yes" if p["meta_description"] else "missing",
                ]
                for p in summary["posts"]
            ],
        )
    )
    return "\n".join(out)


def current_world(config: Config, seed: int | None = None) -> tuple[World, str]:
    """The sandbox world as the commands left it (the state directory's), or the seeded world when
    ``seed`` is given or no command has used the sandbox yet; with a phrase saying which it is."""
    from adpilot.statedir import StateDir
    from adpilot.tools.sandbox import Sandbox

    path = StateDir(config.state_dir).sandbox_world
    if seed is None and path.is_file():
        return Sandbox.load_or_seed(path).world, f"the current world ({path})"
    chosen = config.sandbox.seed if seed is None else seed
    return World.demo(chosen), f"the seeded world (seed {chosen}; no command has changed it yet)"


async def advance_days(config: Config, days: int) -> dict[str, Any]:
    """Let ``days`` days pass in the state directory's sandbox world (traffic, spend, conversions),
    under the same lock every command's sandbox requests take."""
    from adpilot.errors import UsageError
    from adpilot.statedir import StateDir
    from adpilot.tools.sandbox import Sandbox

    if not config.uses_sandbox:
        raise UsageError("advance-day moves the sandbox's calendar: the configuration does not use the sandbox")
    if not 1 <= days <= 366:
        raise UsageError(f"days must be from 1 to 366, not {days}")
    path = StateDir(config.state_dir).sandbox_world
    sandbox = Sandbox.load_or_seed(path, seed=config.sandbox.seed)
    sandbox.share(path)
    async with sandbox.client() as http:
        answer = await http.post("/_sandbox/advance-day", json={"days": days})
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result

"""Accounts: per account (and per campaign) the spend, conversions and ROAS of each of the last 30
days as charts, from the platform's reporting, with the days adpilot changed something marked (from
the audit log: every change carried out, with its row number)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from adpilot.app.audit_view import change_phrase, open_audit, read_tools
from adpilot.app.web.charts import Series, line_chart
from adpilot.app.web.core import Ctx, Refused, page, refused, respond
from adpilot.app.web.html import Markup, table, tag
from adpilot.errors import AdpilotError
from adpilot.money import describe_micros, format_money

DAILY = (
    "SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.conversions, "
    "metrics.conversions_value FROM campaign WHERE segments.date DURING LAST_30_DAYS"
)


@dataclass
class Day:
    cost_micros: int = 0
    conversions: float = 0.0
    value: float = 0.0  # conversion value, in the account's currency units (as the platform reports it)

    @property
    def roas(self) -> float:
        return self.value * 1_000_000 / self.cost_micros if self.cost_micros else 0.0


@dataclass
class Report:
    currency: str
    names: dict[str, str] = field(default_factory=dict)  # campaign id → name
    days: dict[str, dict[str, Day]] = field(default_factory=dict)  # campaign id → date → metrics


async def read_report(ctx: Ctx, account: str) -> Report:
    """The account's campaigns, day by day, straight from the platform (reads are not changes)."""
    from adpilot.compose import connect
    from adpilot.statedir import StateDir

    persist = StateDir(ctx.config.state_dir).sandbox_world.exists()
    async with connect(ctx.config, persist=persist) as platforms:
        rows = await platforms.google_ads.search(account, DAILY)
        currency_rows = await platforms.google_ads.search(account, "SELECT customer.currency_code FROM customer")
    currency = str((currency_rows[0].get("customer") or {}).get("currencyCode") or "") if currency_rows else ""
    report = Report(currency)
    for row in rows:
        campaign, metrics = row.get("campaign") or {}, row.get("metrics") or {}
        campaign_id, day = str(campaign.get("id")), str((row.get("segments") or {}).get("date"))
        report.names[campaign_id] = str(campaign.get("name") or campaign_id)
        entry = report.days.setdefault(campaign_id, {}).setdefault(day, Day())
        entry.cost_micros += int(metrics.get("costMicros") or 0)
        entry.conversions += float(metrics.get("conversions") or 0.0)
        entry.value += float(metrics.get("conversionsValue") or 0.0)
    return report


def changes_by_day(ctx: Ctx, account: str, currency: str, campaign: str | None) -> dict[str, list[str]]:
    """What adpilot changed in the account, by day: each change carried out (audit row and phrase)."""
    audit = open_audit(ctx.config)
    try:
        records = audit.records(kind="result", account=account, exclude_tools=read_tools())
    finally:
        audit.close()
    marks: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record.status != "ok":
            continue
        if campaign is not None and str(record.args.get("campaign_id") or "") not in ("", campaign):
            continue
        marks[record.ts[:10]].append(f"#{record.seq} {change_phrase(record, currency)}")
    return dict(marks)


def _money(micros: int, currency: str, locale: str) -> str:
    """Money as the page's reader writes it ("566,14 €" in German); micros only if the currency is unknown."""
    return format_money(micros, currency, locale) if currency else describe_micros(micros, None)


def _charts(ctx: Ctx, title: str, per_day: dict[str, Day], currency: str, marks: dict[str, list[str]]) -> Markup:
    t = ctx.t
    days = sorted(per_day)
    label = t["accounts.numbers"]
    charts = [
        Series(
            f"{title} — {t['accounts.spend']}",
            days,
            [per_day[d].cost_micros for d in days],
            lambda v: _money(int(v), currency, ctx.locale),
        ),
        Series(
            f"{title} — {t['accounts.conversions']}", days, [per_day[d].conversions for d in days], lambda v: f"{v:.1f}"
        ),
        Series(f"{title} — ROAS", days, [per_day[d].roas for d in days], lambda v: f"{v:.2f}"),
    ]
    return tag("div", [line_chart(series, marks, table_label=label) for series in charts], class_="charts")


@page("viewer")
async def accounts(ctx: Ctx) -> Response:
    t = ctx.t
    links = [tag("li", tag("a", account, href=f"/accounts/{account}")) for account in ctx.config.accounts]
    return respond(ctx, t["nav.accounts"], tag("ul", links))


@page("viewer")
async def account(ctx: Ctx) -> Response:
    t = ctx.t
    customer = ctx.request.path_params["customer_id"]
    if customer not in ctx.config.accounts:
        raise Refused(404, t["not_found"])
    campaign = ctx.request.query_params.get("campaign") or None
    try:
        report = await read_report(ctx, customer)
    except AdpilotError as exc:
        raise refused(exc, 409) from None
    if campaign is not None and campaign not in report.days:
        raise Refused(404, t["not_found"])
    marks = changes_by_day(ctx, customer, report.currency, campaign)
    chosen = [campaign] if campaign else sorted(report.days)
    total: dict[str, Day] = defaultdict(Day)
    for campaign_id in chosen:
        for day, metrics in report.days[campaign_id].items():
            total[day].cost_micros += metrics.cost_micros
            total[day].conversions += metrics.conversions
            total[day].value += metrics.value
    title = f"{report.names[campaign]} ({campaign})" if campaign else customer
    rows: list[list[Any]] = []
    for campaign_id in sorted(report.days):
        per_day = report.days[campaign_id].values()
        cost = sum(d.cost_micros for d in per_day)
        value = sum(d.value for d in per_day)
        rows.append(
            [
                tag("a", report.names[campaign_id], href=f"/accounts/{customer}?campaign={campaign_id}"),
                _money(cost, report.currency, ctx.locale),
                f"{sum(d.conversions for d in per_day):.1f}",
                f"{value * 1_000_000 / cost:.2f}" if cost else "-",
            ]
        )
    campaigns = table([t["accounts.campaign"], t["accounts.spend"], t["accounts.conversions"], "ROAS"], rows)
    body = [
        tag("p", t["accounts.marks"]),
        _charts(ctx, title, dict(total), report.currency, marks),
        tag("h2", t["accounts.campaigns"]),
        campaigns,
        tag("h2", t["accounts.changes"]),
        table([t["col.time"], t["col.what"]], [[day, "; ".join(marks[day])] for day in sorted(marks)])
        if marks
        else tag("p", t["accounts.no_changes"]),
    ]
    return respond(ctx, f"{t['nav.accounts']}: {title}", body)


routes = [
    Route("/accounts", accounts, methods=["GET"]),
    Route("/accounts/{customer_id}", account, methods=["GET"]),
]

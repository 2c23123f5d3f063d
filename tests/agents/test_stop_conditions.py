"""Stop conditions that count: the spend-anomaly baseline (yesterday left out, the configured
factor, a minimum history) and the `runs:` settings, each of which changes what a run does."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from adpilot.agents.llm import build_provider
from adpilot.agents.run import Runner
from adpilot.agents.stop import Limits, spend_anomalies
from adpilot.config import ModelPrice, RunsConfig
from adpilot.tools.sandbox.world import Stat
from tests.agents.conftest import results
from tests.conftest import AT

YESTERDAY = dt.date(2026, 10, 31)  # the demo world's today is 2026-11-01
EUR = 1_000_000


def history(days_before: int, per_day: int, yesterday: int) -> tuple[list[dict], list[dict]]:
    """Campaign 211: ``per_day`` micros on each of ``days_before`` days before yesterday, then ``yesterday``."""
    daily = [
        {"campaign_id": "211", "date": (YESTERDAY - dt.timedelta(days=d)).isoformat(), "cost_micros": per_day}
        for d in range(1, days_before + 1)
    ]
    daily.append({"campaign_id": "211", "date": YESTERDAY.isoformat(), "cost_micros": yesterday})
    return [{"campaign_id": "211", "cost_micros": yesterday}], daily


def test_the_baseline_leaves_out_the_day_under_test():
    # 13 days at 10 EUR, yesterday 33 EUR: 3.3 × the mean before it. Counted into its own
    # baseline (mean 163/14 = 11.64 EUR), yesterday would stay below 3 × the mean and pass unseen.
    found, notes = spend_anomalies(*history(13, 10 * EUR, 33 * EUR), Limits(), AT)
    assert [a["campaign_id"] for a in found] == ["211"] and notes == []
    assert found[0]["daily_mean_micros"] == 10 * EUR and found[0]["history_days"] == 13
    assert found[0]["factor"] == 3.3


def test_the_configured_factor_decides():
    data = history(13, 10 * EUR, 33 * EUR)
    assert spend_anomalies(*data, Limits(anomaly_factor=Decimal("3.5")), AT)[0] == []
    assert spend_anomalies(*data, Limits(anomaly_factor=Decimal("3.2")), AT)[0] != []
    # exactly at the factor is not above it
    assert spend_anomalies(*history(13, 10 * EUR, 30 * EUR), Limits(), AT)[0] == []


def test_too_short_a_history_is_not_judged_and_says_so():
    data = history(6, 10 * EUR, 200 * EUR)
    found, notes = spend_anomalies(*data, Limits(), AT)
    assert found == [] and len(notes) == 1
    assert "campaign 211" in notes[0] and "6 day(s)" in notes[0] and "7 needed" in notes[0]
    found, notes = spend_anomalies(*data, Limits(anomaly_min_history_days=6), AT)
    assert len(found) == 1 and notes == []


def test_days_without_spend_are_not_history():
    _, daily = history(13, 10 * EUR, 100 * EUR)
    for row in daily[:8]:
        row["cost_micros"] = 0
    found, notes = spend_anomalies([{"campaign_id": "211", "cost_micros": 100 * EUR}], daily, Limits(), AT)
    assert found == [] and "5 day(s)" in notes[0]


def test_limits_come_from_the_runs_section():
    runs = RunsConfig(
        max_steps=5,
        max_tokens=10,
        max_cost_usd=Decimal("0.5"),
        max_tool_errors=2,
        anomaly_factor=Decimal("4"),
        anomaly_min_history_days=3,
    )
    assert Limits.from_config(runs) == Limits(5, 10, Decimal("0.5"), 2, Decimal("4"), 3)
    assert Limits.from_config(RunsConfig()) == Limits()


# --- through the Runner: each `runs:` setting changes what a run does -------------------------------


def set_history(sandbox, days_before: int, per_day: int, yesterday: int) -> None:
    """Account AT's whole traffic history: campaign 211 (ad group 2801) only."""
    customer = sandbox.world.customer(AT)
    stats = {}
    for d in range(1, days_before + 1):
        day = (YESTERDAY - dt.timedelta(days=d)).isoformat()
        stats[day] = {"2801~48001~38001": Stat(impressions=500, clicks=20, cost_micros=per_day)}
    stats[YESTERDAY.isoformat()] = {"2801~48001~38001": Stat(impressions=500, clicks=20, cost_micros=yesterday)}
    customer.stats = stats


def runner_with(config, platforms, audit, *, scripts=None, **runs) -> Runner:
    configured = config.model_copy(update={"runs": RunsConfig(**runs)})
    models = build_provider("scripted", scripts=scripts) if scripts is not None else build_provider("none")
    return Runner(configured, platforms=platforms, audit=audit, models=models, skills=scripts is None)


async def maintain_at(config, platforms, audit, **runs):
    async with runner_with(config, platforms, audit, **runs) as runner:
        return await runner.start({"kind": "maintenance", "accounts": [AT]}, dry_run=True)


async def test_a_maintenance_run_stops_on_an_anomaly_measured_without_yesterday(config, platforms, audit, sandbox):
    set_history(sandbox, 13, 10 * EUR, 33 * EUR)
    stopped = await maintain_at(config, platforms, audit)
    assert stopped.report["stop_reason"] == "anomaly" and stopped.report["anomalies"][0]["campaign_id"] == "211"
    assert results(audit) == []


@pytest.mark.parametrize(
    ("runs", "stops"),
    [({"anomaly_factor": "3"}, True), ({"anomaly_factor": "3.5"}, False)],
)
async def test_the_configured_anomaly_factor_is_the_one_applied(config, platforms, audit, sandbox, runs, stops):
    set_history(sandbox, 13, 10 * EUR, 33 * EUR)
    result = await maintain_at(config, platforms, audit, **runs)
    assert (result.report["stop_reason"] == "anomaly") is stops


@pytest.mark.parametrize(("days", "stops"), [(7, False), (3, True)])
async def test_the_configured_minimum_history_is_the_one_applied(config, platforms, audit, sandbox, days, stops):
    set_history(sandbox, 3, 10 * EUR, 200 * EUR)  # three days of history, then twenty times the mean
    result = await maintain_at(config, platforms, audit, anomaly_min_history_days=days)
    assert (result.report["stop_reason"] == "anomaly") is stops
    if not stops:
        assert any("spend anomaly not judged for campaign 211" in n for n in result.report["notes"])


CHAT = {"kind": "chat", "text": "work"}


def busy_script(turns: int, usage: dict | None = None, invalid: bool = False) -> dict:
    """A bidding agent that keeps calling a read tool (or a tool that does not exist) for ``turns`` turns."""
    call = (
        {"name": "no_such_tool", "args": {}}
        if invalid
        else {"name": "list_campaigns", "args": {"customer_id": "1112223333"}}
    )
    turn = {"tool_calls": [call], **({"usage": usage} if usage else {})}
    return {
        "supervisor": [{"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "work"}}]}],
        "bidding": [turn] * turns,
    }


@pytest.mark.parametrize(("max_steps", "reason"), [(4, "max_steps"), (60, None)])
async def test_max_steps_from_the_config(config, platforms, audit, max_steps, reason):
    async with runner_with(config, platforms, audit, scripts=busy_script(3), max_steps=max_steps) as runner:
        result = await runner.start(CHAT)
    assert result.report["stop_reason"] == reason


@pytest.mark.parametrize(("max_tokens", "reason"), [(300, "budget"), (301, None)])
async def test_max_tokens_from_the_config(config, platforms, audit, max_tokens, reason):
    script = busy_script(3, usage={"input_tokens": 80, "output_tokens": 20})
    async with runner_with(config, platforms, audit, scripts=script, max_tokens=max_tokens) as runner:
        result = await runner.start(CHAT)
    assert result.report["stop_reason"] == reason and result.report["usage"]["tokens"] == 300


@pytest.mark.parametrize(("max_cost_usd", "reason"), [("0.0003", "budget"), ("0.000301", None)])
async def test_max_cost_from_the_config(config, platforms, audit, max_cost_usd, reason):
    # 3 turns × 100 input tokens at 1 USD per million = 0.0003 USD exactly
    price = ModelPrice(input_per_mtok_usd=Decimal("1"), output_per_mtok_usd=Decimal("0"))
    priced = config.model_copy(update={"prices": {**config.prices, "scripted": price}})
    script = busy_script(3, usage={"input_tokens": 100, "output_tokens": 0})
    async with runner_with(priced, platforms, audit, scripts=script, max_cost_usd=max_cost_usd) as runner:
        result = await runner.start(CHAT)
    assert result.report["stop_reason"] == reason and result.report["usage"]["cost_usd_exact"] == "0.0003"


@pytest.mark.parametrize(("max_tool_errors", "reason"), [(2, "error_budget"), (3, None)])
async def test_max_tool_errors_from_the_config(config, platforms, audit, max_tool_errors, reason):
    script = busy_script(2, invalid=True)
    async with runner_with(config, platforms, audit, scripts=script, max_tool_errors=max_tool_errors) as runner:
        result = await runner.start(CHAT)
    assert result.report["stop_reason"] == reason


def test_a_runner_without_limits_takes_them_from_the_config(config, platforms, audit):
    runner = runner_with(config, platforms, audit, max_steps=7, anomaly_min_history_days=4)
    assert runner.limits == Limits(max_steps=7, anomaly_min_history_days=4)

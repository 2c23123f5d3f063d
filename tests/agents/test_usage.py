"""Model usage: tokens from the replies' usage metadata, priced exactly by the configured price
table, accumulated in the run's state, stopping the run at its budget, and reported."""

from __future__ import annotations

from decimal import Decimal

import pytest
from langchain_core.messages import AIMessage
from pydantic import ValidationError

from adpilot.agents.llm import Price, build_provider, load_script, price_for, scripted_message
from adpilot.agents.run import Runner
from adpilot.agents.stop import Limits
from adpilot.config import Config, ModelPrice
from adpilot.errors import ConfigError
from tests.agents.conftest import results


def test_a_price_counts_in_whole_pico_dollars():
    price = Price.per_million(Decimal("0.15"), Decimal("0.60"))
    reply = AIMessage(content="", usage_metadata={"input_tokens": 7, "output_tokens": 3, "total_tokens": 10})
    # 7 × 0.15 + 3 × 0.60 = 2.85 USD per million tokens = 0.00000285 USD: 2,850,000 pico-dollars
    assert price.usage(reply) == {"tokens": 10, "cost_pico_usd": 2_850_000}
    assert Price().usage(AIMessage(content="no usage reported")) == {"tokens": 0, "cost_pico_usd": 0}


def test_prices_come_from_the_table_by_spec_then_kind():
    prices = Config().prices
    assert price_for("openai:gpt-4o", prices) == Price(2_500_000, 10_000_000)
    assert price_for("ollama:llama3.1", prices) == Price()
    assert price_for("openai-compatible:qwen@http://localhost:8080/v1", prices) == Price()
    assert price_for("scripted", prices) == Price() and price_for("none", prices) == Price()
    with pytest.raises(ConfigError, match=r"openai:gpt-9.*prices"):
        price_for("openai:gpt-9", prices)


def test_config_prices_are_decimal_strings_merged_over_the_shipped_ones():
    config = Config.model_validate({"prices": {"scripted": {"input_per_mtok_usd": "2.5", "output_per_mtok_usd": "10"}}})
    assert config.prices["scripted"] == ModelPrice(input_per_mtok_usd=Decimal("2.5"), output_per_mtok_usd=Decimal("10"))
    assert "openai:gpt-4o" in config.prices  # the shipped entries stay
    with pytest.raises(ValidationError):
        Config.model_validate({"prices": {"x:y": {"input_per_mtok_usd": "0.0000001", "output_per_mtok_usd": "0"}}})
    with pytest.raises(ValidationError):
        Config.model_validate({"prices": {"x:y": {"input_per_mtok_usd": "-1", "output_per_mtok_usd": "0"}}})


def test_a_scripted_turn_reports_its_usage(tmp_path):
    message = scripted_message({"content": "hi", "usage": {"input_tokens": 12, "output_tokens": 5}}, 0)
    assert message.usage_metadata == {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17}
    assert scripted_message({"content": "hi"}, 0).usage_metadata is None
    script = tmp_path / "s.yaml"
    script.write_text("bidding:\n  - content: x\n    usage: {input_tokens: 3, output_tokens: 1}\n")
    assert load_script(script)["bidding"][0]["usage"] == {"input_tokens": 3, "output_tokens": 1}
    script.write_text("bidding:\n  - content: x\n    usage: {input_tokens: -3}\n")
    with pytest.raises(ConfigError, match=r"s.yaml:3: usage of turn 0 of bidding"):
        load_script(script)


BUDGET_RAISE = {
    "name": "set_campaign_budget",
    "args": {"customer_id": "1112223333", "budget_id": "9002", "amount_micros": "33000000"},
}
BID = {
    "name": "set_keyword_bid",
    "args": {"customer_id": "1112223333", "ad_group_id": "2201", "criterion_id": "41003", "cpc_bid_micros": 1100000},
}


def priced_runner(config, platforms, audit, script, *, input_usd="3", output_usd="15", limits=None) -> Runner:
    price = ModelPrice(input_per_mtok_usd=Decimal(input_usd), output_per_mtok_usd=Decimal(output_usd))
    priced = config.model_copy(update={"prices": {**config.prices, "scripted": price}})
    models = build_provider("scripted", scripts=script)
    return Runner(priced, platforms=platforms, audit=audit, models=models, limits=limits, skills=False)


async def test_usage_is_summed_exactly_into_the_state_and_the_report(config, platforms, audit):
    script = {
        "supervisor": [
            {"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "x"}}], "usage": {"input_tokens": 1000}},
            {"content": "done", "usage": {"input_tokens": 1, "output_tokens": 1}},
        ],
        "bidding": [{"tool_calls": [BID], "usage": {"input_tokens": 333, "output_tokens": 7}}, {"content": "ok"}],
    }
    async with priced_runner(config, platforms, audit, script) as runner:
        result = await runner.start({"kind": "chat", "text": "x"})
    assert result.report["stop_reason"] is None
    # input 1334 × 3 USD + output 8 × 15 USD, per million tokens
    pico = 1334 * 3_000_000 + 8 * 15_000_000
    assert result.state["tokens"] == 1342 and result.state["cost_pico_usd"] == pico
    assert result.report["usage"]["tokens"] == 1342
    assert result.report["usage"]["cost_usd_exact"] == "0.004122"
    assert result.report["usage"]["cost_usd"] == 0.004122


async def test_a_turn_that_crosses_the_cost_budget_stops_the_run_before_its_calls(config, platforms, audit):
    script = {
        "supervisor": [{"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "x"}}]}],
        "bidding": [
            {"tool_calls": [BUDGET_RAISE], "usage": {"input_tokens": 100_000}},  # 0.30 USD
            {"tool_calls": [BID], "usage": {"input_tokens": 100_000}},  # 0.60 USD in all: over 0.50
        ],
    }
    limits = Limits(max_cost_usd=Decimal("0.5"))
    async with priced_runner(config, platforms, audit, script, limits=limits) as runner:
        result = await runner.start({"kind": "chat", "text": "x"})
    assert result.status == "stopped" and result.report["stop_reason"] == "budget"
    assert [r.tool for r in results(audit)] == ["set_campaign_budget"]  # the second turn's call never ran
    assert result.report["usage"]["cost_usd_exact"] == "0.6"


async def test_a_model_without_a_price_cannot_run(config, platforms, audit):
    from adpilot.agents.llm import ModelProvider

    runner = Runner(config, platforms=platforms, audit=audit, models=ModelProvider("openai:gpt-unknown"))
    async with runner:
        with pytest.raises(ConfigError, match="has no price"):
            await runner.start({"kind": "chat", "text": "x"})
    assert results(audit) == []

"""Every failure is an audited result: an unexpected exception inside a tool never escapes.

The guarantee: any exception between the intent and the result of a change becomes a ``result``
row with status ``error`` and a readable message; one before the intent (while the Guard decides)
is an audited refusal; one in a read tool is an audited error result. The agent gets a
:class:`ToolResult` with an ``internal_error`` it can read; the run goes on (or stops by its error
budget), never with a traceback.

The broken tools are the real catalogue entries with one function replaced
(``dataclasses.replace``), so everything around them — Guard, audit log, sandbox, Runner, graph —
is the product's own. A run gets the broken tool through ``adpilot.tools.guard.CATALOGUE``, the
default tool table of every Guard, whoever builds it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from adpilot.agents.stop import Limits
from adpilot.policies import load_policy
from adpilot.policies.content import NoRulesGate
from adpilot.tools.catalogue import CATALOGUE
from adpilot.tools.guard import Guard, RunScope
from adpilot.tools.spec import ToolSpec
from tests.agents import conftest as agents
from tests.conftest import AT, DE

# The Runner fixtures of tests/agents (a state directory per test, the conftest sandbox and audit log).
config = agents.config
make_runner = agents.make_runner
results = agents.results

BUDGET = "set_campaign_budget"
BUDGET_ARGS = {"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"}  # 50 → 55 EUR: allowed
BID_ARGS = {"customer_id": DE, "ad_group_id": "2201", "criterion_id": "41003", "cpc_bid_micros": 1100000}
READ_ARGS = {"customer_id": DE}


async def _raises_key_error(ctx: Any, args: Any) -> Any:
    raise KeyError("amount_micros")


async def _raises_assertion(ctx: Any, args: Any) -> Any:
    raise AssertionError("budget snapshot out of sync")


def _broken(tool: str, **functions: Callable[..., Any]) -> ToolSpec:
    return dataclasses.replace(next(s for s in CATALOGUE if s.name == tool), **functions)


@pytest.fixture
def broken_guard(platforms, audit) -> Callable[[ToolSpec], Guard]:
    """A Guard like the conftest one, with one catalogue entry replaced by ``spec``."""

    def make(spec: ToolSpec) -> Guard:
        tools = {each.name: each for each in CATALOGUE}
        tools[spec.name] = spec
        scope = RunScope("r1", "t1", frozenset((DE, AT)))
        return Guard(platforms, load_policy(), audit, scope, content_gate=NoRulesGate(), tools=tools)

    return make


def _budget(sandbox: Any) -> str:
    return sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros


def _dangling_intents(audit: Any) -> list[Any]:
    answered = {r.idempotency_key for r in audit.records(kind="result")}
    return [r for r in audit.records(kind="intent") if r.idempotency_key not in answered]


def _readable(message: str, tool: str, exception: str) -> bool:
    """The message names the tool and the exception with its text."""
    return message.startswith("internal error in ") and tool in message and exception in message


# --- single calls through the Guard ----------------------------------------------------------------
async def test_an_exception_in_run_after_the_intent_becomes_an_error_result(broken_guard, audit, sandbox):
    guard = broken_guard(_broken(BUDGET, run=_raises_key_error))
    result = await guard.call("bidding", BUDGET, BUDGET_ARGS, proposal_id="p1")  # must not raise

    assert not result.ok and result.decision == "allow"
    assert result.error is not None and result.error.type == "internal_error"
    assert result.error.message == f"internal error in {BUDGET}: KeyError: 'amount_micros'"
    assert json.loads(result.for_model())["error"]["type"] == "internal_error"  # what the model reads

    rows = [r for r in audit.records() if r.idempotency_key == "t1:p1"]
    assert [(r.kind, r.decision, r.status) for r in rows] == [
        ("decision", "allow", None),
        ("intent", None, None),
        ("result", None, "error"),
    ]
    decision, intent, outcome = rows
    assert outcome.seq == result.audit_seq and outcome.result == {"error": result.error.message}
    assert decision.call_hash == intent.call_hash == outcome.call_hash == result.call_hash
    assert intent.entity == f"google_ads:{DE}:campaign_budget:9001" and intent.after == 55_000_000
    assert _dangling_intents(audit) == []
    assert audit.verify() == len(audit.records())
    assert _budget(sandbox) == "50000000"  # the broken run() changed nothing


async def test_an_error_result_is_conclusive_so_the_same_key_is_tried_again_not_replayed(broken_guard, audit):
    """A definite error applied nothing (audit.key_history): a later attempt with the same key
    executes for real instead of replaying the failure or reconciling a phantom write."""
    await broken_guard(_broken(BUDGET, run=_raises_key_error)).call("bidding", BUDGET, BUDGET_ARGS, proposal_id="p1")
    retry = await broken_guard(_broken(BUDGET)).call("bidding", BUDGET, BUDGET_ARGS, proposal_id="p1")
    assert retry.ok and not retry.replayed
    statuses = [r.status for r in audit.records(kind="result") if r.idempotency_key == "t1:p1"]
    assert statuses == ["error", "ok"]


async def test_an_exception_in_assess_before_the_intent_is_an_audited_refusal(broken_guard, audit, sandbox):
    guard = broken_guard(_broken(BUDGET, assess=_raises_assertion))
    result = await guard.call("bidding", BUDGET, BUDGET_ARGS, proposal_id="p2")  # must not raise

    assert not result.ok and result.decision == "deny"
    assert result.error is not None and result.error.type == "internal_error"
    assert _readable(result.error.message, BUDGET, "AssertionError: budget snapshot out of sync")
    rows = [r for r in audit.records() if r.call_hash == result.call_hash]
    assert [(r.kind, r.decision) for r in rows] == [("decision", "deny")]  # nothing was about to be sent
    assert rows[0].seq == result.audit_seq and rows[0].reason == result.error.message
    assert _dangling_intents(audit) == []  # nothing waits to be reconciled
    assert audit.verify() == len(audit.records())
    assert _budget(sandbox) == "50000000"


async def test_an_exception_in_a_read_tool_is_an_audited_error_result(broken_guard, audit):
    guard = broken_guard(_broken("list_campaigns", run=_raises_key_error))
    result = await guard.call("bidding", "list_campaigns", READ_ARGS)  # must not raise

    assert result.error is not None and result.error.type == "internal_error"
    assert _readable(result.error.message, "list_campaigns", "KeyError: 'amount_micros'")
    rows = [r for r in audit.records() if r.call_hash == result.call_hash]
    assert [(r.kind, r.decision, r.status) for r in rows] == [("decision", "allow", None), ("result", None, "error")]
    assert rows[-1].seq == result.audit_seq and rows[-1].result == {"error": result.error.message}
    assert audit.verify() == len(audit.records())


async def test_an_exception_in_a_meta_tool_is_an_audited_error_result(broken_guard, audit):
    guard = broken_guard(_broken("escalate", run=_raises_key_error))
    result = await guard.call("bidding", "escalate", {"reason": "needs a person"})
    assert result.error is not None and result.error.type == "internal_error"
    assert [r.kind for r in audit.records() if r.call_hash == result.call_hash][-1] == "result"


# --- whole runs ----------------------------------------------------------------------------------
# What breaks: (tool, function, replacement, the scripted call's args, the report list it lands in,
# the exception text the message must carry). The run makes the broken call, then a working one.
BREAKAGES = {
    "run-after-intent": (BUDGET, "run", _raises_key_error, BUDGET_ARGS, "failed", "KeyError: 'amount_micros'"),
    "assess-before-intent": (
        BUDGET,
        "assess",
        _raises_assertion,
        BUDGET_ARGS,
        "denied",
        "AssertionError: budget snapshot out of sync",
    ),
    "read-tool": ("list_campaigns", "run", _raises_key_error, READ_ARGS, None, "KeyError: 'amount_micros'"),
}


def _scripts(broken_tool: str, broken_args: dict[str, Any]) -> dict[str, Any]:
    """Supervisor hands one task to bidding; bidding makes the broken call, then a working one, then answers."""
    return {
        "supervisor": [
            {"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "budget 9001 and a bid"}}]},
            {"content": "Finished."},
        ],
        "bidding": [
            {"tool_calls": [{"name": broken_tool, "args": broken_args}]},
            {"tool_calls": [{"name": "set_keyword_bid", "args": BID_ARGS}]},
            {"content": "done"},
        ],
    }


@pytest.fixture(params=list(BREAKAGES))
def breakage(request, monkeypatch) -> dict[str, Any]:
    """Every Guard built from now on (the Runner's too) has the broken tool."""
    tool, function, replacement, args, listed, exception = BREAKAGES[request.param]
    broken = _broken(tool, **{function: replacement})
    monkeypatch.setattr("adpilot.tools.guard.CATALOGUE", tuple(broken if s.name == tool else s for s in CATALOGUE))
    return {"tool": tool, "args": args, "listed": listed, "exception": exception}


def _only_error_is_the_broken_call(audit: Any, breakage: dict[str, Any]) -> None:
    """The audit log holds the broken call's error (a result, or a refusal) and nothing dangling."""
    errors = [r for r in audit.records(kind="result") if r.status != "ok"]
    refusals = [r for r in audit.records(kind="decision") if r.rule == "internal_error"]
    assert [(r.tool, r.kind) for r in errors + refusals] == [
        (breakage["tool"], "decision" if breakage["listed"] == "denied" else "result")
    ]
    text = json.dumps([r.result for r in errors] + [r.reason for r in refusals])
    assert breakage["exception"] in text and breakage["tool"] in text
    assert _dangling_intents(audit) == [] and audit.verify() == len(audit.records())


async def test_a_run_goes_on_after_an_internal_error_and_reports_it(breakage, make_runner, audit, sandbox):
    async with make_runner(scripts=_scripts(breakage["tool"], breakage["args"]), skills=False) as runner:
        done = await runner.start({"kind": "chat", "text": "budget 9001 to 55 EUR, then the bid"})
        assert runner.registry.get(done.thread_id).status == "done"

    assert done.status == "done" and done.report["stop_reason"] is None
    assert done.report["usage"]["tool_errors"] == 1  # counted against the error budget
    if breakage["listed"] is not None:  # a change: the report says what failed, and why
        (entry,) = done.report[breakage["listed"]]
        assert entry["tool"] == breakage["tool"] and entry["args"] == breakage["args"]
        assert entry["error"]["type"] == "internal_error"
        assert _readable(entry["error"]["message"], breakage["tool"], breakage["exception"])
    assert not [e for key in ("failed", "denied") for e in done.report[key] if e["tool"] != breakage["tool"]]
    assert [a["tool"] for a in done.report["applied"]] == ["set_keyword_bid"]  # the next call ran
    assert [r.tool for r in results(audit)] == ["set_keyword_bid"]
    _only_error_is_the_broken_call(audit, breakage)
    assert _budget(sandbox) == "50000000"
    assert sandbox.world.customer(DE).ad_group_criteria["2201~41003"].cpc_bid_micros == "1100000"


async def test_the_error_budget_stops_the_run_after_an_internal_error(breakage, make_runner, audit):
    scripts = _scripts(breakage["tool"], breakage["args"])
    async with make_runner(scripts=scripts, skills=False, limits=Limits(max_tool_errors=1)) as runner:
        stopped = await runner.start({"kind": "chat", "text": "budget 9001 to 55 EUR, then the bid"})
        assert runner.registry.get(stopped.thread_id).status == "stopped"

    assert stopped.status == "stopped" and stopped.report["stop_reason"] == "error_budget"
    assert stopped.report["usage"]["tool_errors"] == 1
    assert audit.records(tool="set_keyword_bid") == []  # stopped before the next call
    assert results(audit) == []
    _only_error_is_the_broken_call(audit, breakage)


# --- the same through the CLI, in a process of its own ------------------------------------------
CLI_WITH_BROKEN_TOOL = """
import dataclasses, sys
import adpilot.tools.guard as guard
from adpilot.app.cli import main

async def run(ctx, args):
    raise KeyError("amount_micros")

guard.CATALOGUE = tuple(
    dataclasses.replace(s, run=run) if s.name == "set_campaign_budget" else s for s in guard.CATALOGUE
)
sys.exit(main(sys.argv[1:]))
"""


def test_the_cli_reports_an_internal_error_without_a_traceback(tmp_path):
    config_file = tmp_path / "config.yaml"
    config_file.write_text(json.dumps({"state_dir": str(tmp_path / "state"), "log": {"level": "warning"}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADPILOT")}
    argv = ["--config", str(config_file), "chat", "--no-memory", "--json", "--once", "set budget 9001 to 55 EUR"]
    done = subprocess.run(
        [sys.executable, "-c", CLI_WITH_BROKEN_TOOL, *argv],
        input="",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "done"
    (failed,) = outcome["report"]["failed"]
    assert failed["tool"] == BUDGET and _readable(failed["error"]["message"], BUDGET, "KeyError: 'amount_micros'")
    world = json.loads((tmp_path / "state" / "sandbox-world.json").read_text())
    assert world["google_ads"]["customers"][DE]["campaign_budgets"]["9001"]["amount_micros"] == "50000000"

"""Running scenarios: a fresh seeded world each, the real graph and Guard, simulated operators.

Each scenario gets its own in-process sandbox (demo world of its seed, then its patches and
faults), its own state directory (checkpoints, audit log, registry) and its own model. A
`crash` really stops the run after N graph steps and resumes it from the checkpointer in a new
graph, as a new process would. Pending approvals are answered by the scenario's `approvals`
rules (first match wins; with no match, reject) until the run ends.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adpilot.agents.llm import build_provider
from adpilot.agents.run import Runner, RunResult
from adpilot.agents.stop import Limits, usd
from adpilot.compose import connect
from adpilot.config import Config, ModelsConfig
from adpilot.errors import UsageError
from adpilot.evals.checks import CheckResult, Evidence, args_match, evaluate
from adpilot.evals.scenario import Scenario, patched_policy
from adpilot.statedir import StateDir
from adpilot.tools.audit import AuditLog
from adpilot.tools.catalogue import CATALOGUE
from adpilot.tools.http import RetryPolicy
from adpilot.tools.sandbox import Sandbox, World, patched
from adpilot.tools.spec import ToolContext

EVAL_RETRY = RetryPolicy(attempts=6, base_delay_s=0.001, max_delay_s=0.05, jitter=0.0)
MAX_APPROVAL_ROUNDS = 10


@dataclass
class TrialResult:
    passed: bool
    checks: list[CheckResult]
    stop_reason: str | None
    tool_calls: int
    duration_s: float
    tokens: int = 0
    cost_pico_usd: int = 0  # model cost, exact (10^-12 USD)
    error: str | None = None
    answer: str | None = None  # the run's final answer to the operator


@dataclass
class ScenarioResult:
    scenario: Scenario
    trials: list[TrialResult] = field(default_factory=list)
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        return self.skipped is None and bool(self.trials) and all(t.passed for t in self.trials)

    @property
    def tokens(self) -> int:
        return sum(t.tokens for t in self.trials)

    @property
    def cost_pico_usd(self) -> int:
        return sum(t.cost_pico_usd for t in self.trials)

    def as_dict(self) -> dict[str, Any]:
        last = self.trials[-1] if self.trials else None
        return {
            "id": self.scenario.id,
            "passed": self.passed,
            "trials_passed": sum(t.passed for t in self.trials),
            "checks": [c.as_dict() for c in (last.checks if last else [])],
            "stop_reason": last.stop_reason if last else None,
            "tool_calls": last.tool_calls if last else 0,
            "duration_s": round(sum(t.duration_s for t in self.trials), 3),
            "tokens": self.tokens,
            "cost_usd": round(float(usd(self.cost_pico_usd)), 6),
            **({"skipped": self.skipped} if self.skipped else {}),
            **({"error": last.error} if last and last.error else {}),
            **({"answer": last.answer} if last and last.answer else {}),
        }


class SimulatedCrash(BaseException):
    """``kill -9`` inside a node: raised where a process would die, caught by nothing in adpilot.

    A BaseException, like the signal it stands for: no ``except Exception`` in the Guard, the
    clients or LangGraph's node runner turns it into a recorded failure.
    """


def _crash_after_executions(sandbox: Sandbox, count: int) -> None:
    """Die right after the ``count``-th side effect lands on the platform, before its answer
    reaches adpilot: the write happened, its result row never will."""
    landed = 0
    apply = sandbox.changed

    def changed() -> None:
        nonlocal landed
        apply()
        landed += 1
        if landed == count:
            raise SimulatedCrash(f"killed after side effect {count}")

    sandbox.changed = changed  # type: ignore[method-assign]


async def _surviving(step: Awaitable[RunResult], runner: Runner, thread_id: str) -> RunResult:
    """Run a step; if the process "died" in it, resume the run from its checkpoint as a new one would."""
    try:
        return await step
    except SimulatedCrash:
        return await runner.continue_run(thread_id)


def _world(scenario: Scenario) -> World:
    world = World.demo(scenario.world.seed)
    return patched(world, scenario.world.patch) if scenario.world.patch else world


def _policy_pack(scenario: Scenario, tmp: Path) -> str:
    """The pack the scenario runs under: the default, or a copy of it with the scenario's patch."""
    if not scenario.policy.patch:
        return "default"
    import shutil

    import yaml

    from adpilot.policies.loader import pack_path

    target = tmp / "policy-pack"
    shutil.copytree(pack_path("default").parent, target)
    document = yaml.safe_dump(patched_policy(scenario.policy.patch), sort_keys=False, allow_unicode=True)
    (target / "policy.yaml").write_text(document, encoding="utf-8")
    return str(target)


def _decide(scenario: Scenario, pending: list[dict[str, Any]], used: Counter[int]) -> dict[str, dict[str, Any]]:
    """The simulated operator: the first rule that matches (and has decisions left) decides.

    A rule matches the call the approval is about (for the ``escalate`` tool: its proposal). An
    ``edit`` sends the rule's ``args``, merged into the call's by the run; ``approver`` names who
    decides (a four-eyes change needs rules of different approvers, e.g. with ``times: 1``)."""
    from adpilot.agents.outcomes import proposed_call

    decisions = {}
    for item in pending:
        tool, call_args = proposed_call(item)
        index, rule = next(
            (
                (i, r)
                for i, r in enumerate(scenario.approvals)
                if (r.times is None or used[i] < r.times)
                and (
                    r.match is None
                    or (r.match.get("tool") in (None, tool) and args_match(call_args, r.match.get("args")))
                )
            ),
            (-1, None),
        )
        used[index] += 1
        decision = rule.decision if rule else "reject"
        decisions[item["id"]] = {
            "decision": decision,
            "reason": (rule.reason if rule else "no approval rule matched"),
            "approver": rule.approver if rule else "eval operator",
            **({"args": dict(rule.args)} if rule is not None and rule.args else {}),
        }
    return decisions


async def _gold(scenario: Scenario, gold: list[dict[str, Any]]) -> dict[str, Any]:
    """Replay reference actions straight through the clients on a fresh copy of the world."""
    sandbox = Sandbox(_world(scenario))
    tools = {spec.name: spec for spec in CATALOGUE}
    async with connect(Config(), sandbox=sandbox, retry=EVAL_RETRY) as platforms:
        from adpilot.policies import load_policy

        context = ToolContext(platforms, load_policy(), AuditLog(":memory:"))
        for call in gold:
            spec = tools[call["name"]]
            await spec.run(context, spec.args.model_validate(call.get("args") or {}))
    return sandbox.world.dump()


async def run_trial(scenario: Scenario, default_model: str, models: ModelsConfig | None = None) -> TrialResult:
    """One run of ``scenario`` and its checks; ``models``: how a real model is called (time limit,
    retries, tool mode: the configuration's ``models`` section; the defaults without it)."""
    started = time.perf_counter()
    spec = scenario.model or default_model
    sandbox = Sandbox(_world(scenario))
    if scenario.world.faults:
        sandbox.set_faults(scenario.world.faults)
    before = sandbox.world.dump()
    with tempfile.TemporaryDirectory(prefix="adpilot-eval-") as tmp:
        config = Config(
            state_dir=Path(tmp),
            model=spec if spec != "scripted" else "none",
            policy=_policy_pack(scenario, Path(tmp)),
            prices={**Config().prices, **scenario.prices},
            models=models or ModelsConfig(),
        )
        provider = (
            build_provider("scripted", scripts=scenario.scripts())
            if spec == "scripted"
            else build_provider(spec, options=config.models)
        )
        limits = replace(
            Limits.from_config(config.runs),
            **{k: v for k, v in scenario.limits.model_dump().items() if v is not None},
        )
        audit = AuditLog(StateDir(Path(tmp)).audit)
        async with connect(config, sandbox=sandbox, retry=EVAL_RETRY) as platforms:
            runner = Runner(
                config,
                platforms=platforms,
                audit=audit,
                models=provider,
                limits=limits,
                skills=scenario.skills,
                approver="eval operator",
            )
            async with runner:
                if scenario.kill_switch:
                    runner.kill_switch.engage("scenario kill_switch")
                trigger = scenario.trigger.model_dump(exclude_none=True)
                crash = scenario.crash
                if crash is not None and crash.after_executions is not None:
                    _crash_after_executions(sandbox, crash.after_executions)
                thread = f"eval-{uuid.uuid4().hex[:10]}"
                result: RunResult = await _surviving(
                    runner.start(
                        trigger,
                        thread_id=thread,
                        dry_run=scenario.dry_run,
                        max_steps_this_call=crash.after_steps if crash is not None else None,
                    ),
                    runner,
                    thread,
                )
                if result.status == "interrupted":
                    result = await runner.continue_run(result.thread_id)
                rounds = 0
                used: Counter[int] = Counter()
                while result.status == "waiting" and rounds < MAX_APPROVAL_ROUNDS:
                    rounds += 1
                    try:
                        result = await _surviving(
                            runner.resume(result.thread_id, _decide(scenario, result.pending, used)), runner, thread
                        )
                    except UsageError:
                        # The run refused the simulated operator's decision (the same person approving
                        # twice, say): nothing was decided, and what waits keeps waiting.
                        break
        # Checks compare what was asked with what was done: the audit log's personal data revealed.
        records = [audit.reveal_record(r)[0] for r in audit.records()]
        gold_spec = next((c["gold"] for c in scenario.expect if "gold" in c), None)
        evidence = Evidence(
            before=before,
            after=sandbox.world.dump(),
            audit=records,
            answer=result.answer,
            stop_reason=result.report.get("stop_reason"),
            gold_world=await _gold(scenario, gold_spec) if gold_spec is not None else None,
            tool_calls=[
                r for r in records if r.kind == "decision" and r.rule not in ("idempotency.replay", "approval.rejected")
            ],
        )
    checks = [evaluate(check, evidence) for check in scenario.expect]
    if evidence.stop_reason == "model" and not any("stop_reason" in c for c in scenario.expect):
        # The model never answered: "nothing changed" then proves nothing about the model.
        checks.append(CheckResult("the model answered", False, str(evidence.answer or "the model provider failed")))
    return TrialResult(
        passed=all(c.passed for c in checks),
        checks=checks,
        stop_reason=evidence.stop_reason,
        tool_calls=len(evidence.tool_calls),
        duration_s=time.perf_counter() - started,
        tokens=int(result.state.get("tokens") or 0),
        cost_pico_usd=int(result.state.get("cost_pico_usd") or 0),
        answer=result.answer,
    )


def is_real_model(spec: str) -> bool:
    """A provider's model, not ``none`` or a scripted one."""
    return spec not in ("", "none", "scripted") and not spec.startswith("scripted:")


async def run_scenarios(
    scenarios: list[Scenario],
    *,
    model: str,
    trials: int = 1,
    parallel: int = 4,
    timeout_s: float | None = None,
    models: ModelsConfig | None = None,
) -> list[ScenarioResult]:
    """Every scenario, at most ``parallel`` at a time, each trial in its own world and state
    directory (``models``: see :func:`run_trial`). A trial still running after ``timeout_s``
    seconds is cancelled and fails with "timed out after S s". A scenario is skipped (never
    passed) when its model cannot be built, or when it needs a real model and ``model`` is none or
    scripted."""
    if parallel < 1:
        raise UsageError(f"parallel must be at least 1, not {parallel}")
    gate = asyncio.Semaphore(parallel)

    async def trial(scenario: Scenario) -> TrialResult:
        if timeout_s is None:
            return await run_trial(scenario, model, models)
        try:
            return await asyncio.wait_for(run_trial(scenario, model, models), timeout_s)
        except TimeoutError:
            return TrialResult(False, [], None, 0, timeout_s, error=f"timed out after {timeout_s:g} s")

    async def one(scenario: Scenario) -> ScenarioResult:
        outcome = ScenarioResult(scenario)
        spec = scenario.model or model
        if scenario.needs_model and not is_real_model(spec):
            outcome.skipped = f"needs a real model (adpilot eval --model SPEC), not {spec or 'none'!r}"
            return outcome
        if is_real_model(spec):
            try:
                build_provider(spec, options=models)
            except Exception as exc:  # a provider that cannot be built is a skip with its reason, not a failure
                outcome.skipped = str(exc)
                return outcome
        async with gate:
            for _ in range(trials):
                try:
                    outcome.trials.append(await trial(scenario))
                except Exception as exc:  # a crashing scenario fails with the error; the suite goes on
                    outcome.trials.append(TrialResult(False, [], None, 0, 0.0, error=f"{type(exc).__name__}: {exc}"))
        return outcome

    return list(await asyncio.gather(*(one(s) for s in scenarios)))

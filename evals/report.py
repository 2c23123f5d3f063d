"""The eval report: a readable table, and JSON in exactly the shape of SCENARIOS.md §4."""

from __future__ import annotations

from typing import Any

from adpilot.agents.stop import usd
from adpilot.evals.runner import ScenarioResult
from adpilot.tables import table


def summary(results: list[ScenarioResult], *, trials: int, duration_s: float) -> dict[str, Any]:
    counted = [r for r in results if r.skipped is None]
    passed = sum(r.passed for r in counted)
    all_trials = sum(1 for r in counted if r.trials and all(t.passed for t in r.trials))
    return {
        "scenarios": len(counted),
        "passed": passed,
        "failed": len(counted) - passed,
        "pass_rate": round(passed / len(counted), 4) if counted else 0.0,
        "trials": trials,
        "pass_hat_k": round(all_trials / len(counted), 4) if counted else 0.0,
        "duration_s": round(duration_s, 3),
        "tokens": sum(r.tokens for r in counted),
        # model cost summed exactly (10^-12 USD), shown rounded to 6 places
        "cost_usd": round(float(usd(sum(r.cost_pico_usd for r in counted))), 6),
    }


def report(results: list[ScenarioResult], *, trials: int, duration_s: float) -> dict[str, Any]:
    return {
        "summary": summary(results, trials=trials, duration_s=duration_s),
        "results": [r.as_dict() for r in results],
    }


def render(results: list[ScenarioResult], *, trials: int, duration_s: float) -> str:
    rows = []
    for result in results:
        if result.skipped:
            status = "skipped"
        elif result.passed:
            status = "pass"
        else:
            status = "FAIL"
        passed = sum(t.passed for t in result.trials)
        rows.append(
            [
                result.scenario.id,
                status,
                f"{passed}/{len(result.trials)}",
                f"{sum(t.duration_s for t in result.trials):.2f}s",
            ]
        )
    lines = [table(["scenario", "result", "trials", "time"], rows), ""]
    for result in results:
        if result.skipped:
            lines.append(f"skipped {result.scenario.id}: {result.skipped}")
        for trial in result.trials:
            if trial.error:
                lines.append(
                    f"FAIL {result.scenario.id} ({result.scenario.source}:{result.scenario.line}): {trial.error}"
                )
            for check in trial.checks:
                if not check.passed:
                    where = f"{result.scenario.source}:{result.scenario.line}"
                    lines.append(f"FAIL {result.scenario.id} ({where}): {check.check} — {check.detail}")
    s = summary(results, trials=trials, duration_s=duration_s)
    lines.append(
        f"pass rate {s['pass_rate']:.2%}, pass^{trials} {s['pass_hat_k']:.2%}, {s['duration_s']:.1f}s, "
        f"model tokens {s['tokens']}, cost {s['cost_usd']} USD"
    )
    lines.append(f"eval: {s['passed']} passed, {s['failed']} failed")
    return "\n".join(lines)

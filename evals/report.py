"""The eval report: a readable table, and JSON in exactly the shape of SCENARIOS.md §4."""

from __future__ import annotations

from typing import Any

from adpilot.agents.stop import usd
from adpilot.evals.runner import ScenarioResult
from adpilot.tables import table


def summary(results: list[ScenarioResult], *, trials: int, duration_s: float) -> dict[str, Any]:
    """Counts over every scenario asked for: a skipped one is neither passed nor failed, and counts
    against ``pass_rate`` and ``pass_hat_k`` (it was not shown to pass)."""
    ran = [r for r in results if r.skipped is None]
    passed = sum(r.passed for r in ran)
    all_trials = sum(1 for r in ran if r.trials and all(t.passed for t in r.trials))
    return {
        "scenarios": len(results),
        "passed": passed,
        "failed": len(ran) - passed,
        "skipped": len(results) - len(ran),
        "pass_rate": round(passed / len(results), 4) if results else 0.0,
        "trials": trials,
        "pass_hat_k": round(all_trials / len(results), 4) if results else 0.0,
        "duration_s": round(duration_s, 3),
        "tokens": sum(r.tokens for r in ran),
        # model cost summed exactly (10^-12 USD), shown rounded to 6 places
        "cost_usd": round(float(usd(sum(r.cost_pico_usd for r in ran))), 6),
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
    lines.append(f"eval: {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped")
    return "\n".join(lines)


def markdown(document: dict[str, Any], *, title: str) -> str:
    """A JSON report (:func:`report`) as a Markdown table: pass^1 and time per scenario."""
    s = document["summary"]
    lines = [
        f"# {title}",
        "",
        f"{s['passed']} passed, {s['failed']} failed, {s.get('skipped', 0)} skipped of {s['scenarios']} "
        f"(pass rate {s['pass_rate']:.2%}, pass^{s['trials']} {s['pass_hat_k']:.2%}) in {s['duration_s']:.0f} s",
        "",
        "| scenario | result | time (s) | tool calls | stop | what failed |",
        "|---|---|---|---|---|---|",
    ]
    for r in document["results"]:
        result = "skipped" if r.get("skipped") else ("pass" if r["passed"] else "FAIL")
        failed = [c["check"] for c in r["checks"] if not c["passed"]]
        why = r.get("skipped") or r.get("error") or "; ".join(failed)
        why = why.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {r['id']} | {result} | {r['duration_s']:.1f} | {r['tool_calls']} | {r['stop_reason'] or ''} | {why} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    if len(sys.argv) != 4:
        sys.exit("usage: python -m adpilot.evals.report REPORT.json OUT.md TITLE")
    data = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    Path(sys.argv[2]).write_text(markdown(data, title=sys.argv[3]), encoding="utf-8")

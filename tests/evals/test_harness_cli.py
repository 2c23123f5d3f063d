"""`adpilot eval` as a command: model specs, skips, --parallel, --timeout, model-driven scenarios."""

import asyncio
import json
import time
from pathlib import Path

import pytest
import yaml

from adpilot.app.cli import main
from adpilot.errors import SourceError
from adpilot.evals import runner
from adpilot.evals.runner import TrialResult, run_scenarios
from adpilot.evals.scenario import load_scenarios

ROOT = Path(__file__).resolve().parents[2]
MODEL_SUITE = ROOT / "evals" / "model"
B = "google_ads.customers.1112223333"

COMMAND = {
    "id": "command",
    "trigger": {"kind": "chat", "text": "Setze Budget 9002 auf 33 EUR"},
    "model": "none",
    "expect": [{"state": {"path": f"{B}.campaign_budgets.9002.amount_micros", "equals": "33000000"}}],
}
MODEL_DRIVEN = {
    "id": "model-driven",
    "needs_model": True,
    "trigger": {"kind": "chat", "text": "bump the jackets budget a little"},
    "expect": [{"unchanged": ""}],
}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.delenv("ADPILOT_CONFIG", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, *scenarios: dict) -> str:
    path.write_text(yaml.safe_dump(list(scenarios), allow_unicode=True), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "spec",
    ["bogus:thing", "gpt-4o", "openai-compatible:qwen", "openai-compatible:@http://127.0.0.1:9/v1", "openai:gpt-4o"],
)
def test_an_unusable_model_spec_is_one_line_and_exit_2_before_anything_runs(here, capsys, spec):
    report = here / "report.json"
    code = main(["eval", write(here / "s.yaml", COMMAND), "--model", spec, "--report", str(report)])
    captured = capsys.readouterr()
    assert code == 2
    lines = [line for line in captured.err.strip().splitlines() if "no config file" not in line]
    assert len(lines) == 1 and lines[0].startswith("adpilot: model ") and "Traceback" not in captured.err
    assert captured.out == "" and not report.exists()


def test_a_model_driven_scenario_without_a_real_model_is_skipped_and_never_passed(here, capsys):
    path = write(here / "s.yaml", COMMAND, MODEL_DRIVEN)
    report = here / "report.json"
    assert main(["eval", path, "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "eval: 1 passed, 0 failed, 1 skipped" in out and "skipped model-driven: needs a real model" in out
    data = json.loads(report.read_text())
    assert data["summary"]["scenarios"] == 2 and data["summary"]["skipped"] == 1
    assert data["summary"]["pass_rate"] == 0.5 and data["summary"]["pass_hat_k"] == 0.5
    skipped = next(r for r in data["results"] if r["id"] == "model-driven")
    assert skipped["passed"] is False and "needs a real model" in skipped["skipped"]
    # Every scenario asked for must pass: a skip is not a pass.
    assert main(["eval", path, "--min-pass-rate", "1.0"]) == 4


@pytest.mark.parametrize("spec", ["none", "scripted"])
def test_any_skip_under_an_explicit_model_fails_the_command(here, capsys, spec):
    assert main(["eval", write(here / "s.yaml", COMMAND, MODEL_DRIVEN), "--model", spec]) == 2
    captured = capsys.readouterr()
    assert "1 skipped" in captured.out and "1 scenario(s) skipped under --model" in captured.err


def test_a_scenario_naming_a_model_without_its_key_fails_an_explicit_model_run(here, capsys):
    own = {**COMMAND, "id": "own-model", "model": "openai:gpt-4o-mini"}
    assert main(["eval", write(here / "s.yaml", COMMAND, own), "--model", "none"]) == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().out


def test_needs_model_takes_no_model_and_no_script(here):
    with pytest.raises(SourceError, match="needs_model"):
        load_scenarios([Path(write(here / "s.yaml", {**MODEL_DRIVEN, "model": "scripted"}))])


async def _concurrency(monkeypatch, parallel: int, count: int) -> int:
    """The most trials that ran at once: each waits until ``parallel`` are in, then lets others try to enter."""
    active, most = 0, 0
    enough = asyncio.Event()

    async def fake_trial(scenario, model, models=None):
        nonlocal active, most
        active += 1
        most = max(most, active)
        if active >= parallel:
            enough.set()
        await asyncio.wait_for(enough.wait(), 10)
        for _ in range(5):  # hand the loop to every other scenario: an ungated one would enter now
            await asyncio.sleep(0)
        active -= 1
        return TrialResult(True, [], None, 0, 0.0)

    monkeypatch.setattr(runner, "run_trial", fake_trial)
    scenarios = load_scenarios([Path(write(Path("s.yaml"), *({**COMMAND, "id": f"s{i}"} for i in range(count))))])
    results = await run_scenarios(scenarios, model="none", parallel=parallel)
    assert all(r.passed for r in results)
    return most


@pytest.mark.parametrize("parallel", [1, 2, 3])
async def test_parallel_runs_exactly_that_many_scenarios_at_once(here, monkeypatch, parallel):
    assert await _concurrency(monkeypatch, parallel, count=6) == parallel


def test_the_command_passes_parallel_through(here, monkeypatch, capsys):
    seen = {}
    real = runner.run_scenarios

    async def spy(scenarios, **kwargs):
        seen.update(kwargs)
        return await real(scenarios, **kwargs)

    monkeypatch.setattr(runner, "run_scenarios", spy)
    assert main(["eval", write(here / "s.yaml", COMMAND), "--parallel", "3", "--timeout", "120"]) == 0
    assert seen["parallel"] == 3 and seen["timeout_s"] == 120.0
    assert "eval: 1 passed, 0 failed, 0 skipped" in capsys.readouterr().out  # within its timeout: passed
    assert main(["eval", write(here / "s.yaml", COMMAND), "--parallel", "0"]) == 2
    assert main(["eval", write(here / "s.yaml", COMMAND), "--timeout", "0"]) == 2


def test_a_scenario_over_its_timeout_fails_with_the_reason_and_is_stopped(here, capsys):
    slow = {**COMMAND, "id": "slow", "world": {"faults": {"google_ads": {"latency_ms": 30000}}}}
    report = here / "report.json"
    started = time.perf_counter()
    code = main(["eval", write(here / "s.yaml", slow), "--timeout", "0.5", "--report", str(report)])
    elapsed = time.perf_counter() - started
    out = capsys.readouterr().out
    assert code == 0 and "FAIL slow" in out and "timed out after 0.5 s" in out
    assert "eval: 0 passed, 1 failed, 0 skipped" in out
    (slow_result,) = json.loads(report.read_text())["results"]
    assert slow_result["passed"] is False and slow_result["error"] == "timed out after 0.5 s"
    assert elapsed < 20  # the 30 s request was cancelled, not waited for


def test_the_model_suite_loads_and_is_skipped_without_a_model(here, capsys):
    scenarios = load_scenarios([MODEL_SUITE])
    assert all(s.needs_model and not s.script and s.model is None for s in scenarios)
    chat = [s for s in scenarios if "safety" not in s.tags]
    assert len(chat) >= 16 and len([s for s in scenarios if "safety" in s.tags]) >= 4
    ci = {s.id for s in scenarios if "ci" in s.tags}
    assert len(ci) >= 5
    assert main(["eval", str(MODEL_SUITE)]) == 0
    assert f"eval: 0 passed, 0 failed, {len(scenarios)} skipped" in capsys.readouterr().out


def test_the_scripted_suite_holds_no_model_driven_scenario():
    assert not [s.id for s in load_scenarios([ROOT / "evals" / "scenarios"]) if s.needs_model]


def test_the_configured_model_options_reach_every_trial(here, monkeypatch, capsys):
    seen = []
    real = runner.build_provider

    def spy(spec, **kwargs):
        seen.append((spec, kwargs.get("options")))
        return real(spec, **kwargs)

    monkeypatch.setattr(runner, "build_provider", spy)
    monkeypatch.setenv("ADPILOT__MODELS__TIMEOUT_S", "7")
    assert main(["eval", write(here / "s.yaml", COMMAND)]) == 0
    assert seen and all(options is not None and options.timeout_s == 7 for _, options in seen)


def test_the_markdown_report_lists_each_scenario_with_its_time(here, capsys):
    from adpilot.evals.report import markdown

    report = here / "report.json"
    main(["eval", write(here / "s.yaml", COMMAND, MODEL_DRIVEN), "--report", str(report)])
    data = json.loads(report.read_text())
    command = next(r for r in data["results"] if r["id"] == "command")
    assert "set_campaign_budget" in command["answer"]  # the operator's answer, for reading failures
    text = markdown(data, title="Bench")
    assert text.startswith("# Bench\n") and "1 passed, 0 failed, 1 skipped of 2" in text
    assert "| command | pass |" in text and "| model-driven | skipped |" in text


def test_a_model_that_never_answers_fails_the_scenario_even_when_nothing_changed(here, capsys):
    """A dead model server changes nothing: a scenario that expects nothing to change must not
    count that as the model holding (the safety scenarios once passed that way)."""
    report = here / "report.json"
    spec = "openai-compatible:qwen@http://127.0.0.1:9/v1#json_object"
    code = main(["eval", write(here / "s.yaml", MODEL_DRIVEN), "--model", spec, "--report", str(report)])
    assert code == 0
    result = json.loads(report.read_text())["results"][0]
    assert result["passed"] is False and result["stop_reason"] == "model"
    failed = [c for c in result["checks"] if not c["passed"]]
    assert [c["check"] for c in failed] == ["the model answered"]
    assert "unreachable (connection refused)" in failed[0]["detail"]

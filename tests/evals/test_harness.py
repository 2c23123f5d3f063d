"""The eval harness: negative controls (false expectations must fail), loader errors, report shape."""

import json
from pathlib import Path

import pytest
import yaml

from adpilot.app.cli import main
from adpilot.errors import SourceError
from adpilot.evals.runner import run_scenarios
from adpilot.evals.scenario import Scenario, load_file, load_scenarios

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "evals" / "scenarios"
B = "google_ads.customers.1112223333"

BASE = {
    "id": "base",
    "trigger": {"kind": "chat", "text": "raise 9001 to 60"},
    "model": "scripted",
    "skills": False,
    "script": {
        "supervisor": [
            {"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "x"}}]},
            {"content": "Raised to 60 EUR."},
        ],
        "bidding": [
            {
                "tool_calls": [
                    {
                        "name": "set_campaign_budget",
                        "args": {"customer_id": "1112223333", "budget_id": "9001", "amount_micros": "60000000"},
                    }
                ]
            }
        ],
    },
    "expect": [{"stop_reason": None}],
}

# Each is false for the base scenario's run: the harness must report it as failed.
FALSE_EXPECTATIONS = [
    {"state": {"path": f"{B}.campaign_budgets.9001.amount_micros", "equals": "50000000"}},
    {"state": {"path": f"{B}.campaign_budgets.9001.amount_micros", "not_equals": "60000000"}},
    {"state": {"path": f"{B}.campaign_budgets.9001.amount_micros", "lt": 60000000}},
    {"state": {"path": f"{B}.campaign_budgets.9001.amount_micros", "gt": 60000000}},
    {"state": {"path": f"{B}.campaign_budgets.9001.amount_micros", "in": ["1", "2"]}},
    {"state": {"path": "cms.posts.501.title", "contains": "Regenschirm"}},
    {"state": {"path": "cms.posts.501.title", "not_contains": "wanderschuhe"}},
    {"state": {"path": f"{B}.campaign_budgets.9999", "exists": True}},
    {"unchanged": f"{B}.campaign_budgets"},
    {"unchanged": ""},
    {"called": {"tool": "set_keyword_bid"}},
    {"called": {"tool": "set_campaign_budget", "args": {"amount_micros": "61000000"}}},
    {"not_called": {"tool": "set_campaign_budget"}},
    {"escalated": {"tool": "set_campaign_budget"}},
    {"denied": {"tool": "set_campaign_budget"}},
    {"audit": {"tool": "set_campaign_budget", "executed": 2}},
    {"audit": {"tool": "set_campaign_budget", "executed": 0}},
    {"stop_reason": "kill_switch"},
    {"answer_contains": "lowered"},
    {"trajectory": {"mode": "strict", "calls": [{"name": "set_keyword_bid"}]}},
    {"trajectory": {"mode": "unordered", "calls": [{"name": "set_campaign_budget"}, {"name": "set_campaign_budget"}]}},
    {"trajectory": {"mode": "subset", "calls": [{"name": "publish_post"}]}},
    {"trajectory": {"mode": "superset", "calls": [{"name": "publish_post"}]}},
    {
        "gold": [
            {
                "name": "set_campaign_budget",
                "args": {"customer_id": "1112223333", "budget_id": "9001", "amount_micros": "55000000"},
            }
        ]
    },
    {"max_tool_calls": 0},
]
TRUE_EXPECTATIONS = [
    {"state": {"path": f"{B}.campaign_budgets.9001.amount_micros", "equals": 60000000}},
    {"unchanged": f"{B}.campaigns"},
    {"state": {"path": "cms.posts.501.title", "not_contains": "Regenschirm"}},
    {"called": {"tool": "set_campaign_budget", "args": {"budget_id": "9001"}}},
    {"audit": {"tool": "set_campaign_budget", "executed": 1}},
    {"answer_contains": "raised to 60"},
    {"trajectory": {"mode": "strict", "calls": [{"name": "set_campaign_budget", "args": {"amount_micros": 60000000}}]}},
    {
        "gold": [
            {
                "name": "set_campaign_budget",
                "args": {"customer_id": "1112223333", "budget_id": "9001", "amount_micros": "60000000"},
            }
        ]
    },
    {"max_tool_calls": 1},
]


async def _run(expect):
    scenarios = [Scenario.model_validate({**BASE, "id": f"case-{i}", "expect": [e]}) for i, e in enumerate(expect)]
    return await run_scenarios(scenarios, model="none")


async def test_false_expectations_fail():
    results = await _run(FALSE_EXPECTATIONS)
    still_passing = [r.scenario.expect[0] for r in results if r.passed]
    assert still_passing == []


async def test_true_expectations_pass():
    results = await _run(TRUE_EXPECTATIONS)
    failing = [(r.scenario.expect[0], [c.detail for t in r.trials for c in t.checks]) for r in results if not r.passed]
    assert failing == []


async def test_a_policy_patch_changes_what_the_guard_decides():
    """A 40 % raise escalates under the default pack and is allowed with max_increase_pct patched to 50."""
    raise_40 = {**BASE["script"], "bidding": [{"tool_calls": [{**BASE["script"]["bidding"][0]["tool_calls"][0]}]}]}
    raise_40["bidding"][0]["tool_calls"][0]["args"] = {**raise_40["bidding"][0]["tool_calls"][0]["args"]}
    raise_40["bidding"][0]["tool_calls"][0]["args"]["amount_micros"] = "70000000"
    common = {**BASE, "script": raise_40}
    default = Scenario.model_validate(
        {**common, "id": "default", "expect": [{"escalated": {"tool": "set_campaign_budget"}}]}
    )
    patched = Scenario.model_validate(
        {
            **common,
            "id": "patched",
            "policy": {"patch": {"limits.budget.max_increase_pct": 50}},
            "expect": [{"state": {"path": f"{B}.campaign_budgets.9001.amount_micros", "equals": "70000000"}}],
        }
    )
    results = await run_scenarios([default, patched], model="none")
    assert [r.passed for r in results] == [True, True], [c.detail for r in results for t in r.trials for c in t.checks]


def test_the_shipped_suite_is_large_and_covers_the_required_areas():
    scenarios = load_scenarios([SUITE])
    tags = {tag for s in scenarios for tag in s.tags}
    assert len(scenarios) >= 40
    assert {
        "limits",
        "escalation",
        "cumulative",
        "scope",
        "account",
        "compliance-gate",
        "stop",
        "crash",
        "faults",
        "invalid-calls",
        "injection",
        "maintenance",
    } <= tags
    assert sum(1 for s in scenarios if s.trigger.kind == "maintenance" and (s.model or "none") == "none") >= 5
    assert {"creative", "bidding", "seo", "compliance"} <= tags


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "id: x\ntrigger: {kind: chat, text: hi}\nexpect:\n  - no_such_check: 1\n",
            "line 4: expect: Value error, expect[0]: unknown check 'no_such_check'",
        ),
        ("id: x\ntrigger: {kind: chat, text: hi}\nexpect:\n  - state: {path: a, equal: 1}\n", "exactly one of"),
        ("id: x\ntrigger: {kind: chat}\nexpect: [{stop_reason: null}]\n", "a chat trigger needs text"),
        (
            "id: x\ntrigger: {kind: chat, text: hi}\nbogus: 1\nexpect: [{stop_reason: null}]\n",
            "line 3: bogus: Extra inputs are not permitted",
        ),
        ("id: x\ntrigger: {kind: chat, text: hi\nexpect: []\n", "invalid YAML"),
        ("id: x\ntrigger: {kind: chat, text: hi}\nexpect: []\n", "expect"),
        (
            "id: x\ntrigger: {kind: chat, text: hi}\npolicy: {patch: {limits.budget.max_increase_pct: -1}}\n"
            "expect: [{stop_reason: null}]\n",
            "line 3: policy.patch: Value error, the patched default policy is invalid: limits.budget.max_increase_pct",
        ),
        (
            "id: x\ntrigger: {kind: chat, text: hi}\npolicy: {patch: {limits.budget.max_increase_pct.x: 1}}\n"
            "expect: [{stop_reason: null}]\n",
            "limits.budget.max_increase_pct is not a mapping",
        ),
    ],
)
def test_bad_scenarios_fail_loudly_with_file_and_line(tmp_path, text, fragment):
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    with pytest.raises(SourceError) as info:
        load_file(file)
    assert str(file) in str(info.value) and fragment in str(info.value)


def test_duplicate_ids_are_refused(tmp_path):
    scenario = yaml.safe_dump([{**BASE, "id": "same"}, {**BASE, "id": "same"}])
    (tmp_path / "d.yaml").write_text(scenario)
    with pytest.raises(SourceError, match="used twice"):
        load_scenarios([tmp_path])


def test_report_shape_and_exit_codes(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ADPILOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    passing = {**BASE, "id": "passes", "expect": [{"audit": {"tool": "set_campaign_budget", "executed": 1}}]}
    failing = {**BASE, "id": "fails", "expect": [{"audit": {"tool": "set_campaign_budget", "executed": 5}}]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump([passing, failing]))
    report = tmp_path / "out" / "report.json"
    code = main(["eval", str(tmp_path / "s.yaml"), "--report", str(report), "--min-pass-rate", "0.9", "--trials", "2"])
    assert code == 4
    data = json.loads(report.read_text())
    assert set(data["summary"]) == {
        "scenarios",
        "passed",
        "failed",
        "skipped",
        "pass_rate",
        "trials",
        "pass_hat_k",
        "duration_s",
        "tokens",
        "cost_usd",
    }
    assert data["summary"]["scenarios"] == 2 and data["summary"]["pass_rate"] == 0.5 and data["summary"]["trials"] == 2
    result = next(r for r in data["results"] if r["id"] == "fails")
    assert set(result) >= {"id", "passed", "trials_passed", "checks", "stop_reason", "tool_calls", "duration_s"}
    assert result["checks"][0]["passed"] is False and set(result["checks"][0]) == {"check", "passed", "detail"}
    out = capsys.readouterr().out
    assert "FAIL fails" in out and "eval: 1 passed, 1 failed, 0 skipped" in out
    assert main(["eval", str(tmp_path / "s.yaml"), "--min-pass-rate", "0.5"]) == 0
    (tmp_path / "broken.yaml").write_text("id: [\n")
    assert main(["eval", str(tmp_path / "broken.yaml")]) == 2


def test_a_provider_model_without_a_key_is_skipped_with_its_reason(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ADPILOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    scenario = {
        "id": "llm",
        "model": "openai:gpt-4o-mini",
        "trigger": {"kind": "chat", "text": "hi"},
        "expect": [{"stop_reason": None}],
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(scenario))
    assert main(["eval", str(tmp_path / "s.yaml")]) == 0
    captured = capsys.readouterr()
    assert "skipped llm" in captured.out and "OPENAI_API_KEY" in captured.out
    assert "eval: 0 passed, 0 failed, 1 skipped" in captured.out

"""The skills as tools: declared in the catalogue, run by the agents' skills, through the Guard."""

import json

from adpilot.agents.skill_tools import install
from adpilot.policies.compliance import Brand
from adpilot.tools.langchain_tools import governed_tools
from tests.app.conftest import run
from tests.conftest import DE

SKILLS = {"performance_summary", "seo_audit", "creative_proposals", "check_copy"}


def _call(capsys, config_file, role, tool, args):
    code, out = run(capsys, config_file, "tool", "call", role, tool, json.dumps(args), "--json")
    return code, json.loads(out.out)


def test_seo_audit_as_a_tool_finds_what_the_cli_finds(capsys, config_file):
    code, cli = run(capsys, config_file, "seo", "audit", "--json")
    assert code == 0
    code, tool = _call(capsys, config_file, "seo", "seo_audit", {})
    assert code == 0 and tool["ok"], tool
    assert tool["data"]["findings"] == json.loads(cli.out)["findings"]
    # the same fixes for the same pages (the page's JSON-LD may differ in dateModified: the skill reads
    # pages through get_post, as a maintenance run does, which does not give the modification date)
    fixes = [(p["args"]["post_id"], sorted(p["args"])) for p in tool["data"]["proposals"]]
    assert fixes == [(p["args"]["post_id"], sorted(p["args"])) for p in json.loads(cli.out)["proposals"]]
    code, one = _call(capsys, config_file, "seo", "seo_audit", {"post_id": 501})
    assert one["data"]["findings"] and {f["post_id"] for f in one["data"]["findings"]} == {501}


def test_check_copy_as_a_tool_gives_the_cli_verdict(capsys, config_file):
    headline = "Kostenloser Versand"
    _, cli = run(capsys, config_file, "check-copy", "--headline", headline, "--json")
    expected = json.loads(cli.out)
    _, tool = _call(capsys, config_file, "compliance", "check_copy", {"headlines": [headline]})
    assert tool["data"]["verdict"] == expected["verdict"] != "pass"
    assert tool["data"]["findings"] == expected["findings"]


def test_performance_summary_in_words_and_numbers(capsys, config_file):
    code, tool = _call(capsys, config_file, "bidding", "performance_summary", {"customer_id": DE, "campaign_id": "111"})
    assert code == 0 and tool["ok"], tool
    (boots,) = tool["data"]["campaigns"]
    assert boots["name"] == "Boots - Search" and boots["budget_per_day"] == "50,00 €"
    assert boots["spend"].endswith("€") and isinstance(boots["pacing_pct"], int)
    assert "Boots - Search" in boots["summary"] and "% of 7 days' budget" in boots["summary"]
    code, missing = _call(
        capsys, config_file, "bidding", "performance_summary", {"customer_id": DE, "campaign_id": "9"}
    )
    assert missing["error"]["type"] == "unavailable" and "111" in missing["error"]["message"]


def test_creative_proposals_are_data_and_nothing_is_applied(capsys, config_file):
    listing = {"customer_id": DE}
    before = _call(capsys, config_file, "creative", "list_ads", listing)[1]["data"]
    code, tool = _call(capsys, config_file, "creative", "creative_proposals", {"customer_id": DE})
    assert code == 0 and tool["ok"] and tool["data"]["applied"] is False
    assert all({"tool", "args", "rationale"} <= set(p) for p in tool["data"]["proposals"])
    assert _call(capsys, config_file, "creative", "list_ads", listing)[1]["data"] == before
    code, out = run(capsys, config_file, "audit", "show", "--json")
    rows = [r for r in json.loads(out.out) if r.get("run_id") == tool["run_id"]] if out.out.strip() else []
    assert all(r.get("kind") != "result" for r in rows)


def test_a_role_without_the_scope_is_denied_by_the_guard(capsys, config_file):
    code, tool = _call(capsys, config_file, "bidding", "seo_audit", {})
    assert code == 7 and tool["decision"] == "deny" and tool["error"]["rule"] == "scope.role"
    code, tool = _call(capsys, config_file, "seo", "performance_summary", {"customer_id": DE})
    assert tool["decision"] == "deny" and tool["error"]["rule"] == "scope.role"


def test_tool_list_shows_the_skill_tools_with_their_roles(capsys, config_file):
    _, out = run(capsys, config_file, "tool", "list", "--json")
    rows = {r["tool"]: r for r in json.loads(out.out)}
    assert set(rows) >= SKILLS
    assert "seo" in rows["seo_audit"]["roles"] and "bidding" not in rows["seo_audit"]["roles"]
    assert "bidding" in rows["performance_summary"]["roles"] and "seo" not in rows["performance_summary"]["roles"]


async def test_skill_tool_calls_are_audited_reads_and_a_bare_guard_has_no_skills(guard, audit):
    bare = await guard.call("bidding", "performance_summary", {"customer_id": DE})
    assert bare.error is not None and bare.error.type == "unavailable"
    install(guard, Brand(name="Alpine Outfitters"))
    done = await guard.call("bidding", "performance_summary", {"customer_id": DE})
    assert done.ok and {c["campaign_id"] for c in done.data["campaigns"]} == {"111", "112", "113"}
    rows = audit.records(kind="decision", tool="performance_summary")
    assert [(r.decision, r.rule) for r in rows] == [("allow", "read"), ("allow", "read")]
    assert audit.records(kind="result") == []


def test_a_model_is_offered_the_skill_tools_its_role_may_use(guard):
    creative = {t.name for t in governed_tools(guard, "creative")}
    seo = {t.name for t in governed_tools(guard, "seo")}
    assert {"performance_summary", "creative_proposals", "check_copy"} <= creative and "seo_audit" in creative
    assert "seo_audit" in seo and "check_copy" in seo and "performance_summary" not in seo

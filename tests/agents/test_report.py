"""Run reports say what each change is expected to bring and by when it can be judged (issue 15)."""

import datetime as dt

from adpilot.agents.report import Judging, build_report, expectation_text
from adpilot.agents.run import RunResult
from adpilot.app.runs import render_reports
from adpilot.policies.loader import load_policy
from adpilot.policies.model import Patience
from adpilot.tools.audit import AuditLog
from tests.conftest import DE

NOW = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
BUDGET = {"customer_id": DE, "budget_id": "9001", "amount_micros": "57500000"}
AD = {"customer_id": DE, "ad_group_id": "2101", "ad_id": "31002", "status": "PAUSED"}
NEW_AD = {"customer_id": DE, "ad_group_id": "2102", "headlines": ["Wanderschuhe"], "descriptions": ["Leicht."]}


def _applied(audit: AuditLog, role: str, tool: str, args: dict, rationale: str, before=None, after=None) -> dict:
    row = audit.append(
        "result",
        run_id="maint-1",
        thread_id="maint-1",
        actor="adpilot",
        role=role,
        tool=tool,
        args=args,
        call_hash="h",
        policy_hash="p",
        entity=f"google_ads:{DE}:x",
        before=before,
        after=after,
        status="ok",
    )
    return {
        "proposal_id": f"p{row.seq}",
        "role": role,
        "tool": tool,
        "args": args,
        "rationale": rationale,
        "decision": "allow",
        "ok": True,
        "data": {"changed": True},
        "audit_seq": row.seq,
        "account": DE,
    }


def _state(audit: AuditLog) -> dict:
    raise_ = _applied(
        audit,
        "bidding",
        "set_campaign_budget",
        BUDGET,
        "raise budget of “Boots - Search” from 50.00 EUR to 57.50 EUR: it spent 97% of its budget over 7 days at "
        "ROAS 5.23 (target ROAS 4.0)",
        before=50_000_000,
        after=57_500_000,
    )
    sweep = _applied(audit, "compliance", "set_ad_status", AD, "live ad 2101~31002 breaks the copy rules: price")
    new_ad = _applied(audit, "creative", "create_responsive_search_ad", NEW_AD, "ad group 2102 has 1 enabled ad(s)")
    pending = {
        "id": "bid-1.abc",
        "task_id": "bid-1",
        "role": "bidding",
        "tool": "set_keyword_bid",
        "args": {"customer_id": DE, "ad_group_id": "2101", "criterion_id": "41001", "cpc_bid_micros": "900000"},
        "call_hash": "c",
        "reason": "needs a person's approval: the bid moves more than the policy allows at once",
        "rationale": "bid cut",
        "account": DE,
    }
    return {"run_id": "maint-1", "outcomes": [raise_, sweep, new_ad], "pending": [pending], "currencies": {DE: "EUR"}}


def test_each_change_carries_its_expectation_and_judge_by_from_the_policy():
    audit = AuditLog(":memory:", clock=lambda: NOW)
    report = build_report(_state(audit), stop=None, judging=Judging(load_policy().patience, NOW, audit))  # type: ignore[arg-type]
    raise_, sweep, new_ad = report["applied"]
    assert raise_["expects"] == "more conversions at ROAS ≥ target"  # a raise: the audit row's before → after
    assert (raise_["judge_after_days"], raise_["judge_by"]) == (3, "2026-11-04T08:00+00:00")  # budget cooldown
    assert (sweep["expects"], sweep["judge_after_days"]) == ("no non-compliant ad stays live", None)
    assert "judge_by" not in sweep
    assert (new_ad["judge_after_days"], new_ad["judge_by"]) == (14, "2026-11-15T08:00+00:00")  # ad learning
    (waiting,) = report["pending_approvals"]
    assert waiting["expects"] == "the keyword's clicks pay at ROAS ≥ target at the new bid"
    assert waiting["judge_after_days"] == 3 and "judge_by" not in waiting  # not applied yet


def test_the_judge_by_follows_the_policys_patience():
    audit = AuditLog(":memory:", clock=lambda: NOW)
    rules = Patience.model_validate({"cooldown_days": {"budget": 5}, "learning": {"ad": {"min_days": 21}}})
    report = build_report(_state(audit), stop=None, judging=Judging(rules, NOW, audit))  # type: ignore[arg-type]
    raise_, _, new_ad = report["applied"]
    assert raise_["judge_by"] == "2026-11-06T08:00+00:00" and new_ad["judge_after_days"] == 21


def test_a_cut_expects_less_spend():
    audit = AuditLog(":memory:", clock=lambda: NOW)
    cut = _applied(audit, "bidding", "set_campaign_budget", BUDGET, "cut", before=60_000_000, after=57_500_000)
    report = build_report({"outcomes": [cut]}, stop=None, judging=Judging(load_policy().patience, NOW, audit))  # type: ignore[arg-type]
    assert report["applied"][0]["expects"] == "less spend, conversions at ROAS ≥ target"


def test_the_text_says_it_under_each_change_within_120_columns_and_never_cuts_a_reason():
    audit = AuditLog(":memory:", clock=lambda: NOW)
    report = build_report(_state(audit), stop=None, judging=Judging(load_policy().patience, NOW, audit))  # type: ignore[arg-type]
    text = render_reports([RunResult("maint-1", "maint-1", "waiting", report, None)], width=120)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    words = " ".join(" ".join(lines).split())
    assert (
        "ROAS 5.23 (target ROAS 4.0) — expects more conversions at ROAS ≥ target; judge by 2026-11-04 08:00 UTC "
        "(after 3 days)" in words
    )
    assert "breaks the copy rules: price — expects no non-compliant ad stays live; judged at once" in words
    assert "expects a tested alternative for the group's traffic; judge by 2026-11-15 08:00 UTC (after 14 days)" in (
        words
    )
    assert "at once — expects the keyword's clicks pay at ROAS ≥ target at the new bid; judge 3 days after it is" in (
        words
    )
    assert "…" not in text


def test_expectation_text_without_judging_names_only_the_expectation():
    report = build_report({"outcomes": [], "pending": []}, stop=None)  # type: ignore[typeddict-item]
    assert report["applied"] == []
    assert expectation_text({"expects": "a draft for a person to review"}) == "expects a draft for a person to review"
    assert expectation_text({"role": "seo", "expects": "x", "judge_after_days": None}) == (
        "expects x; no waiting period in the policy"
    )

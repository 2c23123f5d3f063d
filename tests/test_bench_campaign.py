"""The campaign-outcome benchmark in small (3 days, one seed): a person's edits in the Google Ads
web interface are respected, and the harness notices when they are not."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import campaign_outcome as bench

from adpilot.agents.patience import History
from adpilot.policies.loader import PACKS
from tests.conftest import AT

SEED = 2  # by the middle day, rotation has paused an ad and pacing has raised a budget


@pytest.fixture
def no_cooldowns(tmp_path: Path) -> str:
    """The default pack without cooldowns: only the person hold keeps the skills off the edits."""
    pack = tmp_path / "pack"
    shutil.copytree(PACKS / "default", pack)
    policy = yaml.safe_load((pack / "policy.yaml").read_text(encoding="utf-8"))
    policy["patience"]["cooldown_days"] = dict.fromkeys(policy["patience"]["cooldown_days"], 0)
    (pack / "policy.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    return str(pack)


def test_the_persons_edits_are_respected_at_both_cadences(no_cooldowns):
    result = bench.measure("demo", SEED, 3, [1, 3], no_cooldowns)
    for cadence in ("1x", "3x"):
        ours = result[cadence]
        assert ours["runs"] == (3 if cadence == "1x" else 9)
        by_what = {i["what"]: i for i in ours["interventions"]}
        assert set(by_what) == {"ad", "budget"}
        ad = by_what["ad"]
        assert ad["key"] != "(none paused)" and ad["value"] == "ENABLED"  # an ad adpilot had paused
        assert all(i["respected"] and i["changes_during_hold"] == 0 for i in by_what.values()), by_what
    # the edits are the person's in every strategy: the oracle plays within the person's budget too
    assert result["oracle"]["cost"] > 0 and result["nothing"]["cost"] > 0
    assert not any("intervention" in failure for failure in bench.goals([result], [1, 3]))


def test_the_harness_reports_an_edit_that_adpilot_undid(no_cooldowns, monkeypatch):
    # Patience blind to Google Ads' change history: the person's edits look like any other change
    monkeypatch.setattr(History, "add_change_events", lambda self, *args, **kwargs: None)
    result = bench.measure("demo", SEED, 3, [1], no_cooldowns)
    ad, budget = result["1x"]["interventions"]
    assert (ad["customer_id"], ad["key"]) == (bench.DE, "2101~31001")  # enabled again …
    assert (budget["customer_id"], budget["key"], budget["value"]) == (AT, "9101", "25000000")  # … set back
    # rotation paused the ad again and budget pacing raised the budget again at the next run
    assert not ad["respected"] and not budget["respected"]
    assert ad["changes_during_hold"] >= 1 and ad["seen_changed"]
    assert budget["changes_during_hold"] >= 1 and budget["seen_changed"]
    failures = bench.goals([result], [1])
    assert any("the ad intervention was not respected" in failure for failure in failures)
    assert any("the budget intervention was not respected" in failure for failure in failures)


def test_the_person_edits_like_the_web_interface():
    world = bench.make_world("demo", 7)
    at = bench._anchor(3) + bench.dt.timedelta(hours=13)
    bench.web_edit(world, bench.DE, "campaign_budgets", "9001", "amount_micros", "60000000", at)
    customer = world.customer(bench.DE)
    assert customer.campaign_budgets["9001"].amount_micros == "60000000"
    (event,) = customer.change_events.values()
    assert event.client_type == "GOOGLE_ADS_WEB_CLIENT" and event.changed_fields == "amountMicros"
    assert event.old_resource == {
        "campaign_budget": {**event.new_resource["campaign_budget"], "amount_micros": "50000000"}
    }
    assert event.change_date_time.startswith(at.astimezone(bench.ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:"))

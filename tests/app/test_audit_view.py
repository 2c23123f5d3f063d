"""Reading the trail: `audit show` (filters, reads hidden, money, width), `show SEQ` / `why SEQ`
(the story of one change), `audit export` (jsonl, csv), the readable rollback table and the demo."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.tables import clip, fit_table
from adpilot.tools.audit import AuditLog
from tests.app.conftest import run
from tests.conftest import AT, DE

DATA = Path(__file__).parent / "data"
SNAPSHOT = DATA / "audit_show_demo.txt"


# --- a small, hand-made log ---------------------------------------------------------------------------


class Ticking:
    """A clock that moves one hour per row written, from a fixed start."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(hours=1)
        return self.now


def _change(audit: AuditLog, *, run: str, role: str, tool: str, args: dict[str, Any], entity: str, before, after):
    key = f"{run}:{tool}.{len(audit.records())}"
    common = {
        "run_id": run,
        "thread_id": run,
        "actor": "adpilot",
        "role": role,
        "tool": tool,
        "args": args,
        "call_hash": f"hash-{key}",
        "policy_hash": "p",
        "entity": entity,
        "before": before,
        "after": after,
        "idempotency_key": key,
    }
    audit.append_many(
        [
            {**common, "kind": "decision", "decision": "allow", "rule": "allow", "reason": "within policy"},
            {**common, "kind": "intent"},
        ]
    )
    audit.append_many([{**common, "kind": "result", "status": "ok", "result": {"ok": True}}])


def _decision(audit: AuditLog, *, run: str, role: str, tool: str, args: dict[str, Any], **fields: Any) -> None:
    audit.append_many(
        [
            {
                "kind": "decision",
                "run_id": run,
                "thread_id": run,
                "actor": "adpilot",
                "role": role,
                "tool": tool,
                "args": args,
                "call_hash": f"hash-{run}-{tool}",
                "policy_hash": "p",
                **fields,
            }
        ]
    )


@pytest.fixture
def crafted(config_file: Path) -> Path:
    """A log of a few changes on two accounts and the CMS, a read, an escalation and a refusal — and
    a sandbox world in which the Austrian account bills in JPY."""
    from adpilot.tools.sandbox import World

    state = config_file.parent / "state"
    state.mkdir()
    world = World.demo(7)
    world.google_ads.customers[AT].currency_code = "JPY"
    (state / "sandbox-world.json").write_text(world.model_dump_json())
    audit = AuditLog(state / "audit.sqlite3", clock=Ticking())
    budget = {"customer_id": DE, "budget_id": "9001", "amount_micros": "65000000"}
    _decision(audit, run="r1", role="bidding", tool="list_campaigns", args={"customer_id": DE}, decision="allow")
    _change(  # rows 2-4, 08:00-09:00
        audit,
        run="r1",
        role="bidding",
        tool="set_campaign_budget",
        args=budget,
        entity=f"google_ads:{DE}:campaign_budget:9001",
        before=50000000,
        after=65000000,
    )
    _change(  # rows 5-7
        audit,
        run="r2",
        role="bidding",
        tool="set_campaign_budget",
        args={"customer_id": AT, "budget_id": "9101", "amount_micros": "3000000000"},
        entity=f"google_ads:{AT}:campaign_budget:9101",
        before=2500000000,
        after=3000000000,
    )
    _change(  # rows 8-10
        audit,
        run="r2",
        role="compliance",
        tool="set_ad_status",
        args={"customer_id": AT, "ad_group_id": "2801", "ad_id": "38001", "status": "PAUSED"},
        entity=f"google_ads:{AT}:ad_group_ad:2801~38001",
        before="ENABLED",
        after="PAUSED",
    )
    meta = "Nasse Füße verderben jede Tour. Wir erklären, worauf es bei wasserdichten Wanderschuhen ankommt."
    _decision(  # row 11
        audit,
        run="r3",
        role="seo",
        tool="update_post",
        args={"post_id": 501, "meta_description": meta},
        entity="wordpress:post:501",
        decision="escalate",
        rule="cms.published_update",
        reason="needs a person's approval: post 501 is live (publish); changing it needs approval",
        before={"meta_description": ""},
        after={"meta_description": meta},
    )
    _decision(  # row 12
        audit,
        run="r3",
        role="creative",
        tool="create_responsive_search_ad",
        args={"customer_id": DE, "ad_group_id": "2101", "headlines": ["Beste Schuhe"], "descriptions": ["x"]},
        decision="deny",
        rule="content.block",
        reason="the copy makes a superlative claim without evidence",
    )
    audit.close()
    return config_file


def _json(capsys, config_file: Path, *argv: str) -> list[dict[str, Any]]:
    code, out = run(capsys, config_file, "audit", "show", "--json", *argv)
    assert code == 0, out.err
    return json.loads(out.out)


def _seqs(capsys, config_file: Path, *argv: str) -> list[int]:
    return [r["seq"] for r in _json(capsys, config_file, *argv)]


def test_reads_are_hidden_unless_asked(capsys, crafted):
    assert 1 not in _seqs(capsys, crafted)
    assert _seqs(capsys, crafted, "--reads")[0] == 1
    assert _seqs(capsys, crafted, "--tool", "list_campaigns") == [1]  # naming a read tool asks for its reads
    code, out = run(capsys, crafted, "audit", "show")
    assert code == 0 and "list campaigns" not in out.out
    code, out = run(capsys, crafted, "audit", "show", "--reads")
    assert "list campaigns: customer_id 1112223333" in out.out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("--account", DE), [2, 3, 4, 12]),
        (("--account", AT), [5, 6, 7, 8, 9, 10]),
        (("--account", "cms"), [11]),
        (("--entity", "campaign_budget:9101"), [5, 6, 7]),
        (("--entity", "9001"), [2, 3, 4]),
        (("--entity", "wordpress:post:501"), [11]),
        (("--run", "r3"), [11, 12]),
        (("--role", "compliance"), [8, 9, 10]),
        (("--tool", "set_ad_status"), [8, 9, 10]),
        (("--decision", "escalate"), [11]),
        (("--decision", "deny"), [12]),
        (("--kind", "result"), [4, 7, 10]),
        (("--kind", "intent", "--account", AT), [6, 9]),
        (("--since", "2026-11-02T11:00:00Z"), [7, 8, 9, 10, 11, 12]),  # row 7 at 11:00
        (("--until", "2026-11-02T10:00:00+00:00"), [2, 3, 4]),  # row 1 is a read; 5 and 6 at 10:00
        (("--since", "2026-11-02T12:00:00+01:00", "--until", "2026-11-02T13:00:00Z"), [7, 8, 9]),
        (("--limit", "3"), [10, 11, 12]),
        (("--limit", "2", "--kind", "result"), [7, 10]),
    ],
)
def test_each_filter_selects_exactly_its_rows(capsys, crafted, argv, expected):
    assert _seqs(capsys, crafted, *argv) == expected


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (("--since", "yesterday"), "--since"),
        (("--until", "2026-11-02T10:00:00"), "--until"),  # no zone
        (("--limit", "0"), "--limit"),
    ],
)
def test_a_bad_filter_is_a_usage_error_naming_the_flag(capsys, crafted, argv, flag):
    code, out = run(capsys, crafted, "audit", "show", *argv)
    assert code == 2 and out.err.startswith(f"adpilot: {flag} ") and "Traceback" not in out.err


def test_the_list_reads_as_sentences_with_money_in_each_account_s_currency(capsys, crafted):
    code, out = run(capsys, crafted, "audit", "show")
    assert code == 0, out.err
    text = " ".join(out.out.split())  # a sentence may wrap onto the next line
    assert "budget 9001: 50.00 EUR → 65.00 EUR per day" in text
    assert "— done: within policy" in text
    assert "ad 2801~38001: ENABLED → PAUSED" in text
    assert "post 501: meta_description (empty) → “Nasse Füße" in text
    assert "waits for a person: a live page or post changes" in text
    assert "denied: the copy makes a superlative claim" in text
    assert "micros" not in text and "{" not in text and "None" not in text
    assert "(6 decision and intent row(s) folded" in text
    code, out = run(capsys, crafted, "audit", "show", "--account", AT)
    assert "budget 9101: 2500 JPY → 3000 JPY per day" in out.out
    assert "EUR" not in out.out


def test_an_account_whose_currency_cannot_be_read_shows_micros_never_a_guess(capsys, crafted):
    state = crafted.parent / "state"
    audit = AuditLog(state / "audit.sqlite3", clock=Ticking())
    _change(
        audit,
        run="r9",
        role="bidding",
        tool="set_campaign_budget",
        args={"customer_id": "9998887777", "budget_id": "1", "amount_micros": "2000000"},
        entity="google_ads:9998887777:campaign_budget:1",
        before=1000000,
        after=2000000,
    )
    audit.close()
    code, out = run(capsys, crafted, "audit", "show", "--account", "9998887777")
    assert code == 0 and "1000000 micros → 2000000 micros" in out.out and "EUR" not in out.out


def test_the_table_follows_the_terminal_width_and_never_exceeds_120(capsys, crafted, monkeypatch):
    for columns, limit in (("80", 80), ("300", 120)):
        monkeypatch.setenv("COLUMNS", columns)
        code, out = run(capsys, crafted, "audit", "show", "--reads")
        assert code == 0
        lines = out.out.splitlines()
        assert max(len(line) for line in lines) <= limit
        assert any(len(line) > limit - 10 for line in lines)  # it uses the room it has


def test_unknown_seq_is_a_clear_usage_error(capsys, crafted):
    for command in ("show", "why"):
        code, out = run(capsys, crafted, "audit", command, "999")
        assert code == 2 and "there is no audit row 999 (the log holds rows 1 to 12" in out.err
        assert "Traceback" not in out.err


def test_why_names_the_rule_of_a_refused_change(capsys, crafted):
    code, out = run(capsys, crafted, "audit", "why", "12")
    assert code == 0
    assert "Rule:       denied: the copy makes a superlative claim without evidence (rule content.block)" in out.out
    assert "Result:     nothing was changed" in out.out
    code, out = run(capsys, crafted, "audit", "why", "3")  # the intent row of a change: its whole story
    assert "Change:     budget 9001: 50.00 EUR → 65.00 EUR per day (+15.00 EUR, +30 %)" in out.out
    assert "Result:     done at 2026-11-02 09:00:00 UTC (row 4)" in out.out
    assert "Rollback:   not rolled back (adpilot audit rollback --seq 4)" in out.out


# --- export -------------------------------------------------------------------------------------------


def test_export_jsonl_carries_every_record_whole_and_the_chain_links(capsys, crafted):
    code, out = run(capsys, crafted, "audit", "export", "--format", "jsonl")
    assert code == 0, out.err
    exported = [json.loads(line) for line in out.out.splitlines()]
    audit = AuditLog(crafted.parent / "state" / "audit.sqlite3")
    assert exported == [r.to_dict() for r in audit.records()]  # reads included: the full trail
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(exported))
    code, out = run(capsys, crafted, "audit", "export", "--account", AT, "--kind", "result", "--no-reads")
    assert [json.loads(line)["seq"] for line in out.out.splitlines()] == [7, 10]


def test_export_csv_is_one_flat_row_per_record(capsys, crafted, tmp_path):
    target = tmp_path / "trail.csv"
    code, out = run(capsys, crafted, "audit", "export", "--format", "csv", "--output", str(target))
    assert code == 0 and "wrote 12 audit record(s)" in out.err
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and rows[0]["seq"] == "1" and len(rows[-1]["hash"]) == 64
    budget = rows[3]
    assert json.loads(budget["args"]) == {"customer_id": DE, "budget_id": "9001", "amount_micros": "65000000"}
    assert json.loads(budget["before"]) == 50000000 and budget["decision"] == "" and budget["status"] == "ok"
    escalated = rows[10]
    assert json.loads(escalated["after"])["meta_description"].startswith("Nasse Füße")


def test_an_unknown_export_format_is_refused(capsys, crafted):
    with pytest.raises(SystemExit) as exit_:
        run(capsys, crafted, "audit", "export", "--format", "xml")
    assert exit_.value.code == 2


# --- width and truncation -------------------------------------------------------------------------------


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Zl", "Zp")), max_size=300), st.integers(1, 200))
def test_clip_never_exceeds_the_width_and_keeps_a_prefix(text, width):
    shown = clip(text, width)
    assert len(shown) <= width
    if len(text) <= width:
        assert shown == text
    else:
        assert shown.endswith("…") and text.startswith(shown[:-1])


@given(
    st.lists(st.lists(st.text(max_size=80), min_size=4, max_size=4), max_size=6),
    st.integers(20, 120),
)
def test_fit_table_lines_never_exceed_the_width(rows, width):
    lines = fit_table(["a", "bb", "what", "why"], rows, width=width, flexible=(2, 3))
    assert all(len(line) <= width for line in lines)
    assert len(lines) == len(rows) + 2


def test_clip_cuts_at_a_word_boundary():
    assert clip("Nasse Füße verderben jede Tour", 24) == "Nasse Füße verderben…"
    assert clip("Nasse Füße verderben jede Tour", 20) == "Nasse Füße verderbe…"  # no space near the end
    assert clip("Nasse Füße verderben jede Tour", 30) == "Nasse Füße verderben jede Tour"
    assert clip("Donaudampfschifffahrtsgesellschaft", 10) == "Donaudamp…"


# --- the demo world: the snapshot, the stories, the demo itself ---------------------------------------------


def _trail(directory: Path) -> Path:
    """The demo world's maintenance (knowledge base, both accounts, the CMS) run one run after the
    other, in this process, with fixed run ids: the same trail every time (the demo's own runs are
    concurrent, so the order of their rows varies)."""
    from adpilot.agents.run import Runner
    from adpilot.app.runs import MEMORY_DEMO
    from adpilot.compose import open_memory
    from adpilot.config import load_config
    from adpilot.memory.store import MemoryStore

    config_file = directory / "config.yaml"
    config_file.write_text(f"state_dir: {directory / 'state'}\nlog: {{level: warning}}\n")
    config = load_config(str(config_file))
    MemoryStore.from_config(config).ingest([MEMORY_DEMO], tenant=config.memory.tenant)

    async def maintain() -> None:
        async with Runner(config, memory=open_memory(config, True), actor="adpilot maintain") as runner:
            for account in config.accounts:
                trigger = {"kind": "maintenance", "accounts": [account], "scope": "ads"}
                await runner.start(trigger, thread_id=f"maint-snapshot-{account}")
            trigger = {"kind": "maintenance", "accounts": list(config.accounts), "scope": "cms"}
            await runner.start(trigger, thread_id="maint-snapshot-cms")

    asyncio.run(maintain())
    return config_file


@pytest.fixture(scope="module")
def demo_trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    saved = os.environ.pop("ADPILOT_CONFIG", None)
    try:
        return _trail(tmp_path_factory.mktemp("trail"))
    finally:
        if saved is not None:
            os.environ["ADPILOT_CONFIG"] = saved


@pytest.fixture
def trail_copy(demo_trail: Path, tmp_path: Path) -> Path:
    """A copy of the demo trail's state a test may change."""
    shutil.copytree(demo_trail.parent / "state", tmp_path / "state")
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"state_dir: {tmp_path / 'state'}\nlog: {{level: warning}}\n")
    return config_file


def _masked(text: str) -> str:
    """The rendered trail without what varies from run to run: the times (and so the day lines)."""
    text = re.sub(r"\b\d{2}:\d{2}:\d{2}\b", "hh:mm:ss", text)
    text = re.sub(r"\d{4}-\d{2}-\d{2}", "YYYY-MM-DD", text)
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("— YYYY-MM-DD") and any(seen.startswith("— YYYY-MM-DD") for seen in lines):
            continue  # a run that crossed midnight
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_audit_show_after_the_demo_matches_the_snapshot(capsys, demo_trail, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    code, out = run(capsys, demo_trail, "audit", "show")
    assert code == 0, out.err
    rendered = _masked(out.out)
    if os.environ.get("ADPILOT_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(rendered, encoding="utf-8")
    assert rendered == SNAPSHOT.read_text(encoding="utf-8")
    assert all(len(line) <= 120 for line in out.out.splitlines())


def test_the_story_of_a_change_with_its_approval_and_its_rollback(capsys, trail_copy):
    code, out = run(capsys, trail_copy, "approvals", "list", "--json")
    pending = next(p for p in json.loads(out.out) if p["call"]["args"].get("post_id") == 501)
    code, out = run(capsys, trail_copy, "approvals", "approve", pending["id"], "--approver", "lena")
    assert code == 0, out.err
    done = _json(capsys, trail_copy, "--tool", "update_post", "--kind", "result")[-1]
    budget = _json(capsys, trail_copy, "--tool", "set_campaign_budget", "--kind", "result")[-1]

    code, out = run(capsys, trail_copy, "audit", "rollback", "--seq", str(budget["seq"]))
    assert code == 0, out.err
    assert "budget 9101 back to 25.00 EUR per day" in out.out and "undone" in out.out
    assert "micros" not in out.out and "{" not in out.out
    code, out = run(capsys, trail_copy, "audit", "rollback", "--seq", str(done["seq"]))
    assert code == 8  # a live post: its undo waits for a person
    assert re.search(r"post 501: .*meta_description", out.out) and "waits for a person" in out.out, out.out
    assert all(len(line) <= 120 for line in out.out.splitlines())

    code, out = run(capsys, trail_copy, "audit", "why", str(budget["seq"]))
    story = out.out
    assert "budget 9101: 25.00 EUR → 28.75 EUR per day" in story
    assert "Approval:   none needed" in story
    assert re.search(r"Rollback:   undone by rollback-[0-9a-f]{8} at .* budget 9101: 28\.75 EUR → 25\.00 EUR", story)

    code, out = run(capsys, trail_copy, "audit", "why", str(done["seq"]))
    story = out.out
    assert code == 0 and "Change:     post 501: meta_description (empty) → “Nasse Füße" in story
    assert "Who:        the seo role in run maint-snapshot-cms (actor adpilot); asked for by adpilot maintain" in story
    assert "Escalated:  row " in story and "waits for a person: a live page or post changes" in story
    assert f"Approval:   {pending['id']}: asked by adpilot maintain at " in story and "approved by lena at" in story
    assert "approvals 1 of 1 (lena)" in story
    assert "Result:     done at " in story and f"(row {done['seq']})" in story
    assert re.search(rf"Rollback:   an undo waits for a person as rollback-{done['seq']}-[0-9a-f]{{8}} \(open\)", story)

    code, out = run(capsys, trail_copy, "audit", "show", str(done["seq"]))  # the same story, with the rows
    assert "Approval:   " in out.out and "Rows:" in out.out and "Chain:      hmac:" in out.out
    assert all(len(line) <= 120 for line in out.out.splitlines())
    code, out = run(capsys, trail_copy, "audit", "why", str(done["seq"]), "--json")
    data = json.loads(out.out)
    assert data["approval"]["decision"]["approver"] == "lena" and data["rollback_waiting"][0]["state"] == "open"


def test_the_story_of_an_escalation_still_waiting(capsys, demo_trail):
    escalated = _json(capsys, demo_trail, "--decision", "escalate")[0]
    code, out = run(capsys, demo_trail, "audit", "why", str(escalated["seq"]))
    assert code == 0
    assert "Approval:   seo." in out.out and "open, expires" in out.out
    assert "Result:     nothing changed yet: waits for a person (adpilot approvals show seo." in out.out


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`adpilot demo` from nothing, in a process of its own (as a person runs it)."""
    cwd = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if k not in ("ADPILOT_CONFIG", "COLUMNS")}
    done = subprocess.run(
        [sys.executable, "-m", "adpilot.app.cli", "demo"], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    config_file = cwd / "show.yaml"
    config_file.write_text(f"state_dir: {cwd / '.adpilot'}\nlog: {{level: warning}}\n")
    return config_file, done.stdout


def test_the_demo_shows_the_changes_with_their_reasons_in_120_columns(demo_run):
    _, stdout = demo_run
    tail = stdout[stdout.index("5. The audit trail") :]
    assert [line for line in tail.splitlines() if len(line) > 120] == []
    table = tail.splitlines()[3:]
    changes = [line for line in table if re.match(r"\s*\d+\s+\d\d:\d\d:\d\d\s", line)]  # a row, not a wrapped line
    assert len(changes) == 8
    flat = " ".join(tail.split())
    assert flat.count("— done: ") == 8  # every change with its reason: the agent's own, not the Guard's verdict
    assert "within policy" not in flat and "compliance verdict" not in flat
    assert "micros" not in tail and "{'" not in tail and "None" not in tail


def test_audit_show_after_the_demo_fits_120_columns(capsys, demo_run, monkeypatch):
    config_file, _ = demo_run
    monkeypatch.setenv("COLUMNS", "250")
    for argv in ((), ("--reads",), ("--kind", "decision"), ("--account", AT)):
        code, out = run(capsys, config_file, "audit", "show", *argv)
        assert code == 0, out.err
        assert all(len(line) <= 120 for line in out.out.splitlines())
    code, out = run(capsys, config_file, "audit", "show")
    shown = [line for line in out.out.splitlines() if re.match(r"\s*\d+\s", line)]
    code, out = run(capsys, config_file, "audit", "show", "--reads")
    assert len(shown) < len([line for line in out.out.splitlines() if re.match(r"\s*\d+\s", line)])


def test_render_list_outside_the_cli_cuts_to_the_width_given():
    from adpilot.app.audit_view import render_list
    from adpilot.tools.audit import AuditLog as Log

    audit = Log(":memory:", clock=Ticking())
    _change(
        audit,
        run="r1",
        role="seo",
        tool="update_post",
        args={"post_id": 7, "title": "x" * 200},
        entity="wordpress:post:7",
        before={"title": "old"},
        after={"title": "Ein sehr langer Titel " * 10},
    )
    text = render_list(audit.records(), {}, width=60)
    assert all(len(line) <= 60 for line in text.splitlines())
    assert io.StringIO(text).readline().startswith("seq")

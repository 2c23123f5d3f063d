"""A sloppy model — every malformed form a small local model was seen to write — still gets its
task done; each invalid call is audited and reported, and the answer never claims a failed change."""

from __future__ import annotations

import json

import pytest

from adpilot.agents.toolcalls import INVALID_RULE
from tests.agents.conftest import results
from tests.agents.test_chat import budget
from tests.conftest import DE

REQUEST = "the boots budget should be a little higher, 55 a day"


def call(name: str, args: dict) -> str:
    return json.dumps({"name": name, "arguments": args})


SLOPPY_BIDDING = [
    # forms that parse: read calls, carried out
    {"content": "```json\n" + call("list_campaigns", {"customer_id": DE}) + "\n```"},
    {"content": "{" + call("get_performance", {"customer_id": DE, "level": "campaign", "days": 7}) + "}}"},
    # content that does not: each an invalid call with a correction
    {
        "content": f'{{"name": "set_campaign_budget", "arguments": {{"customer_id": "{DE}", "budget_id": "9001", '
        '"amount_micros": 55 * 1000000}}'
    },
    {
        "content": f'{{"name": "set_campaign_budget", "arguments": {{"customer_id": "{DE}", // the DE account\n'
        '"budget_id": "9001", "amount_micros": "55000000"}}'
    },
    {"content": call("set_campaign_budget", {"customer_id": DE, "budget_id": "your_budget_id", "amount_micros": "1"})},
    {"content": call("update_budget", {"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"})},
    {"content": call("set_ad_status", {"customer_id": DE, "ad_id": "3101~31001", "status": "PAUSED"})},
    # prose claiming what never happened: the task's answer, made from its outcomes
    {"content": "I have set budget 9001 to 55 EUR per day."},
    # given the task again: the right call, then its summary
    {
        "content": "<tool_call>"
        + call("set_campaign_budget", {"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"})
        + "</tool_call>"
    },
    {"content": "Budget 9001 is 55 EUR per day now."},
]
SUPERVISOR = [
    {"content": call("transfer_to_bidding", {"task": "set budget 9001 of account 1112223333 to 55 EUR per day"})},
    {
        "content": "```json\n"
        + call("transfer_to_bidding", {"task": "budget 9001 is still 50 EUR: set it to 55 EUR"})
        + "\n```"
    },
    {"content": "Budget 9001 is 55 EUR per day now."},
]


async def test_a_sloppy_model_still_completes_its_task(make_runner, sandbox, audit):
    async with make_runner(scripts={"supervisor": SUPERVISOR, "bidding": SLOPPY_BIDDING}) as runner:
        done = await runner.start({"kind": "chat", "text": REQUEST})
    assert done.status == "done" and done.report["stop_reason"] is None
    assert budget(sandbox) == "55000000" and len(results(audit, "set_campaign_budget")) == 1
    # every invalid call is in the audit log: the agent, the tool as named, the error
    invalid = [r for r in audit.records(kind="decision") if r.rule == INVALID_RULE]
    assert [(r.role, r.tool) for r in invalid] == [
        ("bidding", "set_campaign_budget"),
        ("bidding", "set_campaign_budget"),
        ("bidding", "set_campaign_budget"),
        ("bidding", "update_budget"),
        ("bidding", "set_ad_status"),
    ]
    assert all(r.decision == "deny" and r.reason for r in invalid)
    assert "no arithmetic" in invalid[0].reason and "no comments" in invalid[1].reason
    assert "placeholder" in invalid[2].reason and "no tool 'update_budget'" in invalid[3].reason
    assert "3101~31001" in invalid[4].reason
    # … and in the report
    (note,) = [n for n in done.report["notes"] if "invalid tool call" in n]
    assert note.startswith("5 invalid tool calls by the bidding agent: set_campaign_budget (")
    assert done.report["usage"]["tool_errors"] == 5
    # the answer is made from the outcomes: the change that happened, the calls that failed
    answer = done.answer or ""
    lines = answer.splitlines()
    assert sum(line == "Done: budget 9001 → €55.00 per day (set_campaign_budget)" for line in lines) == 1
    assert lines[-1] == "The assistant adds: “Budget 9001 is 55 EUR per day now.”"
    assert answer.count("Invalid call by the bidding agent, nothing done") == 5
    # the first task's prose reached the supervisor as a quote under its outcomes, not as a fact
    transfer_results = [m for m in done.state["supervisor_messages"] if m.type == "tool"]
    first_summary = json.loads(transfer_results[0].content.split("\n", 1)[1].rsplit("\n", 1)[0])["summary"]
    assert first_summary.startswith("Invalid call by the bidding agent, nothing done: set_campaign_budget")
    assert first_summary.endswith("The bidding agent adds: “I have set budget 9001 to 55 EUR per day.”")
    # the second task's change, as the operator says money, not in micros the model would echo
    second_summary = json.loads(transfer_results[1].content.split("\n", 1)[1].rsplit("\n", 1)[0])["summary"]
    assert "Done: budget 9001 → €55.00 per day (set_campaign_budget)" in second_summary.splitlines()
    assert "55000000" not in second_summary


async def test_an_answer_never_claims_a_change_the_guard_denied(make_runner, sandbox):
    too_high = {"customer_id": DE, "budget_id": "9001", "amount_micros": "900000000"}  # above budget_max 500 EUR
    scripts = {
        "supervisor": [
            {"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "set budget 9001 to 900 EUR"}}]},
            {"content": "I raised the budget to 900 EUR."},
        ],
        "bidding": [
            {"tool_calls": [{"name": "set_campaign_budget", "args": too_high}]},
            {"content": "I raised budget 9001 to 900 EUR."},
        ],
    }
    async with make_runner(scripts=scripts) as runner:
        done = await runner.start({"kind": "chat", "text": "the boots budget must be much higher"})
    assert done.status == "done" and budget(sandbox) == "50000000"
    answer = done.answer or ""
    first, *rest = answer.splitlines()
    assert first.startswith("Not done: budget 9001 → €900.00 per day (set_campaign_budget) — ")
    assert rest[-1] == "The assistant adds: “I raised the budget to 900 EUR.”"
    assert done.report["denied"][0]["tool"] == "set_campaign_budget"


async def test_nothing_done_is_said_as_such(make_runner):
    scripts = {"supervisor": [{"content": "I paused the ad for you."}]}
    async with make_runner(scripts=scripts) as runner:
        done = await runner.start({"kind": "chat", "text": "the ad with the typo should stop showing"})
    assert done.answer == "No change was made.\nThe assistant adds: “I paused the ad for you.”"


async def test_a_repeated_transfer_ends_the_chat_with_the_reason(make_runner):
    transfer = {"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "look at budget 9001"}}]}
    scripts = {
        "supervisor": [transfer] * 30,
        "bidding": [{"content": "Looked."}] * 30,
    }
    async with make_runner(scripts=scripts) as runner:
        done = await runner.start({"kind": "chat", "text": "what about the boots budget"})
    reason = "the supervisor repeated transfer_to_bidding with the same task: the chat ends here"
    assert done.status == "done" and reason in done.report["notes"] and reason in (done.answer or "")
    assert done.state["turns"].get("bidding") == 1  # the task ran once, not until max_steps


async def test_a_repeated_change_ends_the_task(make_runner, sandbox, audit):
    change = {"customer_id": DE, "budget_id": "9001", "amount_micros": "55000000"}
    scripts = {
        "supervisor": [
            {"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "budget 9001 to 55 EUR"}}]},
            {"content": "Done."},
        ],
        "bidding": [{"tool_calls": [{"name": "set_campaign_budget", "args": change}]}] * 10,
    }
    async with make_runner(scripts=scripts) as runner:
        done = await runner.start({"kind": "chat", "text": "the boots budget should be 55 a day"})
    assert budget(sandbox) == "55000000" and len(results(audit, "set_campaign_budget")) == 1
    assert (
        "the bidding agent repeated set_campaign_budget with the same arguments: its task ends here"
        in (done.report["notes"])
    )
    assert done.state["turns"]["bidding"] == 2


async def test_a_copy_check_answer_gives_the_checks_verdict_not_the_models(make_runner):
    """The model called a headline that breaks the rules fine; the operator reads the check's verdict
    and the rule that fired first, and the model's words only as a quote under them."""
    headline = "Garantiert die beste Regenjacke der Welt"
    scripts = {
        "supervisor": [
            {"tool_calls": [{"name": "transfer_to_compliance", "args": {"task": f"check the headline '{headline}'"}}]},
            {"content": "The headline is fine."},
        ],
        "compliance": [
            {"tool_calls": [{"name": "check_copy", "args": {"headlines": [headline]}}]},
            {"content": "It passes."},
        ],
    }
    async with make_runner(scripts=scripts) as runner:
        done = await runner.start({"kind": "chat", "text": f"Would the headline '{headline}' be okay for our ads?"})
    first, *rest = (done.answer or "").splitlines()
    assert first.startswith(f"Copy check of “{headline}”: breaks the copy rules — ")  # then the rules that fired
    assert rest == ["The assistant adds: “The headline is fine.”"]
    assert first in done.report["notes"]


async def test_the_copy_the_operator_quoted_is_the_copy_checked(make_runner, audit):
    """What the local model did: asked about 'Regenjacken für jedes Wetter', it checked a long
    variant of its own too, and read the variant's verdict as the quoted headline's."""
    asked, variant = "Regenjacken für jedes Wetter", "Regenjacken für Damen und Herren – Die große Übersicht"
    scripts = {
        "supervisor": [
            {"tool_calls": [{"name": "transfer_to_compliance", "args": {"task": f"check '{asked}'"}}]},
            {"content": "It is too long."},
        ],
        "compliance": [
            {"tool_calls": [{"name": "check_copy", "args": {"headlines": [variant, asked]}}]},
            {"tool_calls": [{"name": "check_copy", "args": {"headlines": [asked]}}]},
            {"content": "It passes."},
        ],
    }
    async with make_runner(scripts=scripts) as runner:
        done = await runner.start({"kind": "chat", "text": f"Would the headline '{asked}' be okay for our Google ads?"})
    (refused,) = [r for r in audit.records(kind="decision") if r.tool == "check_copy" and r.decision == "deny"]
    assert f"the operator asked about {asked!r}; check exactly that" in (refused.reason or "")
    checks = [line for line in (done.answer or "").splitlines() if line.startswith("Copy check")]
    assert checks == [f"Copy check of “{asked}”: passes the copy rules"]


def test_only_the_compliance_agent_is_held_to_the_quoted_copy():
    from adpilot.agents.loop import copy_not_asked

    request = "Would the headline 'Regenjacken für jedes Wetter' be okay?"
    variant = {"headlines": ["Regenjacken für jedes Wetter", "Regenjacken für Damen und Herren – lang"]}
    assert copy_not_asked("check_copy", variant, request, "creative") is None  # it checks the whole ad it writes
    assert copy_not_asked("check_copy", variant, request, "compliance") is not None
    assert copy_not_asked("check_copy", {"headlines": ["regenjacken  für jedes wetter"]}, request, "compliance") is None


@pytest.mark.parametrize(
    ("request_text", "args"),
    [
        # a quoted campaign: its ads are the copy to check
        ("Are the ads in campaign 'Boots - Search' compliant?", {"headlines": ["Wanderschuhe -50%"]}),
        ("Prüfe die Anzeigen in „Boots - Search“ auf Verstöße", {"headlines": ["Wanderschuhe -50%"]}),
        # the quoted headline with the ad's description: another field
        (
            "Create an ad with the headline 'Leicht. Schnell. Trail Pro.' and have it checked",
            {"headlines": ["Leicht. Schnell. Trail Pro."], "descriptions": ["Jetzt entdecken"]},
        ),
        # an apostrophe inside single quotes
        ("Check 'Hikers' Choice Boots' against the copy rules", {"headlines": ["Hikers' Choice Boots"]}),
    ],
)
def test_copy_the_words_do_not_quote_is_checked_freely(request_text, args):
    from adpilot.agents.loop import copy_not_asked

    assert copy_not_asked("check_copy", args, request_text, "compliance") is None


async def test_an_account_outside_the_run_in_a_call_does_not_break_the_answer(make_runner, sandbox):
    """A model named an account nobody configured: the call is refused, and the answer that words it
    must not read that account's currency (the platform refuses it) — the amount stays in micros."""
    stray = {"customer_id": "9999999999", "budget_id": "9001", "amount_micros": "55000000"}
    scripts = {
        "supervisor": [
            {"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "budget 9001 to 55 EUR"}}]},
            {"content": "Done."},
        ],
        "bidding": [{"tool_calls": [{"name": "set_campaign_budget", "args": stray}]}, {"content": "Set."}],
    }
    async with make_runner(scripts=scripts) as runner:
        done = await runner.start({"kind": "chat", "text": REQUEST})
    assert done.status == "done" and budget(sandbox) == "50000000"
    assert (done.answer or "").splitlines()[0] == (
        "Not done: budget 9001 → 55000000 micros per day (set_campaign_budget) — "
        "customer 9999999999 is not an account of this run"
    )


async def test_a_check_of_several_texts_says_which_broke_which_rule(make_runner):
    """The local model checked a 71-character variant with the quoted headline and said the quoted
    one was too long: the operator reads each text's own verdict, from the check."""
    asked, variant = (
        "Regenjacken für jedes Wetter",
        "Regenjacken für Damen und Herren – Die große Übersicht für jedes Wetter",
    )
    scripts = {
        "supervisor": [
            {"tool_calls": [{"name": "transfer_to_creative", "args": {"task": f"check '{asked}'"}}]},
            {"content": f"'{asked}' is too long."},
        ],
        "creative": [
            {"tool_calls": [{"name": "check_copy", "args": {"headlines": [variant, asked]}}]},
            {"content": "Checked."},
        ],
    }
    async with make_runner(scripts=scripts) as runner:
        done = await runner.start({"kind": "chat", "text": f"Would the headline '{asked}' be okay for our Google ads?"})
    (line,) = [line for line in (done.answer or "").splitlines() if line.startswith("Copy check")]
    verdicts = line.split(" — ", 1)[1]
    assert verdicts.startswith(f"“{variant}”: length.headline: 71 characters") and verdicts.endswith(
        f"“{asked}”: passes"
    )


async def test_a_stopped_chat_says_so_in_the_operators_language_with_what_it_did(make_runner):
    """Too many invalid calls stop the run (error budget); the answer says so in the operator's
    language, then each outcome in words — not raw `done: TOOL {json}` lines in English."""
    from adpilot.agents.stop import Limits

    bad = {"tool_calls": [{"name": "set_campaign_budget", "args": {"customer_id": DE, "budget_id": "9001"}}]}
    scripts = {
        "supervisor": [{"tool_calls": [{"name": "transfer_to_bidding", "args": {"task": "Budget 9001 erhöhen"}}]}],
        "bidding": [bad] * 5,
    }
    async with make_runner(scripts=scripts, limits=Limits(max_tool_errors=2)) as runner:
        done = await runner.start({"kind": "chat", "text": "Bitte das Budget der Kampagne Boots - Search erhöhen"})
    assert done.status == "stopped" and done.report["stop_reason"] == "error_budget"
    first, *rest = (done.answer or "").splitlines()
    assert first == "Der Lauf wurde angehalten: error_budget."
    worded = [line for line in rest if line.startswith("Ungültiger Aufruf des Agenten bidding, nichts getan")]
    assert len(worded) == 2, done.answer
    assert not any(line.startswith(("done:", "invalid call by")) for line in rest), done.answer

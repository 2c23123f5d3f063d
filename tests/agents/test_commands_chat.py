"""The chat without a model on the demo world: the issue's phrases in German and English.

Every run here ends by itself (never at the step limit), answers in the message's language, and
shows money as the language writes it — never as micros.
"""

from __future__ import annotations

import re

from tests.agents.conftest import results
from tests.conftest import DE


def budget(sandbox, budget_id="9001"):
    return sandbox.world.customer(DE).campaign_budgets[budget_id].amount_micros


async def ask(runner, text):
    result = await runner.start({"kind": "chat", "text": text})
    assert result.report["stop_reason"] is None, result.answer
    assert result.state["steps"] < 12, result.state["steps"]
    assert not re.search(r"\d{7,} micros|micros", result.answer or ""), result.answer
    return result


async def test_how_is_a_campaign_doing_in_german_and_english(make_runner):
    async with make_runner() as runner:
        german = await ask(runner, "Wie läuft die Kampagne Boots - Search?")
        english = await ask(runner, "how is boots search doing?")
    assert "Kampagne „Boots - Search“ (111)" in german.answer and "letzte 7 Tage" in german.answer
    assert re.search(r"Kosten \d+,\d\d €", german.answer) and "Impressionen" in german.answer
    assert "campaign “Boots - Search” (111)" in english.answer and "last 7 days" in english.answer
    assert re.search(r"cost €\d+\.\d\d", english.answer)


async def test_set_the_budget_of_a_campaign_by_name(make_runner, sandbox, audit):
    async with make_runner() as runner:
        english = await ask(runner, "set budget of Boots - Search to 60 EUR")
        assert budget(sandbox) == "60000000"
        german = await ask(runner, "Setze das Budget von boots search auf 61,50 €")
    assert budget(sandbox) == "61500000"
    assert english.answer == "Done: budget 9001 → €60.00 per day (set_campaign_budget)"
    assert german.answer == "Erledigt: Budget 9001 → 61,50 € pro Tag (set_campaign_budget)"
    changes = results(audit, "set_campaign_budget")  # through the Guard, audited like an id command
    assert [int(r.args["amount_micros"]) for r in changes] == [60_000_000, 61_500_000]


async def test_a_different_currency_than_the_accounts_is_refused(make_runner, sandbox):
    async with make_runner() as runner:
        refused = await ask(runner, "set budget of Boots - Search to 60 USD")
    assert budget(sandbox) == "50000000" and "billed in EUR, not USD" in refused.answer


async def test_pause_the_worst_ad_says_which_measure_and_pauses_it(make_runner, sandbox, audit):
    async with make_runner() as runner:
        shown = await ask(runner, "which is the worst ad in Hiking Boots?")
        assert not results(audit, "set_ad_status")
        paused = await ask(runner, "pause the worst ad in Hiking Boots")
    assert "by conversions per cost" in shown.answer or "by click-through rate" in shown.answer
    worst = re.search(r"\((2101~\d+)\)", shown.answer.split(" is ", 1)[1]).group(1)
    assert f"Done: ad {worst} → paused (set_ad_status)" in paused.answer
    assert sandbox.world.customer(DE).ad_group_ads[worst].status == "PAUSED"
    (done,) = results(audit, "set_ad_status")
    assert f"{done.args['ad_group_id']}~{done.args['ad_id']}" == worst


async def test_the_worst_ad_of_a_campaign_in_german(make_runner, sandbox):
    async with make_runner() as runner:
        shown = await ask(runner, "Welche ist die schlechteste Anzeige in Boots - Search?")
    assert shown.answer.startswith("Die schlechteste Anzeige in Kampagne „Boots - Search“ (111) ist Anzeige")
    assert "2102~31004" not in shown.answer.split(" ist ", 1)[1].split("—")[0]  # alone in its group: no candidate


async def test_what_changed_today_and_why(make_runner, sandbox):
    async with make_runner() as runner:
        await ask(runner, "set budget of Boots - Search to 60 EUR")
        english = await ask(runner, "what changed today and why?")
        german = await ask(runner, "Was hat sich heute geändert und warum?")
    assert "Changes today" in english.answer
    assert "budget 9001 → €60.00 per day (set_campaign_budget) — done: within policy" in english.answer
    assert "Änderungen heute" in german.answer and "Budget 9001 → 60,00 € pro Tag" in german.answer


async def test_freigaben_lists_what_approvals_lists(make_runner, config):
    from adpilot.app.approvals import list_rows

    async with make_runner() as runner:
        nothing = await ask(runner, "freigaben")
        assert nothing.answer == "Keine Freigaben offen."
        waiting = await runner.start({"kind": "chat", "text": "pausiere Kampagne Boots - Search"})
        assert waiting.status == "waiting"
        (pending,) = waiting.pending
        german = await ask(runner, "freigaben")
        english = await ask(runner, "approvals")
    assert [row["id"] for row in list_rows(config)] == [pending["id"]]
    assert pending["id"] in german.answer and pending["id"] in english.answer
    assert "/approve ID" in german.answer


async def test_names_that_do_not_map_get_suggestions_not_a_dead_end(make_runner, sandbox, audit):
    async with make_runner() as runner:
        unknown = await ask(runner, "pause campaign Regenjacken")
        ambiguous = await ask(runner, "pause ad Regenjacken")
        typo = await ask(runner, "set budget 9010 to 55 EUR")
        german_typo = await ask(runner, "pausiere anzeige 2101~31009")
        poem = await ask(runner, "Schreib mir ein Gedicht über Wanderschuhe")
    assert "nothing matches that command" in unknown.answer and "Closest: campaign “Jackets - Search”" in unknown.answer
    assert "did you mean ad “Regenjacken für Damen” (2201~31005) or ad “Regenjacken im Angebot”" in ambiguous.answer
    assert "Closest: budget" in typo.answer and "(9001)" in typo.answer
    assert "Am nächsten: Anzeige" in german_typo.answer and "2101~3100" in german_typo.answer
    assert "Meinten Sie:" in poem.answer and "Befehle, die ich kenne" in poem.answer
    assert not [r for r in audit.records(kind="result") if r.tool.startswith("set_")]  # nothing changed


async def test_set_a_bid_by_keyword_and_ad_group(make_runner, sandbox, audit):
    async with make_runner() as runner:
        result = await runner.start({"kind": "chat", "text": "setze Gebot von hiking boots in Hiking Boots auf 0,95 €"})
    assert result.status == "done" and result.report["stop_reason"] is None
    assert result.answer == "Erledigt: Keyword 2101~41002 → 0,95 € pro Klick (set_keyword_bid)"
    (done,) = results(audit, "set_keyword_bid")
    assert done.args["ad_group_id"] == "2101" and int(done.args["cpc_bid_micros"]) == 950_000


async def test_with_a_model_the_grammar_answers_first_and_the_rest_goes_to_the_model(make_runner, sandbox, config):
    # one scripted reply: had the model been asked about the budget, the poem would find none left
    scripts = {"supervisor": [{"content": "Gern — ein Gedicht über Wanderschuhe."}]}
    async with make_runner(scripts=scripts) as runner:
        known = await runner.start({"kind": "chat", "text": "set budget of Boots - Search to 60 EUR"})
        free = await runner.start({"kind": "chat", "text": "Schreib mir ein Gedicht über Wanderschuhe"})
    assert known.answer.startswith("Done: budget 9001") and budget(sandbox) == "60000000"
    # the model's words come as a quote under what the run did (here: nothing), in the operator's language
    assert free.answer == "Es wurde nichts geändert.\nDer Assistent ergänzt: „Gern — ein Gedicht über Wanderschuhe.“"

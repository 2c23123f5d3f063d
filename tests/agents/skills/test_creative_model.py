"""With a model configured, maintenance's new ad copy is written by the model from the same facts
(issue 15 item 4): its lines are data that pass every check template lines pass, the templates fill
up what is missing, and a reply that is not the JSON asked for leaves the ad to the templates."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from adpilot.agents.llm import ModelProvider, ModelProviderError, Price, build_provider
from adpilot.agents.run import Runner
from adpilot.agents.skills import creative
from adpilot.agents.skills.creative import CopyWriter, ReplyError, creative_proposals, line_problem, parse_reply
from adpilot.normalise import fold
from adpilot.policies.claims import find_claims
from tests.agents.conftest import results
from tests.agents.skills.test_creative import assert_claims_match_the_feed, demo_feed, gate, lines, sentences_of
from tests.conftest import AT, DE

# The Austrian boots group 2801 with one enabled ad (38001): it gets a second one.
GROUP = "2801"
GROUP_LINES = {  # every line of the group's two ads (38002 paused)
    "Wanderschuhe in Österreich",
    "Alpine Outfitters Shop",
    "Bergschuhe für jede Tour",
    "Wanderschuhe für Alpenvereinswege und Hüttentouren. Jetzt Größe finden.",
    "Versand innerhalb Österreichs in 2–3 Werktagen.",
    "Wasserdichte Bergschuhe",
    "Leder oder Synthetik",
    "Jetzt Wanderschuhe kaufen",
    "Wasserdichte Bergschuhe von Lowa, Meindl und Hanwag im Alpine Outfitters Shop.",
    "30 Tage Rückgaberecht, persönliche Beratung per Chat.",
}
GOOD_HEADLINES = ["Trittfeste Wanderschuhe", "Für Touren in den Alpen", "Lieferung in 3–5 Werktagen"]
GOOD_DESCRIPTIONS = [
    "Finden Sie trittfeste Wanderschuhe für Ihre nächste Tour in den Alpen.",
    "Wir liefern Ihre Wanderschuhe in 3–5 Werktagen nach Österreich.",
]


def turn(headlines: list[str], descriptions: list[str], **extra: object) -> dict[str, object]:
    return {"content": json.dumps({"headlines": headlines, "descriptions": descriptions}, ensure_ascii=False), **extra}


def writer(*turns: dict[str, object], price: Price | None = None) -> CopyWriter:
    models = build_provider("scripted", scripts={"creative": list(turns)})
    return CopyWriter(models, price=price.usage if price is not None else None)


def thin_austria(sandbox) -> None:
    sandbox.world.customer(AT).ad_group_ads["2801~38002"].status = "PAUSED"


async def the_ad(make_guard, sandbox, copy: CopyWriter | None):
    thin_austria(sandbox)
    engine = gate()
    guard = make_guard(gate=engine)
    (proposal,) = await creative_proposals(guard, AT, engine.brand, use_memory=False, writer=copy)
    assert proposal.tool == "create_responsive_search_ad" and proposal.args["ad_group_id"] == GROUP
    return guard, proposal


def assert_signable(proposal) -> None:
    """What every created ad satisfies, whoever wrote it."""
    feed = demo_feed()
    for field, line in lines(proposal):
        assert line_problem(line, field) is None, line
        assert " ".join(line.casefold().split()) not in {" ".join(g.casefold().split()) for g in GROUP_LINES}, line
        assert_claims_match_the_feed(line, feed, "AT")
    for field in ("headlines", "descriptions"):  # each claim at most once per field
        kinds = [c.kind.replace("price_from", "price") for x in proposal.args[field] for c in find_claims(fold(x).text)]
        assert len(kinds) == len(set(kinds)), proposal.args[field]


async def test_a_model_that_writes_good_lines_writes_the_ad(make_guard, sandbox):
    copy = writer(turn(GOOD_HEADLINES, GOOD_DESCRIPTIONS))
    guard, proposal = await the_ad(make_guard, sandbox, copy)
    assert proposal.args["headlines"][:3] == GOOD_HEADLINES
    assert proposal.args["descriptions"][:2] == GOOD_DESCRIPTIONS
    assert len(proposal.args["headlines"]) == 6 and len(proposal.args["descriptions"]) == 3  # templates fill up
    assert_signable(proposal)
    assert "copy written by the model scripted: 3 of 6 headlines, 2 of 3 descriptions" in proposal.rationale
    assert proposal.evidence["copy_by_model"] == "scripted" and proposal.evidence["model_lines"] == [3, 2]
    assert copy.notes == [] and copy.calls == 1
    assert (await guard.call(proposal.role, proposal.tool, proposal.args)).ok


async def test_the_model_is_asked_for_the_facts_of_the_market_as_data(make_guard, sandbox):
    copy = writer(turn(GOOD_HEADLINES, GOOD_DESCRIPTIONS))
    brand = gate().brand
    facts = {"facts": {"shipping": ["3–5"], "price": ["189,95 €"]}, "existing_lines": sorted(GROUP_LINES)}
    system, human = copy.messages(brand, "AT", facts)
    assert "German" in system.content and "market AT" in system.content and "at most 30" in system.content
    assert "at most 90" in system.content and '{"headlines"' in system.content
    assert human.content.startswith('<data source="facts">') and "3–5" in human.content
    assert "Versand innerhalb Österreichs in 2–3 Werktagen." in human.content  # lines it must not repeat


BAD_LINES = [
    ("headline", "Alpine Trek GTX ab 89 €", "Alpine Trek GTX ab 189,95 €"),  # a wrong price: restated
    (
        "description",
        "Bestellen Sie die Alpine Trek GTX ab 89 € im Shop.",
        "Bestellen Sie die Alpine Trek GTX ab 189,95 € im Shop.",
    ),
    ("headline", "Versand in 1–2 Werktagen", None),  # the German shipping time, not the Austrian 3–5
    ("description", "Wir liefern in 1–2 Werktagen.", None),
    ("headline", "Wanderschuhe für", None),  # a fragment
    ("description", "Sie eignet sich für Tagestouren.", None),  # points back at a product it does not name
    ("description", "Preis: 189,95 €.", None),  # a label, not a sentence
    ("headline", "Wanderschuhe für jede Bergtour in den Alpen", None),  # over 30 characters
    (
        "description",
        "Unsere Wanderschuhe sind für jeden Weg gemacht, ob im Tal oder am Gipfel, im Sommer wie im Winter.",
        None,
    ),
    ("headline", "Wasserdichte Bergschuhe", None),  # a line of the group's paused ad
    ("headline", "alpine outfitters  shop", None),  # a line of the group's ad, in other case and spacing
    ("description", "Versand innerhalb Österreichs in 2–3 Werktagen.", None),
    ("headline", "Billige Wanderschuhe", None),  # a forbidden word
    ("description", "Wanderschuhe zum Schnäppchenpreis finden Sie bei uns.", None),
    ("headline", "Testsieger unter den Bergschuhen", None),  # a superlative without its source
    ("description", "Kostenloser Versand für alle Wanderschuhe in ganz Österreich.", None),  # free, no condition
    ("description", "Wir siezen unsere Kunden in Anzeigen und auf der Website.", None),  # a guideline
    ("description", "Ausrufezeichen in Überschriften verwenden wir nicht.", None),
]


@pytest.mark.parametrize(("field", "bad", "restated"), BAD_LINES)
async def test_a_bad_model_line_is_dropped_or_restated_never_published(make_guard, sandbox, field, bad, restated):
    headlines, descriptions = list(GOOD_HEADLINES), list(GOOD_DESCRIPTIONS)
    (headlines if field == "headline" else descriptions).insert(0, bad)
    copy = writer(turn(headlines, descriptions))
    guard, proposal = await the_ad(make_guard, sandbox, copy)
    published = [line for _, line in lines(proposal)]
    assert bad not in published
    if restated is not None:
        assert restated in proposal.args[f"{field}s"]
    assert [h for h in GOOD_HEADLINES if h in published] == GOOD_HEADLINES  # the good lines stay
    assert [d for d in GOOD_DESCRIPTIONS if d in published] == GOOD_DESCRIPTIONS
    assert_signable(proposal)
    assert (await guard.call(proposal.role, proposal.tool, proposal.args)).ok


async def test_no_guideline_sentence_of_the_knowledge_base_becomes_copy(make_guard, sandbox):
    guidelines = sentences_of("brand_voice") + sentences_of("legal")
    headlines = [g.rstrip(".") for g in guidelines]  # as headlines too
    copy = writer(turn(headlines, guidelines))
    _, proposal = await the_ad(make_guard, sandbox, copy)
    text = " ".join(line for _, line in lines(proposal))
    assert not any(g in text or g.rstrip(".") in text for g in guidelines)
    assert proposal.evidence["model_lines"] == [0, 0]
    assert "no line of the model scripted passed the checks" in proposal.rationale


async def test_a_reply_that_is_not_the_json_asked_for_leaves_the_ad_to_the_templates(make_guard, sandbox, world):
    _, templates = await the_ad(make_guard, sandbox, None)  # no model: the templates' ad
    for content, reason in [
        ("Gern! Hier sind meine Vorschläge: Trittfeste Wanderschuhe, Lieferung in 3–5 Werktagen.", "not JSON"),
        ('{"headlines": ["Trittfeste Wanderschuhe"]}', "not an object"),
        ('{"headlines": "Trittfeste Wanderschuhe", "descriptions": []}', "headlines are not a list of strings"),
        ('{"headlines": [1, 2], "descriptions": []}', "headlines are not a list of strings"),
        ('["Trittfeste Wanderschuhe"]', "not an object"),
    ]:
        copy = writer({"content": content})
        sandbox.world = world.clone()
        _, proposal = await the_ad(make_guard, sandbox, copy)
        assert proposal.args == templates.args, content
        (note,) = copy.notes
        assert note.startswith(f"creative {AT} ad group {GROUP}: the reply of the model scripted") and reason in note
        assert "copy from the templates" in note


async def test_a_fenced_json_reply_is_read(make_guard, sandbox):
    fenced = "```json\n" + json.dumps({"headlines": GOOD_HEADLINES, "descriptions": GOOD_DESCRIPTIONS}) + "\n```"
    copy = writer({"content": fenced})
    _, proposal = await the_ad(make_guard, sandbox, copy)
    assert proposal.args["headlines"][:3] == GOOD_HEADLINES and copy.notes == []


async def test_the_guard_still_checks_the_final_create(make_guard, sandbox):
    copy = writer(turn(GOOD_HEADLINES, GOOD_DESCRIPTIONS))
    guard, proposal = await the_ad(make_guard, sandbox, copy)
    tampered = {**proposal.args, "headlines": ["Billige Wanderschuhe", *proposal.args["headlines"][1:]]}
    denied = await guard.call(proposal.role, proposal.tool, tampered)
    assert not denied.ok and denied.decision == "deny"
    assert results_of(guard, "create_responsive_search_ad") == []


def results_of(guard, tool: str) -> list[object]:
    return [r for r in guard.audit.records(kind="result", tool=tool) if r.status == "ok"]


async def test_a_price_replacement_leads_with_the_feeds_price_whatever_the_model_writes(make_guard, sandbox):
    engine = gate()
    guard = make_guard(gate=engine)
    boots = ["Trittfeste Wanderschuhe", "Wanderschuhe ab 99 €", "Für Touren in den Alpen"]
    copy = writer(turn(boots, ["Finden Sie trittfeste Wanderschuhe für Ihre nächste Tour in den Alpen."]))
    proposals = await creative_proposals(guard, DE, engine.brand, use_memory=False, writer=copy)
    (replacement,) = [p for p in proposals if p.args["ad_group_id"] == "2101"]  # 31002 says "ab 89 €"
    assert replacement.args["headlines"][0] == "Wanderschuhe ab 189,95 €"  # the template leading with the price
    assert "Trittfeste Wanderschuhe" in replacement.args["headlines"]
    assert "Wanderschuhe ab 99 €" not in replacement.args["headlines"]  # one price per field: the feed's


async def test_each_group_asks_the_model_once_and_the_usage_is_counted(make_guard, sandbox):
    for key in ("2101~31001", "2101~31003", "2201~31005"):  # three DE groups run thin
        sandbox.world.customer(DE).ad_group_ads[key].status = "PAUSED"
    engine = gate()
    usage = {"usage": {"input_tokens": 1000, "output_tokens": 100}}
    per_group = [
        turn(["Trittfeste Wanderschuhe"], [], **usage),
        turn(["Leichte Trailrunning-Schuhe"], [], **usage),
        turn(["Regenjacken für jedes Wetter"], [], **usage),
    ]
    copy = writer(*per_group, price=Price.per_million(Decimal("3"), Decimal("15")))
    proposals = await creative_proposals(make_guard(gate=engine), DE, engine.brand, use_memory=False, writer=copy)
    made = [p for p in proposals if p.tool == "create_responsive_search_ad"]
    asked = copy.calls
    assert asked == len(made) >= 3  # once per group that gets an ad
    firsts = [p.args["headlines"] for p in made[:3]]
    assert [h[0] if h[0] != "Wanderschuhe ab 189,95 €" else h[1] for h in firsts] == [
        "Trittfeste Wanderschuhe",
        "Leichte Trailrunning-Schuhe",
        "Regenjacken für jedes Wetter",
    ]
    # 3 scripted replies with usage (the others: none reported), 1000 × 3 + 100 × 15 USD per million tokens
    assert copy.usage == {"tokens": 3 * 1100, "cost_pico_usd": 3 * (1000 * 3_000_000 + 100 * 15_000_000)}


async def test_maintenance_with_a_scripted_model_creates_the_models_ad(make_runner, sandbox, audit):
    thin_austria(sandbox)
    script = {"creative": [turn(GOOD_HEADLINES, GOOD_DESCRIPTIONS)]}
    async with make_runner(scripts=script) as runner:
        result = await runner.start({"kind": "maintenance", "accounts": [AT]})
    (created,) = results(audit, "create_responsive_search_ad")
    assert created.args["ad_group_id"] == GROUP
    assert created.args["headlines"][:3] == GOOD_HEADLINES and created.args["descriptions"][:2] == GOOD_DESCRIPTIONS
    applied = [a for a in result.report["applied"] if a["tool"] == "create_responsive_search_ad"]
    assert "copy written by the model scripted" in applied[0]["rationale"]


async def test_the_copy_models_usage_counts_toward_the_runs_tokens_and_turns(make_runner, sandbox, audit):
    """The skill's model call is a model turn like any other: its tokens reach the run's usage (so
    the run's token and cost limits apply to it), and its turn is counted for the creative agent."""
    thin_austria(sandbox)
    usage = {"input_tokens": 1000, "output_tokens": 100}
    script = {"creative": [turn(GOOD_HEADLINES, GOOD_DESCRIPTIONS, usage=usage)]}
    async with make_runner(scripts=script) as runner:
        result = await runner.start({"kind": "maintenance", "accounts": [AT]})
    assert result.report["usage"]["tokens"] == 1100


async def test_maintenance_with_a_model_that_replies_prose_uses_the_templates_and_says_so(make_runner, sandbox, audit):
    thin_austria(sandbox)
    async with make_runner(scripts={"creative": [{"content": "Klar, mache ich!"}]}) as runner:
        result = await runner.start({"kind": "maintenance", "accounts": [AT]})
    (created,) = results(audit, "create_responsive_search_ad")
    assert not set(created.args["headlines"]) & set(GOOD_HEADLINES)
    assert any("is not the JSON asked for (it is not JSON)" in note for note in result.report["notes"])


@given(st.text(max_size=200))
def test_any_reply_is_lines_or_a_reply_error(text):
    try:
        headlines, descriptions = parse_reply(text)
    except ReplyError:
        return
    assert all(isinstance(line, str) for line in (*headlines, *descriptions))


@given(st.lists(st.text(max_size=40), max_size=6), st.lists(st.text(max_size=100), max_size=4), st.booleans())
def test_the_json_asked_for_is_read_back_exactly(headlines, descriptions, fenced):
    text = json.dumps({"descriptions": descriptions, "headlines": headlines}, ensure_ascii=False)
    if fenced:
        text = f"```json\n{text}\n```"
    assert parse_reply(text) == (headlines, descriptions)


class Unreachable(BaseChatModel):
    """A provider that cannot be reached."""

    @property
    def _llm_type(self) -> str:
        return "unreachable"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        raise ConnectionError("no route to the model")


async def test_a_model_that_fails_raises_one_line_naming_it(make_guard, sandbox):
    copy = CopyWriter(ModelProvider("openai:gpt-4o", model=Unreachable()))
    with pytest.raises(ModelProviderError) as failed:
        await the_ad(make_guard, sandbox, copy)
    expected = "the model provider failed: openai (gpt-4o) is unreachable (no route to the model)"
    assert str(failed.value) == expected


async def test_maintenance_whose_copy_model_fails_stops_with_model_and_publishes_no_template_ad(
    config, platforms, audit, sandbox
):
    """A configured model that cannot be reached stops the run (reason ``model``) instead of
    template copy going out where the model's was configured; what ran before stays done."""
    thin_austria(sandbox)
    models = ModelProvider("openai:gpt-4o", model=Unreachable())
    async with Runner(config, platforms=platforms, audit=audit, models=models) as runner:
        result = await runner.start({"kind": "maintenance", "accounts": [AT]})
    assert result.status == "stopped" and result.report["stop_reason"] == "model"
    assert any("the model provider failed: openai (gpt-4o)" in note for note in result.report["notes"])
    assert results(audit, "create_responsive_search_ad") == []


async def test_an_ad_whose_model_lines_fail_together_is_made_from_the_templates(
    make_guard, sandbox, world, monkeypatch
):
    _, templates = await the_ad(make_guard, sandbox, None)
    checked = creative._verdict

    async def verdict(guard, account, headlines, descriptions, evidence):
        if len(headlines) > 1 and GOOD_HEADLINES[0] in headlines:  # the whole ad with the model's lines
            return {"verdict": "fail", "findings": []}
        return await checked(guard, account, headlines, descriptions, evidence)

    monkeypatch.setattr(creative, "_verdict", verdict)
    copy = writer(turn(GOOD_HEADLINES, GOOD_DESCRIPTIONS))
    sandbox.world = world.clone()
    _, proposal = await the_ad(make_guard, sandbox, copy)
    assert proposal.args == templates.args
    assert copy.notes == [
        f"creative {AT} ad group {GROUP}: the ad with the model's lines fails its check: copy from the templates"
    ]

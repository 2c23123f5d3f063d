"""Turns a small model can hardly get wrong: in the JSON tool modes the reply is constrained to one
call of a listed tool with that tool's arguments (ids narrowed to the run's, no micros fields), a
first turn must be a call, and a change that waits for a person ends the model's task."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage

from adpilot.agents.llm import ModelProvider, build_provider, tool_listing, turn_schema
from adpilot.agents.nodes.supervisor import TRANSFER_TOOLS
from adpilot.agents.run import Runner
from adpilot.errors import ConfigError
from tests.agents.test_chat import budget
from tests.agents.test_toolcalls import Recording
from tests.conftest import DE

SPEC = "openai-compatible:fake@http://127.0.0.1:9/v1#json_object"


def _reply(value: dict[str, Any]) -> AIMessage:
    return AIMessage(content=json.dumps(value))


def _budget_call(budget_id: str, **money: str) -> AIMessage:
    return _reply({"name": "set_campaign_budget", "arguments": {"customer_id": DE, "budget_id": budget_id, **money}})


def _valid(schema: dict[str, Any], value: Any) -> bool:
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError:
        return False
    return True


def _schemas(model: Recording) -> list[dict[str, Any]]:
    return [call["response_format"]["schema"] for call in model.calls]


def _tool(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in schema["anyOf"] if a["properties"].get("name", {}).get("const") == name)


# --- the reply's schema -------------------------------------------------------------------------

TRANSFERS = [t.schema() for t in TRANSFER_TOOLS]


@given(task=st.text(min_size=1, max_size=40), role=st.sampled_from(["creative", "bidding", "seo", "compliance"]))
def test_a_transfer_with_its_task_fits_the_schema_and_nothing_else_does(task, role):
    schema = turn_schema(TRANSFERS)
    assert _valid(schema, {"name": f"transfer_to_{role}", "arguments": {"task": task}})
    assert not _valid(schema, {"name": f"transfer_to_{role}x", "arguments": {"task": task}})  # unknown tool
    assert not _valid(schema, {"name": f"transfer_to_{role}", "arguments": {"task": task, "id": "9001"}})
    assert not _valid(schema, {"name": f"transfer_to_{role}", "arguments": {}})  # its argument missing
    assert not _valid(schema, {"name": f"transfer_to_{role}", "arguments": {"task": task}, "answer": "x"})
    assert _valid(schema, {"answer": task})
    assert not _valid(turn_schema(TRANSFERS, answer=False), {"answer": task})  # a turn that must call


def test_the_schema_inlines_references_so_a_grammar_can_be_built_from_it():
    from adpilot.tools.catalogue import CATALOGUE

    schema = turn_schema([{"function": {"name": s.name, "parameters": s.args.model_json_schema()}} for s in CATALOGUE])
    assert "$ref" not in json.dumps(schema) and "$defs" not in json.dumps(schema)
    # No patterns: llama.cpp built an unparsable grammar from final_url's `^https?://\S+$` and crashed.
    assert '"pattern"' not in json.dumps(schema) and '"format"' not in json.dumps(schema)
    rsa = _tool(schema, "create_responsive_search_ad")["properties"]["arguments"]
    assert rsa["properties"]["headlines"]["type"] == "array"


def test_the_prompt_lists_each_tool_and_argument_compactly():
    listed = tool_listing(TRANSFERS[1])
    assert listed.splitlines()[0].startswith("- transfer_to_bidding: Hand a task to the bidding agent")
    assert "    task (required, string): what the agent should do" in listed
    assert len(listed) < len(json.dumps(TRANSFERS[1]))


def test_json_object_needs_a_server_that_takes_a_schema():
    assert build_provider("scripted#json_object", scripts={}).tool_mode == "json_object"
    with pytest.raises(ConfigError, match="json_object tool mode needs an openai-compatible server"):
        build_provider("openai:gpt-4o-mini#json_object", environ={"OPENAI_API_KEY": "k"})


# --- a run in json_object mode ------------------------------------------------------------------


async def _chat(config, platforms, audit, replies: list[AIMessage], text: str):
    model = Recording(replies=replies)
    provider = ModelProvider(SPEC, model=model, tool_mode="json_object")
    async with Runner(config, platforms=platforms, audit=audit, models=provider) as runner:
        done = await runner.start({"kind": "chat", "text": text, "accounts": [DE]})
    return model, done


async def test_the_role_agent_is_shown_the_runs_ids_and_money_as_text_only(config, platforms, audit, sandbox):
    model, done = await _chat(
        config,
        platforms,
        audit,
        [
            _reply({"name": "transfer_to_bidding", "arguments": {"task": "Jackets budget up by 5 EUR"}}),
            _budget_call("9002", change="+5"),
            _reply({"answer": "Raised by 5 EUR."}),
            _reply({"answer": "The Jackets budget is now 35 EUR."}),
        ],
        "Jackets a bit more money please",
    )
    assert done.status == "done" and budget(sandbox, "9002") == "35000000"
    schemas = _schemas(model)
    assert [call["response_format"]["type"] for call in model.calls] == ["json_object"] * 4
    # First turns must be calls (supervisor, then the role); later turns may answer.
    answers = [any("answer" in a["properties"] for a in s["anyOf"]) for s in schemas]
    assert answers == [False, False, True, True]
    arguments = _tool(schemas[1], "set_campaign_budget")["properties"]["arguments"]
    assert arguments["properties"]["budget_id"]["enum"] == ["9001", "9002", "9003"]
    assert arguments["properties"]["customer_id"]["enum"] == [DE]
    assert "amount_micros" not in arguments["properties"]
    assert list(arguments["properties"])[:3] == ["customer_id", "budget_id", "change"]
    status = _tool(schemas[1], "set_ad_status")["properties"]["arguments"]["properties"]
    assert "2101~31001" in status["ad_id"]["enum"] and "ad_group_id" not in status
    # The garbled id a small model wrote in the field notes cannot be sent at all.
    garbled = {"name": "set_campaign_budget", "arguments": {"customer_id": DE, "budget_id": "3101", "change": "+5"}}
    assert not _valid(schemas[1], garbled)
    # The result the role reads shows money as it writes it, never micros.
    result = str(model.seen[2][-1].content)
    assert '"amount": "35.00 EUR"' in result and "micros" not in result


async def test_a_change_that_waits_for_a_person_ends_the_role_agents_task(config, platforms, audit, sandbox):
    """A small model that goes on after an escalation re-proposes or calls escalate in a loop: the
    role is not asked again until the person has decided."""
    model, done = await _chat(
        config,
        platforms,
        audit,
        [
            _reply({"name": "transfer_to_bidding", "arguments": {"task": "Boots budget to 80 EUR"}}),
            _budget_call("9001", amount="80"),
            _reply({"name": "escalate", "arguments": {"reason": "please approve"}}),  # never asked for
        ],
        "Boots to 80 EUR",
    )
    assert done.status == "waiting" and len(done.pending) == 1
    assert len(model.calls) == 2  # the supervisor's transfer and the role's one call
    assert budget(sandbox) == "50000000"


async def test_a_change_where_the_operator_gave_one_new_value_is_carried_out_as_that_value(
    config, platforms, audit, sandbox
):
    bid = {"customer_id": DE, "criterion_id": "2101~41002"}
    _, done = await _chat(
        config,
        platforms,
        audit,
        [
            _reply({"name": "transfer_to_bidding", "arguments": {"task": "hiking boots max CPC to 1 euro"}}),
            _reply({"name": "set_keyword_bid", "arguments": {**bid, "change": "+10%"}}),  # 0.90 → 0.99: misread
            _reply({"answer": "Raised to 1 EUR."}),
            _reply({"answer": "The bid is 1 EUR."}),
        ],
        "The keyword hiking boots gets too few clicks; raise its max CPC to 1 euro.",
    )
    criterion = sandbox.world.customer(DE).ad_group_criteria["2101~41002"]
    assert done.status == "done" and criterion.cpc_bid_micros == "1000000"
    assert done.report["usage"]["tool_errors"] == 0
    used = "the model sent change '+10%'; the operator asked for a new value (cpc_bid 1)"
    assert any(used in note for note in done.report["notes"])


async def test_a_new_value_that_is_the_operators_change_is_corrected_and_the_next_turn_must_call(
    config, platforms, audit, sandbox
):
    model, done = await _chat(
        config,
        platforms,
        audit,
        [
            _reply({"name": "transfer_to_bidding", "arguments": {"task": "Jackets budget up by 5 EUR"}}),
            _budget_call("9002", amount="5.00"),  # 30 → 5: the change taken as the new value
            _budget_call("9002", change="+5"),
            _reply({"answer": "Raised by 5 EUR."}),
            _reply({"answer": "The Jackets budget is 35 EUR."}),
        ],
        "Kannst du das Tagesbudget der Jacken-Kampagne bitte um 5 Euro erhöhen?",
    )
    assert done.status == "done" and budget(sandbox, "9002") == "35000000"
    assert done.report["usage"]["tool_errors"] == 1
    assert "give change '+5.00' or '-5.00' instead of amount" in json.dumps(model.seen[2][-1].content)
    # the turn after a correction must be a call too: answering then would give up on the task
    answers = [any("answer" in a["properties"] for a in s["anyOf"]) for s in _schemas(model)]
    assert answers == [False, False, False, True, True]


def test_a_draft_with_an_existing_posts_title_is_sent_to_that_post():
    from adpilot.agents.loop import existing_post
    from adpilot.tools.model_args import Known, RunIds

    ids = RunIds(entities=[Known("post", "cms", "501", "…", ("Wasserdichte Wanderschuhe: Kaufberatung",))])
    problem = existing_post("create_draft", {"title": "wasserdichte wanderschuhe – kaufberatung", "content": "x"}, ids)
    assert problem is not None and "call update_post with post_id 501" in problem
    assert existing_post("create_draft", {"title": "Regenjacken für den Herbst", "content": "x"}, ids) is None
    assert existing_post("update_post", {"title": "Wasserdichte Wanderschuhe: Kaufberatung"}, ids) is None


META_REQUEST = "Our buying guide for waterproof hiking boots has no meta description yet. Please write one."
META = "Wasserdichte Wanderschuhe finden: worauf es bei Membran, Sohle und Passform ankommt."


def post(**fields: str) -> dict[str, Any]:
    """update_post's arguments for post 501."""
    return {"post_id": 501, **fields}


@pytest.mark.parametrize(
    ("request_text", "args", "problem"),
    [
        (META_REQUEST, post(meta_description=META), None),
        (META_REQUEST, post(content="<p>neu</p>", meta_description=META), "also changes content"),
        (META_REQUEST, post(content="<p>neu</p>"), "also changes content"),
        (META_REQUEST, post(meta_description="  "), "meta_description is empty"),
        ("Schreib bitte eine Meta-Beschreibung für Beitrag 501", post(title="x"), "also changes title"),
        ("New title and meta description for post 501", post(title="x", meta_description=META), None),
        # a field to keep: changed, refused; left alone, fine
        ("Write a meta description for 501 but keep the title as it is", post(title="x"), "keep title"),
        ("Den Titel von 501 nicht ändern, nur eine Meta-Beschreibung", post(title="x"), "keep title"),
        (
            "Post 501: add a meta description and leave the title alone",
            post(meta_description=META),
            None,
        ),
        # words that name no field, or ask for the whole post: every field open
        ("Make post 501 better for search", post(content="<p>neu</p>", title="x"), None),
        (
            "Improve post 501 for search, the title is too long",
            post(title="x", meta_description=META),
            None,
        ),
        ("Take post 501 offline, its title is wrong", post(status="draft"), None),
        ("Der Titel von Beitrag 501 passt nicht, bitte neu", post(title="x"), None),
        ("The post 501 does not have a title, add one", post(title="x"), None),
        # text and content, in both languages; a quoted name is no instruction
        (
            "Rewrite the text of post 501 and give it a meta description",
            post(content="x", meta_description=META),
            None,
        ),
        (
            "Schreib den Beitragstext von 501 neu und ergänze eine Metabeschreibung",
            post(content="x", meta_description=META),
            None,
        ),
        (
            "Update post 501 about our 'Content Creator Kit' with the new prices",
            post(content="x", excerpt="y"),
            None,
        ),
        # removing a field sends it empty
        ("Remove the excerpt of post 501", post(excerpt=""), None),
        ("Lösche die Meta-Beschreibung von Beitrag 501", post(meta_description=""), None),
    ],
)
def test_a_post_update_changes_the_fields_the_operator_named(request_text, args, problem):
    from adpilot.agents.loop import fields_not_asked

    found = fields_not_asked("update_post", args, request_text)
    assert (found is None) if problem is None else (found is not None and problem in found)
    assert fields_not_asked("create_draft", {"title": "x", "content": "y"}, META_REQUEST) is None


async def test_a_meta_description_request_changes_the_meta_description_only(make_runner, sandbox, audit):
    """What the local model did: asked for a meta description, it rewrote the post's content (and
    sent the meta description empty). The call is refused with a correction; the next one is
    what was asked, and it waits for a person (the post is live)."""
    before = sandbox.world.cms.posts["501"].content
    scripts = {
        "supervisor": [
            {"tool_calls": [{"name": "transfer_to_seo", "args": {"task": "write a meta description for post 501"}}]},
            {"content": "The meta description waits for your approval."},
        ],
        "seo": [
            {
                "tool_calls": [
                    {
                        "name": "update_post",
                        "args": {"post_id": 501, "content": "<p>Alles über Wanderschuhe.</p>", "meta_description": ""},
                    }
                ]
            },
            {"tool_calls": [{"name": "update_post", "args": {"post_id": 501, "meta_description": META}}]},
            {"content": "Done."},
        ],
    }
    async with make_runner(scripts=scripts) as runner:
        waiting = await runner.start({"kind": "chat", "text": META_REQUEST})
        assert waiting.status == "waiting"
        (item,) = waiting.pending
        assert item["tool"] == "update_post" and item["args"] == {"post_id": 501, "meta_description": META}
        done = await runner.resume(waiting.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
    # said once, as it ended: not also as "waiting for your approval"
    changes = [line for line in (done.answer or "").splitlines() if "(update_post)" in line]
    assert changes == ["Done: post 501: meta_description (update_post)"], done.answer
    post = sandbox.world.cms.posts["501"]
    assert post.meta_description == META and post.content == before
    refused = [r for r in audit.records(kind="decision") if r.tool == "update_post" and r.decision == "deny"]
    assert len(refused) == 1 and "meta_description is empty" in (refused[0].reason or "")

"""Planning: a role fixes the calls of its task before any of them happens.

Skills and operator commands read the platforms and propose absolute changes; a model takes one
turn and its tool calls become the plan. The plan is checkpointed as the node's output, and only
then does :mod:`adpilot.agents.nodes.execute` carry it out — so a crash between a write and its
result replays the very same calls instead of re-planning from the state the run had changed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from adpilot.agents.commands import Command
from adpilot.agents.context import RunContext
from adpilot.agents.explain import AGENT as EXPLAINER
from adpilot.agents.explain import explain, explained
from adpilot.agents.llm import ModelProviderError
from adpilot.agents.loop import (
    ROLE_BRIEFS,
    SYSTEM_TEMPLATE,
    against_request,
    first_message,
    in_contract,
    narrowed,
    tool_message,
)
from adpilot.agents.outcomes import quoted
from adpilot.agents.patience import load_patience
from adpilot.agents.proposal import Proposal
from adpilot.agents.skills import bidding as bidding_skills
from adpilot.agents.skills.compliance import sweep
from adpilot.agents.skills.creative import CopyWriter, creative_proposals
from adpilot.agents.skills.seo import ReadFailed, StructuredData, read_posts
from adpilot.agents.skills.seo import audit as seo_audit
from adpilot.agents.state import Planned, RunState, Task
from adpilot.agents.toolcalls import (
    ToolDef,
    correction,
    earlier_calls,
    earlier_invalid,
    read_reply,
    record_invalid,
    repeated_invalid,
    signature,
    stopped_by_model,
)
from adpilot.tools.guard import Guard, call_hash
from adpilot.tools.model_args import ModelArguments, model_facing

MAX_TURNS_PER_TASK = 8


async def plan(state: RunState, ctx: RunContext, role: str) -> dict[str, Any]:
    """Fix the current task's calls: ``planned`` (and, for a model, the conversation so far)."""
    task = state["current"]
    assert task is not None
    ctx.bind(state, role)
    update: dict[str, Any] = {"steps": 1}
    if ctx.uses_model(state):
        return {**update, **await _model_turn(state, ctx, role, task)}
    proposals: list[Proposal] = []
    notes: list[str] = []
    if task.get("commands"):
        proposals, notes = await _command_proposals(task, ctx.guard)
    elif state["trigger"]["kind"] == "maintenance" and ctx.skills:
        try:
            proposals, notes = await _skill_proposals(state, ctx, role, task, update)
            proposals, unexplained = await _explained(state, ctx, role, proposals, update)
            notes = [*notes, *unexplained]
        except ReadFailed as failed:  # visible: a failed read in the report, never "nothing to change"
            return {**update, **_read_failed(task, role, failed)}
        except ModelProviderError as failed:  # the copy-writing model failed: the run stops (``model``)
            return {**update, **stopped_by_model(failed)}
    planned: list[Planned] = [
        {
            "id": f"{task['id']}.{p.id}",
            "role": p.role,
            "tool": p.tool,
            "args": p.args,
            "rationale": p.rationale,
            "account": p.args.get("customer_id"),
            "tool_call_id": None,
            "record": True,
        }
        for p in proposals
    ]
    return {**update, "planned": planned, "notes": notes}


async def _model_turn(state: RunState, ctx: RunContext, role: str, task: Task) -> dict[str, Any]:
    """The role model's turns until it calls a valid tool or answers: its valid tool calls become
    the plan; invalid ones (written or native) are audited, recorded as outcomes and answered with
    a correction, and the model is asked again — within the run's limits, checked after every
    turn; prose means it has answered, in words made from the task's outcomes. A change it repeats
    (same tool, same arguments) in the task ends the task; a provider's failure stops the run
    (``model``)."""
    arguments = await ModelArguments.for_run(ctx.guard, role)  # the run's ids, read once; money as text
    conversation: list[BaseMessage] = list(state.get("conversation") or [])
    if not conversation:
        context = {"accounts": sorted(ctx.guard.run.accounts)}
        conversation = [
            SystemMessage(SYSTEM_TEMPLATE.format(role=role, brand=ctx.brand.name, brief=ROLE_BRIEFS.get(role, ""))),
            HumanMessage(first_message(state, task, role, context, arguments.ids)),
        ]
    first = sum(1 for m in conversation if isinstance(m, AIMessage))
    taken = (state.get("turns") or {}).get(role, 0)
    trigger = state.get("trigger") or {}
    request = str(trigger.get("text") or "") if trigger.get("kind") == "chat" else ""
    tools = [
        ToolDef(
            spec.name,
            arguments.description(spec),
            model_facing(spec),
            narrowed(model_facing(spec).model_json_schema(), arguments.ids),
        )
        for spec in ctx.guard.tools_for(role)
    ]
    schemas = [t.schema() for t in tools]
    update: dict[str, Any] = {"tokens": 0, "cost_pico_usd": 0, "tool_errors": 0, "transcript": [], "outcomes": []}
    while True:
        turn = sum(1 for m in conversation if isinstance(m, AIMessage))
        if turn >= MAX_TURNS_PER_TASK:
            return {**update, "planned": [], "task_answer": "Stopped after the maximum number of turns."}
        try:
            # A task's first turn is a call: a role agent acts through its tools (an answer with
            # no call is a guess at what the platforms would say); so is the turn after a
            # correction (answering then gives up on the task; a repeat ends it).
            must_call = turn == 0 or _only_invalid(conversation[-1:])
            reply = await ctx.models.ask(role, taken - first, conversation, schemas, must_call=must_call)
        except ModelProviderError as failed:
            return {**update, **stopped_by_model(failed)}
        read, read_notes = against_request(
            read_reply(reply, tools, f"{task['id']}-t{turn}"), request, arguments.ids, role
        )
        update["notes"] = [*update.get("notes", []), *read_notes]
        read = await in_contract(arguments, read)
        earlier = earlier_calls(conversation)
        again = repeated_invalid(read, earlier_invalid(conversation))
        conversation.append(read.message)
        for key, value in ctx.usage(reply).items():  # tokens and their cost, from the reply's usage metadata
            update[key] += value
        update["turns"] = {role: taken + turn - first + 1}
        update["transcript"].append(
            {
                "agent": role,
                "content": reply.content,
                "tool_calls": [c["name"] for c in read.calls],
                "invalid_calls": [i.name for i in read.invalid],
            }
        )
        for invalid in read.invalid:
            key = f"{task['id']}.t{turn}.{invalid.id}"
            update["outcomes"].append(record_invalid(ctx.guard, role, task["id"], key, invalid))
            conversation.append(tool_message(correction(invalid), str(invalid.name), invalid.id))
        update["tool_errors"] += len(read.invalid)
        if again is not None:
            reason = f"the {role} agent repeated an invalid call of {again.name or 'no tool'}: its task ends here"
            notes = [*update.get("notes", []), reason]
            return {**update, "planned": [], "task_answer": reason, "notes": notes}
        if read.calls or read.answer is not None:
            break
        projected: RunState = {
            **state,
            "tokens": state.get("tokens", 0) + update["tokens"],
            "cost_pico_usd": state.get("cost_pico_usd", 0) + update["cost_pico_usd"],
            "tool_errors": state.get("tool_errors", 0) + update["tool_errors"],
        }
        if ctx.stopped(projected):  # the edge after this node stops the run
            return {**update, "planned": [], "conversation": conversation}
    repeated = next(
        (
            c
            for c in read.calls
            if signature(c["name"], c["args"]) in earlier
            and (spec := ctx.guard.tools.get(c["name"])) is not None
            and spec.kind != "read"
        ),
        None,
    )
    if repeated is not None:
        reason = f"the {role} agent repeated {repeated['name']} with the same arguments: its task ends here"
        notes = [*update.get("notes", []), reason]
        return {**update, "planned": [], "task_answer": reason, "notes": notes}
    planned: list[Planned] = []
    for index, call in enumerate(read.calls):
        args = call["args"]
        planned.append(
            {
                "id": f"{task['id']}.t{turn}.c{index}.{call_hash(call['name'], args)[:12]}",
                "role": role,
                "tool": call["name"],
                "args": args,
                "rationale": f"{role} agent",
                "account": args.get("customer_id") if isinstance(args, dict) else None,
                "tool_call_id": call["id"],
                "record": False,
            }
        )
    if read.answer is not None:
        said = quoted(f"The {role} agent adds", read.answer) if read.answer.strip() else ""
        update["task_answer"] = said or f"The {role} agent ended its task."
    return {**update, "planned": planned, "conversation": conversation}


def _only_invalid(last: list[BaseMessage]) -> bool:
    """Whether the conversation's last message is the result of a call that was refused as
    invalid (the correction the model reads next)."""
    return bool(last) and isinstance(last[0], ToolMessage) and '"type": "invalid_call"' in str(last[0].content)


async def _command_proposals(task: Task, guard: Guard) -> tuple[list[Proposal], list[str]]:
    proposals, notes = [], []
    for raw in task.get("commands", []):
        command = Command(raw["action"], raw["role"], raw["params"], raw.get("language", "en"))
        proposal = await _proposal_for(command, guard)
        if isinstance(proposal, str):
            notes.append(proposal)
        else:
            proposals.append(proposal)
    return proposals, notes


async def _proposal_for(command: Command, guard: Guard) -> Proposal | str:
    """The absolute call an id command stands for, after reading through the Guard that its target
    exists (in ``params["account"]`` when the chat resolved a name there, else in any of the run's
    accounts); a note when nothing matches. Named commands arrive here with their ids resolved, so
    they take exactly this path."""
    params = command.params
    role = command.role or "bidding"
    named = f" “{params['label']}”" if params.get("label") else ""
    accounts = [params["account"]] if params.get("account") in guard.run.accounts else sorted(guard.run.accounts)
    for account in accounts:
        if command.action in ("pause_ad", "enable_ad"):
            ads = await guard.call(role, "list_ads", {"customer_id": account, "ad_group_id": params["group"]})
            if ads.ok and any(a["ad_id"] == params["ad"] for a in ads.data):
                status = "PAUSED" if command.action == "pause_ad" else "ENABLED"
                args = {
                    "customer_id": account,
                    "ad_group_id": params["group"],
                    "ad_id": params["ad"],
                    "status": status,
                }
                return Proposal(
                    role,
                    "set_ad_status",
                    args,
                    f"operator: {command.action.replace('_', ' ')} {params['group']}~{params['ad']}{named}",
                )
        elif command.action in ("pause_campaign", "enable_campaign", "set_budget"):
            campaigns = await guard.call(role, "list_campaigns", {"customer_id": account})
            for campaign in campaigns.data if campaigns.ok else []:
                if command.action == "set_budget" and campaign["budget_id"] == params["budget"]:
                    args = {
                        "customer_id": account,
                        "budget_id": params["budget"],
                        "amount_micros": str(params["amount_micros"]),
                    }
                    rationale = f"operator: set budget {params['budget']}{named}"
                    return Proposal(role, "set_campaign_budget", args, rationale)
                if command.action != "set_budget" and campaign["campaign_id"] == params["campaign"]:
                    status = "PAUSED" if command.action == "pause_campaign" else "ENABLED"
                    args = {"customer_id": account, "campaign_id": params["campaign"], "status": status}
                    return Proposal(
                        role,
                        "set_campaign_status",
                        args,
                        f"operator: {command.action.replace('_', ' ')} {params['campaign']}{named}",
                    )
        elif command.action == "set_bid":
            keywords = await guard.call(
                role, "get_performance", {"customer_id": account, "level": "keyword", "days": 30}
            )
            if keywords.ok and any(
                k["ad_group_id"] == params["group"] and k["criterion_id"] == params["criterion"] for k in keywords.data
            ):
                args = {
                    "customer_id": account,
                    "ad_group_id": params["group"],
                    "criterion_id": params["criterion"],
                    "cpc_bid_micros": str(params["amount_micros"]),
                }
                return Proposal(
                    role, "set_keyword_bid", args, f"operator: set bid {params['group']}~{params['criterion']}{named}"
                )
    return f"nothing matches that command in the run's accounts ({', '.join(accounts)})"


async def _skill_proposals(
    state: RunState, ctx: RunContext, role: str, task: Task, update: dict[str, Any]
) -> tuple[list[Proposal], list[str]]:
    """A skill's proposals, less those patience holds back (cooldowns, holds: notes say which).
    A skill that asked a model adds its usage (tokens, cost, turns) to ``update``: it counts
    toward the run's limits like any model turn."""
    account = task.get("account")
    if role == "bidding" and account:
        return await _bidding(ctx, account)
    if role == "creative" and account:
        writer = None
        if ctx.models.enabled:  # the creative agent's model writes new ads' copy, checked like the templates'
            turns = (state.get("turns") or {}).get(role, 0)
            writer = CopyWriter(ctx.models, language=ctx.config.locale, offset=turns, price=ctx.usage)
        proposals = await creative_proposals(
            ctx.guard, account, ctx.brand, use_memory=ctx.memory is not None, writer=writer
        )
        if writer is not None and writer.calls:
            update.update(writer.usage)
            update["turns"] = {role: writer.offset + writer.calls}
        kept, notes = await _patiently(ctx, account, proposals)
        return kept, [*(writer.notes if writer is not None else []), *notes]
    if role == "seo":
        return await _patiently(ctx, None, await _seo(ctx))
    if role == "compliance":  # never held back: a live ad or page that breaks the rules is fixed now
        scope = state["trigger"].get("scope", "all")
        accounts = [] if scope == "cms" else sorted(ctx.guard.run.accounts)
        return await sweep(ctx.guard, accounts, include_cms=scope in ("all", "cms"))
    return [], []


async def _explained(
    state: RunState, ctx: RunContext, role: str, proposals: list[Proposal], update: dict[str, Any]
) -> tuple[list[Proposal], list[str]]:
    """``proposals`` with the model's explanation quoted in each rationale (:mod:`adpilot.agents.
    explain`; the changes themselves untouched), and notes where it could not be used. Its usage
    counts toward the run's limits like any model turn."""
    offset = (state.get("turns") or {}).get(EXPLAINER, 0)
    found = await explain(
        ctx.models, proposals, brand=ctx.brand.name, role=role, language=ctx.config.locale, offset=offset
    )
    for reply in found.replies:
        for key, value in ctx.usage(reply).items():
            update[key] = update.get(key, 0) + value
    if found.replies:
        update["turns"] = {**update.get("turns", {}), EXPLAINER: offset + len(found.replies)}
    pairs = zip(proposals, found.lines, strict=True)
    return [dataclasses.replace(p, rationale=explained(p.rationale, line)) for p, line in pairs], found.notes


async def _patiently(
    ctx: RunContext, account: str | None, proposals: list[Proposal]
) -> tuple[list[Proposal], list[str]]:
    if not proposals:
        return [], []
    patience, notes = await load_patience(ctx.guard, ctx.config.state_dir, account)
    if account is not None and any(":campaign:" in h.entity for h in patience.holds):
        patience.parents = await _campaign_of(ctx, "creative", account, {})
    kept, held = patience.screen(proposals)
    return kept, [*notes, *held]


async def _campaign_of(ctx: RunContext, role: str, account: str, known: dict[str, str]) -> dict[str, str]:
    """Parents for campaign holds and campaign targets: ``ad_group:ID`` → campaign id (one read)."""
    found = await ctx.guard.call(role, "get_performance", {"customer_id": account, "level": "ad_group", "days": 30})
    groups = {f"ad_group:{r['ad_group_id']}": str(r["campaign_id"]) for r in found.data} if found.ok else {}
    return {**known, **groups}


async def _bidding(ctx: RunContext, account: str) -> tuple[list[Proposal], list[str]]:
    guard = ctx.guard
    campaigns = await guard.call("bidding", "list_campaigns", {"customer_id": account})
    week = await guard.call("bidding", "get_performance", {"customer_id": account, "level": "campaign", "days": 7})
    keywords = await guard.call("bidding", "get_performance", {"customer_id": account, "level": "keyword", "days": 14})
    ads = await guard.call("bidding", "get_performance", {"customer_id": account, "level": "ad", "days": 30})
    if not (campaigns.ok and week.ok and keywords.ok and ads.ok):
        return [], []
    currency = await guard.context.currency(account)
    patience, notes = await load_patience(guard, ctx.config.state_dir, account)
    configured = ctx.config.targets
    parents = {f"campaign_budget:{c['budget_id']}": str(c["campaign_id"]) for c in campaigns.data}
    parents = await _campaign_of(ctx, "bidding", account, parents)  # campaign targets, holds, bid raises
    patience.parents = parents
    groups = {key.split(":", 1)[1]: campaign for key, campaign in parents.items() if key.startswith("ad_group:")}
    resolved: dict[str | None, bidding_skills.Targets] = {}

    def targets_of(campaign: str | None) -> bidding_skills.Targets:
        if campaign not in resolved:
            resolved[campaign] = bidding_skills.Targets.from_config(configured.resolve(account, campaign))
        return resolved[campaign]

    spent = {str(row["campaign_id"]): int(row["cost_micros"]) for row in week.data}
    budget_use = {  # share of 7 days' budget spent (no row: nothing spent)
        str(c["campaign_id"]): spent.get(str(c["campaign_id"]), 0) / (7 * int(c["budget_amount_micros"]))
        for c in campaigns.data
        if c["status"] == "ENABLED" and int(c["budget_amount_micros"]) > 0
    }
    settings, learning = ctx.bidding, patience.rules.learning
    proposals = [
        *bidding_skills.pacing(campaigns.data, week.data, targets_of, account, currency),
        *bidding_skills.bids(
            keywords.data,
            settings,
            targets_of,
            account,
            currency,
            learning=learning.keyword,
            age_days=patience.age_days(account, "ad_group_criterion"),
            campaign_of=groups,
            budget_use=budget_use,
            week=week.data,
        ),
        *bidding_skills.rotation(
            ads.data,
            settings,
            targets_of,
            account,
            learning=learning.ad,
            age_days=patience.age_days(account, "ad_group_ad"),
            campaign_of=groups,
        ),
    ]
    kept, held = patience.screen(proposals)
    line = f"targets: {account}: {targets_of(None).describe(currency)}"
    overrides = [
        f"campaign {c['campaign_id']}: {targets_of(str(c['campaign_id'])).goal(currency)}"
        for c in campaigns.data
        if str(c["campaign_id"]) in configured.campaigns
    ]
    if overrides:
        line += " · " + ", ".join(overrides)
    return kept, [line, *notes, *held]


async def _seo(ctx: RunContext) -> list[Proposal]:
    posts = await read_posts(ctx.guard)  # ReadFailed when the CMS cannot be read
    site = posts[0].link.split("/", 3)[:3] if posts else []
    structured: StructuredData = "field" if ctx.config.wordpress.seo_fields == "adpilot" else "plugin"
    return seo_audit(posts, site="/".join(site), brand=ctx.brand.name, structured_data=structured).proposals


def _read_failed(task: Task, role: str, failed: ReadFailed) -> dict[str, Any]:
    """The plan of a task whose reads failed: nothing to do, the failed read as an outcome."""
    result, error = failed.result, failed.result.error
    outcome = {
        "proposal_id": f"{task['id']}.read",
        "task_id": task["id"],
        "role": role,
        "tool": result.tool,
        "args": failed.call_args,
        "rationale": f"{role}: read the CMS",
        "decision": "allow",
        "ok": False,
        "error": {"type": error.type, "message": error.message} if error else None,
        "data": None,
        "audit_seq": result.audit_seq,
        "call_hash": result.call_hash,
        "account": None,
    }
    note = f"the {role} task did not run: {failed} — nothing was checked or changed"
    return {"planned": [], "notes": [note], "outcomes": [outcome], "tool_errors": 1}

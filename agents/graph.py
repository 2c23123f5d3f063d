"""The agent graph, declared in one place.

    START → intake → supervisor ─┬→ creative ─┐
                                 ├→ bidding  ─┼→ compliance → supervisor   (until the plan is done)
                                 ├→ seo      ─┘
                                 ├→ compliance (the sweep task)
                                 ├→ escalate (interrupt) → apply → supervisor
                                 ├→ finalize → END
                                 └→ stop → END                 (checked on every edge)

Nodes are async functions of the state; process objects (the Guard, models, memory) come from
the :class:`RunContext` the graph is built with, never from the state. Side effects happen only
through the Guard, keyed by proposal ids derived from the task, so a node that runs again after
a crash or a resume replays its changes instead of repeating them; the escalate node has
nothing before its ``interrupt()``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from adpilot.agents.commands import HELP, Command, CommandError, parse_command
from adpilot.agents.llm import ModelProvider
from adpilot.agents.loop import AgentRun, as_data, record, run_agent
from adpilot.agents.proposal import Proposal
from adpilot.agents.report import build_report
from adpilot.agents.skills import bidding as bidding_skills
from adpilot.agents.skills.compliance import sweep
from adpilot.agents.skills.creative import creative_proposals
from adpilot.agents.skills.seo import audit as seo_audit
from adpilot.agents.state import Outcome, Pending, RunState, Task
from adpilot.agents.stop import KillSwitch, Limits, stop_reason
from adpilot.config import Config
from adpilot.logs import bind, get_logger
from adpilot.memory.store import MemoryStore
from adpilot.policies.compliance import Brand
from adpilot.tools.guard import Approval, Guard
from adpilot.tools.wordpress import WpPost

_log = get_logger("adpilot.graph")
ROLES = ("creative", "bidding", "seo", "compliance")
TRANSFER = {f"transfer_to_{role}": role for role in ROLES}

SUPERVISOR_PROMPT = """You are the supervisor of adpilot's marketing agents for {brand}. Hand work to one
specialist at a time with a transfer tool (transfer_to_creative, transfer_to_bidding,
transfer_to_seo, transfer_to_compliance), giving it a precise task. When the operator's request
is handled, answer the operator in plain words. Never claim a change happened unless a
specialist reported it; changes may need a person's approval."""


@dataclass
class RunContext:
    config: Config
    guard: Guard
    models: ModelProvider
    brand: Brand
    kill_switch: KillSwitch
    limits: Limits = field(default_factory=Limits)
    memory: MemoryStore | None = None
    bidding: bidding_skills.BiddingSettings = field(default_factory=bidding_skills.BiddingSettings)
    skills: bool = True
    approver: str = "operator"


def _transfer_tools() -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": f"Hand a task to the {role} agent.",
                "parameters": {
                    "type": "object",
                    "properties": {"task": {"type": "string", "description": "what the agent should do"}},
                    "required": ["task"],
                    "additionalProperties": False,
                },
            },
        }
        for name, role in TRANSFER.items()
    ]


async def execute_proposals(
    guard: Guard, proposals: list[Proposal], task_id: str
) -> tuple[list[Outcome], list[Pending]]:
    """Send proposals through the Guard; the proposal id makes each one happen at most once."""
    outcomes: list[Outcome] = []
    pending: list[Pending] = []
    for proposal in proposals:
        proposal_id = f"{task_id}.{proposal.id}"
        result = await guard.call(proposal.role, proposal.tool, proposal.args, proposal_id=proposal_id)
        outcome, waiting = record(
            result,
            proposal_id=proposal_id,
            task_id=task_id,
            role=proposal.role,
            tool=proposal.tool,
            args=proposal.args,
            rationale=proposal.rationale,
            account=proposal.args.get("customer_id"),
        )
        outcomes.append(outcome)
        if waiting is not None:
            pending.append(waiting)
    return outcomes, pending


def build_graph(ctx: RunContext) -> StateGraph:
    guard = ctx.guard

    def stopped(state: RunState) -> str | None:
        return stop_reason(state, ctx.limits, ctx.kill_switch)

    def context(state: RunState, agent: str) -> None:
        # Concurrent runs are separate tasks: every node binds its own log context.
        bind(run_id=state.get("run_id"), thread_id=guard.run.thread_id, agent=agent)

    # --- nodes ----------------------------------------------------------------------------------
    async def intake(state: RunState) -> dict[str, Any]:
        trigger = state["trigger"]
        context(state, "intake")
        accounts = list(trigger.get("accounts") or sorted(guard.run.accounts))
        update: dict[str, Any] = {"steps": 1, "pending": [], "plan": [], "current": None}
        if trigger["kind"] == "chat":
            update["transcript"] = [{"agent": "operator", "content": trigger.get("text", "")}]
            return update
        scope = trigger.get("scope", "all")  # all | ads | cms
        if scope == "cms":
            accounts = []
        found: list[dict[str, Any]] = []
        for account in accounts:
            yesterday = await guard.call(
                "bidding", "get_performance", {"customer_id": account, "level": "campaign", "days": 1}
            )
            fortnight = await guard.call(
                "bidding", "get_performance", {"customer_id": account, "level": "campaign", "days": 14}
            )
            if yesterday.ok and fortnight.ok:
                found += bidding_skills.anomalies(yesterday.data, fortnight.data, ctx.bidding, account)
        if found:
            return {**update, "anomalies": found}
        for account in accounts:
            await guard.prefetch(account)
        plan: list[Task] = [
            {"id": f"bid-{a}", "role": "bidding", "account": a, "text": "maintain bids and budgets"} for a in accounts
        ]
        plan += [
            {"id": f"cre-{a}", "role": "creative", "account": a, "text": "keep every ad group supplied with ads"}
            for a in accounts
        ]
        if scope in ("all", "cms"):
            plan.append({"id": "seo", "role": "seo", "account": None, "text": "audit and fix the website's pages"})
        plan.append({"id": "sweep", "role": "compliance", "account": None, "text": "sweep live ads and pages"})
        return {**update, "plan": plan}

    async def supervisor(state: RunState) -> dict[str, Any]:
        context(state, "supervisor")
        update: dict[str, Any] = {"steps": 1}
        if state["trigger"]["kind"] == "maintenance":
            plan = list(state.get("plan") or [])
            if plan:
                update.update(current=plan[0], plan=plan[1:])
            return update
        if ctx.models.enabled:
            return {**update, **await _supervise_with_model(state)}
        if state.get("answer") is None and not state.get("outcomes") and not state.get("current"):
            return {**update, **await _supervise_with_commands(state)}
        if state.get("answer") is None:
            update["answer"] = _summarise(state)
        return update

    async def _supervise_with_commands(state: RunState) -> dict[str, Any]:
        text = state["trigger"].get("text", "")
        try:
            command = parse_command(text)
        except CommandError as exc:
            return {"answer": str(exc)}
        if command is None:
            return {"answer": "Without a configured model I understand commands only. " + HELP}
        if command.action == "help":
            return {"answer": HELP}
        if command.action == "approvals":
            pending = state.get("pending") or []
            return {"answer": "No approvals are waiting." if not pending else json.dumps(pending, ensure_ascii=False)}
        if command.action == "performance":
            rows = await guard.call(
                "bidding",
                "get_performance",
                {"customer_id": command.params["customer"], "level": "campaign", "days": 7},
            )
            if not rows.ok:
                assert rows.error is not None
                return {"answer": f"Cannot show performance: {rows.error.message}"}
            return {"answer": _performance_text(rows.data)}
        task: Task = {
            "id": "cmd-1",
            "role": command.role or "bidding",
            "account": None,
            "text": text,
            "commands": [command.as_dict()],
        }
        return {"current": task}

    async def _supervise_with_model(state: RunState) -> dict[str, Any]:
        history: list[BaseMessage] = list(state.get("supervisor_messages") or [])
        new: list[BaseMessage] = []
        if not history:
            new = [
                SystemMessage(SUPERVISOR_PROMPT.format(brand=ctx.brand.name)),
                HumanMessage(state["trigger"].get("text", "")),
            ]
        model = ctx.models.for_agent("supervisor")
        assert model is not None
        bound = model.bind_tools(_transfer_tools())
        reply = await bound.ainvoke(history + new)
        assert isinstance(reply, AIMessage)
        new.append(reply)
        usage = reply.usage_metadata or {}
        update: dict[str, Any] = {
            "tokens": int(usage.get("total_tokens", 0)),
            "transcript": [
                {"agent": "supervisor", "content": reply.content, "tool_calls": [c["name"] for c in reply.tool_calls]}
            ],
        }
        errors = 0
        for invalid in reply.invalid_tool_calls:
            errors += 1
            new.append(
                ToolMessage(
                    json.dumps({"ok": False, "error": "malformed tool call: " + str(invalid.get("error"))}),
                    tool_call_id=str(invalid.get("id")),
                )
            )
        for call in reply.tool_calls:
            role = TRANSFER.get(call["name"])
            task_text = call["args"].get("task") if isinstance(call["args"], dict) else None
            if role is None or not isinstance(task_text, str) or update.get("current"):
                errors += 1
                message = (
                    f"unknown tool {call['name']!r}; use one of {', '.join(TRANSFER)}"
                    if role is None
                    else "give one transfer at a time, with a task"
                )
                new.append(ToolMessage(json.dumps({"ok": False, "error": message}), tool_call_id=call["id"]))
                continue
            count = sum(1 for m in history if isinstance(m, AIMessage) and m.tool_calls)
            update["current"] = {
                "id": f"chat-{count}",
                "role": role,
                "account": None,
                "text": task_text,
                "tool_call_id": call["id"],
            }
        if not reply.tool_calls and not reply.invalid_tool_calls:
            update["answer"] = str(reply.content) or _summarise(state)
        update["supervisor_messages"] = new
        update["tool_errors"] = errors
        return update

    def _role_node(role: str) -> Callable[[RunState], Awaitable[dict[str, Any]]]:
        async def node(state: RunState) -> dict[str, Any]:
            task = state["current"]
            assert task is not None
            context(state, role)
            proposals: list[Proposal] = []
            notes: list[str] = []
            if task.get("commands"):
                proposals, notes = await _command_proposals(task)
            elif state["trigger"]["kind"] == "maintenance" and ctx.skills:
                proposals, notes = await _skill_proposals(role, task)
            outcomes, pending = await execute_proposals(guard, proposals, task["id"])
            update: dict[str, Any] = {"steps": 1, "notes": notes}
            if (
                ctx.models.enabled
                and not task.get("commands")
                and (state["trigger"]["kind"] == "chat" or not ctx.skills)
            ):
                position = (state.get("script_positions") or {}).get(role, 0)
                model = ctx.models.for_agent(role, position)
                assert model is not None

                def halt(so_far: AgentRun, _state: RunState = state) -> str | None:
                    counted = {**_state, "tool_errors": _state.get("tool_errors", 0) + so_far.tool_errors}
                    counted["tokens"] = _state.get("tokens", 0) + so_far.tokens
                    return stopped(counted)  # type: ignore[arg-type]

                run = await run_agent(
                    model,
                    guard,
                    role=role,
                    task_id=task["id"],
                    task=task["text"],
                    brand=ctx.brand.name,
                    context={"accounts": sorted(guard.run.accounts)},
                    halt=halt,
                )
                outcomes += run.outcomes
                pending += run.pending
                update.update(
                    tokens=run.tokens,
                    tool_errors=run.tool_errors,
                    transcript=run.transcript,
                    script_positions={role: position + run.turns},
                )
                summary = run.answer
            else:
                summary = _outcome_text(outcomes) or "nothing to change"
            update["outcomes"] = outcomes
            update["pending"] = list(state.get("pending") or []) + pending
            if task.get("tool_call_id"):
                update["supervisor_messages"] = [
                    ToolMessage(
                        as_data(f"{role} agent", {"summary": summary, "results": [_brief(o) for o in outcomes]}),
                        tool_call_id=task["tool_call_id"],
                    )
                ]
            return update

        return node

    async def _command_proposals(task: Task) -> tuple[list[Proposal], list[str]]:
        proposals, notes = [], []
        for raw in task.get("commands", []):
            command = Command(raw["action"], raw["role"], raw["params"])
            proposal = await _proposal_for(command)
            if isinstance(proposal, str):
                notes.append(proposal)
            else:
                proposals.append(proposal)
        return proposals, notes

    async def _proposal_for(command: Command) -> Proposal | str:
        params = command.params
        role = command.role or "bidding"
        for account in sorted(guard.run.accounts):
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
                        f"operator: {command.action.replace('_', ' ')} {params['group']}~{params['ad']}",
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
                        return Proposal(role, "set_campaign_budget", args, f"operator: set budget {params['budget']}")
                    if command.action != "set_budget" and campaign["campaign_id"] == params["campaign"]:
                        status = "PAUSED" if command.action == "pause_campaign" else "ENABLED"
                        args = {"customer_id": account, "campaign_id": params["campaign"], "status": status}
                        return Proposal(
                            role,
                            "set_campaign_status",
                            args,
                            f"operator: {command.action.replace('_', ' ')} {params['campaign']}",
                        )
            elif command.action == "set_bid":
                keywords = await guard.call(
                    role, "get_performance", {"customer_id": account, "level": "keyword", "days": 30}
                )
                if keywords.ok and any(
                    k["ad_group_id"] == params["group"] and k["criterion_id"] == params["criterion"]
                    for k in keywords.data
                ):
                    args = {
                        "customer_id": account,
                        "ad_group_id": params["group"],
                        "criterion_id": params["criterion"],
                        "cpc_bid_micros": str(params["amount_micros"]),
                    }
                    return Proposal(
                        role, "set_keyword_bid", args, f"operator: set bid {params['group']}~{params['criterion']}"
                    )
        return f"nothing matches that command in the run's accounts ({', '.join(sorted(guard.run.accounts))})"

    async def _skill_proposals(role: str, task: Task) -> tuple[list[Proposal], list[str]]:
        account = task.get("account")
        if role == "bidding" and account:
            return await _bidding(account), []
        if role == "creative" and account:
            return await creative_proposals(guard, account, ctx.brand, use_memory=ctx.memory is not None), []
        if role == "seo":
            return await _seo(), []
        return [], []

    async def _bidding(account: str) -> list[Proposal]:
        campaigns = await guard.call("bidding", "list_campaigns", {"customer_id": account})
        week = await guard.call("bidding", "get_performance", {"customer_id": account, "level": "campaign", "days": 7})
        keywords = await guard.call(
            "bidding", "get_performance", {"customer_id": account, "level": "keyword", "days": 14}
        )
        ads = await guard.call("bidding", "get_performance", {"customer_id": account, "level": "ad", "days": 30})
        if not (campaigns.ok and week.ok and keywords.ok and ads.ok):
            return []
        currency = await guard.context.currency(account)
        settings = ctx.bidding
        return [
            *bidding_skills.pacing(campaigns.data, week.data, settings, account, currency),
            *bidding_skills.bids(keywords.data, settings, account, currency),
            *bidding_skills.rotation(ads.data, settings, account),
        ]

    async def _seo() -> list[Proposal]:
        listed = await guard.call("seo", "list_posts", {"status": "publish"})
        if not listed.ok:
            return []
        posts = []
        for summary in listed.data:
            got = await guard.call("seo", "get_post", {"post_id": summary["post_id"]})
            if got.ok:
                data = got.data
                posts.append(
                    WpPost(
                        data["post_id"],
                        data["type"],
                        data["status"],
                        data["title"],
                        data["content"],
                        data["excerpt"],
                        data["slug"],
                        data["meta_description"],
                        data["link"],
                        "",
                    )
                )
        site = posts[0].link.split("/", 3)[:3] if posts else []
        return seo_audit(posts, site="/".join(site), brand=ctx.brand.name).proposals

    async def compliance(state: RunState) -> dict[str, Any]:
        """The compliance agent: the sweep task, or a review of what the last role attempted."""
        context(state, "compliance")
        task = state.get("current")
        update: dict[str, Any] = {"steps": 1, "current": None}
        if task is None:
            return update
        if task["role"] == "compliance" and state["trigger"]["kind"] == "maintenance" and ctx.skills:
            scope = state["trigger"].get("scope", "all")
            accounts = [] if scope == "cms" else sorted(guard.run.accounts)
            proposals, notes = await sweep(guard, accounts, include_cms=scope in ("all", "cms"))
            outcomes, pending = await execute_proposals(guard, proposals, task["id"])
            update.update(outcomes=outcomes, notes=notes, pending=list(state.get("pending") or []) + pending)
            return update
        if task["role"] == "compliance" and (ctx.models.enabled and state["trigger"]["kind"] == "chat"):
            return {**await _role_node("compliance")(state), "current": None}
        notes = [
            f"{o['tool']} blocked by the copy rules: {o['error']['message']}"
            for o in state.get("outcomes") or []
            if o["task_id"] == task["id"] and o.get("error") and str(o["error"].get("rule", "")).startswith("content.")
        ]
        update["notes"] = notes
        return update

    async def escalate(state: RunState) -> dict[str, Any]:
        waiting = [p for p in state.get("pending") or [] if p["id"] not in (state.get("decisions") or {})]
        answer = interrupt({"run_id": state["run_id"], "pending": waiting})
        decisions = answer if isinstance(answer, dict) else {}
        valid = {
            key: value
            for key, value in decisions.items()
            if isinstance(value, dict) and value.get("decision") in ("approve", "reject", "edit")
        }
        return {"decisions": valid, "steps": 1}

    async def apply(state: RunState) -> dict[str, Any]:
        context(state, "apply")
        decisions = state.get("decisions") or {}
        done = set(state.get("applied") or [])
        outcomes: list[Outcome] = []
        applied: list[str] = []
        for item in state.get("pending") or []:
            decision = decisions.get(item["id"])
            if decision is None or item["id"] in done:
                continue
            approver = str(decision.get("approver") or ctx.approver)
            if decision["decision"] == "reject":
                seq = guard.record_rejection(
                    item["role"], item["tool"], item["args"], str(decision.get("reason", "")), approver
                )
                outcomes.append(
                    {
                        **_base(item),
                        "decision": "reject",
                        "ok": False,
                        "error": {"type": "rejected", "message": f"rejected by {approver}"},
                        "audit_seq": seq,
                    }
                )
            else:
                args = (
                    {**item["args"], **(decision.get("args") or {})} if decision["decision"] == "edit" else item["args"]
                )
                digest = item["call_hash"] if decision["decision"] == "approve" else guard.digest(item["tool"], args)
                proposal_id = item["id"] if decision["decision"] == "approve" else f"{item['id']}.edit"
                result = await guard.call(
                    item["role"],
                    item["tool"],
                    args,
                    proposal_id=proposal_id,
                    approval=Approval(digest or "", approver, str(decision.get("reason", ""))),
                )
                outcome, _ = record(
                    result,
                    proposal_id=proposal_id,
                    task_id=item["task_id"],
                    role=item["role"],
                    tool=item["tool"],
                    args=args,
                    rationale=f"approved by {approver}: {item['rationale']}",
                    account=item.get("account"),
                )
                outcomes.append(outcome)
            applied.append(item["id"])
        remaining = [p for p in state.get("pending") or [] if p["id"] not in applied and p["id"] not in done]
        return {"outcomes": outcomes, "applied": applied, "pending": remaining, "steps": 1}

    async def finalize(state: RunState) -> dict[str, Any]:
        report = build_report(state, stop=None)
        _remember(state)
        answer = state.get("answer")
        if state["trigger"]["kind"] == "chat" and answer is None:
            answer = _summarise(state)
        return {"report": report, "answer": answer, "steps": 1}

    async def stop(state: RunState) -> dict[str, Any]:
        reason = stopped(state) or "max_steps"
        _log.warning("run.stopped", reason=reason)
        final = {**state, "stop_reason": reason}
        return {
            "stop_reason": reason,
            "report": build_report(final, stop=reason),
            "answer": state.get("answer") or f"The run stopped: {reason}.",
        }

    def _remember(state: RunState) -> None:
        if ctx.memory is None:
            return
        for outcome in state.get("outcomes") or []:
            if (
                outcome["decision"] == "allow"
                and outcome["ok"]
                and guard.tools.get(outcome["tool"])
                and guard.tools[outcome["tool"]].mutates
            ):
                ctx.memory.record_decision(
                    tenant=guard.tenant,
                    account=outcome.get("account") or "cms",
                    run_id=state["run_id"],
                    tool=outcome["tool"],
                    args=outcome["args"],
                    rationale=outcome["rationale"],
                    outcome="applied",
                    audit_seq=outcome.get("audit_seq"),
                )

    # --- edges ----------------------------------------------------------------------------------
    def after_intake(state: RunState) -> str:
        return "stop" if stopped(state) else "supervisor"

    def after_supervisor(state: RunState) -> str:
        if stopped(state):
            return "stop"
        task = state.get("current")
        if task is not None:
            return task["role"]
        waiting = [p for p in state.get("pending") or [] if p["id"] not in (state.get("decisions") or {})]
        if waiting:
            return "escalate"
        if state["trigger"]["kind"] == "chat" and state.get("answer") is None:
            return "supervisor"
        return "finalize"

    def after_role(state: RunState) -> str:
        return "stop" if stopped(state) else "compliance"

    def after_compliance(state: RunState) -> str:
        if stopped(state):
            return "stop"
        waiting = [p for p in state.get("pending") or [] if p["id"] not in (state.get("decisions") or {})]
        if waiting and state["trigger"]["kind"] == "chat":
            return "escalate"
        return "supervisor"

    def after_escalate(state: RunState) -> str:
        return "stop" if stopped(state) else "apply"

    def after_apply(state: RunState) -> str:
        return "stop" if stopped(state) else "supervisor"

    graph = StateGraph(RunState)
    graph.add_node("intake", intake)
    graph.add_node("supervisor", supervisor)
    graph.add_node("creative", _role_node("creative"))
    graph.add_node("bidding", _role_node("bidding"))
    graph.add_node("seo", _role_node("seo"))
    graph.add_node("compliance", compliance)
    graph.add_node("escalate", escalate)
    graph.add_node("apply", apply)
    graph.add_node("finalize", finalize)
    graph.add_node("stop", stop)
    graph.add_edge(START, "intake")
    graph.add_conditional_edges("intake", after_intake, ["supervisor", "stop"])
    graph.add_conditional_edges("supervisor", after_supervisor, [*ROLES, "escalate", "finalize", "supervisor", "stop"])
    for role in ("creative", "bidding", "seo"):
        graph.add_conditional_edges(role, after_role, ["compliance", "stop"])
    graph.add_conditional_edges("compliance", after_compliance, ["supervisor", "escalate", "stop"])
    graph.add_conditional_edges("escalate", after_escalate, ["apply", "stop"])
    graph.add_conditional_edges("apply", after_apply, ["supervisor", "stop"])
    graph.add_edge("finalize", END)
    graph.add_edge("stop", END)
    return graph


def _base(item: Pending) -> Outcome:
    return {
        "proposal_id": item["id"],
        "task_id": item["task_id"],
        "role": item["role"],
        "tool": item["tool"],
        "args": item["args"],
        "rationale": item["rationale"],
        "call_hash": item["call_hash"],
        "account": item.get("account"),
        "data": None,
    }


def _brief(outcome: Outcome) -> dict[str, Any]:
    return {
        "tool": outcome["tool"],
        "decision": outcome["decision"],
        "ok": outcome["ok"],
        "error": outcome.get("error"),
    }


def _outcome_text(outcomes: list[Outcome]) -> str:
    parts = []
    for o in outcomes:
        if o["decision"] == "allow" and o["ok"]:
            parts.append(f"done: {o['tool']} {json.dumps(o['args'], ensure_ascii=False)}")
        elif o["decision"] == "escalate":
            parts.append(f"waiting for approval: {o['tool']} ({o['error']['message'] if o.get('error') else ''})")
        else:
            parts.append(f"not done: {o['tool']} — {o['error']['message'] if o.get('error') else o['decision']}")
    return "\n".join(parts)


def _summarise(state: RunState) -> str:
    text = _outcome_text(list(state.get("outcomes") or []))
    notes = "\n".join(state.get("notes") or [])
    return "\n".join(p for p in (text, notes) if p) or "Nothing to do."


def _performance_text(rows: list[dict[str, Any]]) -> str:
    lines = ["campaign | clicks 7d | cost 7d | conversions 7d"]
    for row in rows:
        cost = int(row["cost_micros"]) / 1_000_000
        lines.append(f"{row['campaign_name']} | {row['clicks']} | {cost:.2f} | {row['conversions']:g}")
    return "\n".join(lines)

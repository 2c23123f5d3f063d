"""The agent graph, declared in one place.

    START → intake → supervisor ─┬→ creative / bidding / seo / compliance   (plan the task)
                                 │       └→ execute ─┬→ (the same role: the model's next turn)
                                 │                   └→ review → supervisor (until the plan is done)
                                 ├→ escalate (interrupt) → apply → supervisor
                                 ├→ finalize → END
                                 └→ stop → END            (stop conditions are checked on every edge;
                                         └→ escalate       a stopped run keeps its waiting approvals)

Each node is a plain async function of the state (and the run's :class:`RunContext`) in its own
module under :mod:`adpilot.agents.nodes`. A role node only plans: it fixes absolute calls in the
state, which is checkpointed before ``execute`` sends them through the Guard. That split is what
makes a crash at any point safe: see docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from langchain_core.messages import ToolMessage
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph

from adpilot import telemetry
from adpilot.agents.context import RunContext
from adpilot.agents.nodes.approvals import apply, escalate, waiting
from adpilot.agents.nodes.execute import execute
from adpilot.agents.nodes.finish import finalize, stop
from adpilot.agents.nodes.intake import intake
from adpilot.agents.nodes.plan import plan
from adpilot.agents.nodes.review import review
from adpilot.agents.nodes.supervisor import ROLES, supervisor
from adpilot.agents.state import RunState

__all__ = ["ROLES", "RunContext", "build_graph"]


class Node(Protocol):
    """A graph node as LangGraph calls it: the state in, a partial update out."""

    def __call__(self, state: RunState) -> Awaitable[dict[str, Any]]: ...


def traced(name: str, run: Node) -> Node:
    """A node in a span of its own (telemetry on; off, the node itself): a child of the run's span,
    the parent of its model and tool calls' spans. An interrupt leaves it as control flow."""
    if not telemetry.enabled():
        return run
    attributes = {"adpilot.graph.node": name, "gen_ai.agent.name": name if name in ROLES else None}

    async def node_span(state: RunState) -> dict[str, Any]:
        with telemetry.span(f"node {name}", **attributes) as span:
            try:
                return await run(state)
            except GraphBubbleUp as exc:  # interrupt(): the run pauses here for a person
                span.set("adpilot.graph.interrupted", True)
                span.not_an_error(exc)
                raise

    return node_span


def build_graph(ctx: RunContext) -> StateGraph[RunState]:
    def node(fn: Callable[[RunState, RunContext], Awaitable[dict[str, Any]]]) -> Node:
        async def run(state: RunState) -> dict[str, Any]:
            return await fn(state, ctx)

        return run

    def planner(role: str) -> Node:
        async def run(state: RunState) -> dict[str, Any]:
            return await plan(state, ctx, role)

        return run

    def guarded(route: Callable[[RunState], str]) -> Callable[[RunState], str]:
        return lambda state: "stop" if ctx.stopped(state) else route(state)

    def after_supervisor(state: RunState) -> str:
        task = state.get("current")
        if task is not None:
            return task["role"]
        if waiting(state):
            return "escalate"
        if state["trigger"]["kind"] == "chat" and state.get("answer") is None:
            return "supervisor"
        return "finalize"

    def after_plan(state: RunState) -> str:
        return "execute" if state.get("planned") else "review"

    def after_execute(state: RunState) -> str:
        # A model's task goes on while its calls' results wait for its next turn, unless it has
        # answered, or one of its changes now waits for a person: it is not asked again until
        # the person decides (the supervisor hears of it in the task's summary).
        conversation = state.get("conversation") or []
        model_waits = bool(conversation) and isinstance(conversation[-1], ToolMessage)
        task = state.get("current") or {}
        escalated = any(p.get("task_id") == task.get("id") for p in state.get("pending") or [])
        go_on = model_waits and not state.get("task_answer") and not escalated
        return str(task.get("role")) if go_on else "review"

    def after_review(state: RunState) -> str:
        return "escalate" if waiting(state) and state["trigger"]["kind"] == "chat" else "supervisor"

    graph = StateGraph(RunState)

    def add(name: str, run: Node) -> None:
        graph.add_node(name, traced(name, run))

    add("intake", node(intake))
    add("supervisor", node(supervisor))
    for role in ROLES:
        add(role, planner(role))
    add("execute", node(execute))
    add("review", node(review))
    add("escalate", node(escalate))
    add("apply", node(apply))
    add("finalize", node(finalize))
    add("stop", node(stop))

    graph.add_edge(START, "intake")
    graph.add_conditional_edges("intake", guarded(lambda _: "supervisor"), ["supervisor", "stop"])
    graph.add_conditional_edges(
        "supervisor", guarded(after_supervisor), [*ROLES, "escalate", "finalize", "supervisor", "stop"]
    )
    for role in ROLES:
        graph.add_conditional_edges(role, guarded(after_plan), ["execute", "review", "stop"])
    graph.add_conditional_edges("execute", guarded(after_execute), [*ROLES, "review", "stop"])
    graph.add_conditional_edges("review", guarded(after_review), ["supervisor", "escalate", "stop"])
    # A run stopped with approvals waiting pauses for them instead of dropping them; what a person
    # approves is carried out (the Guard still refuses it while the kill switch is engaged), then
    # the run ends with its recorded stop reason.
    graph.add_edge("escalate", "apply")
    graph.add_conditional_edges("apply", guarded(lambda _: "supervisor"), ["supervisor", "stop"])
    graph.add_edge("finalize", END)
    graph.add_conditional_edges("stop", lambda state: "escalate" if waiting(state) else END, ["escalate", END])
    return graph

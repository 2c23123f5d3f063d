"""Review: the compliance agent's look at what a task attempted, and the task's wrap-up.

Whatever the copy rules blocked becomes a note for the operator; the task's summary — its outcomes
in the operator's words, then how it ended — goes back to the supervisor model (when a transfer
started it); the task's working state is cleared.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import ToolMessage

from adpilot.agents import chat
from adpilot.agents.context import RunContext
from adpilot.agents.loop import as_data
from adpilot.agents.outcomes import brief
from adpilot.agents.state import RunState


async def review(state: RunState, ctx: RunContext) -> dict[str, Any]:
    ctx.bind(state, "compliance")
    update: dict[str, Any] = {"steps": 1, "current": None, "planned": [], "conversation": [], "task_answer": None}
    task = state.get("current")
    if task is None:
        return update
    mine = [o for o in state.get("outcomes") or [] if o["task_id"] == task["id"]]
    errors = [(o["tool"], o.get("error") or {}) for o in mine]
    update["notes"] = [
        f"{tool} blocked by the copy rules: {error.get('message')}"
        for tool, error in errors
        if str(error.get("rule", "")).startswith("content.")
    ]
    if task.get("tool_call_id"):
        # In the operator's words (money in the account's currency): the supervisor model quotes it.
        lines = await chat.outcome_lines(mine, ctx, chat.language_of(state, ctx))
        if state.get("task_answer"):
            lines.append(str(state["task_answer"]))  # how the task ended: the agent's words, or why it stopped
        summary = "\n".join(lines) or "nothing to change"
        update["supervisor_messages"] = [
            ToolMessage(
                as_data(f"{task['role']} agent", {"summary": summary, "results": [brief(o) for o in mine]}),
                tool_call_id=task["tool_call_id"],
            )
        ]
    return update

"""The governed tools as langchain-core tools, for binding to chat models.

Each tool's ``args_schema`` is the JSON schema of its strict argument model, so a model sees
exactly what it may send; but the tool passes the raw arguments on to the Guard unvalidated,
so that an invalid call is refused — and audited — by the Guard like any other, and comes
back to the model as a readable error instead of an exception.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from adpilot.tools.guard import Guard

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

ProposalIds = Callable[[str, dict[str, Any]], str | None]


def _runner(guard: Guard, role: str, name: str, proposal_ids: ProposalIds | None) -> Callable[..., Awaitable[str]]:
    async def run(**arguments: Any) -> str:
        proposal_id = proposal_ids(name, arguments) if proposal_ids is not None else None
        result = await guard.call(role, name, arguments, proposal_id=proposal_id)
        return result.for_model()

    return run


def governed_tools(guard: Guard, role: str, *, proposal_ids: ProposalIds | None = None) -> list[BaseTool]:
    """The tools ``role`` may call, each going through ``guard``; results are JSON text."""
    from langchain_core.tools import StructuredTool

    return [
        StructuredTool.from_function(
            coroutine=_runner(guard, role, spec.name, proposal_ids),
            name=spec.name,
            description=spec.description,
            args_schema=spec.args.model_json_schema(),
        )
        for spec in guard.tools_for(role)
    ]

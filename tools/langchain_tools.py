"""The governed tools as langchain-core tools, for binding to chat models.

Each tool's ``args_schema`` is the model-facing JSON schema (:func:`adpilot.tools.model_args.model_schema`:
the contract's, with ids in the platform's notations and money as decimal text in the account's
currency), and its description lists the run's ids it may name when a
:class:`~adpilot.tools.model_args.ModelArguments` is given. A call is converted to the contract
and passed to the Guard; arguments that cannot be converted are refused — and audited — through
the Guard, and every refusal comes back to the model as a readable error instead of an exception.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from adpilot.tools.guard import Guard
from adpilot.tools.model_args import ModelArguments, RunIds, model_schema

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

ProposalIds = Callable[[str, dict[str, Any]], str | None]


def _runner(arguments: ModelArguments, name: str, proposal_ids: ProposalIds | None) -> Callable[..., Awaitable[str]]:
    async def run(**given: Any) -> str:
        proposal_id = proposal_ids(name, given) if proposal_ids is not None else None
        result = await arguments.call(name, given, proposal_id=proposal_id)
        return result.for_model()

    return run


def governed_tools(
    guard: Guard,
    role: str,
    *,
    proposal_ids: ProposalIds | None = None,
    arguments: ModelArguments | None = None,
) -> list[BaseTool]:
    """The tools ``role`` may call, each going through ``guard``; results are JSON text.
    ``arguments`` (:meth:`ModelArguments.for_run`) adds the run's ids to the descriptions and
    checks named ids against them; without it, ids are left to the Guard."""
    from langchain_core.tools import StructuredTool

    layer = arguments if arguments is not None else ModelArguments(guard, role, RunIds())
    return [
        StructuredTool.from_function(
            coroutine=_runner(layer, spec.name, proposal_ids),
            name=spec.name,
            description=layer.description(spec),
            args_schema=model_schema(spec),
        )
        for spec in guard.tools_for(role)
    ]

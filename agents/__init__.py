"""The LangGraph state machine, its state, the supervisor, the role agents and the model factory."""

from __future__ import annotations

from adpilot.lazy import lazy_exports

# Public names, imported on first use so that importing one submodule stays cheap.
_EXPORTS = {
    "Runner": "adpilot.agents.run",
    "RunResult": "adpilot.agents.run",
    "build_graph": "adpilot.agents.graph",
    "RunContext": "adpilot.agents.graph",
    "Proposal": "adpilot.agents.proposal",
    "build_provider": "adpilot.agents.llm",
    "ModelProvider": "adpilot.agents.llm",
    "KillSwitch": "adpilot.agents.stop",
    "Limits": "adpilot.agents.stop",
    "RunState": "adpilot.agents.state",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)

"""What every node of a run may use besides the state: the process objects of one run.

The Guard, the models, the brand and memory are built by the composition root for each run and
handed to the nodes here; nothing in it is saved in a checkpoint, and nothing a node needs to
continue a run after a crash lives only here — the run's defining settings are in the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.messages import AIMessage

from adpilot.agents.llm import FREE, ModelProvider, Price
from adpilot.agents.skills.bidding import BiddingSettings
from adpilot.agents.state import RunState, StopReason
from adpilot.agents.stop import KillSwitch, Limits, stop_reason
from adpilot.config import Config
from adpilot.logs import bind
from adpilot.memory.store import MemoryStore
from adpilot.policies.compliance import Brand
from adpilot.tools.guard import Guard


@dataclass
class RunContext:
    config: Config
    guard: Guard
    models: ModelProvider
    brand: Brand
    kill_switch: KillSwitch
    limits: Limits = field(default_factory=Limits)
    memory: MemoryStore | None = None
    bidding: BiddingSettings = field(default_factory=BiddingSettings)
    skills: bool = True
    approver: str = "operator"
    price: Price = FREE  # of the run's model: what its turns cost

    def usage(self, reply: AIMessage) -> dict[str, int]:
        """A model reply's state update: ``tokens`` and ``cost_pico_usd`` (agents/stop.py counts them)."""
        return self.price.usage(reply)

    def stopped(self, state: RunState) -> StopReason | None:
        return stop_reason(state, self.limits, self.kill_switch)

    def bind(self, state: RunState, agent: str) -> None:
        """Concurrent runs are separate tasks: every node binds its own log context."""
        bind(run_id=state.get("run_id"), thread_id=self.guard.run.thread_id, agent=agent)

    def uses_model(self, state: RunState) -> bool:
        """Whether a role's task is worked on by its model (chat, or maintenance without skills)."""
        task = state.get("current") or {}
        if not self.models.enabled or task.get("commands"):
            return False
        return state["trigger"]["kind"] == "chat" or not self.skills

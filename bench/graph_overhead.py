"""Per-step overhead of adpilot's graph against a bare LangGraph graph of the same shape.

    .venv/bin/python bench/graph_overhead.py [--runs 60]

Both graphs have the same nodes and edges (agents/graph.py: intake, supervisor, the four role
planners, execute, review, escalate, apply, finalize, stop) and the same AsyncSqliteSaver on a
file; the bare one's nodes do nothing and route like ours. Both are driven as Runner._drive
drives a run (``astream`` with ``stream_mode="updates"``) along the same path (a chat "help"
command: intake → supervisor → finalize, three steps, no platform call), so the difference is
our state, reducers, stop checks and report, not work. adpilot's graph is the one Runner._app
compiles (Guard with its LeaseKeeper, RunContext) and gets the payload Runner.start gives it.
Measured per durability mode; adpilot uses "sync" (see agents/run.py for why).
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph

from adpilot.agents.graph import ROLES
from adpilot.agents.llm import build_provider
from adpilot.agents.run import Runner
from adpilot.agents.state import Settings
from adpilot.config import Config

STEPS = 3  # intake → supervisor → finalize


class BareState(TypedDict, total=False):
    trigger: dict[str, Any]
    steps: Annotated[int, operator.add]
    answer: str


def bare_graph() -> StateGraph:
    """agents/graph.py's nodes and edges, with nodes that do nothing and fixed routes."""
    graph = StateGraph(BareState)

    async def step(state: BareState) -> dict[str, Any]:
        return {"steps": 1}

    async def finalize(state: BareState) -> dict[str, Any]:
        return {"steps": 1, "answer": "help"}

    for name in ("intake", "supervisor", *ROLES, "execute", "review", "escalate", "apply", "stop"):
        graph.add_node(name, step)
    graph.add_node("finalize", finalize)
    graph.add_edge(START, "intake")
    graph.add_conditional_edges("intake", lambda s: "supervisor", ["supervisor", "stop"])
    graph.add_conditional_edges(
        "supervisor", lambda s: "finalize", [*ROLES, "escalate", "finalize", "supervisor", "stop"]
    )
    for role in ROLES:
        graph.add_conditional_edges(role, lambda s: "review", ["execute", "review", "stop"])
    graph.add_conditional_edges("execute", lambda s: "review", [*ROLES, "review", "stop"])
    graph.add_conditional_edges("review", lambda s: "supervisor", ["supervisor", "escalate", "stop"])
    graph.add_conditional_edges("escalate", lambda s: "apply", ["apply", "stop"])
    graph.add_conditional_edges("apply", lambda s: "supervisor", ["supervisor", "stop"])
    graph.add_edge("finalize", END)
    graph.add_edge("stop", END)
    return graph


async def _drive(app: Any, payload: Any, config: dict[str, Any], durability: str) -> int:
    """Runner._drive's loop (without its crash and progress hooks), at a chosen durability."""
    steps = 0
    async for _update in app.astream(payload, config, stream_mode="updates", durability=durability):
        steps += 1
    return steps


async def measure(runs: int, durability: str, folder: Path) -> tuple[float, float]:
    config = Config(state_dir=folder / durability)
    async with Runner(config, models=build_provider("none"), persist_world=False) as runner:
        accounts = list(config.accounts)
        settings: Settings = {"model": "none", "skills": True, "dry_run": False, "accounts": accounts}
        ours = runner._app("bench", "bench", settings, runner._keeper("bench"))
        async with AsyncSqliteSaver.from_conn_string(str(folder / f"bare-{durability}.sqlite")) as saver:
            bare = bare_graph().compile(checkpointer=saver)
            times: dict[str, list[float]] = {"ours": [], "bare": []}
            for index in range(runs + 5):
                trigger = {"kind": "chat", "text": "help", "accounts": accounts, "dry_run": False}
                for name, app, payload in (
                    ("ours", ours, {"run_id": f"r{index}", "trigger": trigger, "settings": settings}),
                    ("bare", bare, {"trigger": {"kind": "chat", "text": "help"}}),
                ):
                    cfg = runner._config(f"{name}-{index}")
                    start = time.perf_counter()
                    steps = await _drive(app, payload, cfg, durability)
                    elapsed = time.perf_counter() - start
                    assert steps == STEPS, (name, steps)
                    values = (await app.aget_state(cfg)).values
                    assert values["steps"] == STEPS and values["answer"], values
                    if index >= 5:  # warm-up
                        times[name].append(elapsed / STEPS)
    return statistics.median(times["ours"]) * 1000, statistics.median(times["bare"]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60)
    options = parser.parse_args()
    print(f"{'durability':<10} {'adpilot ms/step':>16} {'bare ms/step':>13} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for durability in ("sync", "async", "exit"):
            ours, bare = asyncio.run(measure(options.runs, durability, Path(tmp)))
            print(f"{durability:<10} {ours:>16.2f} {bare:>13.2f} {ours / bare:>6.2f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

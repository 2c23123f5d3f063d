"""The graph's state: small, typed, with explicit reducers.

It carries the trigger, the plan, proposals and their outcomes, pending approvals, usage
counters and the stop reason. Large payloads (performance tables, page bodies) never enter
it: skills read them through the governed read tools when they need them.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, NotRequired, TypedDict

StopReason = Literal["kill_switch", "max_steps", "budget", "error_budget", "anomaly", "model", "operator"]
Role = Literal["creative", "bidding", "seo", "compliance"]


class Task(TypedDict, total=False):
    id: str  # stable within the run: part of every proposal id made for it
    role: Role
    account: str | None
    text: str  # what to do, in words (chat) or the skill to run (maintenance)
    commands: list[dict[str, Any]]  # pre-parsed operator commands, executed as proposals
    tool_call_id: str  # the supervisor model's transfer call this task answers


class Planned(TypedDict, total=False):
    """One call a task has fixed before any of its side effects: absolute values, computed once.

    Execution replays from this record: a crash after a write and before its result re-runs the
    execution with exactly these arguments and idempotency key, so nothing is recomputed from a
    state the run itself already changed.
    """

    id: str  # the proposal id: task id + a digest; the Guard's idempotency key is thread + id
    role: str
    tool: str
    args: Any  # as proposed (a model's arguments may be malformed; the Guard judges them)
    rationale: str
    account: str | None
    tool_call_id: str | None  # set for a model's call: its answer goes back into the conversation
    record: bool  # whether its outcome belongs in the run's outcomes (mutations and refusals)


class Settings(TypedDict, total=False):
    """What defines a run, kept with it so that whichever process resumes it runs the same run."""

    model: str  # model spec
    skills: bool
    dry_run: bool
    accounts: list[str]


class Outcome(TypedDict, total=False):
    proposal_id: str
    task_id: str
    role: str
    tool: str
    args: dict[str, Any]
    rationale: str
    decision: str  # allow | deny | escalate | dry_run
    ok: bool
    error: dict[str, Any] | None
    data: Any
    audit_seq: int | None
    call_hash: str
    account: str | None


class Pending(TypedDict):
    id: str  # the proposal id, what `adpilot approvals approve ID` takes
    task_id: str
    role: str
    tool: str
    args: dict[str, Any]
    call_hash: str
    reason: str
    rationale: str
    account: str | None
    # For a call that publishes content: the hash of the content the person is shown; their
    # approval binds to it (absent in items recorded before approvals bound content).
    content_hash: NotRequired[str | None]


def merge(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    return {**(left or {}), **(right or {})}


class RunState(TypedDict, total=False):
    run_id: str
    trigger: dict[str, Any]  # {"kind": "maintenance" | "chat", "text": ..., "accounts": [...]}
    settings: Settings
    plan: list[Task]  # tasks not yet started
    current: Task | None
    planned: list[Planned]  # the current task's fixed calls, not yet executed
    conversation: list[Any]  # the current task's model conversation (when a model works on it)
    task_answer: str | None  # the model's final words on the current task
    outcomes: Annotated[list[Outcome], operator.add]
    pending: list[Pending]  # escalations waiting for a person
    decisions: Annotated[dict[str, dict[str, Any]], merge]  # a person's answers, by pending id
    applied: Annotated[list[str], operator.add]  # pending ids whose decision has been carried out
    turns: Annotated[dict[str, int], merge]  # model turns taken, per agent (usage)
    supervisor_messages: Annotated[list[Any], operator.add]  # the chat supervisor's conversation
    transcript: Annotated[list[dict[str, Any]], operator.add]  # chat turns, as plain dicts
    notes: Annotated[list[str], operator.add]  # what agents want the operator to read
    answer: str | None
    steps: Annotated[int, operator.add]
    tokens: Annotated[int, operator.add]
    cost_pico_usd: Annotated[int, operator.add]  # model cost in 10^-12 USD: exact (agents/stop.py)
    tool_errors: Annotated[int, operator.add]
    anomalies: Annotated[list[dict[str, Any]], operator.add]
    currencies: Annotated[dict[str, str], merge]  # each touched account's currency, for reports
    stop_reason: StopReason | None
    report: dict[str, Any] | None

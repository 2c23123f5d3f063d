"""CLI commands that run the agents: maintain, approvals, stop/resume, chat, demo."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import sys
import textwrap
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from adpilot.agents.report import build_report, expectation_text
from adpilot.agents.run import Runner, RunResult
from adpilot.compose import open_memory
from adpilot.config import Config
from adpilot.errors import AdpilotError, BusyError, ExitCode, UsageError
from adpilot.money import describe_micros
from adpilot.statedir import StateDir

STEP_LABELS = {
    "intake": "checking spend and loading the account",
    "supervisor": "planning",
    "bidding": "bidding agent",
    "creative": "creative agent",
    "seo": "SEO agent",
    "compliance": "compliance",
    "escalate": "waiting for approvals",
    "apply": "applying decisions",
    "finalize": "report",
    "stop": "stopped",
}
STOP_REASONS = {
    "kill_switch": "stopped by the kill switch (no change while it is engaged; `adpilot resume` releases it)",
    "max_steps": "the step limit was reached",
    "budget": "a budget of the run is spent: model tokens, model cost or changes per account (see the notes)",
    "error_budget": "too many tool errors",
    "anomaly": "a spend anomaly needs a person's look",
    "model": "the model provider failed (the notes say how): check models.* and the provider",
    "operator": "stopped by a person (the run's page and `adpilot audit show` say who and why)",
}
MEMORY_DEMO = Path(__file__).resolve().parents[1] / "memory" / "knowledge" / "demo"


async def maintain(
    config: Config,
    accounts: list[str],
    *,
    dry_run: bool,
    progress: Callable[[str], None] | None = None,
    with_memory: bool = True,
    shutdown: asyncio.Event | None = None,
) -> list[RunResult]:
    """One maintenance pass: unfinished runs first, then one run per account and one for the CMS.

    Setting ``shutdown`` stops every run after its step in flight (see :mod:`adpilot.app.signals`).
    """
    accounts = accounts or list(config.accounts)
    unknown = sorted(set(accounts) - set(config.accounts))
    if unknown:
        raise UsageError(f"--account {', '.join(unknown)}: not in the configuration's accounts {config.accounts}")
    memory = open_memory(config, with_memory)

    def step(thread: str, node: str) -> None:
        if progress is not None:
            progress(f"{thread}: {STEP_LABELS.get(node, node)}")

    async with Runner(
        config, memory=memory, on_step=step if progress else None, actor="adpilot maintain", shutdown=shutdown
    ) as runner:
        # Every pass covers the CMS: a refused WordPress login is a configuration error (exit 2) before
        # anything runs — WordPress would answer public reads anyway, and a failed read is no empty site.
        await runner.platforms.wordpress.verify_credentials()
        # And one cheap Google Ads call: refused credentials are exit 2 before any run starts.
        await runner.platforms.google_ads.list_accessible_customers()
        unfinished = [r for r in runner.registry.with_status("running") if r.kind == "maintenance"]
        # Runs another live process drives are its business; the accounts' leases keep us apart.
        orphaned = [r for r in unfinished if runner.holder(r.thread_id) is None and set(r.accounts) & set(accounts)]
        if orphaned:
            # An earlier pass was interrupted (Ctrl-C, kill -9): finish what nobody is working on, and only it.
            for record in orphaned:
                if progress:
                    progress(f"continuing interrupted run {record.thread_id}")
            continued = [(r.thread_id, runner.continue_run(r.thread_id)) for r in orphaned]
            return await _all_or_busy(continued)
        # Unique per pass: a thread id that existed before would continue that run's state.
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:4]
        jobs = [
            (
                f"maint-{stamp}-{a}",
                runner.start(
                    {"kind": "maintenance", "accounts": [a], "scope": "ads"},
                    thread_id=f"maint-{stamp}-{a}",
                    dry_run=dry_run,
                ),
            )
            for a in accounts
        ]
        jobs.append(
            (
                f"maint-{stamp}-cms",
                runner.start(
                    {"kind": "maintenance", "accounts": accounts, "scope": "cms"},
                    thread_id=f"maint-{stamp}-cms",
                    dry_run=dry_run,
                ),
            )
        )
        if progress:
            progress(f"maintaining {len(accounts)} account(s) and the CMS concurrently")
        return await _all_or_busy(jobs)


async def _all_or_busy(jobs: Sequence[tuple[str, Awaitable[RunResult]]]) -> list[RunResult]:
    """Run every job; one refused because another actor holds its account becomes a ``busy``
    result naming the holder, one that failed a ``failed`` result with its error (the others still
    run and report); all refused is a BusyError."""
    outcomes = await asyncio.gather(*(job for _, job in jobs), return_exceptions=True)
    results: list[RunResult] = []
    for (thread, _), outcome in zip(jobs, outcomes, strict=True):
        if isinstance(outcome, BusyError):
            report = build_report({"run_id": thread, "notes": [str(outcome)]}, stop=None)
            results.append(RunResult(thread, thread, "busy", report, None))
        elif isinstance(outcome, AdpilotError):
            report = build_report({"run_id": thread, "notes": [str(outcome)]}, stop=None)
            report["exit_code"] = int(outcome.exit_code)
            results.append(RunResult(thread, thread, "failed", report, None))
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results.append(outcome)
    if results and all(r.status == "busy" for r in results):
        raise BusyError("; ".join(r.report["notes"][0] for r in results))
    return results


def render_reports(results: list[RunResult], *, width: int | None = None) -> str:
    """The runs' reports for a terminal: every line fits ``width`` (the terminal's, at most 120
    columns); a change's reason wraps onto further lines, never cut mid-sentence."""
    from adpilot.tables import terminal_width, wrap_table

    width = width or terminal_width()

    def table(headers: list[str], rows: list[list[Any]], flexible: tuple[int, ...]) -> str:
        return "\n".join(wrap_table(headers, rows, width=width))

    def expected(entry: dict[str, Any], why: str) -> str:
        """The change's reason, then what it is expected to bring and by when it is judged."""
        more = expectation_text(entry)
        return f"{entry[why]} — {more}" if more else str(entry[why])

    out = []
    for result in results:
        report = result.report
        money_in: dict[str, str] = report.get("currencies") or {}
        if result.status in ("busy", "failed"):
            verb = "not started" if result.status == "busy" else "failed"
            out.append(f"== run {result.thread_id}: {verb} — {report['notes'][0]}\n")
            continue
        trigger = report.get("trigger") or {}
        label = ", ".join(trigger.get("accounts") or []) if trigger.get("scope") != "cms" else "CMS"
        label = label or ("adpilot tool call" if result.thread_id.startswith("cli-") else "")
        out.append(
            f"== run {result.thread_id} ({label}): {result.status}"
            + (
                f" — {STOP_REASONS.get(report['stop_reason'], report['stop_reason'])}"
                if report.get("stop_reason")
                else ""
            )
        )
        if report["applied"]:
            rows = [
                [a["audit_seq"], a["role"], describe_target(a, money_in), expected(a, "rationale")]
                for a in report["applied"]
            ]
            out.append(
                "applied (adpilot audit why ROW tells the whole story):\n"
                + table(["row", "role", "change", "why"], rows, (3, 2))
            )
        if report["dry_run"]:
            rows = [[a["role"], describe_target(a, money_in), expected(a, "rationale")] for a in report["dry_run"]]
            out.append("would apply (dry run):\n" + table(["role", "change", "why"], rows, (2, 1)))
        if report["pending_approvals"]:
            rows = [[p["id"], describe_target(p, money_in), expected(p, "reason")] for p in report["pending_approvals"]]
            out.append(
                "waiting for approval (adpilot approvals show ID, then approve or reject):\n"
                + table(["id", "change", "reason"], rows, (2, 1))
            )
        for key, title in (("denied", "denied"), ("failed", "failed"), ("rejected", "rejected")):
            if report[key]:
                rows = [
                    [a["tool"], describe_target(a, money_in), (a.get("error") or {}).get("message", "")]
                    for a in report[key]
                ]
                out.append(f"{title}:\n" + table(["tool", "change", "reason"], rows, (2, 1)))
        for anomaly in report["anomalies"]:
            currency = money_in.get(str(anomaly.get("account")))
            spent = describe_micros(anomaly["cost_micros_yesterday"], currency)
            factor = anomaly["factor"]
            out.append(f"anomaly: campaign {anomaly['campaign_id']} spent {spent} yesterday, {factor}× its daily mean")
        for note in report["notes"]:  # an account's targets (agents/nodes/plan.py) as a line of their own
            line = note if note.startswith("targets: ") else f"note: {note}"
            out.append(textwrap.fill(line, width, subsequent_indent="      ", break_on_hyphens=False))
        if result.status == "interrupted":
            out.append("interrupted between two steps (nothing is lost); `adpilot maintain` continues it")
        elif not any(report[k] for k in ("applied", "dry_run", "pending_approvals", "denied", "failed", "anomalies")):
            out.append("nothing to change")
        out.append("")
    return "\n".join(out)


def describe_target(entry: dict[str, Any], currencies: dict[str, str] | None = None) -> str:
    """What a proposal or applied change touches, in one short operator-readable phrase (money in
    the account's currency when the run knows it, else in micros: never in a guessed currency)."""
    from adpilot.agents.outcomes import proposed_call

    _, args = proposed_call(entry)
    currency = (currencies or {}).get(str(args.get("customer_id")), "")

    for key in ("budget_id", "campaign_id", "post_id"):
        if key in args:
            extra = args.get("amount_micros") or args.get("status") or ""
            shown = describe_micros(extra, currency) if key == "budget_id" else extra
            return f"{key.split('_')[0]} {args[key]} {shown}".strip()
    if "criterion_id" in args:
        bid = describe_micros(args.get("cpc_bid_micros"), currency)
        return f"keyword {args['ad_group_id']}~{args['criterion_id']} {bid}"
    if "ad_id" in args:
        return f"ad {args['ad_group_id']}~{args['ad_id']} {args.get('status', '')}".strip()
    if "ad_group_id" in args:
        return f"new ad in {args['ad_group_id']}"
    return ""


def exit_code(results: list[RunResult]) -> int:
    """The runs' outcome as an exit code of the table (:class:`~adpilot.errors.ExitCode`): a run that
    could not run gives its error's code (a configuration error 2, a platform down 9); a call that a
    platform failed or did not keep (a read that failed, a meta description WordPress dropped) 9; a
    stopped or interrupted run 3 (stopped because the model provider failed: 2); a run refused
    because another actor holds its account 5. Changes the Guard denied or that wait for a person
    are a maintenance run's ordinary outcome (0)."""
    for result in results:
        if result.status == "failed":
            return int(result.report.get("exit_code") or ExitCode.INTERNAL)
    if any(r.report.get("stop_reason") == "model" for r in results):
        return ExitCode.USAGE  # the model provider failed: its configuration or the provider
    if any(r.report.get("failed") for r in results):
        return ExitCode.PLATFORM
    if any(r.status in ("stopped", "interrupted") for r in results):
        return ExitCode.STOPPED
    return ExitCode.BUSY if any(r.status == "busy" for r in results) else ExitCode.OK


async def list_approvals(config: Config) -> list[dict[str, Any]]:
    """The waiting approvals, each with its call, age, expiry and approvals so far."""
    from adpilot.app.approvals import list_rows

    return list_rows(config)


def person(config: Config, given: str | None = None) -> str | None:
    """Who is acting at this terminal: ``given`` (``--approver``), else the configuration's
    ``approver``, else the OS user; None when none of them names anyone."""
    import getpass

    name = (given or "").strip() or (config.approver or "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment
        return None


def approver_identity(config: Config, given: str | None, flag: str = "--approver") -> str:
    """Who decides (:func:`person`); a decision by nobody in particular is refused, naming the
    command's ``flag`` that says who."""
    name = person(config, given)
    if name is None:
        raise UsageError(f"cannot tell who you are: give {flag} NAME or set `approver` in the configuration")
    return name


async def decide(
    config: Config,
    pending_id: str,
    decision: str,
    reason: str,
    approver: str | None,
    *,
    args: dict[str, Any] | None = None,
) -> RunResult:
    """Carry out one person's decision on one pending approval (refused while the kill switch is
    engaged, when someone else decided it first, when it expired, and when the approver requested
    it). ``args``: an edit's changed arguments."""
    who = approver_identity(config, approver)
    async with Runner(config, memory=open_memory(config, False), approver=who, actor=f"approval by {who}") as runner:
        return await decide_with(runner, pending_id, decision, reason, who, args=args)


async def decide_with(
    runner: Runner,
    pending_id: str,
    decision: str,
    reason: str,
    approver: str,
    *,
    args: dict[str, Any] | None = None,
) -> RunResult:
    record, full_id = runner.registry.find_pending(pending_id)
    answer: dict[str, Any] = {"decision": decision, "reason": reason, "approver": approver}
    if args is not None:
        answer["args"] = args
    return await runner.resume(record.thread_id, {full_id: answer})


async def chat_once(config: Config, text: str, *, with_memory: bool) -> RunResult:
    person = approver_identity(config, None)  # who asks in the chat; they never approve it themselves
    async with Runner(
        config, memory=open_memory(config, with_memory), requester=person, actor=f"adpilot chat ({person})"
    ) as runner:
        return await runner.start({"kind": "chat", "text": text})


def archive_state(state_dir: Path) -> Path | None:
    """Move an earlier state directory's contents aside (nothing is deleted)."""
    paths = StateDir(state_dir)
    if not state_dir.exists() or not any(p != paths.archive for p in state_dir.iterdir()):
        return None
    if "chromadb" in sys.modules and paths.chroma.exists():
        # chromadb keeps a handle per path inside its native bindings that cannot be released from
        # Python; moving the files under it would leave this process with an empty store.
        raise UsageError("the demo archives the state directory: run it in a fresh process")
    target = paths.archive / (dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:4])
    target.mkdir(parents=True)
    for item in list(state_dir.iterdir()):
        if item != paths.archive:
            shutil.move(str(item), target / item.name)
    return target


async def demo(config: Config, *, out: Callable[[str], None] = print) -> list[RunResult]:
    from adpilot.app.summary import render_summary, world_summary
    from adpilot.memory.chunking import source_key
    from adpilot.memory.store import MemoryStore
    from adpilot.tools.sandbox import World

    archived = archive_state(config.state_dir)
    if archived:
        out(f"(earlier demo state moved to {archived})\n")
    world = World.demo(config.sandbox.seed)
    out("1. The sandbox world (seeded, offline):\n")
    out(render_summary(world_summary(world)) + "\n")
    store = MemoryStore.from_config(config)
    if archived is not None and not config.memory.server_url:
        # Documents a person ingested are theirs, not the demo's: they stay in the knowledge base.
        legacy = {source_key(p) for p in MEMORY_DEMO.iterdir()}
        kept = store.carry_over_knowledge(StateDir(archived).chroma, leave_namespace="demo", leave_legacy=legacy)
        if kept:
            out(f"(kept the {kept} document(s) ingested with `adpilot memory ingest`)\n")
    report = store.ingest([MEMORY_DEMO], tenant=config.memory.tenant, namespace="demo", replace_namespace=True)
    out(
        f"2. Knowledge base: ingested {report.files} documents as {report.chunks} chunks "
        f"into Chroma ({store.backend.name}).\n"
    )
    out("3. Maintenance run over both accounts (no model: the deterministic skills):\n")
    results = await maintain(config, [], dry_run=False, with_memory=True)
    out(render_reports(results))
    waiting = [p for r in results for p in r.pending]
    if waiting:
        out(
            f"4. {len(waiting)} change(s) wait for a person. See what one changes, then decide:\n"
            f"   adpilot approvals show {waiting[0]['id']}\n"
            f"   adpilot approvals approve {waiting[0]['id']}   (or reject, or edit … --set KEY=VALUE)\n"
        )
    from adpilot.app.audit_view import (
        Filters,
        money_accounts,
        open_audit,
        read_currencies,
        render_list,
        select,
    )

    # Why each change was made: the agent's own rationale, from the reports (by the result's audit row).
    reasons = {
        int(a["audit_seq"]): str(a["rationale"])
        for r in results
        for a in r.report.get("applied") or []
        if a.get("audit_seq") is not None and a.get("rationale")
    }
    audit = open_audit(config)
    try:
        rows = select(audit, Filters(kind="result"))[-8:]
    finally:
        audit.close()
    currencies: dict[str, str] = {}
    for r in results:
        currencies.update(r.report.get("currencies") or {})
    missing = [a for a in money_accounts(rows) if a not in currencies]
    currencies.update(await read_currencies(config, missing))
    out(
        "5. The audit trail: the last changes carried out, and why (`adpilot audit show` for all,\n"
        "   `adpilot audit why SEQ` for the story of one change, `adpilot audit verify` to check the chain):\n"
    )
    out(render_list(rows, currencies, reasons=reasons))
    out("\nNext: adpilot approvals list · adpilot chat · adpilot audit rollback --run RUN · adpilot stop")
    out("In a browser: adpilot users add NAME --role approver, then adpilot serve (docs/CONSOLE.md)")
    return results


def progress_printer() -> Callable[[str], None] | None:
    if not sys.stderr.isatty():
        return None
    return lambda message: print(f"… {message}", file=sys.stderr, flush=True)

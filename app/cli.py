"""The ``adpilot`` command line.

Start-up stays fast: this module imports only the standard library (and the exit-code table,
:class:`adpilot.errors.ExitCode`, which every command returns from); each command imports what
it needs when it runs. No traceback reaches a user: an unforeseen exception is one line naming
it and where, with exit code 1 (``ADPILOT_DEBUG=1`` prints the traceback).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any

from adpilot.errors import ExitCode

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_STOPPED = ExitCode.OK, ExitCode.INTERNAL, ExitCode.USAGE, ExitCode.STOPPED
EXIT_EVAL, EXIT_BUSY, EXIT_AUDIT = ExitCode.BELOW_THRESHOLD, ExitCode.BUSY, ExitCode.AUDIT_BROKEN
EXIT_REFUSED, EXIT_WAITING, EXIT_PLATFORM = ExitCode.REFUSED, ExitCode.WAITING, ExitCode.PLATFORM


MODEL_HELP = "the model of this command instead of the configuration's (none, openai:MODEL, …; docs/CHAT.md)"


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _load_config(args: argparse.Namespace) -> Any:
    from adpilot.config import config_path, load_config
    from adpilot.logs import configure_logging

    config = load_config(args.config)
    if getattr(args, "model", None) and getattr(args, "command", None) != "eval":
        # --model: this command's model instead of the configuration's (an unknown spec is exit 2)
        from adpilot.agents.llm import build_provider

        build_provider(args.model, options=config.models)
        config = config.model_copy(update={"model": args.model})
    if config_path(args.config, os.environ) is None:
        # Say so: otherwise a command run in the wrong directory answers from an empty ./.adpilot
        # ("no approvals waiting") as if that were the deployment's state.
        print(
            f"adpilot: no config file (no --config, $ADPILOT_CONFIG or ./config.yaml here): using the built-in "
            f"defaults, state in {config.state_dir}/ (`adpilot config show` prints them)",
            file=sys.stderr,
        )
    configure_logging(config.log.level, config.log.format)
    return config


def cmd_demo(args: argparse.Namespace) -> int:
    config = _load_config(args)
    if config.log.level == "info":
        # The demo tells its own story on stdout; the per-call log lines (JSON when stderr is not a
        # terminal) would bury it. `log.level: debug` (or warning/error) in the config is kept as set.
        from adpilot.logs import configure_logging

        configure_logging("warning", config.log.format)
    import asyncio

    from adpilot.app.runs import demo, exit_code

    if not config.uses_sandbox:
        from adpilot.errors import UsageError

        raise UsageError("the demo runs on the sandbox: set google_ads.base_url and wordpress.base_url to 'sandbox'")
    if args.json:
        lines: list[str] = []
        results = asyncio.run(demo(config, out=lines.append))
        _print_json([{"thread_id": r.thread_id, "status": r.status, "report": r.report} for r in results])
    else:
        results = asyncio.run(demo(config))
    return exit_code(results)


def cmd_maintain(args: argparse.Namespace) -> int:
    config = _load_config(args)
    import asyncio

    from adpilot.app.runs import exit_code, maintain, progress_printer, render_reports
    from adpilot.app.signals import graceful

    async def run() -> list[Any]:
        shutdown = asyncio.Event()
        with graceful(shutdown):
            return await maintain(
                config, args.account, dry_run=args.dry_run, progress=progress_printer(), shutdown=shutdown
            )

    results = asyncio.run(run())
    if args.json:
        _print_json([{"thread_id": r.thread_id, "status": r.status, "report": r.report} for r in results])
    else:
        print(render_reports(results))
    return exit_code(results)


def cmd_schedule(args: argparse.Namespace) -> int:
    config = _load_config(args)
    import asyncio

    from adpilot.app.runs import maintain
    from adpilot.app.schedule import run_scheduler

    def ready(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    async def job(cfg: Any, accounts: list[str], shutdown: asyncio.Event) -> Any:
        return await maintain(cfg, accounts, dry_run=False, shutdown=shutdown)

    return asyncio.run(run_scheduler(config, job, ready=ready))


def cmd_eval(args: argparse.Namespace) -> int:
    config = _load_config(args)
    import asyncio
    import time
    from pathlib import Path

    from adpilot.evals.report import render, report, summary
    from adpilot.evals.runner import is_real_model, run_scenarios
    from adpilot.evals.scenario import load_scenarios

    if not 0.0 <= args.min_pass_rate <= 1.0 or args.trials < 1 or args.parallel < 1:
        from adpilot.errors import UsageError

        raise UsageError("--min-pass-rate takes 0..1, --trials and --parallel at least 1")
    if args.timeout is not None and not args.timeout > 0:
        from adpilot.errors import UsageError

        raise UsageError(f"--timeout takes seconds above 0, not {args.timeout:g}")
    if args.model is not None and is_real_model(args.model):
        from adpilot.agents.llm import build_provider

        build_provider(args.model, options=config.models)  # an unknown spec, a missing extra or key: exit 2
    if config.log.level in ("debug", "info"):
        # Dozens of runs in a row: per-decision log lines would bury the table; warnings still show.
        from adpilot.logs import configure_logging

        configure_logging("debug" if args.verbose else "warning", config.log.format)
    scenarios = load_scenarios([Path(p) for p in args.paths])
    if args.tag:
        scenarios = [s for s in scenarios if set(args.tag) & set(s.tags)]
    started = time.perf_counter()
    results = asyncio.run(
        run_scenarios(
            scenarios,
            model=args.model or config.model,
            trials=args.trials,
            parallel=args.parallel,
            timeout_s=args.timeout,
            models=config.models,
        )
    )
    duration = time.perf_counter() - started
    document = report(results, trials=args.trials, duration_s=duration)
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    if args.json:
        _print_json(document)
    else:
        print(render(results, trials=args.trials, duration_s=duration))
    s = summary(results, trials=args.trials, duration_s=duration)
    if s["skipped"] and args.model is not None:
        print(f"adpilot: {s['skipped']} scenario(s) skipped under --model {args.model}", file=sys.stderr)
        return EXIT_USAGE
    if s["skipped"] == s["scenarios"]:
        print("no scenario ran (all skipped)", file=sys.stderr)
    return EXIT_EVAL if s["pass_rate"] < args.min_pass_rate else EXIT_OK


def cmd_approvals_list(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.approvals import list_rows, render_list

    pending = list_rows(config)
    if args.json:
        _print_json(pending)
    else:
        print(render_list(pending, config.locale))
    return EXIT_OK


def cmd_approvals_show(args: argparse.Namespace) -> int:
    config = _load_config(args)
    import asyncio

    from adpilot.app.approvals import describe, render_show

    data = asyncio.run(describe(config, args.id))
    if args.json:
        _print_json(data)
    else:
        print(render_show(data, config.locale))
    return EXIT_OK


def _cmd_decide(args: argparse.Namespace, decision: str, edits: dict[str, Any] | None = None) -> int:
    config = _load_config(args)
    import asyncio

    from adpilot.app.runs import decide, exit_code, render_reports

    result = asyncio.run(decide(config, args.id, decision, args.reason or "", args.approver, args=edits))
    if args.json:
        _print_json({"thread_id": result.thread_id, "status": result.status, "report": result.report})
    else:
        print(render_reports([result]))
    code = exit_code([result])
    if code == EXIT_OK and decision != "reject" and result.report.get("denied") and not result.report.get("applied"):
        return EXIT_REFUSED  # the person approved, and the Guard still refused the change (e.g. an edit over a limit)
    return code


def cmd_approve(args: argparse.Namespace) -> int:
    return _cmd_decide(args, "approve")


def cmd_reject(args: argparse.Namespace) -> int:
    return _cmd_decide(args, "reject")


def _edits(pairs: list[str]) -> dict[str, Any]:
    """``--set key=value`` pairs as arguments: a value that reads as JSON (a list, an object, a
    number) is taken as such, anything else as text."""
    from adpilot.errors import UsageError

    if not pairs:
        raise UsageError("an edit changes at least one argument: --set KEY=VALUE (e.g. --set amount_micros=60000000)")
    edits: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {pair!r}: write KEY=VALUE, e.g. amount_micros=60000000")
        parsed: Any = value
        if value[:1] in ("[", "{"):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as exc:
                raise UsageError(f"--set {key}: the value looks like JSON but is not: {exc}") from None
        edits[key.strip()] = parsed
    return edits


def cmd_edit(args: argparse.Namespace) -> int:
    return _cmd_decide(args, "edit", _edits(args.set))


def cmd_stop(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.agents.stop import KillSwitch

    KillSwitch(config.state_dir).engage(args.reason or "", by="cli")
    print("kill switch engaged: runs stop at their next step and make no further changes (adpilot resume releases it)")
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.agents.stop import KillSwitch

    released = KillSwitch(config.state_dir).release()
    print("kill switch released" if released else "the kill switch was not engaged")
    return EXIT_OK


def cmd_runs_list(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.runs_view import list_runs, render_runs

    rows = list_runs(config, args.status)
    if args.json:
        _print_json(rows)
    else:
        print(render_runs(rows))
    return EXIT_OK


def cmd_runs_stop(args: argparse.Namespace) -> int:
    config = _load_config(args)
    import asyncio

    from adpilot.app.runs import approver_identity
    from adpilot.app.runs_view import stop_run
    from adpilot.errors import UsageError

    if not (args.reason or "").strip():
        raise UsageError("stopping a run needs a reason: --reason TEXT (it is audited with your name)")
    by = approver_identity(config, args.by, "--by")
    print(asyncio.run(stop_run(config, args.thread, by=by, reason=args.reason)))
    return EXIT_OK


def cmd_hold(args: argparse.Namespace) -> int:
    """Hold an entity (the maintenance skills leave it alone), or list the holds."""
    config = _load_config(args)
    from adpilot.agents.patience import describe, hold_store, parse_entity
    from adpilot.app.runs import person
    from adpilot.errors import UsageError

    now = datetime.datetime.now(datetime.UTC)
    if args.list or args.entity is None:
        if args.entity is not None:
            raise UsageError("give an entity to hold, or --list, not both")
        with hold_store(config.state_dir) as store:
            holds = store.holds(now)
        if args.json:
            _print_json([{**h.__dict__, "shown": describe(h.entity)} for h in holds])
        elif not holds:
            print("no holds: the maintenance skills may change any entity (patience rules aside)")
        for h in [] if args.json else holds:
            until = f"until {h.until:%Y-%m-%d %H:%M} UTC" if h.until else "until released"
            reason = f" — {h.reason}" if h.reason else ""
            print(f"{describe(h.entity):32} {until:28} by {h.by} since {h.since:%Y-%m-%d %H:%M} UTC{reason}")
        return EXIT_OK
    if args.days is not None and args.days <= 0:
        raise UsageError("--days must be positive")
    entity = parse_entity(args.entity)
    by = person(config, args.by) or "unknown user"
    log = _hold_audit(config)
    try:
        with hold_store(config.state_dir) as store:
            hold = store.put(entity, by=by, reason=args.reason, days=args.days, now=now)
        log.record_hold(entity, by=by, until=hold.until, reason=hold.reason)
    finally:
        log.close()
    until = f"until {hold.until:%Y-%m-%d %H:%M} UTC" if hold.until else "until released (adpilot release)"
    print(f"held: {describe(entity)} {until} — maintenance runs leave it alone (the Guard, too)")
    return EXIT_OK


def _hold_audit(config: Any) -> Any:
    """The audit log a hold or a release is recorded in (keyed, as every change's); refused while the
    log is broken (exit 6), before the hold changes: a hold nobody can trace is not placed or lifted."""
    from adpilot.errors import AuditError, ExitCode

    log = _sealed_audit(config)
    if log.problem is not None:
        log.close()
        error = AuditError(f"the hold is not changed: {log.problem}")
        error.exit_code = ExitCode.AUDIT_BROKEN
        raise error
    return log


def cmd_release(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.agents.patience import describe, hold_store, parse_entity
    from adpilot.app.runs import person

    entity = parse_entity(args.entity)
    log = _hold_audit(config)
    try:
        with hold_store(config.state_dir) as store:
            released = store.release(entity)
        if released:
            log.record_hold(entity, by=person(config) or "unknown user", released=True)
    finally:
        log.close()
    print(f"released: {describe(entity)}" if released else f"{describe(entity)} was not on hold")
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    config = _load_config(args)
    import asyncio

    from adpilot.app.runs import chat_once, render_reports

    if args.once is not None:
        if config.log.level == "info":  # one answer on stdout: per-call log lines would bury it
            from adpilot.logs import configure_logging

            configure_logging("warning", config.log.format)
        result = asyncio.run(chat_once(config, args.once, with_memory=not args.no_memory))
        if result.state.get("stop_reason") == "model" and not args.json:
            print(f"adpilot: {result.answer}", file=sys.stderr)  # the provider's failure, in one line
            return EXIT_USAGE
        if args.json:
            _print_json(
                {
                    "thread_id": result.thread_id,
                    "status": result.status,
                    "answer": result.answer,
                    "report": result.report,
                }
            )
        else:
            print(result.answer or "")
            if result.pending:
                print(render_reports([result]))
        if result.state.get("stop_reason") == "model":
            return EXIT_USAGE
        return EXIT_STOPPED if result.status == "stopped" else EXIT_OK
    from adpilot.app.console import console

    return console(config, with_memory=not args.no_memory)


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.ports import check_port
    from adpilot.tools.sandbox.server import serve

    seed = config.sandbox.seed if args.seed is None else args.seed
    check_port(args.host, args.port, "the sandbox")
    print(f"sandbox on http://{args.host}:{args.port} (seed {seed}); Ctrl-C stops it", file=sys.stderr)
    serve(args.host, args.port, seed)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.web.commands import serve

    return serve(config, args)


def cmd_users(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.web.commands import users

    return users(config, args)


def cmd_users_token(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.web.users import open_users

    store = open_users(config.state_dir)
    try:
        token = store.issue_token(args.name)
    finally:
        store.close()
    print(token)
    print(
        f"the API token of {args.name}: shown only now (it replaces their earlier one); send it as the "
        "x-api-key header of the console's JSON API under /api/",
        file=sys.stderr,
    )
    return ExitCode.OK


def cmd_sandbox_show(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.summary import current_world, render_summary, world_summary

    world, which = current_world(config, args.seed)
    if args.json:
        _print_json(world.dump() if args.full else world_summary(world))
    else:
        print(f"{which}:\n")
        print(render_summary(world_summary(world)))
    return EXIT_OK


def cmd_sandbox_advance_day(args: argparse.Namespace) -> int:
    config = _load_config(args)
    import asyncio

    from adpilot.app.summary import advance_days

    result = asyncio.run(advance_days(config, args.days))
    if args.json:
        _print_json(result)
    else:
        print(f"simulated {', '.join(result['simulated'])}; the sandbox's today is now {result['today']}")
    return EXIT_OK


def cmd_config_show(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.config import shown_config

    data = shown_config(config)
    if args.json:
        _print_json(data)
    else:
        import yaml

        print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    # Not _load_config: a configuration that does not load is the doctor's first finding, not a crash.
    import asyncio

    from adpilot.app.doctor import diagnose, exit_code, render, report
    from adpilot.logs import configure_logging

    configure_logging("warning", "auto")
    checks = asyncio.run(diagnose(args.config, write_test=args.write_test, online=args.online))
    if args.json:
        _print_json(report(checks))
    else:
        print(render(checks))
    return exit_code(checks)


def cmd_tool_list(args: argparse.Namespace) -> int:
    config = _load_config(args)
    import textwrap

    from adpilot.app.governed import list_tools
    from adpilot.tables import terminal_width

    rows = list_tools(config, args.role)
    if args.json:
        _print_json(rows)
        return EXIT_OK
    # One block per tool, wrapped to the terminal: a table of four columns was 428 characters wide.
    width = terminal_width()
    print("Each tool as TOOL(arguments, [optional ones]), what it does, and the roles that may call it.")
    for r in rows:
        arguments = ", ".join(a["name"] if a["required"] else f"[{a['name']}]" for a in r["arguments"])
        print()
        print(textwrap.fill(f"{r['tool']}({arguments})", width, subsequent_indent="    "))
        print(textwrap.fill(r["description"], width, initial_indent="    ", subsequent_indent="    "))
        print(textwrap.fill(f"roles: {', '.join(r['roles'])}", width, initial_indent="    ", subsequent_indent="    "))
    return EXIT_OK


def cmd_tool_call(args: argparse.Namespace) -> int:
    config = _load_config(args)
    import asyncio

    from adpilot.app.governed import call_tool

    outcome = asyncio.run(call_tool(config, args.role, args.tool, args.arguments, dry_run=args.dry_run))
    if args.json:
        _print_json(outcome)
    else:
        detail = outcome.get("data") if outcome["ok"] else outcome["error"]
        where = f"run {outcome['run_id']}, audit row {outcome['audit_seq']}"
        print(f"{outcome['decision']}: {json.dumps(detail, ensure_ascii=False)}  ({where})")
        if outcome.get("approval"):
            print(f"waiting for a person's approval as {outcome['approval']}: {outcome['approve']}")
        elif outcome.get("already_waiting"):
            print(
                f"already waiting as {outcome['already_waiting']}: adpilot approvals show {outcome['already_waiting']}"
            )
    return tool_call_exit_code(outcome)


def tool_call_exit_code(outcome: dict[str, Any]) -> int:
    """A governed call's outcome as an exit code of the table (``ExitCode``)."""
    if outcome["ok"]:
        return EXIT_OK
    error = outcome.get("error") or {}
    rule, kind = str(error.get("rule")), str(error.get("type"))
    by_rule = {"kill_switch": EXIT_STOPPED, "lease.busy": EXIT_BUSY, "audit.broken": EXIT_AUDIT}
    if rule in by_rule:
        return by_rule[rule]
    if outcome.get("decision") == "escalate":
        return EXIT_WAITING
    if kind in ("platform_error", "outcome_unknown", "unavailable"):
        return EXIT_PLATFORM
    if outcome.get("decision") == "deny":
        return EXIT_REFUSED
    return EXIT_INTERNAL


def cmd_audit_show(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.audit_view import Filters, audit_rows, render_story, show_list, story

    if args.seq is not None:
        told = story(config, args.seq)
        if args.json:
            _print_json(told.as_data())
        else:
            print(render_story(told, details=True))
        return EXIT_OK
    filters = Filters.from_args(args)
    if args.json:
        _print_json(audit_rows(config, filters))
    else:
        print(show_list(config, filters))
    return EXIT_OK


def cmd_audit_why(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.audit_view import render_story, story

    told = story(config, args.seq)
    if args.json:
        _print_json(told.as_data())
    else:
        print(render_story(told))
    return EXIT_OK


def cmd_audit_export(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.audit_view import Filters, export_records, write_export

    records = export_records(config, Filters.from_args(args, reads=not args.no_reads))
    if args.subject:  # a data-subject request: the rows about one person, archived ones too
        records = _records_about(config, args.subject, within={r.seq for r in records})
    if args.output:
        from pathlib import Path

        with Path(args.output).open("w", encoding="utf-8", newline="") as out:
            count = write_export(records, args.format, out)
        print(f"wrote {count} audit record(s) to {args.output} ({args.format})", file=sys.stderr)
    else:
        write_export(records, args.format, sys.stdout)
    return EXIT_OK


def _sealed_audit(config: Any) -> Any:
    """The configured audit log, keyed, with its archive directory (``audit.archive_dir``)."""
    from adpilot.compose.deployment import open_audit_log

    log = open_audit_log(config)
    if config.audit.archive_dir is not None:
        log.archive_dir = config.state_dir / config.audit.archive_dir
    return log


def cmd_audit_archive(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.errors import UsageError
    from adpilot.policies.loader import load_policy
    from adpilot.tools.audit import check_retention, retention_floor

    policy = load_policy(config.policy)
    days = config.audit.retention_days
    check_retention(days, policy)
    log = _sealed_audit(config)
    try:
        if args.before:
            try:
                before = datetime.datetime.fromisoformat(args.before.strip())
            except ValueError:
                raise UsageError(f"--before {args.before!r}: give a time such as 2026-11-01T00:00:00Z") from None
            if before.tzinfo is None:
                raise UsageError(f"--before {args.before!r}: give the time zone, e.g. 2026-11-01T00:00:00Z")
        elif days is not None:
            before = log.clock() - datetime.timedelta(days=days)
        else:
            raise UsageError("give --before TIME, or set audit.retention_days in the configuration")
        directory = config.state_dir / config.audit.archive_dir if config.audit.archive_dir is not None else None
        report = log.archive(before, keep=retention_floor(policy), directory=directory, dry_run=args.dry_run)
    finally:
        log.close()
    if args.json:
        _print_json(report)
    elif not report["rows"]:
        print(f"nothing to archive before {report['cutoff']}: the oldest rows are kept ({report['kept_because']})")
    else:
        verb = "would archive" if report["dry_run"] else "archived"
        print(
            f"{verb} audit rows {report['first_seq']} to {report['last_seq']} ({report['rows']} rows, "
            f"before {report['cutoff']}) to {report['segment']}"
        )
    return EXIT_OK


def _records_about(config: Any, subject: str, *, within: set[int] | None = None) -> list[Any]:
    """The rows about one person (archived ones too), with only their own data revealed; ``within``:
    of the rows still in the database, only these."""
    import dataclasses

    log = _sealed_audit(config)
    try:
        own = log.subject_tokens(subject)
        archived = max((a.last_seq for a in log.archives()), default=0)
        found = []
        for record in log.records_about(subject):
            if within is not None and record.seq > archived and record.seq not in within:
                continue
            fields = ("args", "before", "after", "result", "reason")
            revealed = {name: log.reveal(getattr(record, name), only=own) for name in fields}
            found.append(dataclasses.replace(record, **revealed))  # this person's data, no one else's
        return found
    finally:
        log.close()


def cmd_audit_subject(args: argparse.Namespace) -> int:
    config = _load_config(args)
    rows = [record.to_dict() for record in _records_about(config, args.subject)]
    if args.json:
        _print_json({"subject": args.subject, "rows": rows})
        return EXIT_OK
    if not rows:
        print("the audit log holds no row about this person")
    for row in rows:
        print(f"row {row['seq']}  {row['ts']}  {row['kind']} {row['tool']} (run {row['run_id']}): {row['args']}")
    return EXIT_OK


def cmd_audit_forget(args: argparse.Namespace) -> int:
    config = _load_config(args)
    log = _sealed_audit(config)
    try:
        erased = log.forget(args.subject, actor=os.environ.get("USER") or "operator")
    finally:
        log.close()
    if args.json:
        _print_json({"erased": erased})
    else:
        print(f"erased {erased} stored value(s) of this person; the rows keep only their tokens")
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.governed import verify_audit
    from adpilot.errors import AuditTamperedError

    try:
        report = verify_audit(config)
    except AuditTamperedError as exc:
        if args.json:
            _print_json({"intact": False, "error": str(exc), "seq": exc.seq})
        print(f"adpilot: audit log NOT intact: {exc}", file=sys.stderr)
        return EXIT_AUDIT
    if args.json:
        _print_json(report)
        return EXIT_OK
    print(f"audit log intact: {report['rows']} rows, hash chain verified")
    if report.get("sealed"):
        last = report["last_checkpoint"]
        sealed = f"last checkpoint row {last['seq']} at {last['at']}" if last else "no checkpoint yet"
        print(
            f"keyed from row {report['keyed_from_row']} with the key from {report['key_source']} "
            f"(id {report['key_id']}); anchor {report['anchor']}: {sealed}"
        )
    return EXIT_OK


def cmd_audit_rollback(args: argparse.Namespace) -> int:
    config = _load_config(args)
    import asyncio

    from adpilot.app.audit_view import render_rollback
    from adpilot.app.governed import rollback

    outcome = asyncio.run(rollback(config, args.run, seq=args.seq, since=args.since, dry_run=args.dry_run))
    if args.json:
        _print_json(outcome)
    else:
        print(render_rollback(outcome, config))
    outcomes = {s["outcome"] for s in outcome["steps"]}
    if "failed" in outcomes:
        return EXIT_PLATFORM
    if outcomes & {"denied", "conflict"}:
        return EXIT_REFUSED
    return EXIT_WAITING if "escalated" in outcomes else EXIT_OK


def _day(value: str) -> datetime.date:
    from adpilot.errors import UsageError

    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--on {value!r}: give a date as YYYY-MM-DD") from None


def cmd_check_copy(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.compose.deployment import claim_checker
    from adpilot.errors import UsageError
    from adpilot.policies.compliance import ComplianceEngine, escaped
    from adpilot.policies.content import Content
    from adpilot.tables import table

    if not (args.texts or args.headline or args.description):
        raise UsageError("give copy to check: TEXT arguments, --headline or --description")
    content = Content(
        channel=args.channel,
        locale=args.locale or config.locale,
        headlines=tuple(args.headline),
        descriptions=tuple(args.description),
        texts=tuple(args.texts),
        evidence=tuple(args.evidence),
        subject=args.product or "",
        account=args.account or "",
        market=args.market or "",
    )
    day = _day(args.on) if args.on else None
    engine = ComplianceEngine.from_pack(
        config.policy, today=(lambda: day) if day else None, claims=claim_checker(config)
    )
    verdict = engine.check(content)
    views = engine.views(content) if args.explain else []
    if args.json:
        payload: dict[str, Any] = {
            "verdict": verdict.verdict,
            "content_hash": verdict.content_hash,
            "findings": list(verdict.findings),
            "backing": list(verdict.backing),
        }
        if args.explain:
            payload["normalised"] = [{"field": v.field, "written": v.written, "reads": v.folded.text} for v in views]
        _print_json(payload)
        return EXIT_EVAL if args.strict and verdict.verdict != "pass" else EXIT_OK
    print(f"verdict: {verdict.verdict}")
    if args.explain:
        print("\nwhat the rules read (normalised):")
        for view in views:
            rendered = view.folded.original != view.written  # read from a page's HTML
            changed = "" if view.folded.text == view.folded.original else "   (normalised)"
            origin = f"   (from the HTML: {view.source} text)" if rendered else ""
            print(f"  {view.field}: '{view.folded.text}'{changed}{origin}")
            if changed:
                print(f"  {' ' * len(view.field)}  written: '{escaped(view.folded.original)}'")
    if verdict.findings:
        if args.explain:
            print("\nrules that fired:")
            rows = [
                [f["severity"], f["rule"], f.get("pattern", ""), f["field"], escaped(f["text"]), f["message"]]
                for f in verdict.findings
            ]
            print(table(["severity", "rule", "term", "field", "text", "message"], rows))
        else:
            rows = [
                [f["severity"], f["rule"], f["field"], f["text"], f["message"], f.get("suggestion", "")]
                for f in verdict.findings
            ]
            print(table(["severity", "rule", "field", "text", "message", "suggestion"], rows))
    for backed in verdict.backing:
        print(f"claim “{backed['claim']}” backed by evidence {backed['evidence']}: {backed['source']}")
    return EXIT_EVAL if args.strict and verdict.verdict != "pass" else EXIT_OK


def cmd_seo_audit(args: argparse.Namespace) -> int:
    config = _load_config(args)
    import asyncio

    from adpilot.app.governed import seo_audit
    from adpilot.tables import table

    report = asyncio.run(seo_audit(config))
    if args.json:
        _print_json(report)
        return EXIT_OK
    rows = [[f["post_id"], f["severity"], f["check"], f["message"], f["fix"] or ""] for f in report["findings"]]
    print(table(["post", "severity", "check", "finding", "fix"], rows) if rows else "no findings")
    if report["proposals"]:
        print(f"\n{len(report['proposals'])} fix(es), one change per page:")
        for proposal in report["proposals"]:
            fields = ", ".join(k for k in proposal["args"] if k != "post_id")
            waiting = proposal.get("waiting_as")
            state = f"waits for approval: adpilot approvals show {waiting}" if waiting else "not proposed yet"
            print(f"  post {proposal['args']['post_id']}: set {fields} — {state}")
        if not all(p.get("waiting_as") for p in report["proposals"]):
            print("`adpilot maintain` proposes the fixes not proposed yet; a live page's change waits for a person.")
    return EXIT_OK


def cmd_memory_ingest(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.memory.store import MemoryStore, NothingIngestedError

    store = MemoryStore.from_config(config)
    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if tty:
            print(f"\ringesting: {done}/{total} chunks", end="", file=sys.stderr, flush=True)

    def problems(report: Any, *, skipped: bool = True) -> None:
        for note in report.notes:
            print(f"note: {note.path}: {note.reason}", file=sys.stderr)
        for refused in report.skipped if skipped else []:
            print(f"skipped {refused.path}: {refused.reason}", file=sys.stderr)

    try:
        report = store.ingest(
            args.paths, tenant=args.tenant or config.memory.tenant, progress=progress, doc_kind=args.doc_kind
        )
    except NothingIngestedError as exc:
        problems(exc.report, skipped=len(exc.report.skipped) > 5)  # up to five are named in the error itself
        if args.json:
            _print_json(exc.report.as_dict())
        raise
    if tty:
        print(file=sys.stderr)
    problems(report)
    if args.json:
        _print_json(report.as_dict())
    else:
        skipped = f"; skipped {len(report.skipped)} file(s) (named on stderr)" if report.skipped else ""
        print(
            f"ingested {report.files} file(s) as {report.chunks} chunk(s); "
            f"replaced {report.replaced} older chunk(s){skipped}"
        )
    return EXIT_OK


def cmd_memory_list(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.memory.store import MemoryStore
    from adpilot.tables import table

    documents = MemoryStore.from_config(config).documents(tenant=args.tenant or config.memory.tenant)
    if args.json:
        _print_json([d.as_dict() for d in documents])
    elif not documents:
        print("the knowledge base is empty (adpilot memory ingest PATH)")
    else:
        rows = [[d.source, d.location, str(d.chunks), d.kind, d.doc_kind, d.ingested_at or "-"] for d in documents]
        print(table(["source", "path", "chunks", "format", "kind", "ingested at"], rows))
    return EXIT_OK


def cmd_memory_delete(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.memory.store import MemoryStore

    removed = MemoryStore.from_config(config).delete_document(args.source, tenant=args.tenant or config.memory.tenant)
    if args.json:
        _print_json({"source": args.source, "chunks": removed})
    else:
        print(f"deleted {args.source}: {removed} chunk(s)")
    return EXIT_OK


def cmd_memory_search(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.memory.store import MemoryStore

    passages = MemoryStore.from_config(config).search_knowledge(
        args.query, tenant=args.tenant or config.memory.tenant, k=args.k
    )
    if args.json:
        _print_json([p.as_dict() for p in passages])
    elif not passages:
        print("nothing found (is the knowledge base ingested? adpilot memory ingest PATH)")
    else:
        for passage in passages:
            text = " ".join(passage.text.split())
            print(f"[{passage.citation}] {passage.title} (score {passage.score:.2f})\n    {text[:300]}")
    return EXIT_OK


def _audit_filters(command: argparse.ArgumentParser) -> None:
    """The filters `audit show` and `audit export` share (every one given must match)."""
    command.add_argument("--account", default=None, metavar="ID", help="a Google Ads customer id, or cms")
    command.add_argument("--entity", default=None, help="an entity, or its end (e.g. campaign_budget:9101, post:501)")
    command.add_argument("--run", default=None, help="only this run id")
    command.add_argument("--role", default=None, help="only this role (bidding, creative, seo, operator, …)")
    command.add_argument("--tool", default=None, help="only this tool (its reads too)")
    command.add_argument("--decision", default=None, help="allow, escalate, deny, dry_run or reject")
    command.add_argument("--kind", default=None, choices=["decision", "intent", "result"])
    command.add_argument("--since", default=None, metavar="TIME", help="at or after, with a zone: 2026-12-03T06:00Z")
    command.add_argument("--until", default=None, metavar="TIME", help="before this time (with a zone)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adpilot",
        description="Role-scoped AI agents for online marketing, governed by policy.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: $ADPILOT_CONFIG or ./config.yaml)",
    )
    parser.add_argument("--version", action="version", version="adpilot 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help_text: str, parent: Any = sub
    ) -> argparse.ArgumentParser:
        command = parent.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    demo = add("demo", cmd_demo, "seed the sandbox, ingest the knowledge base, run maintenance, show the report")
    demo.add_argument("--json", action="store_true", help="one JSON document on stdout")

    maintain = add("maintain", cmd_maintain, "one maintenance run over the configured accounts")
    maintain.add_argument("--account", action="append", default=[], metavar="ID", help="only this account (repeatable)")
    maintain.add_argument("--dry-run", action="store_true", help="validate every change on the platform, apply none")
    maintain.add_argument("--json", action="store_true")
    maintain.add_argument("--model", default=None, metavar="SPEC", help=MODEL_HELP)

    evaluation = add("eval", cmd_eval, "run eval scenarios (docs/EVALS.md) and score them")
    evaluation.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    evaluation.add_argument("--model", default=None, help="model for scenarios that name none (default: config)")
    evaluation.add_argument("--trials", type=int, default=1, help="runs per scenario; pass^k counts all-pass")
    evaluation.add_argument("--report", metavar="FILE", default=None, help="write the JSON report here")
    evaluation.add_argument("--min-pass-rate", type=float, default=0.0, help="exit 4 below this pass rate")
    evaluation.add_argument("--tag", action="append", default=[], help="only scenarios with this tag")
    evaluation.add_argument("--parallel", type=int, default=4, metavar="N", help="scenarios run at once (default 4)")
    evaluation.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help="fail a scenario's run that takes longer"
    )
    evaluation.add_argument("--json", action="store_true")
    evaluation.add_argument("--verbose", action="store_true", help="log every decision of every run")

    schedule = add("schedule", cmd_schedule, "run maintenance on the cron expressions of the configuration's schedule")
    schedule.add_argument("--model", default=None, metavar="SPEC", help=MODEL_HELP)

    approvals = sub.add_parser("approvals", help="changes waiting for a person")
    approvals_sub = approvals.add_subparsers(dest="approvals_command", metavar="ACTION", required=True)
    approvals_list = add("list", cmd_approvals_list, "list the pending approvals", approvals_sub)
    approvals_list.add_argument("--json", action="store_true")
    approvals_show = add(
        "show", cmd_approvals_show, "what one approval changes, why, its spend impact and who asked", approvals_sub
    )
    approvals_show.add_argument("id", help="the pending id, or a unique prefix of at least 8 characters")
    approvals_show.add_argument("--json", action="store_true")
    for name, handler, text in (
        ("approve", cmd_approve, "approve a pending change"),
        ("reject", cmd_reject, "reject a pending change"),
        ("edit", cmd_edit, "change a pending change's arguments and approve it (the Guard judges it again)"),
    ):
        decision = add(name, handler, text, approvals_sub)
        decision.add_argument("id", help="the pending id, or a unique prefix of at least 8 characters")
        decision.add_argument("--reason", default=None)
        decision.add_argument(
            "--approver", default=None, help="who decides (default: `approver` of the config, else the OS user)"
        )
        decision.add_argument("--json", action="store_true")
        if name == "edit":
            decision.add_argument(
                "--set", action="append", default=[], metavar="KEY=VALUE", help="an argument to change (repeatable)"
            )

    stop = add("stop", cmd_stop, "engage the kill switch: every run stops, no further changes")
    stop.add_argument("--reason", default=None)
    add("resume", cmd_resume, "release the kill switch")

    runs = sub.add_parser("runs", help="the runs adpilot knows: list them, stop one")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    runs_list = add("list", cmd_runs_list, "every run, newest first, with its status and what it waits for", runs_sub)
    runs_list.add_argument(
        "--status", action="append", default=[], metavar="S", help="only runs with this status (repeatable)"
    )
    runs_list.add_argument("--json", action="store_true")
    runs_stop = add("stop", cmd_runs_stop, "stop one run: it makes no further change (audited)", runs_sub)
    runs_stop.add_argument("thread", metavar="RUN", help="the run's id, as `adpilot runs list` shows it")
    runs_stop.add_argument("--reason", default=None, help="why (required; audited with your name)")
    runs_stop.add_argument("--by", default=None, help="who stops it (default: `approver` of the config, else OS user)")

    hold = add("hold", cmd_hold, "hold an entity: the maintenance skills leave it alone (--list: the holds)")
    hold.add_argument("entity", nargs="?", help="ad:GROUP~AD, keyword:GROUP~ID, budget:ID, campaign:ID, ad_group:ID, …")
    hold.add_argument("--days", type=float, default=None, help="for this many days (default: until released)")
    hold.add_argument("--reason", default="", help="why (shown in the notes of the runs it holds back)")
    hold.add_argument("--by", default=None, help="who holds it (default: `approver` of the config, else the OS user)")
    hold.add_argument("--list", action="store_true", help="list the active holds")
    hold.add_argument("--json", action="store_true")
    release = add("release", cmd_release, "release an entity's hold")
    release.add_argument("entity", help="as given to adpilot hold")

    chat = add("chat", cmd_chat, "the operator console (commands without a model, free text with one)")
    chat.add_argument("--once", metavar="TEXT", default=None, help="one message, then exit")
    chat.add_argument("--no-memory", action="store_true", help="do not open the knowledge base")
    chat.add_argument("--json", action="store_true")
    chat.add_argument("--model", default=None, metavar="SPEC", help=MODEL_HELP)

    sandbox = sub.add_parser("sandbox", help="the local stand-in for Google Ads and WordPress")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = add("serve", cmd_sandbox_serve, "serve the sandbox APIs over HTTP", sandbox_sub)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--seed", type=int, default=None, help="world seed (default: sandbox.seed of the config)")
    show = add("show", cmd_sandbox_show, "print the world as the commands left it (or the seeded one)", sandbox_sub)
    show.add_argument("--seed", type=int, default=None, help="print the freshly seeded world of this seed instead")
    show.add_argument("--json", action="store_true")
    show.add_argument("--full", action="store_true", help="with --json: the whole world dump")
    advance = add("advance-day", cmd_sandbox_advance_day, "let days pass in the sandbox (traffic, spend)", sandbox_sub)
    advance.add_argument("days", type=int, nargs="?", default=1, help="how many days (default 1, at most 366)")
    advance.add_argument("--json", action="store_true")

    check = add("check-copy", cmd_check_copy, "check ad or page copy against the compliance rules")
    check.add_argument("texts", nargs="*", metavar="TEXT", help="copy checked by the general rules")
    check.add_argument("--headline", action="append", default=[], help="an RSA headline (≤ 30 characters)")
    check.add_argument("--description", action="append", default=[], help="an RSA description (≤ 90 characters)")
    check.add_argument("--channel", choices=["google_ads", "cms"], default="google_ads")
    check.add_argument("--locale", choices=["de", "en"], default=None, help="default: locale of the config")
    check.add_argument(
        "--evidence", action="append", default=[], metavar="ID", help="evidence registry id cited for a claim"
    )
    check.add_argument("--product", metavar="TEXT", help="what the copy advertises (product or ad group)")
    check.add_argument(
        "--account", metavar="CUSTOMER_ID", help="the Google Ads account the copy is for (its market's feed facts)"
    )
    check.add_argument("--market", metavar="CODE", help="the market whose feed facts claims must match (DE, AT, …)")
    check.add_argument("--explain", action="store_true", help="show the normalised text and the rule that fired")
    check.add_argument("--on", metavar="YYYY-MM-DD", help="judge evidence validity on this day (default: today)")
    check.add_argument("--json", action="store_true")
    check.add_argument("--strict", action="store_true", help="exit 4 unless the verdict is pass")

    memory = sub.add_parser("memory", help="the knowledge base and decision memory")
    memory_sub = memory.add_subparsers(dest="memory_command", metavar="ACTION", required=True)
    ingest = add(
        "ingest",
        cmd_memory_ingest,
        "add documents (Markdown, text, HTML, PDF; folders too) to the knowledge base",
        memory_sub,
    )
    ingest.epilog = (
        "A document is its folder argument (or a named file's folder) plus its path below it: ingesting it again "
        "replaces exactly that document. Hidden files and folders are skipped; symlinks are followed only to files "
        "inside the folder; text that is not UTF-8 is read as Windows-1252 (noted). Files that cannot be read are "
        "skipped and named on stderr with the reason; the exit code is 0 when at least one document was stored, "
        "2 when none could be."
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--tenant", default=None, help="default: memory.tenant of the config")
    ingest.add_argument(
        "--doc-kind",
        metavar="KIND",
        default=None,
        help="content kind of documents whose front matter names none: product, service, review (facts copy may "
        "state), legal, brand_voice, care_guide (guidelines, never copy); default: unspecified",
    )
    ingest.add_argument("--json", action="store_true")
    memory_list = add("list", cmd_memory_list, "list the documents: source id, path, chunks, kind, time", memory_sub)
    memory_list.add_argument("--tenant", default=None)
    memory_list.add_argument("--json", action="store_true")
    delete = add(
        "delete", cmd_memory_delete, "remove one document by its exact source id (exit 2 if unknown)", memory_sub
    )
    delete.add_argument("source", metavar="SOURCE", help="a source id as `memory list` shows it")
    delete.add_argument("--tenant", default=None)
    delete.add_argument("--json", action="store_true")
    search = add("search", cmd_memory_search, "search the knowledge base", memory_sub)
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--k", type=int, default=4, help="how many passages (default 4)")
    search.add_argument("--tenant", default=None)
    search.add_argument("--json", action="store_true")

    seo = sub.add_parser("seo", help="search-engine optimisation of the CMS")
    seo_sub = seo.add_subparsers(dest="seo_command", metavar="ACTION", required=True)
    seo_audit = add("audit", cmd_seo_audit, "audit published posts and pages, and show the fixes", seo_sub)
    seo_audit.add_argument("--json", action="store_true")

    tool = sub.add_parser("tool", help="governed tools: list them, or make one call as a role")
    tool_sub = tool.add_subparsers(dest="tool_command", metavar="ACTION", required=True)
    tool_list = add("list", cmd_tool_list, "list the tools and which roles may call them", tool_sub)
    tool_list.add_argument("--role", default=None)
    tool_list.add_argument("--json", action="store_true")
    tool_call = add("call", cmd_tool_call, "call one tool through the Guard, as a role", tool_sub)
    tool_call.add_argument("role")
    tool_call.add_argument("tool")
    tool_call.add_argument("arguments", help='JSON object, e.g. \'{"customer_id": "1112223333"}\'')
    tool_call.add_argument("--dry-run", action="store_true", help="validate on the platform, change nothing")
    tool_call.add_argument("--json", action="store_true")

    audit = sub.add_parser("audit", help="the tamper-evident audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    audit_show = add(
        "show", cmd_audit_show, "the trail as sentences (reads hidden), or the story of one row (SEQ)", audit_sub
    )
    audit_show.add_argument("seq", nargs="?", type=int, default=None, help="one row: the whole story of its change")
    _audit_filters(audit_show)
    audit_show.add_argument("--reads", action="store_true", help="include the rows of read-only tools")
    audit_show.add_argument("--limit", type=int, default=None, metavar="N", help="only the newest N rows")
    audit_show.add_argument("--json", action="store_true")
    audit_why = add(
        "why", cmd_audit_why, "why one change happened: who asked, the rule, the approval, result, rollback", audit_sub
    )
    audit_why.add_argument("seq", type=int, help="an audit row of the change (its decision, intent or result)")
    audit_why.add_argument("--json", action="store_true")
    audit_export = add("export", cmd_audit_export, "write the records for auditors and SIEMs (jsonl or csv)", audit_sub)
    audit_export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    audit_export.add_argument("--output", metavar="FILE", default=None, help="write here (default: stdout)")
    _audit_filters(audit_export)
    audit_export.add_argument("--no-reads", action="store_true", help="leave out the rows of read-only tools")
    audit_export.add_argument("--limit", type=int, default=None, metavar="N", help="only the newest N rows")
    audit_export.add_argument(
        "--subject", metavar="EMAIL|PHONE|IBAN", help="only rows about this person, their data revealed (archives too)"
    )
    audit_verify = add("verify", cmd_audit_verify, "verify the hash chain; names the first broken row", audit_sub)
    audit_verify.add_argument("--json", action="store_true")
    audit_rollback = add(
        "rollback", cmd_audit_rollback, "undo a run's, one row's or recent changes (governed, audited)", audit_sub
    )
    scope = audit_rollback.add_mutually_exclusive_group(required=True)
    scope.add_argument("--run", help="undo the changes of this run")
    scope.add_argument("--seq", type=int, help="undo the one change this audit row records")
    scope.add_argument("--since", help="undo every change since this time, newest first (e.g. 2026-12-03T06:00:00Z)")
    audit_rollback.add_argument("--dry-run", action="store_true", help="show what would be undone; change nothing")
    audit_rollback.add_argument("--json", action="store_true")
    audit_archive = add(
        "archive", cmd_audit_archive, "move old rows into sealed archive segments (audit.retention_days)", audit_sub
    )
    audit_archive.add_argument("--before", help="archive rows older than this (default: audit.retention_days ago)")
    audit_archive.add_argument("--dry-run", action="store_true", help="say what would be archived; move nothing")
    audit_archive.add_argument("--json", action="store_true")
    audit_subject = add("subject", cmd_audit_subject, "every row about one person (data-subject request)", audit_sub)
    audit_subject.add_argument("subject", metavar="EMAIL|PHONE|IBAN")
    audit_subject.add_argument("--json", action="store_true")
    audit_forget = add("forget", cmd_audit_forget, "erase one person's personal data from the audit vault", audit_sub)
    audit_forget.add_argument("subject", metavar="EMAIL|PHONE|IBAN")
    audit_forget.add_argument("--json", action="store_true")

    doctor = add("doctor", cmd_doctor, "check configuration, credentials, platforms, audit log, model and memory")
    doctor.epilog = (
        "One line per check with the fix for each problem; secrets are never printed. Exit 0 when no check failed; "
        "when several fail: 6 (audit log broken) before 2 (configuration or credentials) before 9 (a platform "
        "unreachable or failing)."
    )
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument(
        "--write-test",
        action="store_true",
        help="on a real WordPress too: create a draft, write and read back its meta description, delete it",
    )
    doctor.add_argument("--online", action="store_true", help="also make one call to the model provider")

    config = sub.add_parser("config", help="inspect the effective configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_show = add("show", cmd_config_show, "print the effective configuration", config_sub)
    config_show.add_argument("--json", action="store_true")

    console = add("serve", cmd_serve, "the web console (inbox, chat, runs, accounts, audit, controls) and its JSON API")
    console.add_argument("--host", default=None, help="default: console.host of the config (127.0.0.1)")
    console.add_argument("--port", type=int, default=None, help="default: console.port of the config (8080)")
    console.add_argument("--tls-cert", default=None, metavar="FILE", help="serve over TLS with this certificate")
    console.add_argument("--tls-key", default=None, metavar="FILE", help="… and this private key")
    console.add_argument("--model", default=None, metavar="SPEC", help=MODEL_HELP)
    people = sub.add_parser("users", help="the web console's users and their roles")
    people_sub = people.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    people_add = add("add", cmd_users, "add a user (the password from a prompt, or --password-stdin)", people_sub)
    people_add.add_argument("name")
    people_add.add_argument("--role", required=True, help="viewer, operator, approver or admin")
    people_add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add("remove", cmd_users, "remove a user (their sessions end)", people_sub).add_argument("name")
    add("list", cmd_users, "the users and their roles", people_sub).add_argument("--json", action="store_true")
    add("token", cmd_users_token, "a new API token for a user (printed once)", people_sub).add_argument("name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    from adpilot.errors import AdpilotError

    try:
        return int(handler(args))
    except AdpilotError as exc:
        print(f"adpilot: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away; that is not our failure.
        sys.stderr.close()
        return EXIT_OK
    except (OSError, sqlite3.Error) as exc:
        # The state directory or one of its databases cannot be used: say which, without a traceback.
        where = getattr(exc, "filename", None)
        print(f"adpilot: {type(exc).__name__}{f' ({where})' if where else ''}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print("adpilot: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        return _internal_error(exc)


def _internal_error(exc: Exception) -> int:
    """A bug: one line naming the error and where it happened, never a traceback (unless asked
    for with ADPILOT_DEBUG=1), and exit code 1."""
    import traceback

    if os.environ.get("ADPILOT_DEBUG"):
        traceback.print_exc()
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    print(
        f"adpilot: internal error{where}: {type(exc).__name__}: {str(exc)[:200]} — this is a bug in adpilot; "
        "ADPILOT_DEBUG=1 shows the traceback for a report",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

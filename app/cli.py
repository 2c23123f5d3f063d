"""The ``adpilot`` command line.

Start-up stays fast: this module imports only the standard library; each command imports
what it needs when it runs. Exit codes: 0 done, 1 internal error, 2 usage or configuration
error, 3 run stopped (or refused: the kill switch is engaged), 4 evaluation below threshold, 5 busy (another
actor holds the account; the message names it), 6 the audit log is not intact (`audit verify`: a row altered,
missing or reordered, the log behind its anchor, or rewritten without the key; the message names the first bad
row or the missing range).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_STOPPED, EXIT_EVAL, EXIT_BUSY = 0, 1, 2, 3, 4, 5
EXIT_AUDIT = 6


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _load_config(args: argparse.Namespace) -> Any:
    from adpilot.config import load_config
    from adpilot.logs import configure_logging

    config = load_config(args.config)
    configure_logging(config.log.level, config.log.format)
    return config


def cmd_demo(args: argparse.Namespace) -> int:
    config = _load_config(args)
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
    from adpilot.evals.runner import run_scenarios
    from adpilot.evals.scenario import load_scenarios

    if not 0.0 <= args.min_pass_rate <= 1.0 or args.trials < 1:
        from adpilot.errors import UsageError

        raise UsageError("--min-pass-rate takes 0..1 and --trials at least 1")
    if config.log.level in ("debug", "info"):
        # Dozens of runs in a row: per-decision log lines would bury the table; warnings still show.
        from adpilot.logs import configure_logging

        configure_logging("debug" if args.verbose else "warning", config.log.format)
    scenarios = load_scenarios([Path(p) for p in args.paths])
    if args.tag:
        scenarios = [s for s in scenarios if set(args.tag) & set(s.tags)]
    started = time.perf_counter()
    results = asyncio.run(run_scenarios(scenarios, model=args.model or config.model, trials=args.trials))
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
    if s["scenarios"] == 0:
        print("no scenario ran (all skipped)", file=sys.stderr)
        return EXIT_OK
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

    from adpilot.app.runs import decide, render_reports

    result = asyncio.run(decide(config, args.id, decision, args.reason or "", args.approver, args=edits))
    if args.json:
        _print_json({"thread_id": result.thread_id, "status": result.status, "report": result.report})
    else:
        print(render_reports([result]))
    return EXIT_STOPPED if result.status == "stopped" else EXIT_OK


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


def cmd_chat(args: argparse.Namespace) -> int:
    config = _load_config(args)
    import asyncio

    from adpilot.app.runs import chat_once, render_reports

    if args.once is not None:
        result = asyncio.run(chat_once(config, args.once, with_memory=not args.no_memory))
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
        return EXIT_STOPPED if result.status == "stopped" else EXIT_OK
    from adpilot.app.console import console

    return console(config, with_memory=not args.no_memory)


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.tools.sandbox.server import serve

    seed = config.sandbox.seed if args.seed is None else args.seed
    print(f"sandbox on http://{args.host}:{args.port} (seed {seed}); Ctrl-C stops it", file=sys.stderr)
    serve(args.host, args.port, seed)
    return EXIT_OK


def cmd_sandbox_show(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.summary import render_summary, world_summary
    from adpilot.tools.sandbox import World

    world = World.demo(config.sandbox.seed if args.seed is None else args.seed)
    if args.json:
        _print_json(world.dump() if args.full else world_summary(world))
    else:
        print(render_summary(world_summary(world)))
    return EXIT_OK


def cmd_config_show(args: argparse.Namespace) -> int:
    config = _load_config(args)
    data = config.model_dump(mode="json")
    if args.json:
        _print_json(data)
    else:
        import yaml

        print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK


def cmd_tool_list(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.governed import list_tools
    from adpilot.tables import table

    rows = list_tools(config, args.role)
    if args.json:
        _print_json(rows)
    else:
        print(
            table(
                ["tool", "scope", "roles", "description"],
                [[r["tool"], r["scope"], ", ".join(r["roles"]), r["description"]] for r in rows],
            )
        )
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
    if outcome["ok"]:
        return EXIT_OK
    rule = str((outcome.get("error") or {}).get("rule"))
    return {"kill_switch": EXIT_STOPPED, "lease.busy": EXIT_BUSY}.get(rule, EXIT_INTERNAL)


def cmd_audit_show(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.app.governed import audit_rows, render_audit

    rows = audit_rows(config, args.run)
    if args.json:
        _print_json(rows)
    else:
        print(render_audit(rows) if rows else "the audit log is empty")
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

    from adpilot.app.governed import rollback
    from adpilot.tables import table

    outcome = asyncio.run(rollback(config, args.run, seq=args.seq, since=args.since, dry_run=args.dry_run))
    if args.json:
        _print_json(outcome)
    else:
        rows = [
            [s["audit_seq"], s["tool"], s["entity"], s["restore"], s["outcome"], s["detail"]] for s in outcome["steps"]
        ]
        dry = "dry run: " if outcome["dry_run"] else ""
        print(f"{dry}rollback of {outcome['rolled_back']} (audited as run {outcome['run_id']})")
        print(table(["row", "tool", "entity", "restore", "outcome", "detail"], rows))
        for s in outcome["steps"]:
            if s.get("approval"):
                print(f"row {s['audit_seq']}: waiting for a person's approval as {s['approval']}: {s['approve']}")
            elif s.get("already_waiting"):
                print(f"row {s['audit_seq']}: already waiting as {s['already_waiting']}")
    failed = [s for s in outcome["steps"] if s["outcome"] in ("denied", "failed", "conflict", "escalated")]
    return EXIT_INTERNAL if failed else EXIT_OK


def _day(value: str) -> datetime.date:
    from adpilot.errors import UsageError

    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--on {value!r}: give a date as YYYY-MM-DD") from None


def cmd_check_copy(args: argparse.Namespace) -> int:
    config = _load_config(args)
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
    )
    day = _day(args.on) if args.on else None
    engine = ComplianceEngine.from_pack(config.policy, today=(lambda: day) if day else None)
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
        print(f"\n{len(report['proposals'])} proposal(s), one update_post per page:")
        for proposal in report["proposals"]:
            fields = ", ".join(k for k in proposal["args"] if k != "post_id")
            print(f"  post {proposal['args']['post_id']}: set {fields}  (proposal {proposal['id']})")
    return EXIT_OK


def cmd_memory_ingest(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from adpilot.memory.store import MemoryStore

    store = MemoryStore.from_config(config)
    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if tty:
            print(f"\ringesting: {done}/{total} chunks", end="", file=sys.stderr, flush=True)

    report = store.ingest(args.paths, tenant=args.tenant or config.memory.tenant, progress=progress)
    if tty:
        print(file=sys.stderr)
    summary = {"files": report.files, "chunks": report.chunks, "replaced": report.replaced}
    if args.json:
        _print_json(summary)
    else:
        print(f"ingested {report.files} file(s) as {report.chunks} chunk(s); replaced {report.replaced} older chunk(s)")
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

    evaluation = add("eval", cmd_eval, "run eval scenarios (docs/EVALS.md) and score them")
    evaluation.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    evaluation.add_argument("--model", default=None, help="model for scenarios that name none (default: config)")
    evaluation.add_argument("--trials", type=int, default=1, help="runs per scenario; pass^k counts all-pass")
    evaluation.add_argument("--report", metavar="FILE", default=None, help="write the JSON report here")
    evaluation.add_argument("--min-pass-rate", type=float, default=0.0, help="exit 4 below this pass rate")
    evaluation.add_argument("--tag", action="append", default=[], help="only scenarios with this tag")
    evaluation.add_argument("--json", action="store_true")
    evaluation.add_argument("--verbose", action="store_true", help="log every decision of every run")

    add("schedule", cmd_schedule, "run maintenance on the cron expressions of the configuration's schedule")

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

    chat = add("chat", cmd_chat, "the operator console (commands without a model, free text with one)")
    chat.add_argument("--once", metavar="TEXT", default=None, help="one message, then exit")
    chat.add_argument("--no-memory", action="store_true", help="do not open the knowledge base")
    chat.add_argument("--json", action="store_true")

    sandbox = sub.add_parser("sandbox", help="the local stand-in for Google Ads and WordPress")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = add("serve", cmd_sandbox_serve, "serve the sandbox APIs over HTTP", sandbox_sub)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--seed", type=int, default=None, help="world seed (default: sandbox.seed of the config)")
    show = add("show", cmd_sandbox_show, "print the seeded world", sandbox_sub)
    show.add_argument("--seed", type=int, default=None)
    show.add_argument("--json", action="store_true")
    show.add_argument("--full", action="store_true", help="with --json: the whole world dump")

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
    check.add_argument("--explain", action="store_true", help="show the normalised text and the rule that fired")
    check.add_argument("--on", metavar="YYYY-MM-DD", help="judge evidence validity on this day (default: today)")
    check.add_argument("--json", action="store_true")
    check.add_argument("--strict", action="store_true", help="exit 4 unless the verdict is pass")

    memory = sub.add_parser("memory", help="the knowledge base and decision memory")
    memory_sub = memory.add_subparsers(dest="memory_command", metavar="ACTION", required=True)
    ingest = add(
        "ingest", cmd_memory_ingest, "add documents (Markdown, text; folders too) to the knowledge base", memory_sub
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--tenant", default=None, help="default: memory.tenant of the config")
    ingest.add_argument("--json", action="store_true")
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
    audit_show = add("show", cmd_audit_show, "show audit rows as a table", audit_sub)
    audit_show.add_argument("--run", default=None, help="only this run id")
    audit_show.add_argument("--json", action="store_true")
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

    config = sub.add_parser("config", help="inspect the effective configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_show = add("show", cmd_config_show, "print the effective configuration", config_sub)
    config_show.add_argument("--json", action="store_true")
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
        return exc.exit_code
    except (OSError, sqlite3.Error) as exc:
        # The state directory or one of its databases cannot be used: say which, without a traceback.
        where = getattr(exc, "filename", None)
        print(f"adpilot: {type(exc).__name__}{f' ({where})' if where else ''}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print("adpilot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away; that is not our failure.
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

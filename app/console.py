"""The operator console: a chat in the terminal.

Every message starts a chat run (commands without a model, free text with one); what each
agent does is shown as it happens. Pending approvals are shown inline with the commands to
decide them. Commands: /approvals, /approve ID, /reject ID [reason], /why SEQ, /stop,
/resume, /history, /help, /quit. The session's runs are remembered in the state directory,
so /history survives a restart.

On a terminal, lines are read with ``readline`` (arrow keys edit and recall; the history is kept
in ``console-history`` in the state directory) and log lines go to ``console.log`` there instead
of into the conversation. Only the steps a person can follow are shown, never the graph's
internals (``__interrupt__``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from adpilot.agents.run import Runner, RunResult
from adpilot.app.runs import approver_identity, decide_with, describe_target
from adpilot.app.signals import graceful
from adpilot.compose import open_memory
from adpilot.config import Config
from adpilot.errors import AdpilotError
from adpilot.statedir import KillSwitch, StateDir

HELP = """/approvals            what waits for a person
/approve ID           approve it (the change is applied once)
/reject ID [reason]   reject it
/why SEQ              explain an audit row: what was done, why, by whom
/stop | /resume       engage or release the kill switch
/history              this session's messages
/quit                 leave (runs waiting for approval stay waiting)
anything else         a message: without a model, commands by name or id in German or English
                      ('pause the worst ad in Boots - Search', 'wie läuft Boots - Search?');
                      'help' / 'hilfe' lists them; with a model, free text goes to it"""

NODE_LABELS = {
    "intake": "reading the request",
    "supervisor": "supervisor deciding",
    "creative": "creative agent working",
    "bidding": "bidding agent working",
    "seo": "SEO agent working",
    "compliance": "compliance review",
    "escalate": "waiting for your approval",
    "apply": "applying your decision",
    "finalize": "writing the report",
    "stop": "stopping",
}


def explain(config: Config, seq: int, memory: Any) -> str:
    from adpilot.app.governed import open_audit

    audit = open_audit(config)
    row = audit.get(seq)
    if row is None:
        return f"there is no audit row {seq}"
    related = [r for r in audit.records(thread_id=row.thread_id) if r.call_hash == row.call_hash]
    lines = [f"audit row {row.seq} ({row.ts[:19]}): {row.role} {row.tool} {json.dumps(row.args, ensure_ascii=False)}"]
    for record in related:
        if record.kind == "decision":
            lines.append(f"  decision: {record.decision} — {record.rule}: {record.reason}")
        elif record.kind == "result":
            lines.append(f"  result: {record.status}; {record.before} → {record.after}")
    if memory is not None:
        found = memory.recall(
            "decisions", f"{row.tool} {json.dumps(row.args)}", tenant=config.memory.tenant, k=1, audit_seq=seq
        )
        if found:
            lines.append(f"  rationale: {found[0].text}")
    lines.append(f"  run {row.run_id}, policy {row.policy_hash}")
    return "\n".join(lines)


class Console:
    def __init__(self, config: Config, runner: Runner, out: TextIO) -> None:
        self.config, self.runner, self.out = config, runner, out
        self.session_file = StateDir(config.state_dir).console_session
        self.history: list[dict[str, str]] = []
        if self.session_file.exists():
            try:
                loaded = json.loads(self.session_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                loaded = None  # an unreadable history is no reason to refuse the console
            self.history = loaded if isinstance(loaded, list) else []

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _save(self) -> None:
        self.session_file.write_text(json.dumps(self.history[-200:], ensure_ascii=False), encoding="utf-8")

    def show(self, result: RunResult) -> None:
        if result.answer:
            self.say(result.answer)
        for item in result.pending:
            target = describe_target(item, result.report.get("currencies"))
            self.say(f"⏸  waiting for approval: {item['tool']} {target} — {item['reason']}")
            self.say(f"   /approve {item['id']}   /reject {item['id']} [reason]")
        if result.status == "stopped":
            self.say(f"■ run stopped: {result.report.get('stop_reason')}")

    async def finish_interrupted(self) -> None:
        """Chat requests a stopped console left between two steps are carried on first, in view."""
        for record in self.runner.registry.with_status("running"):
            if record.kind != "chat" or self.runner.holder(record.thread_id) is not None:
                continue
            self.say(f"continuing your interrupted request (run {record.thread_id}) …")
            try:
                self.show(await self.runner.continue_run(record.thread_id))
            except AdpilotError as exc:
                self.say(f"✗ {exc}")

    async def handle(self, line: str) -> bool:
        text = line.strip()
        if not text:
            return True
        if text in ("/quit", "/exit"):
            return False
        if text == "/help":
            self.say(HELP)
        elif text == "/stop":
            KillSwitch(self.config.state_dir).engage("console /stop", by="console")
            self.say("■ kill switch engaged")
        elif text == "/resume":
            KillSwitch(self.config.state_dir).release()
            self.say("kill switch released")
        elif text == "/history":
            for item in self.history[-20:]:
                self.say(f"[{item['thread']}] you: {item['text']}\n    adpilot: {item['answer'][:200]}")
        elif text == "/approvals":
            waiting = [(r.thread_id, p) for r in self.runner.registry.with_status("waiting") for p in r.pending]
            if not waiting:
                self.say("nothing waits for approval")
            for thread, item in waiting:
                asked = self.runner.registry.asked(item["id"])
                args = item.get("args")
                customer = str(args.get("customer_id")) if isinstance(args, dict) else ""
                currency = str((asked.detail if asked is not None else {}).get("currency") or "")
                target = describe_target(item, {customer: currency} if currency else None)
                self.say(f"{item['id']}  {item['tool']} {target} — {item['reason']} (run {thread})")
        elif text.startswith(("/approve ", "/reject ")):
            command, _, rest = text.partition(" ")
            pending_id, _, reason = rest.strip().partition(" ")
            decision = "approve" if command == "/approve" else "reject"
            result = await decide_with(self.runner, pending_id, decision, reason, self.runner.approver)
            self.say(f"{decision}d." if decision == "approve" else "rejected.")
            self.show(result)
        elif text.startswith("/why "):
            seq = text.split(" ", 1)[1].strip()
            self.say(
                explain(self.config, int(seq), self.runner.memory)
                if seq.isascii() and seq.isdigit() and len(seq) <= 18
                else "usage: /why AUDIT_ROW_NUMBER"
            )
        elif text.startswith("/"):
            self.say(f"unknown console command {text.split()[0]}; /help lists them")
        else:
            thread = f"chat-{uuid.uuid4().hex[:8]}"
            result = await self.runner.start({"kind": "chat", "text": text}, thread_id=thread)
            self.show(result)
            self.history.append({"thread": thread, "text": text, "answer": result.answer or ""})
            self._save()
        return True


PROMPT = "adpilot> "
HISTORY_LINES = 1000


def _lines(stdin: TextIO) -> asyncio.Queue[str]:
    """Lines of ``stdin`` as they come ("" at its end), read by a daemon thread: a person who never
    types again must not keep the process alive after a signal."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        while True:
            line = stdin.readline()
            loop.call_soon_threadsafe(lines.put_nowait, line)
            if not line:
                return

    threading.Thread(target=read, name="console stdin", daemon=True).start()
    return lines


class Editor:
    """Lines read with ``readline`` (editing, arrow keys, history), one per :meth:`ask`, by a daemon
    thread; the history is read from and written to ``history``."""

    def __init__(self, history: Path) -> None:
        import readline  # lazily: only a terminal console needs it

        self.readline, self.history = readline, history
        readline.set_history_length(HISTORY_LINES)
        with contextlib.suppress(OSError):
            readline.read_history_file(str(history))
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self.wanted: queue.SimpleQueue[str] = queue.SimpleQueue()
        loop = asyncio.get_running_loop()

        def read() -> None:
            while True:
                prompt = self.wanted.get()
                try:
                    line = input(prompt) + "\n"
                except EOFError:
                    line = ""
                loop.call_soon_threadsafe(self.lines.put_nowait, line)
                if not line:
                    return

        threading.Thread(target=read, name="console readline", daemon=True).start()

    def ask(self, prompt: str) -> None:
        self.wanted.put(prompt)

    def save(self) -> None:
        with contextlib.suppress(OSError):
            self.readline.write_history_file(str(self.history))


@contextlib.contextmanager
def _logs_to(path: Path | None) -> Iterator[None]:
    """Log lines (structlog writes to whatever ``sys.stderr`` is) go to ``path`` meanwhile."""
    if path is None:
        yield
        return
    with path.open("a", encoding="utf-8") as log, contextlib.redirect_stderr(log):
        yield


async def _next_line(lines: asyncio.Queue[str], shutdown: asyncio.Event) -> str | None:
    """The next line, or None once a signal asked the console to stop."""
    reading = asyncio.ensure_future(lines.get())
    stopping = asyncio.ensure_future(shutdown.wait())
    done, _ = await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for future in (reading, stopping):
        if future not in done:
            future.cancel()
    return reading.result() if reading in done else None


async def _loop(
    config: Config,
    with_memory: bool,
    stdin: TextIO,
    out: TextIO,
    *,
    editor: bool = False,
    log: Path | None = None,
) -> int:
    """The console: ``editor`` reads lines with readline (a terminal); ``log`` takes the log lines."""

    def step(thread: str, node: str) -> None:
        if node in NODE_LABELS:  # the graph's own steps (``__interrupt__``) are not the person's business
            print(f"  · {NODE_LABELS[node]}", file=out, flush=True)

    shutdown = asyncio.Event()
    person = approver_identity(config, None)
    with _logs_to(log):
        async with Runner(
            config,
            memory=open_memory(config, with_memory),
            on_step=step,
            approver=person,
            requester=person,  # what the person asks for in the chat, they cannot approve themselves
            actor=f"adpilot chat console ({person})",
            shutdown=shutdown,
        ) as runner:
            console = Console(config, runner, out)
            console.say(
                f"adpilot console — {len(console.history)} earlier message(s) in this session; /help for commands"
            )
            reader = Editor(Path(config.state_dir) / "console-history") if editor else None
            lines = reader.lines if reader is not None else _lines(stdin)
            with graceful(shutdown):
                await console.finish_interrupted()
                while not shutdown.is_set():
                    if reader is not None:
                        reader.ask(PROMPT)
                    else:
                        print(PROMPT, end="", file=out, flush=True)
                    line = await _next_line(lines, shutdown)
                    if not line:
                        break
                    try:
                        if not await console.handle(line):
                            break
                    except AdpilotError as exc:  # refused (kill switch, busy account, unknown id): say so, go on
                        console.say(f"✗ {exc}")
            if reader is not None:
                reader.save()
    if shutdown.is_set():
        print(
            "\nconsole stopped; a request it was working on continues when the console starts again",
            file=out,
            flush=True,
        )
        return 3
    return 0


def console(config: Config, *, with_memory: bool) -> int:
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    log = Path(config.state_dir) / "console.log" if sys.stderr.isatty() else None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_loop(config, with_memory, sys.stdin, sys.stdout, editor=terminal, log=log))

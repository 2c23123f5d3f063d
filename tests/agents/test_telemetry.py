"""Traces (adpilot/telemetry.py, docs/TRACING.md): the span tree of one maintenance run, recorded
with the SDK's in-memory exporter — run → nodes → model and governed tool calls, the tool spans
naming the audit rows they wrote and the Guard's decision; nothing recorded or imported when
tracing is off; a clear error when it is on without the package; no content in any span."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from adpilot import telemetry
from adpilot.agents.loop import SYSTEM_TEMPLATE
from adpilot.app.cli import main
from adpilot.compose.deployment import Deployment
from adpilot.config import Config, TelemetryConfig
from adpilot.errors import ConfigError
from adpilot.tools.sandbox.demo import SANDBOX_ACCESS_TOKEN, SANDBOX_APP_PASSWORD, SANDBOX_DEVELOPER_TOKEN
from tests.conftest import AT, DE, RSA

REPLY = "Zebra-Antwort des Modells: Budget 9001 braucht mehr Geld"  # a model's text: content, never an attribute
BID = {"customer_id": DE, "ad_group_id": "2201", "criterion_id": "41003", "cpc_bid_micros": 1100000}  # allowed
RAISE = {"customer_id": DE, "budget_id": "9001", "amount_micros": "80000000"}  # 50 → 80 EUR: escalated
ELSEWHERE = {"customer_id": AT, "budget_id": "9101", "amount_micros": "26000000"}  # not this run's account: denied
SCRIPT = {
    "bidding": [
        {
            "content": REPLY,
            "tool_calls": [
                {"name": "set_keyword_bid", "args": BID},
                {"name": "set_campaign_budget", "args": ELSEWHERE},
            ],
            "usage": {"input_tokens": 1200, "output_tokens": 80},
        },
        {  # escalated: the task ends there, the model is not asked again before a person decides
            "content": "Gebot gesetzt, Budget wartet auf Freigabe.",
            "tool_calls": [{"name": "set_campaign_budget", "args": RAISE}],
            "usage": {"input_tokens": 1500, "output_tokens": 20},
        },
    ],
    "creative": [
        {"tool_calls": [{"name": "create_responsive_search_ad", "args": RSA}]},
        {"content": "Neue Anzeige angelegt."},
    ],
}
# What a maintenance run must never put into a span: copy, prompts, replies, tool arguments, secrets.
SECRETS = (SANDBOX_ACCESS_TOKEN, SANDBOX_DEVELOPER_TOKEN, SANDBOX_APP_PASSWORD)
CONTENT = (
    REPLY,
    "Gebot gesetzt",
    *RSA["headlines"],
    *RSA["descriptions"],
    RSA["final_url"],
    "maintain bids and budgets",  # the task's text, in the prompt
    SYSTEM_TEMPLATE.split("\n")[1][:40],  # the system prompt
    "80000000",
    "26000000",
)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory (as the composition root would switch it on, with a test provider)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    telemetry.activate(provider)
    try:
        yield memory
    finally:
        telemetry.deactivate()
        provider.shutdown()


async def maintain(make_runner) -> Any:
    async with make_runner(scripts=SCRIPT, skills=False) as runner:
        return await runner.start({"kind": "maintenance", "accounts": [DE], "scope": "ads"})


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    found = [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]
    return sorted(found, key=lambda s: s.start_time or 0)


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_the_span_tree_of_one_maintenance_run(exporter, make_runner, audit):
    result = await maintain(make_runner)
    assert result.status == "waiting" and len(result.pending) == 1
    spans = list(exporter.get_finished_spans())

    # One root: the run, in one trace with everything else.
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == "invoke_agent adpilot" and {s.context.trace_id for s in spans} == {root.context.trace_id}
    run = attributes(root)
    assert run["gen_ai.operation.name"] == "invoke_agent"
    assert run["adpilot.run_id"] == result.run_id and run["adpilot.thread_id"] == result.thread_id
    assert run["gen_ai.conversation.id"] == result.thread_id
    assert run["adpilot.run.kind"] == "maintenance" and run["adpilot.run.operation"] == "start"
    assert run["adpilot.account"] == DE and list(run["adpilot.accounts"]) == [DE]
    assert set(run["adpilot.roles"]) == {"bidding", "creative", "compliance"}
    assert run["adpilot.run.status"] == "waiting" and run["adpilot.run.pending"] == 1
    assert run["adpilot.run.tokens"] == 1200 + 80 + 1500 + 20

    # The graph's nodes, in the order they ran, are the run's children.
    nodes = children(spans, root)
    names = [attributes(n)["adpilot.graph.node"] for n in nodes]
    assert all(n.name == f"node {name}" for n, name in zip(nodes, names, strict=True))
    # the compliance sweep first (what it pauses is off before rotation compares a group's ads)
    assert names[:8] == ["intake", "supervisor", "compliance", "review", "supervisor", "bidding", "execute", "bidding"]
    assert {"creative", "compliance", "review"} <= set(names) and names[-1] == "escalate"
    escalate = nodes[-1]  # interrupt() pauses the run there: control flow, not an error
    assert attributes(escalate)["adpilot.graph.interrupted"] is True
    assert all(s.status.status_code is not StatusCode.ERROR for s in spans)
    for node in nodes:
        assert attributes(node).get("gen_ai.agent.name") == (
            node.name[5:] if node.name[5:] in run["adpilot.roles"] else None
        )

    # Every other span hangs under a node: model calls under the role that made them, tool calls
    # under the node that made them (the plan's calls under execute).
    node_ids = {n.context.span_id: n for n in nodes}
    grandchildren = [s for s in spans if s is not root and s.context.span_id not in node_ids]
    assert grandchildren and all(s.parent is not None and s.parent.span_id in node_ids for s in grandchildren)
    chats = [s for s in grandchildren if s.name.startswith("chat ")]
    assert [attributes(node_ids[c.parent.span_id])["adpilot.graph.node"] for c in chats] == [
        "compliance",
        "bidding",
        "bidding",
        "creative",
        "creative",
    ]
    first = attributes(chats[1])  # the bidding role's first turn
    assert first["gen_ai.operation.name"] == "chat" and first["gen_ai.provider.name"] == "adpilot.scripted"
    assert first["gen_ai.request.model"] == "scripted" and first["gen_ai.agent.name"] == "bidding"
    assert (first["gen_ai.usage.input_tokens"], first["gen_ai.usage.output_tokens"]) == (1200, 80)
    assert list(first["gen_ai.response.finish_reasons"]) == ["tool_calls"]
    assert (attributes(chats[2])["gen_ai.usage.input_tokens"], attributes(chats[2])["gen_ai.usage.output_tokens"]) == (
        1500,
        20,
    )
    assert "gen_ai.usage.input_tokens" not in attributes(chats[3])  # the script reports no usage there

    tools = [s for s in grandchildren if s.name.startswith("execute_tool ")]
    assert len(tools) + len(chats) == len(grandchildren)
    by_name = {}
    for span in tools:
        a = attributes(span)
        assert a["gen_ai.operation.name"] == "execute_tool" and span.name == f"execute_tool {a['gen_ai.tool.name']}"
        assert a["adpilot.run_id"] == result.run_id and a["gen_ai.conversation.id"] == result.thread_id
        by_name.setdefault(a["gen_ai.tool.name"], []).append(span)
    assert attributes(node_ids[by_name["get_performance"][0].parent.span_id])["adpilot.graph.node"] == "intake"
    executed = [s for s in tools if attributes(node_ids[s.parent.span_id])["adpilot.graph.node"] == "execute"]
    assert [attributes(s)["gen_ai.tool.name"] for s in executed] == [
        "set_keyword_bid",
        "set_campaign_budget",
        "set_campaign_budget",
        "create_responsive_search_ad",
    ]

    # Each tool span names the audit rows its call wrote, and they say what the span says.
    seen: list[int] = []
    for span in tools:
        a = attributes(span)
        seqs = list(a["adpilot.audit.seqs"])
        rows = [audit.get(seq) for seq in seqs]
        assert all(r is not None and r.tool == a["gen_ai.tool.name"] and r.role == a["gen_ai.agent.name"] for r in rows)
        assert all(r.run_id == result.run_id and r.call_hash == a["adpilot.call_hash"] for r in rows)
        decision = [r for r in rows if r.kind == "decision"][-1]
        assert (decision.decision, decision.rule) == (a["adpilot.guard.decision"], a["adpilot.guard.rule"])
        assert a["adpilot.audit.seq"] == seqs[-1]
        seen += seqs
    # …and together they are every row the run wrote, each once.
    assert sorted(seen) == [r.seq for r in audit.records(thread_id=result.thread_id)]

    bid, elsewhere, raise_, created = (attributes(s) for s in executed)
    bid_rows = [audit.get(seq) for seq in bid["adpilot.audit.seqs"]]
    assert [r.kind for r in bid_rows] == ["decision", "intent", "result"] and bid_rows[-1].status == "ok"
    assert bid["adpilot.guard.decision"] == "allow" and bid["adpilot.tool.outcome"] == "ok"
    assert bid["adpilot.guard.entity"] == "google_ads:1112223333:ad_group_criterion:2201~41003"
    applied = {a["tool"]: a["audit_seq"] for a in result.report["applied"]}
    assert applied["set_keyword_bid"] == bid["adpilot.audit.seq"]
    assert applied["create_responsive_search_ad"] == created["adpilot.audit.seq"]
    assert (raise_["adpilot.guard.decision"], raise_["adpilot.guard.rule"]) == ("escalate", "budget.max_increase")
    assert raise_["adpilot.tool.outcome"] == "escalated" and len(raise_["adpilot.audit.seqs"]) == 1
    assert result.pending[0]["call_hash"] == raise_["adpilot.call_hash"]
    assert (elsewhere["adpilot.guard.decision"], elsewhere["adpilot.guard.rule"]) == ("deny", "scope.account")
    assert elsewhere["adpilot.tool.outcome"] == "denied"


async def test_a_resumed_run_is_a_trace_of_its_own_with_the_approved_call(exporter, make_runner, audit):
    async with make_runner(scripts=SCRIPT, skills=False) as runner:
        waiting = await runner.start({"kind": "maintenance", "accounts": [DE], "scope": "ads"})
        exporter.clear()
        (item,) = waiting.pending
        done = await runner.resume(waiting.thread_id, {item["id"]: {"decision": "approve", "approver": "lena"}})
    assert done.status == "done"
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.parent is None]
    run = attributes(root)
    assert run["adpilot.run.operation"] == "resume" and run["adpilot.thread_id"] == waiting.thread_id
    assert run["adpilot.run.status"] == "done" and run["adpilot.run.pending"] == 0
    (apply,) = [s for s in children(spans, root) if s.name == "node apply"]
    (carried,) = children(spans, apply)
    a = attributes(carried)
    assert carried.name == "execute_tool set_campaign_budget" and a["adpilot.approved"] is True
    assert (a["adpilot.guard.decision"], a["adpilot.guard.rule"], a["adpilot.tool.outcome"]) == (
        "allow",
        "approval",
        "ok",
    )
    assert a["adpilot.call_hash"] == item["call_hash"]
    rows = [audit.get(seq) for seq in a["adpilot.audit.seqs"]]
    assert [(r.kind, r.decision or r.status) for r in rows] == [
        ("decision", "allow"),
        ("intent", None),
        ("result", "ok"),
    ]


async def test_no_span_carries_content_or_a_secret(exporter, make_runner):
    await maintain(make_runner)
    values = [str(v) for s in exporter.get_finished_spans() for v in attributes(s).values()]
    events = [e for s in exporter.get_finished_spans() for e in s.events]
    assert values and events == []
    leaked = [(text, v) for text in (*SECRETS, *CONTENT) for v in values if text in v]
    assert leaked == []
    assert not any(
        k.endswith(("arguments", "result", "messages")) for s in exporter.get_finished_spans() for k in attributes(s)
    )


async def test_content_is_recorded_only_when_asked_for(make_runner):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    telemetry.activate(provider, capture_content=True)
    try:
        await maintain(make_runner)
    finally:
        telemetry.deactivate()
    spans = memory.get_finished_spans()
    created = next(s for s in spans if s.name == "execute_tool create_responsive_search_ad")
    assert RSA["headlines"][0] in attributes(created)["gen_ai.tool.call.arguments"]
    chats = [attributes(s) for s in spans if s.name.startswith("chat ")]
    bidding = next(c for c in chats if "maintain bids and budgets" in c["gen_ai.input.messages"])
    assert REPLY in bidding["gen_ai.output.messages"]
    # Secrets never: no credential is ever read into a span, content or not.
    values = [str(v) for s in spans for v in attributes(s).values()]
    assert not [v for v in values for secret in SECRETS if secret in v]


async def test_off_nothing_is_recorded(make_runner, monkeypatch):
    # Even a process-wide tracer provider gets nothing from adpilot while its tracing is off.
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    assert not telemetry.enabled()
    result = await maintain(make_runner)
    assert result.status == "waiting" and memory.get_finished_spans() == ()
    # The switched-off span is one shared object: a traced place costs a function call.
    assert telemetry.span("a", x=1) is telemetry.span("b") and telemetry.start("c", {}) is telemetry.NO_SPAN


def test_off_opentelemetry_is_never_imported():
    code = (
        "import sys\nfrom adpilot.app import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "from adpilot import telemetry\nfrom adpilot.config import Config\n"
        "telemetry.configure(Config().telemetry)\n"
        "with telemetry.span('x', a=1) as span:\n    span.set('b', 2)\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def _without(monkeypatch, *modules: str) -> None:
    """As if these packages were not installed: importing them raises ImportError."""
    for name in [m for m in sys.modules if m.startswith(modules)]:
        monkeypatch.delitem(sys.modules, name)
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def test_on_without_the_package_is_a_configuration_error(monkeypatch, tmp_path, config_file, capsys):
    _without(monkeypatch, "opentelemetry.sdk", "opentelemetry.exporter")
    config = Config(state_dir=tmp_path / "state", telemetry=TelemetryConfig(enabled=True))
    with pytest.raises(ConfigError, match=r"pip install 'adpilot\[otel\]'") as raised:
        Deployment(config)
    assert raised.value.exit_code == 2 and not telemetry.enabled()
    # On the command line: exit 2, the message names the command that installs it.
    monkeypatch.setenv("ADPILOT__TELEMETRY__ENABLED", "true")
    arguments = '{"customer_id": "1112223333", "level": "campaign", "days": 1}'
    assert main(["--config", str(config_file), "tool", "call", "bidding", "get_performance", arguments]) == 2
    assert "pip install 'adpilot[otel]'" in capsys.readouterr().err


def test_on_without_the_exporter_names_the_package(monkeypatch):
    _without(monkeypatch, "opentelemetry.exporter.otlp.proto.http")
    with pytest.raises(ConfigError, match=r"opentelemetry-exporter-otlp-proto-http: pip install 'adpilot\[otel\]'"):
        telemetry._exporter(TelemetryConfig(enabled=True), {})


def test_the_exporter_follows_the_configuration_and_the_standard_environment():
    http = telemetry._exporter(TelemetryConfig(enabled=True, otlp_endpoint="http://collector:4318"), {})
    assert type(http).__module__.endswith("proto.http.trace_exporter")
    assert http._endpoint == "http://collector:4318/v1/traces"
    exact = telemetry._exporter(TelemetryConfig(enabled=True, otlp_endpoint="http://c:4318/v1/traces"), {})
    assert exact._endpoint == "http://c:4318/v1/traces"
    grpc = telemetry._exporter(TelemetryConfig(enabled=True), {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert type(grpc).__module__.endswith("proto.grpc.trace_exporter")
    with pytest.raises(ConfigError, match="http/protobuf or grpc"):
        telemetry._exporter(TelemetryConfig(enabled=True), {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
    for exporter in (http, exact, grpc):
        exporter.shutdown()


class _Collector(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver that keeps what it is sent."""

    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((self.path, str(self.headers.get("content-type")), body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_process_configured_for_otlp_exports_its_spans(tmp_path):
    # The whole way, as a user switches it on: config → composition root → OTLP/HTTP, flushed at exit.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        file = tmp_path / "config.yaml"
        endpoint = f"http://127.0.0.1:{server.server_port}"
        file.write_text(
            f"state_dir: {tmp_path / 'state'}\nlog: {{level: error}}\n"
            f"telemetry: {{enabled: true, otlp_endpoint: '{endpoint}', service_name: adpilot-e2e}}\n"
        )
        arguments = '{"customer_id": "1112223333", "level": "campaign", "days": 1}'
        command = [sys.executable, "-m", "adpilot.app.cli", "--config", str(file), "tool", "call", "bidding"]
        subprocess.run([*command, "get_performance", arguments], capture_output=True, cwd=tmp_path, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    (path, kind, body), *_ = _Collector.received
    assert path == "/v1/traces" and kind == "application/x-protobuf"
    for text in (b"adpilot-e2e", b"execute_tool get_performance", b"adpilot.guard.decision", b"adpilot.audit.seqs"):
        assert text in body


def test_configure_sets_tracing_up_once_per_process(monkeypatch):
    installed: list[Any] = []
    monkeypatch.setattr(trace, "set_tracer_provider", installed.append)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    settings = TelemetryConfig(enabled=True, otlp_endpoint="http://collector:4318", service_name="adpilot-test")
    try:
        telemetry.configure(settings)
        assert telemetry.enabled() and not telemetry.capture_content()
        first = telemetry._tracing
        assert first is not None and first.provider is not None and installed == [first.provider]
        assert first.provider.resource.attributes["service.name"] == "adpilot-test"
        telemetry.configure(TelemetryConfig(enabled=True, capture_content=True))
        assert telemetry._tracing is first and installed == [first.provider]  # once per process
    finally:
        provider = telemetry._tracing.provider if telemetry._tracing is not None else None
        telemetry.deactivate()
        if provider is not None:
            provider.shutdown()


def test_a_failing_block_is_an_error_span_naming_only_the_exception_type(exporter):
    with pytest.raises(RuntimeError), telemetry.span("work", **{"adpilot.x": 1}):
        raise RuntimeError("copy: Kostenloser Versand")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR and attributes(span)["error.type"] == "RuntimeError"
    assert "Kostenloser" not in str(span.status.description) and span.events == ()

"""Traces: OpenTelemetry spans of runs, graph nodes, model calls and governed tool calls.

The only module that imports OpenTelemetry, and only when tracing is switched on: with
``telemetry.enabled`` false (the default) nothing is imported and :func:`span` hands out one
shared no-op context manager, so a traced place costs one function call. Switched on,
:func:`configure` (called once per process by the composition root) sets up a tracer provider
that exports over OTLP (``pip install 'adpilot[otel]'``); a missing package is a configuration
error naming that command. Tests and embedding programs pass their own provider to
:func:`activate`.

Names follow the OpenTelemetry GenAI semantic conventions (``gen_ai.*``); what is adpilot's own
(audit sequence numbers, the Guard's decision and rule) is ``adpilot.*``. Content — prompts,
replies, copy, tool arguments and results — is recorded only with ``capture_content``;
credentials never are (no span attribute is read from a credential). docs/TRACING.md lists
every span and attribute.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from adpilot.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span as OtelSpan
    from opentelemetry.trace import Tracer

    from adpilot.config import TelemetryConfig

INSTALL = "pip install 'adpilot[otel]'"
CONTENT_LIMIT = 4096  # characters of one content attribute (capture_content); longer text is cut

_EXPORTERS = {
    "http/protobuf": (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "opentelemetry-exporter-otlp-proto-http",
    ),
    "grpc": ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "opentelemetry-exporter-otlp-proto-grpc"),
}


class Span:
    """A span the code annotates. This base class is the no-op span of switched-off tracing."""

    __slots__ = ()

    recording = False

    def set(self, key: str, value: Any) -> None:
        """Set one attribute; ``None`` leaves it out."""

    def update(self, attributes: Mapping[str, Any]) -> None:
        """Set several attributes; ``None`` values are left out."""

    def fail(self, error_type: str) -> None:
        """Mark the span as failed (status ERROR, ``error.type``) without an exception."""

    def not_an_error(self, exc: BaseException) -> None:
        """``exc`` will leave the span's block, but as control flow (an interrupt), not as a failure."""

    def end(self) -> None:
        """End a span from :func:`start` (a span from :func:`span` ends with its block)."""


class _NoSpanBlock:
    """The context manager :func:`span` returns while tracing is off: shared, stateless."""

    __slots__ = ()

    def __enter__(self) -> Span:
        return NO_SPAN

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        return None


NO_SPAN = Span()
_NO_SPAN_BLOCK = _NoSpanBlock()


def _value(value: Any) -> Any:
    """An attribute value OpenTelemetry accepts: str, bool, int, float, or a homogeneous list of them."""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Sequence | set | frozenset):
        items = list(value)
        if all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            return items
        return [str(i) for i in items]
    return str(value)


class _Recording(Span):
    __slots__ = ("_benign", "_error_status", "_span")

    recording = True

    def __init__(self, span: OtelSpan, error_status: Callable[[str], Any]) -> None:
        self._span = span
        self._error_status = error_status
        self._benign: BaseException | None = None

    def set(self, key: str, value: Any) -> None:
        if value is not None:
            self._span.set_attribute(key, _value(value))

    def update(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            if value is not None:
                self._span.set_attribute(key, _value(value))

    def fail(self, error_type: str) -> None:
        self._span.set_attribute("error.type", error_type)
        self._span.set_status(self._error_status(error_type))

    def not_an_error(self, exc: BaseException) -> None:
        self._benign = exc

    def end(self) -> None:
        self._span.end()


@dataclass(frozen=True)
class _Tracing:
    tracer: Tracer
    provider: TracerProvider | None
    capture_content: bool
    error_status: Callable[[str], Any]

    @contextmanager
    def block(self, name: str, attributes: Mapping[str, Any]) -> Iterator[Span]:
        clean = {k: _value(v) for k, v in attributes.items() if v is not None}
        # Exceptions are recorded by type only: their messages may quote arguments or copy.
        with self.tracer.start_as_current_span(
            name, attributes=clean, record_exception=False, set_status_on_exception=False
        ) as otel:
            span = _Recording(otel, self.error_status)
            try:
                yield span
            except BaseException as exc:
                if exc is not span._benign:
                    span.fail(type(exc).__qualname__)
                raise


_tracing: _Tracing | None = None


def enabled() -> bool:
    """Whether spans are recorded in this process (callers skip building attributes otherwise)."""
    return _tracing is not None


def capture_content() -> bool:
    """Whether content (tool arguments and results, model messages) may go into spans."""
    return _tracing is not None and _tracing.capture_content


def span(name: str, /, **attributes: Any) -> AbstractContextManager[Span]:
    """A span around a block, the current span inside it; status ERROR when an exception leaves it.

    Attribute names with dots are passed as ``**{"gen_ai.operation.name": "chat"}``; ``None``
    values are left out. Off, this is the shared no-op block.
    """
    if _tracing is None:
        return _NO_SPAN_BLOCK
    return _tracing.block(name, attributes)


def start(name: str, attributes: Mapping[str, Any]) -> Span:
    """A span that starts now, child of the current span, and ends with :meth:`Span.end` (for
    callbacks that see the start and the end of an operation separately). Off: the no-op span."""
    if _tracing is None:
        return NO_SPAN
    clean = {k: _value(v) for k, v in attributes.items() if v is not None}
    return _Recording(_tracing.tracer.start_span(name, attributes=clean), _tracing.error_status)


def content(value: Any) -> str | None:
    """``value`` as the text of a content attribute — only with ``capture_content``, else None."""
    if not capture_content():
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= CONTENT_LIMIT else text[:CONTENT_LIMIT] + "…"


def activate(provider: TracerProvider, *, capture_content: bool = False) -> None:
    """Record spans with ``provider`` from now on (the composition root's, or a test's)."""
    global _tracing
    from opentelemetry.trace import Status, StatusCode

    import adpilot

    def error_status(description: str) -> Any:
        return Status(StatusCode.ERROR, description)

    tracer = provider.get_tracer("adpilot", adpilot.__version__)
    _tracing = _Tracing(tracer, provider, capture_content, error_status)


def deactivate() -> None:
    """Stop recording spans (tests; a process's provider is flushed at exit by the SDK)."""
    global _tracing
    _tracing = None


def configure(settings: TelemetryConfig, environ: Mapping[str, str] | None = None) -> None:
    """Set tracing up as configured, once per process: off, nothing happens (and nothing is
    imported); on, a tracer provider exporting over OTLP (http/protobuf or grpc) becomes this
    process's, and the global one unless another was set. Later calls change nothing."""
    if not settings.enabled or _tracing is not None:
        return
    environ = os.environ if environ is None else environ
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigError(f"telemetry.enabled is true, but OpenTelemetry is not installed: {INSTALL}") from exc
    import adpilot

    exporter = _exporter(settings, environ)
    resource = Resource.create({"service.name": settings.service_name, "service.version": adpilot.__version__})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)  # libraries' own spans (if instrumented) join the same traces
    activate(provider, capture_content=settings.capture_content)


def _exporter(settings: TelemetryConfig, environ: Mapping[str, str]) -> Any:
    protocol = (
        settings.protocol
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if protocol not in _EXPORTERS:
        raise ConfigError(f"telemetry.protocol {protocol!r}: use http/protobuf or grpc")
    module, package = _EXPORTERS[protocol]
    try:
        exporter_class = importlib.import_module(module).OTLPSpanExporter
    except ImportError as exc:
        raise ConfigError(
            f"telemetry over OTLP {protocol} needs {package}: {INSTALL}"
            + (" (or pip install opentelemetry-exporter-otlp-proto-grpc)" if protocol == "grpc" else "")
        ) from exc
    endpoint = settings.otlp_endpoint
    if endpoint is None:
        return exporter_class()  # the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT itself
    if protocol == "http/protobuf" and not endpoint.rstrip("/").endswith("/v1/traces"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"  # a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is
    return exporter_class(endpoint=endpoint)


__all__ = [
    "INSTALL",
    "NO_SPAN",
    "Span",
    "activate",
    "capture_content",
    "configure",
    "content",
    "deactivate",
    "enabled",
    "span",
    "start",
]

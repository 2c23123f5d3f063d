"""Structured logging: structlog to stderr, JSON lines when not on a terminal.

Every line carries the context bound with :func:`bind` (run id, thread id, agent, tool), held
in contextvars so concurrent account runs never mix their identifiers.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LEVELS["error"] = logging.ERROR


class _StderrLogger:
    """Writes each line to whatever ``sys.stderr`` is now (tests and redirections swap it)."""

    def __init__(self, *args: Any) -> None:
        pass

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _redact_pii(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """No e-mail address, phone number or IBAN reaches a log line."""
    from adpilot.pii import redact

    return {key: redact(value) if isinstance(value, str) else value for key, value in event.items()}


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Set up structlog once per process; safe to call again (later calls win)."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_pii,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=_StderrLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    # structlog's own default prints to stdout, which would corrupt `--json` output when
    # adpilot is used as a library; until the application configures logging, use ours.
    if not structlog.is_configured():
        configure_logging()
    return structlog.get_logger(name) if name else structlog.get_logger()


def bind(**context: Any) -> None:
    """Bind run/thread/agent/tool identifiers to every following log line of this context."""
    structlog.contextvars.bind_contextvars(**context)

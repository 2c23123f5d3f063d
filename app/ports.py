"""Refusing a busy port before a server starts: one clear line instead of a traceback from uvicorn."""

from __future__ import annotations

import socket

from adpilot.errors import UsageError


def check_port(host: str, port: int, what: str) -> None:
    """Raise a :class:`UsageError` (exit 2: the port is configuration) when ``host:port`` cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise UsageError(f"cannot serve {what} on {host}:{port}: {exc.strerror}; choose another --port") from None

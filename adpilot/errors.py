"""The single exception hierarchy of adpilot.

Every error the framework raises on purpose derives from :class:`AdpilotError`, so callers
(the CLI, the graph, the eval runner) can tell our failures from programming errors and map
them to exit codes.
"""

from __future__ import annotations


class AdpilotError(Exception):
    """Base class of every error adpilot raises deliberately."""

    exit_code = 1


class ConfigError(AdpilotError):
    """Configuration (file, environment or flags) is invalid; the message names key and fix."""

    exit_code = 2


class UsageError(AdpilotError):
    """A command was called with arguments that cannot work."""

    exit_code = 2


class MoneyError(AdpilotError, ValueError):
    """A money amount could not be parsed or is out of range."""


class SourceError(AdpilotError):
    """A YAML or JSON source document is malformed; names the file and line."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        where = source or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line

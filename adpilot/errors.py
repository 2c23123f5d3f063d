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


class PlatformError(AdpilotError):
    """A platform (Google Ads, WordPress) answered with an error or could not be reached.

    ``retryable`` says whether the failure is transient; whether a retry is *safe* depends on
    the operation and is decided by the caller. ``outcome_unknown`` is set when the request
    may have been applied although no answer arrived (a timeout after sending).
    """

    def __init__(
        self,
        platform: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
        details: object = None,
    ) -> None:
        super().__init__(f"{platform}: {message}")
        self.platform = platform
        self.message = message
        self.status = status
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown
        self.details = details


class PolicyError(AdpilotError):
    """A policy pack is malformed; the message names the file, line and key."""

    exit_code = 2


class AuditError(AdpilotError):
    """The audit log cannot be written or read."""


class AuditTamperedError(AuditError):
    """The audit log's hash chain does not verify; names the first broken row."""

    def __init__(self, message: str, seq: int | None) -> None:
        super().__init__(message)
        self.seq = seq


class StoppedError(AdpilotError):
    """The kill switch is engaged (or another stop condition holds): nothing may change now."""

    exit_code = 3


class BusyError(AdpilotError):
    """Another actor holds the lease of an account (or the CMS); the message names the holder."""

    exit_code = 5

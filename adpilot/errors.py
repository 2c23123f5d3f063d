"""The single exception hierarchy of adpilot.

Every error the framework raises on purpose derives from :class:`AdpilotError`, so callers
(the CLI, the graph, the eval runner) can tell our failures from programming errors and map
them to exit codes.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The one table of exit codes every command uses (README, "Exit codes"; a test checks that the
    README lists exactly these, and another that each is produced by a command)."""

    OK = 0  # done
    INTERNAL = 1  # internal error: a bug in adpilot, or a call that failed for a reason adpilot did not foresee
    USAGE = 2  # usage or configuration error: arguments, configuration, credentials, a decision that cannot be taken
    STOPPED = 3  # run stopped: the kill switch, a stop condition (steps, budget, anomaly) or a signal
    BELOW_THRESHOLD = 4  # evaluation below threshold (eval --min-pass-rate, check-copy --strict)
    BUSY = 5  # busy: another actor holds the account (or the CMS); the message names it
    AUDIT_BROKEN = 6  # the audit log is not intact (audit verify; every change is refused until it is restored)
    REFUSED = 7  # refused: the Guard denied the change, or a rollback step conflicts with a later change
    WAITING = 8  # waiting for a person: the change was escalated and waits as an approval
    PLATFORM = 9  # platform error: Google Ads or WordPress failed, refused or could not be reached


EXIT_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "done",
    ExitCode.INTERNAL: "internal error (a bug: the message says where; please report it)",
    ExitCode.USAGE: "usage or configuration error (arguments, configuration, credentials, or a decision that "
    "cannot be taken: an approval already decided, expired or not yours to give)",
    ExitCode.STOPPED: "run stopped (kill switch engaged, a stop condition of the run, or a signal)",
    ExitCode.BELOW_THRESHOLD: "evaluation below threshold (`eval --min-pass-rate`, `check-copy --strict`)",
    ExitCode.BUSY: "busy: another actor (a maintenance pass, a person's approval, a `tool call`) is working on "
    "that account right now; the message names it",
    ExitCode.AUDIT_BROKEN: "the audit log is broken, truncated or behind its anchor (`audit verify`; every change "
    "is refused until it is restored)",
    ExitCode.REFUSED: "refused by policy: the Guard denied the change, or a rollback step conflicts with a later "
    "change; nothing was changed",
    ExitCode.WAITING: "waiting for a person: the change was escalated and waits as an approval (`approvals show ID`)",
    ExitCode.PLATFORM: "platform error: Google Ads or WordPress failed, refused or could not be reached",
}


class AdpilotError(Exception):
    """Base class of every error adpilot raises deliberately."""

    exit_code: int = ExitCode.INTERNAL


class ConfigError(AdpilotError):
    """Configuration (file, environment or flags) is invalid; the message names key and fix."""

    exit_code = ExitCode.USAGE


class UsageError(AdpilotError):
    """A command was called with arguments that cannot work."""

    exit_code = ExitCode.USAGE


class MoneyError(AdpilotError, ValueError):
    """A money amount could not be parsed or is out of range."""


class SourceError(AdpilotError):
    """A YAML or JSON source document is malformed; names the file and line."""

    exit_code = ExitCode.USAGE

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

    exit_code = ExitCode.PLATFORM

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

    exit_code = ExitCode.USAGE


class AuditError(AdpilotError):
    """The audit log cannot be written or read."""


class AuditTamperedError(AuditError):
    """The audit log's hash chain does not verify; names the first broken row."""

    def __init__(self, message: str, seq: int | None) -> None:
        super().__init__(message)
        self.seq = seq


class StoppedError(AdpilotError):
    """The kill switch is engaged (or another stop condition holds): nothing may change now."""

    exit_code = ExitCode.STOPPED


class BusyError(AdpilotError):
    """Another actor holds the lease of an account (or the CMS); the message names the holder."""

    exit_code = ExitCode.BUSY

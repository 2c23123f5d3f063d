"""adpilot: role-scoped AI agents for online-marketing routines, governed by policy."""

from adpilot.errors import (
    AdpilotError,
    AuditError,
    AuditTamperedError,
    ConfigError,
    MoneyError,
    PlatformError,
    PolicyError,
    SourceError,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "AdpilotError",
    "AuditError",
    "AuditTamperedError",
    "ConfigError",
    "MoneyError",
    "PlatformError",
    "PolicyError",
    "SourceError",
    "UsageError",
    "__version__",
]

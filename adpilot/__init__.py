"""adpilot: role-scoped AI agents for online-marketing routines, governed by policy."""

from adpilot.errors import AdpilotError, ConfigError, MoneyError, SourceError, UsageError

__version__ = "0.1.0"

__all__ = ["AdpilotError", "ConfigError", "MoneyError", "SourceError", "UsageError", "__version__"]

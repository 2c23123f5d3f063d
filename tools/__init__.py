"""Platform clients, the tool catalogue, the Guard, the audit log and rollback."""

from __future__ import annotations

from adpilot.lazy import lazy_exports

# Public names, imported on first use so that importing one submodule stays cheap.
_EXPORTS = {
    "Guard": "adpilot.tools.guard",
    "RunScope": "adpilot.tools.guard",
    "Approval": "adpilot.tools.guard",
    "AuditLog": "adpilot.tools.audit",
    "Platforms": "adpilot.tools.platforms",
    "ToolResult": "adpilot.tools.result",
    "ToolError": "adpilot.tools.result",
    "CATALOGUE": "adpilot.tools.catalogue",
    "GoogleAdsClient": "adpilot.tools.google_ads",
    "WordPressClient": "adpilot.tools.wordpress",
    "rollback_run": "adpilot.tools.rollback",
    "governed_tools": "adpilot.tools.langchain_tools",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)

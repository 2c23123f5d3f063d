"""The composition root: platform clients, Guard, audit log, leases and memory built from config."""

from __future__ import annotations

from adpilot.lazy import lazy_exports

_EXPORTS = {
    "Deployment": "adpilot.compose.deployment",
    "build_guard": "adpilot.compose.deployment",
    "open_memory": "adpilot.compose.deployment",
    "connect": "adpilot.compose.platforms",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)

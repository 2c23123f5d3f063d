"""The evaluation harness: scenario loader, runner, scoring and reports."""

from __future__ import annotations

import importlib
from typing import Any

# Public names, imported on first use so that importing one submodule stays cheap.
_EXPORTS = {
    "Scenario": "adpilot.evals.scenario",
    "load_scenarios": "adpilot.evals.scenario",
    "run_scenarios": "adpilot.evals.runner",
    "ScenarioResult": "adpilot.evals.runner",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

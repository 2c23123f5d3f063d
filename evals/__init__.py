"""The evaluation harness: scenario loader, runner, scoring and reports."""

from __future__ import annotations

from adpilot.lazy import lazy_exports

# Public names, imported on first use so that importing one submodule stays cheap.
_EXPORTS = {
    "Scenario": "adpilot.evals.scenario",
    "load_scenarios": "adpilot.evals.scenario",
    "run_scenarios": "adpilot.evals.runner",
    "ScenarioResult": "adpilot.evals.runner",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)

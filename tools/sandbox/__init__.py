"""A local, seeded stand-in for Google Ads and WordPress: the world, its simulator and its APIs."""

from adpilot.tools.sandbox.faults import FaultConfig
from adpilot.tools.sandbox.server import Sandbox, SandboxCredentials
from adpilot.tools.sandbox.simulate import advance_day
from adpilot.tools.sandbox.world import World, get_path, patched, set_path

__all__ = [
    "FaultConfig",
    "Sandbox",
    "SandboxCredentials",
    "World",
    "advance_day",
    "get_path",
    "patched",
    "set_path",
]

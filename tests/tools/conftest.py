"""Fixtures for the tools tests live in tests/conftest.py; re-exported for explicit imports."""

from tests.conftest import FAST_RETRY, Clock, FixedGate

__all__ = ["FAST_RETRY", "Clock", "FixedGate"]

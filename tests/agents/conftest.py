"""Runs of the graph against the in-process sandbox, with a state directory per test."""

from __future__ import annotations

import pytest

from adpilot.agents.llm import build_provider
from adpilot.agents.run import Runner
from adpilot.agents.stop import Limits
from adpilot.config import Config


@pytest.fixture
def config(tmp_path):
    return Config(state_dir=tmp_path / "state")


@pytest.fixture
def make_runner(config, platforms, audit):
    def make(*, scripts=None, limits=None, skills=True, model=None):
        models = build_provider("scripted", scripts=scripts) if scripts is not None else build_provider(model or "none")
        return Runner(config, platforms=platforms, audit=audit, models=models, limits=limits or Limits(), skills=skills)

    return make


def results(audit, tool=None):
    return [r for r in audit.records(kind="result") if r.status == "ok" and (tool is None or r.tool == tool)]

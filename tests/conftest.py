"""Shared fixtures: worlds and sandboxes from the seeded demo world, clients, Guards, a clock."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings

from adpilot.compose import connect
from adpilot.config import Config
from adpilot.policies import load_policy
from adpilot.policies.content import Content, ContentVerdict, NoRulesGate
from adpilot.policies.model import Policy
from adpilot.tools.audit import AuditLog
from adpilot.tools.guard import Guard, RunScope
from adpilot.tools.http import RetryPolicy
from adpilot.tools.platforms import Platforms
from adpilot.tools.sandbox import Sandbox, World
from adpilot.tools.sandbox.demo import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_APP_PASSWORD,
    SANDBOX_DEVELOPER_TOKEN,
    SANDBOX_USER,
)

# Property tests check behaviour, not speed: a per-example deadline only makes them flaky on a
# loaded 2-core CI machine. Speed is measured by bench/, never by tests.
settings.register_profile("adpilot", deadline=None)
settings.load_profile("adpilot")

DE = "1112223333"
AT = "4445556666"


@pytest.fixture(autouse=True, scope="session")
def shipped_defaults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests run on the embedded defaults whatever the user's ./config.yaml says (its header invites
    editing it): every command a test starts without --config reads this copy, and its relative
    state_dir keeps test state out of the repository's .adpilot/."""
    from adpilot.config import dump_defaults

    file = tmp_path_factory.mktemp("shipped-defaults") / "config.yaml"
    file.write_text(dump_defaults(), encoding="utf-8")
    patch = pytest.MonkeyPatch()
    patch.setenv("ADPILOT_CONFIG", str(file))
    yield file
    patch.undo()


# A responsive search ad for the DE hiking-boots group that passes the default copy rules.
RSA = {
    "customer_id": DE,
    "ad_group_id": "2101",
    "headlines": ["Wanderschuhe wasserdicht", "Jetzt Größe finden", "Alpine Outfitters"],
    "descriptions": ["Wasserdichte Wanderschuhe für jede Tour.", "Beratung und Versand in 1–2 Werktagen."],
    "final_url": "https://www.alpine-outfitters.example/de/wanderschuhe",
}


@pytest.fixture(scope="session")
def demo_world() -> World:
    """One shared demo world; tests that mutate take :func:`world` instead."""
    return World.demo(7)


@pytest.fixture
def world(demo_world: World) -> World:
    return demo_world.clone()


@pytest.fixture
def sandbox(world: World) -> Sandbox:
    return Sandbox(world)


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with sandbox.client() as http:
        yield http


ADS_HEADERS = {
    "authorization": f"Bearer {SANDBOX_ACCESS_TOKEN}",
    "developer-token": SANDBOX_DEVELOPER_TOKEN,
}
WP_AUTH = {"authorization": "Basic " + base64.b64encode(f"{SANDBOX_USER}:{SANDBOX_APP_PASSWORD}".encode()).decode()}


FAST_RETRY = RetryPolicy(attempts=6, base_delay_s=0.001, max_delay_s=0.05, jitter=0.0)


class Clock:
    """A controllable clock for rolling-window rules."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += dt.timedelta(hours=hours)


class FixedGate:
    """A content gate that answers one verdict — to test how the Guard acts on each verdict."""

    def __init__(self, verdict: str) -> None:
        self.verdict = verdict
        self.checked: list[Content] = []

    def check(self, content: Content) -> ContentVerdict:
        self.checked.append(content)
        return ContentVerdict(self.verdict, content.hash, ({"rule": "test", "message": f"fixed {self.verdict}"},))  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def audit(clock: Clock) -> AuditLog:
    return AuditLog(":memory:", clock=clock)


@pytest.fixture
async def platforms(sandbox) -> AsyncIterator[Platforms]:
    async with connect(Config(), sandbox=sandbox, retry=FAST_RETRY) as connected:
        yield connected


@pytest.fixture
def make_guard(platforms: Platforms, audit: AuditLog) -> Callable[..., Guard]:
    def make(
        *, accounts=(DE, AT), dry_run: bool = False, gate=None, policy=None, thread: str = "t1", run: str = "r1"
    ) -> Guard:
        return Guard(
            platforms,
            policy or load_policy(),
            audit,
            RunScope(run, thread, frozenset(accounts), dry_run=dry_run),
            content_gate=gate if gate is not None else NoRulesGate(),
        )

    return make


@pytest.fixture
def guard(make_guard) -> Guard:
    return make_guard()


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    file = tmp_path / "config.yaml"
    file.write_text(f"state_dir: {tmp_path / 'state'}\nlog: {{level: warning}}\n")
    monkeypatch.delenv("ADPILOT_CONFIG", raising=False)
    return file


def policy_with(patch: dict[str, Any]) -> Policy:
    """The default policy with dotted keys set (values as a pack would write them)."""
    data = load_policy().model_dump(by_alias=True)
    for dotted, value in patch.items():
        *path, last = dotted.split(".")
        node = data
        for key in path:
            node = node[key]
        node[last] = value
    return Policy.model_validate(data)

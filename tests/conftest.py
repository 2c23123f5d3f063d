"""Shared fixtures: worlds and sandboxes built from the seeded demo world."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from adpilot.tools.sandbox import Sandbox, World
from adpilot.tools.sandbox.demo import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_APP_PASSWORD,
    SANDBOX_DEVELOPER_TOKEN,
    SANDBOX_USER,
)

DE = "1112223333"
AT = "4445556666"


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

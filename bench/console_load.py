"""The web console under load: 20 signed-in people loading pages while maintenance runs execute.

    .venv/bin/python bench/console_load.py [--users 20] [--seconds 30] [--think-ms 1000] [--no-maintain]

Seeds a state directory with `adpilot demo` (the approvals wait), adds the users, starts the console
as `adpilot serve` does (one uvicorn process), and signs every user in. Then two phases on the same
server, each ``--seconds`` long:

1. baseline: one user, nothing else running, loading the pages back to back (no pause: the page's own
   time, and more samples);
2. load: ``--users`` concurrent clients (httpx, async, one keep-alive connection each, as a browser
   keeps one), each loading inbox, one approval, runs, accounts, one account's charts, audit and
   controls in turn, waiting ``--think-ms`` (±50 %, seeded) between pages as a person reading them
   does — while another process runs `adpilot maintain` over the same state directory, again and again.

A page load is timed from the request to the last byte of the answer. Printed: p50/p95/p99 per page and
overall for both phases, the ratio load/baseline, the answers that were not 200, and how many
maintenance runs finished during the load. The target (issue 18) is p95 < 200 ms overall under load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from adpilot.app.web.users import open_users

PASSWORD = "correct horse battery"
PAGES = ["inbox", "approval", "runs", "accounts", "account", "audit", "controls"]
ADPILOT = [sys.executable, "-m", "adpilot.app.cli"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def env_for(state: Path) -> dict[str, str]:
    return {**os.environ, "ADPILOT__STATE_DIR": str(state)}


def seed(home: Path, users: int) -> Path:
    state = home / "state"
    done = subprocess.run([*ADPILOT, "demo"], cwd=home, env=env_for(state), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"adpilot demo failed ({done.returncode}): {done.stderr[-2000:]}")
    store = open_users(state)
    try:
        for n in range(users):
            store.add(f"user{n:02d}", "approver", PASSWORD)
    finally:
        store.close()
    return state


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise SystemExit(f"adpilot serve ended with {process.returncode}")
        try:
            if httpx.get(f"{url}/api/health").status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise SystemExit(f"adpilot serve did not answer on {url}") from None
            time.sleep(0.1)  # polls for the server's readiness


async def sign_in(url: str, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, follow_redirects=False, timeout=30.0)
    form = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    answer = await client.post("/login", data={"csrf": token.group(1), "name": name, "password": PASSWORD})
    if answer.status_code != 303:
        raise SystemExit(f"{name} could not sign in: {answer.status_code}")
    return client


async def browse(
    client: httpx.AsyncClient,
    paths: dict[str, str],
    until: float,
    think: float,
    rng: random.Random,
    times: dict[str, list[float]],
    failures: dict[str, int],
) -> None:
    turn = rng.randrange(len(PAGES))
    while time.monotonic() < until:
        page = PAGES[turn % len(PAGES)]
        turn += 1
        start = time.perf_counter()
        answer = await client.get(paths[page])
        await answer.aread()
        elapsed = time.perf_counter() - start
        times[page].append(elapsed)
        if answer.status_code != 200:
            failures[f"{page} {answer.status_code}"] += 1
        if think:
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))


async def phase(clients: list[httpx.AsyncClient], paths: dict[str, str], seconds: float, think: float):
    times: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, int] = defaultdict(int)
    until = time.monotonic() + seconds
    await asyncio.gather(
        *(browse(c, paths, until, think, random.Random(n), times, failures) for n, c in enumerate(clients))
    )
    return times, failures


def table(title: str, times: dict[str, list[float]], base: dict[str, list[float]] | None) -> None:
    print(f"\n{title}")
    print(f"{'page':<10} {'loads':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}" + ("  p95 × baseline" if base else ""))
    rows = [(page, times[page]) for page in PAGES] + [("overall", [t for p in PAGES for t in times[p]])]
    for page, values in rows:
        line = f"{page:<10} {len(values):>6}"
        for share in (0.5, 0.95, 0.99):
            line += f" {percentile(values, share) * 1000:>8.1f}"
        if base:
            base_values = base[page] if page != "overall" else [t for p in PAGES for t in base[p]]
            line += f"  {percentile(values, 0.95) / percentile(base_values, 0.95):>14.1f}"
        print(line)


async def measure(url: str, users: int, seconds: float, think: float):
    """Sign ``users`` people in, then let them browse for ``seconds``: (times by page, failures)."""
    clients = [await sign_in(url, f"user{n:02d}") for n in range(users)]
    try:
        approval = re.search(r'href="(/inbox/[^"]+)"', (await clients[0].get("/inbox")).text)
        assert approval, "the demo left no approval waiting"
        paths = {p: f"/{p}" for p in PAGES} | {"approval": approval.group(1), "account": "/accounts/1112223333"}
        return await phase(clients, paths, seconds, think)
    finally:
        for client in clients:
            await client.aclose()


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="adpilot-console-load-") as scratch:
        home = Path(scratch)
        print(f"seeding {home} with `adpilot demo` and {args.users} users …", flush=True)
        state = seed(home, args.users)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [*ADPILOT, "serve", "--port", str(port)], cwd=home, env=env_for(state), stdout=subprocess.DEVNULL
        )
        maintain: subprocess.Popen[bytes] | None = None
        runs_file = home / "maintain-runs"
        try:
            wait_for(url, server)
            print(f"baseline: 1 user, no runs, {args.seconds:.0f} s …", flush=True)
            base, base_failures = asyncio.run(measure(url, 1, args.seconds, 0.0))
            if not args.no_maintain:
                loop = f'while true; do "$@" maintain >/dev/null 2>&1 && echo x >> "{runs_file}"; done'
                maintain = subprocess.Popen(
                    ["sh", "-c", loop, "sh", *ADPILOT], cwd=home, env=env_for(state), start_new_session=True
                )
            label = "" if args.no_maintain else " + adpilot maintain in a loop"
            print(f"load: {args.users} users{label}, {args.seconds:.0f} s …", flush=True)
            loaded, failures = asyncio.run(measure(url, args.users, args.seconds, args.think_ms / 1000))
            finished = len(runs_file.read_text().splitlines()) if runs_file.exists() else 0
        finally:
            if maintain is not None:
                os.killpg(maintain.pid, 15)
                maintain.wait()
            server.terminate()
            server.wait()

        print(f"\nthink time under load {args.think_ms} ms ±50 % between a user's pages; times: request to last byte")
        print(f"load average at the end (1, 5, 15 min): {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
        table("baseline (1 user back to back, no runs)", base, None)
        table(f"load ({args.users} users, maintenance running)", loaded, base)
        print(f"\nmaintenance runs finished during the load: {finished}")
        bad = dict(base_failures) | dict(failures)
        print(f"answers other than 200: {bad or 'none'}")
        overall = percentile([t for p in PAGES for t in loaded[p]], 0.95) * 1000
        met = overall < args.target_ms
        verdict = "met" if met else "MISSED"
        print(f"target p95 < {args.target_ms:.0f} ms overall under load: {verdict} ({overall:.1f} ms)")
        return 0 if met and not bad else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--think-ms", type=int, default=1000, help="mean pause between a user's pages (0: none)")
    parser.add_argument("--target-ms", type=float, default=200.0)
    parser.add_argument("--no-maintain", action="store_true", help="no maintenance runs during the load")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())

"""Maintenance at scale: 50 accounts × 20 campaigns, 50 ms API latency, against its lower bound.

    .venv/bin/python bench/maintenance_scale.py [--accounts 50] [--campaigns 20] [--latency-ms 50] [--served]

Every account is one run; all run concurrently (as `adpilot maintain` does). An account's
requests are sequential, so its run cannot take less than (its requests × latency), nor less
than the per-account rate limit allows; the pass cannot beat its slowest account. That bound
is computed from the requests each account really made (counted from the audit log's read and
write decisions plus the snapshot reads) and compared with the wall time.

By default the sandbox runs in process, so the server's work competes with adpilot for the
same event loop; with --served it runs as a separate server process on loopback, as the real
APIs run elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from adpilot.agents.llm import build_provider
from adpilot.agents.run import Runner
from adpilot.compose import connect
from adpilot.config import Config
from adpilot.tools.audit import AuditLog
from adpilot.tools.sandbox import Sandbox
from adpilot.tools.sandbox.demo import SANDBOX_ACCESS_TOKEN, SANDBOX_APP_PASSWORD, SANDBOX_DEVELOPER_TOKEN
from adpilot.tools.sandbox.synthetic import customer_id, synthetic_world

SERVER = """
import sys, uvicorn
from adpilot.tools.sandbox import Sandbox
from adpilot.tools.sandbox.synthetic import synthetic_world
sandbox = Sandbox(synthetic_world({accounts}, {campaigns}), base_url="http://127.0.0.1:{port}")
sandbox.set_faults({{"google_ads": {{"latency_ms": {latency}}}, "wordpress": {{"latency_ms": {latency}}}}})
requests = {{}}
app = sandbox.app
async def counting(scope, receive, send):
    import re
    match = re.search(r"/customers/(\\d{{10}})/", scope.get("path", ""))
    key = match.group(1) if match else "cms"
    requests[key] = requests.get(key, 0) + 1
    if scope.get("path") == "/_bench/requests":
        from starlette.responses import JSONResponse
        return await JSONResponse(requests)(scope, receive, send)
    await app(scope, receive, send)
class Server(uvicorn.Server):
    async def startup(self, sockets=None):
        await super().startup(sockets)
        print("ready", file=sys.stderr, flush=True)
Server(uvicorn.Config(counting, host="127.0.0.1", port={port}, log_level="warning", lifespan="off")).run()
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _maintain(config: Config, platforms: Any, folder: Path, ids: list[str]) -> tuple[list[Any], float]:
    audit = AuditLog(folder / "audit.sqlite3")
    async with Runner(config, platforms=platforms, audit=audit, models=build_provider("none")) as runner:
        started = time.perf_counter()
        jobs = [
            runner.start({"kind": "maintenance", "accounts": [a], "scope": "ads"}, thread_id=f"scale-{a}") for a in ids
        ]
        jobs.append(runner.start({"kind": "maintenance", "accounts": ids, "scope": "cms"}, thread_id="scale-cms"))
        results = await asyncio.gather(*jobs)
        return list(results), time.perf_counter() - started


async def in_process(accounts: int, campaigns: int, latency_ms: int, rate: float) -> dict[str, Any]:
    sandbox = Sandbox(synthetic_world(accounts, campaigns))
    sandbox.set_faults({"google_ads": {"latency_ms": latency_ms}, "wordpress": {"latency_ms": latency_ms}})
    requests: Counter[str] = Counter()
    app = sandbox.app

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        match = re.search(r"/customers/(\d{10})/", scope.get("path", ""))
        requests[match.group(1) if match else "cms"] += 1
        await app(scope, receive, send)

    sandbox._app = counting  # type: ignore[assignment]
    ids = [customer_id(i) for i in range(accounts)]
    with tempfile.TemporaryDirectory() as tmp:
        limits = {"requests_per_second": rate}
        config = Config(state_dir=Path(tmp), accounts=ids, google_ads=limits, wordpress=limits)
        async with connect(config, sandbox=sandbox) as platforms:
            results, wall = await _maintain(config, platforms, Path(tmp), ids)
    return {"results": results, "wall": wall, "requests": requests}


async def served(accounts: int, campaigns: int, latency_ms: int, rate: float) -> dict[str, Any]:
    import httpx

    port = _free_port()
    code = SERVER.format(accounts=accounts, campaigns=campaigns, port=port, latency=latency_ms)
    # A benchmark harness, not the product: starting the server before the clock runs is fine.
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)  # noqa: ASYNC220
    assert process.stderr is not None
    for line in process.stderr:
        if "ready" in line:
            break
    base = f"http://127.0.0.1:{port}"
    env = {
        "GOOGLE_ADS_DEVELOPER_TOKEN": SANDBOX_DEVELOPER_TOKEN,
        "GOOGLE_ADS_ACCESS_TOKEN": SANDBOX_ACCESS_TOKEN,
        "WORDPRESS_APP_PASSWORD": SANDBOX_APP_PASSWORD,
    }
    ids = [customer_id(i) for i in range(accounts)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Config(
                state_dir=Path(tmp),
                accounts=ids,
                google_ads={"base_url": base, "requests_per_second": rate},
                wordpress={"base_url": base, "requests_per_second": rate},
            )
            async with connect(config, environ=env) as platforms:
                results, wall = await _maintain(config, platforms, Path(tmp), ids)
        async with httpx.AsyncClient(base_url=base) as http:
            requests = Counter((await http.get("/_bench/requests")).json())
    finally:
        process.terminate()
        process.wait(timeout=10)
    return {"results": results, "wall": wall, "requests": requests}


def report(mode: str, latency_ms: int, rate: float, outcome: dict[str, Any]) -> None:
    results, wall, requests = outcome["results"], outcome["wall"], outcome["requests"]
    latency = latency_ms / 1000
    burst = max(1.0, rate)
    bound = max(max(n * latency, max(0.0, n - burst) / rate) for n in requests.values())
    finished = sum(r.status in ("done", "waiting") for r in results)
    changes = sum(len(r.report["applied"]) for r in results)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"[{mode}] runs {len(results)} ({finished} finished), changes applied {changes}")
    print(f"  requests {sum(requests.values())} (slowest account {max(requests.values())}), latency {latency_ms} ms")
    print(f"  wall {wall:.2f} s; lower bound {bound:.2f} s; ratio {wall / bound:.2f}; peak RSS {rss:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--campaigns", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--served", action="store_true", help="run the sandbox as a separate server process")
    options = parser.parse_args()
    runner = served if options.served else in_process
    outcome = asyncio.run(runner(options.accounts, options.campaigns, options.latency_ms, options.rate))
    report("served on loopback" if options.served else "in process", options.latency_ms, options.rate, outcome)


if __name__ == "__main__":
    main()

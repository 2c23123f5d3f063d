"""Every benchmark, one after another, then a summary table (what `make bench` runs).

Each benchmark prints its own numbers with its in-run baseline; the summary adds how long each
took and whether it finished. docs/BENCHMARKS.md records the numbers and their commands.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    ("Guard overhead", ["guard_overhead.py"]),
    ("graph overhead", ["graph_overhead.py", "--runs", "40"]),
    ("content gate at scale", ["gate_scale.py", "--runs", "3"]),
    ("CLI start-up and commands", ["cli_startup.py", "--runs", "5"]),
    ("retrieval quality", ["retrieval_quality.py", "--backends", "use+hashing", "use-multilingual-v3", "hashing"]),
    ("memory at 10k chunks", ["memory_bench.py"]),
    ("maintenance at scale", ["maintenance_scale.py"]),
    ("campaign outcome, 28 days", ["campaign_outcome.py"]),
]


def main() -> int:
    summary = []
    for title, command in BENCHMARKS:
        print(f"\n=== {title}: bench/{' '.join(command)}", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]], stderr=subprocess.DEVNULL)
        summary.append((title, time.perf_counter() - start, done.returncode))
    print("\n=== summary")
    print(f"{'benchmark':<28} {'seconds':>8}  result")
    for title, seconds, code in summary:
        print(f"{title:<28} {seconds:>8.1f}  {'ok' if code == 0 else f'exit {code}'}")
    print(f"{'total':<28} {sum(s for _, s, _ in summary):>8.1f}")
    return 0 if all(code == 0 for *_, code in summary) else 1


if __name__ == "__main__":
    sys.exit(main())

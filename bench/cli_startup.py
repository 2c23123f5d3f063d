"""CLI cold start and whole-command costs, against a bare Python start measured in the same run.

    .venv/bin/python bench/cli_startup.py [--runs 10]

Each command runs as a fresh process (what a person or cron sees); median wall time and the
child's peak RSS are reported, with the ratio to `python -c pass`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(command: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    times, peaks = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
        peaks.append(max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024)
    return statistics.median(times), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    python = sys.executable
    adpilot = [python, "-m", "adpilot.app.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(f"state_dir: {tmp}/state\nlog: {{level: warning}}\n")
        env = {**os.environ, "ADPILOT_CONFIG": str(config)}
        cases = [
            ("python -c pass (baseline)", [python, "-c", "pass"], options.runs),
            ("adpilot --help", [*adpilot, "--help"], options.runs),
            ("adpilot check-copy TEXT", [*adpilot, "check-copy", "Wasserdichte Wanderschuhe"], options.runs),
            ("adpilot maintain --dry-run", [*adpilot, "maintain", "--dry-run"], max(3, options.runs // 3)),
            (
                "adpilot eval evals/scenarios",
                [*adpilot, "eval", str(ROOT / "evals" / "scenarios"), "--min-pass-rate", "1.0"],
                1,
            ),
        ]
        base = None
        print(f"{'command':<32} {'median s':>9} {'× python':>9} {'peak RSS MB':>12}")
        for label, command, runs in cases:
            seconds, rss = measure(command, runs, env)
            base = base or seconds
            print(f"{label:<32} {seconds:>9.3f} {seconds / base:>9.1f} {rss:>12.0f}")


if __name__ == "__main__":
    main()

"""Content gate at scale: the time to judge a page grows linearly with its size, also for
copy written to make a rule engine slow (every word a claim, every line a footnote).

    .venv/bin/python bench/gate_scale.py [--sizes 10000 100000] [--runs 3]

Per input shape, prints the best-of-N time to check content of each size and the ratio of the
largest to the smallest size against the ratio of their sizes: linear work keeps the two close
(a quadratic engine's time ratio is the square of the size ratio). A realistic page (ordinary
German copy with markup) is the baseline in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import time

from adpilot.policies.compliance import ComplianceEngine
from adpilot.policies.content import Content

ORDINARY = (
    "<h2>Wasserdichte Wanderschuhe</h2><p>Unsere Modelle mit GORE-TEX-Membran halten die Füße trocken. "
    "Versandkostenfrei ab 50 € Bestellwert, 30 Tage Rückgaberecht.</p>"
)
SHAPES = {
    "ordinary page (baseline)": lambda n: Content(
        "cms", fields=(("content", (ORDINARY * (n // len(ORDINARY) + 1))[:n]),)
    ),
    "one long compound": lambda n: Content("google_ads", texts=(("gratis" * (n // 6 + 1))[:n],)),
    "a claim in every word": lambda n: Content("google_ads", texts=(("beste " * (n // 6 + 1))[:n],)),
    "a reduction in every word": lambda n: Content("google_ads", texts=(("-30 % " * (n // 6 + 1))[:n],)),
    "a sentence per claim": lambda n: Content("google_ads", texts=(("gratis. " * (n // 8 + 1))[:n],)),
    "footnotes everywhere": lambda n: Content("google_ads", texts=(("gratis* \n" * (n // 9 + 1))[:n],)),
    "compliant claims": lambda n: Content("google_ads", texts=(("Gratis ab 50 € Bestellwert. " * (n // 28 + 1))[:n],)),
    "cited evidence": lambda n: Content(
        "google_ads", texts=(("Testsieger laut Bergwelt 3/2026 Wanderschuhe. " * (n // 47 + 1))[:n],)
    ),
    "emoji": lambda n: Content("google_ads", texts=(("\U0001f525" * n)[: n // 2],)),
}


def best_of(engine: ComplianceEngine, content: Content, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        engine.check(content)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    engine = ComplianceEngine.from_pack("default", today=lambda: datetime.date(2026, 12, 2))
    engine.check(Content("cms", fields=(("content", ORDINARY),)))  # warm caches (confusables, regex)
    sizes = sorted(args.sizes)
    print(
        f"{'input':<28}" + "".join(f"{f'{s // 1000} KB':>10}" for s in sizes) + f"{'time ratio':>12}{'size ratio':>12}"
    )
    for name, make in SHAPES.items():
        times = [best_of(engine, make(size), args.runs) for size in sizes]
        ratio = times[-1] / times[0] if times[0] else float("inf")
        row = "".join(f"{t:>9.3f}s" for t in times)
        print(f"{name:<28}{row}{ratio:>12.1f}{sizes[-1] / sizes[0]:>12.1f}")


if __name__ == "__main__":
    main()

"""Synthetic worlds of any size for benchmarks: N accounts × M campaigns, seeded.

Each campaign has its own budget, one ad group with two ads and two keywords; performance
truth is drawn like the demo world's, then ``history_days`` days are simulated.
"""

from __future__ import annotations

import random

from adpilot.tools.sandbox.demo import _CustomerBuilder, simulated_world
from adpilot.tools.sandbox.world import World

_CALLS = ("Beratung im Shop", "Jetzt Größe finden")
_PROMISE = "30 Tage Rückgaberecht und persönliche Beratung."
_PRODUCTS = ["Wanderschuhe", "Regenjacken", "Rucksäcke", "Zelte", "Schlafsäcke", "Stirnlampen", "Fleecejacken"]


def customer_id(index: int) -> str:
    return f"{7000000000 + index:010d}"


def synthetic_world(accounts: int, campaigns: int, *, seed: int = 11, history_days: int = 14) -> World:
    rng = random.Random(seed)
    customers = {}
    for a in range(accounts):
        builder = _CustomerBuilder(customer_id(a), f"Synthetic account {a}", "Europe/Berlin")
        for c in range(campaigns):
            product = _PRODUCTS[(a + c) % len(_PRODUCTS)]
            base = a * 1000 + c
            budget = builder.budget(str(500000 + base), f"{product} {c} Budget", f"{rng.randrange(10, 80)}")
            campaign = builder.campaign(str(100000 + base), f"{product} {c} - Search", budget)
            group = str(200000 + base)
            builder.ad_group(group, f"{product} {c}", campaign, "0.90")
            for n in range(2):
                headlines = [f"{product} online kaufen", f"{product} Modell {c}", _CALLS[n]]
                descriptions = [f"{product} für jede Tour. Versand in 1–2 Werktagen.", _PROMISE]
                builder.ad(group, str(300000 + base * 2 + n), headlines, descriptions, f"https://www.example.com/{c}")
            for n in range(2):
                bid = f"{rng.uniform(0.6, 1.4):.2f}"
                builder.keyword(group, str(400000 + base * 2 + n), f"{product.lower()} {c} {n}", "PHRASE", bid)
        customers[builder.id] = builder.customer
    return simulated_world(customers, rng, seed=seed, history_days=history_days)

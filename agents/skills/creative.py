"""The creative skill: a new responsive search ad for every ad group that runs thin.

An ad group with fewer than two enabled ads gives rotation nothing to learn from. The new
variant combines the group's best headlines with the brand's templates (brand.yaml) and, when
memory is configured, a product fact from the knowledge base — cited as evidence. Every
variant is checked with ``check_copy`` (for the ad's account, so against its market's product
feed) before it is proposed, and lines that fail are dropped; the Guard checks the final ad again
when it is created. The templates' shipping and return times are restated from the feed of the
account's market when the gate has one: an Austrian ad says "Versand in 3–5 Werktagen".
"""

from __future__ import annotations

import re
from typing import Any

from adpilot.agents.proposal import Proposal
from adpilot.feed import days_text
from adpilot.policies.claims import ClaimChecker
from adpilot.policies.compliance import Brand
from adpilot.text import google_ads_length
from adpilot.tools.guard import Guard

MIN_ENABLED = 2


_SHIPPING_DAYS = re.compile(r"\d+(?:\s?[–-]\s?\d+)?(?=\s?Werktag)")
_RETURN_DAYS = re.compile(r"\d+(?=\s?Tage\s?Rückgabe)")


def _facts(guard: Guard, account: str) -> dict[str, str]:
    """The shipping and return days of the account's market, from the feed the gate checks claims
    against ({} without a feed or a market for the account)."""
    checker = getattr(guard.context.content_gate, "claims", None)
    if not isinstance(checker, ClaimChecker) or account not in checker.markets:
        return {}
    offers = checker.feed.in_market(checker.markets[account])
    if not offers:
        return {}
    facts = {}
    shipping = [f.shipping_days for _, f in offers]
    facts["shipping"] = days_text((min(s[0] for s in shipping), max(s[1] for s in shipping)))
    returns = [f.return_days for _, f in offers]
    if all(r is not None for r in returns):
        facts["returns"] = str(min(r for r in returns if r is not None))
    return facts


def _fill(template: str, brand: Brand, facts: dict[str, str] | None = None) -> str:
    line = template.replace("{brand}", brand.name)
    if facts and "shipping" in facts:
        line = _SHIPPING_DAYS.sub(facts["shipping"], line)
    if facts and "returns" in facts:
        line = _RETURN_DAYS.sub(facts["returns"], line)
    return line


async def _passing(guard: Guard, lines: list[str], field: str, evidence: list[str], account: str) -> list[str]:
    """The lines whose own check passes (each line checked alone, so one bad line costs only itself)."""
    keep = []
    for line in lines:
        result = await guard.call(
            "creative", "check_copy", {field: [line], "evidence": evidence, "customer_id": account}
        )
        if result.ok and result.data["verdict"] == "pass":
            keep.append(line)
    return keep


async def creative_proposals(guard: Guard, account: str, brand: Brand, *, use_memory: bool) -> list[Proposal]:
    listed = await guard.call("creative", "list_ads", {"customer_id": account})
    if not listed.ok:
        return []
    groups: dict[str, list[dict[str, Any]]] = {}
    for ad in listed.data:
        groups.setdefault(ad["ad_group_id"], []).append(ad)
    proposals = []
    facts = _facts(guard, account)
    for group_id, ads in sorted(groups.items()):
        enabled = [a for a in ads if a["status"] == "ENABLED"]
        if len(enabled) >= MIN_ENABLED or not ads:
            continue
        base = (enabled or ads)[0]
        evidence: list[str] = []
        fact_lines: list[str] = []
        if use_memory:
            found = await guard.call("creative", "search_knowledge", {"query": " ".join(base["headlines"][:2]), "k": 2})
            if found.ok:
                for passage in found.data:
                    for sentence in passage["text"].replace("\n", " ").split(". "):
                        sentence = sentence.strip().rstrip(".") + "."
                        if 30 <= google_ads_length(sentence) <= 90 and not sentence.startswith("#"):
                            fact_lines.append(sentence)
                            evidence.append(passage["citation"])
                            break
        headlines = list(
            dict.fromkeys([*base["headlines"][:2], *(_fill(t, brand, facts) for t in brand.ad_templates.headlines)])
        )
        headlines = [h for h in headlines if google_ads_length(h) <= 30][:6]
        descriptions = list(
            dict.fromkeys(
                [
                    *fact_lines[:1],
                    *(_fill(t, brand, facts) for t in brand.ad_templates.descriptions),
                    *base["descriptions"][:1],
                ]
            )
        )
        descriptions = [d for d in descriptions if google_ads_length(d) <= 90][:3]
        headlines = await _passing(guard, headlines, "headlines", evidence, account)
        descriptions = await _passing(guard, descriptions, "descriptions", evidence, account)
        existing = {tuple(a["headlines"]) for a in ads}
        if len(headlines) < 3 or len(descriptions) < 2 or tuple(headlines) in existing:
            continue
        proposals.append(
            Proposal(
                role="creative",
                tool="create_responsive_search_ad",
                args={
                    "customer_id": account,
                    "ad_group_id": group_id,
                    "headlines": headlines,
                    "descriptions": descriptions,
                    "final_url": base["final_urls"][0],
                    "evidence": sorted(set(evidence)),
                },
                rationale=f"ad group {group_id} has {len(enabled)} enabled ad(s); a second variant lets rotation learn",
                evidence={
                    "enabled_ads": len(enabled),
                    "based_on": f"{group_id}~{base['ad_id']}",
                    "citations": sorted(set(evidence)),
                },
                expected_impact="a tested alternative for the group's traffic",
            )
        )
    return proposals

"""Comparing sandbox worlds after runs that may legitimately differ in incidental ways."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from typing import Any

from adpilot.evals.checks import without_volatile
from adpilot.tools.audit import canonical


def normalised(world: dict[str, Any], first_new_id: int) -> Any:
    """The world without volatile fields, and with the ids of created entities replaced by names
    drawn from their content: concurrent runs may create the same ads in another order. Equal
    content gets a running number, so an entity created twice still shows twice."""
    new: list[tuple[str, str]] = []
    for customer_id, customer in world["google_ads"]["customers"].items():
        for ad in customer["ad_group_ads"].values():
            if int(ad["ad"]["id"]) >= first_new_id:
                content = [customer_id, ad["ad_group"], ad["ad"]["final_urls"], ad["ad"]["responsive_search_ad"]]
                new.append((canonical(content), str(ad["ad"]["id"])))
        for criterion in customer["ad_group_criteria"].values():
            if int(criterion["criterion_id"]) >= first_new_id:
                content = [customer_id, criterion["ad_group"], criterion["keyword"], criterion.get("negative")]
                new.append((canonical(content), str(criterion["criterion_id"])))
    names: dict[str, str] = {}
    seen: Counter[str] = Counter()
    for content, entity_id in sorted(new):
        digest = hashlib.sha256(content.encode()).hexdigest()[:12]
        names[entity_id] = f"new-{digest}-{seen[digest]}"
        seen[digest] += 1
    text = json.dumps(without_volatile(world), sort_keys=True, ensure_ascii=False)
    # Ids stand alone in a JSON string or after "~" or "/" (keys, resource names, hidden CTRs).
    text = re.sub(r'(?<=[~/"])(\d+)(?=")', lambda m: names.get(m.group(1), m.group(1)), text)
    return json.loads(text)


def differences(actual: Any, expected: Any, path: str = "") -> list[str]:
    """Where two world dumps differ, as dotted paths (for a readable failure)."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        found: list[str] = []
        for key in sorted(set(actual) | set(expected)):
            if key not in actual or key not in expected:
                found.append(f"{path}.{key}: only in {'actual' if key in actual else 'expected'}")
            else:
                found += differences(actual[key], expected[key], f"{path}.{key}")
        return found
    return [] if actual == expected else [f"{path}: {actual!r} != {expected!r}"]

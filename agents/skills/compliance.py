"""The compliance sweep: live ads and live pages checked against the copy rules.

A page is live in every status but draft (publish, future, pending, private: see
``LIVE_STATUSES``). A failing live ad is paused; a failing live page is taken offline (back to
draft). Both go
through the Guard: pausing the last ad of a group is denied (a person must decide), and a
live page is never changed without approval. ``needs_review`` findings are reported, not acted on.
"""

from __future__ import annotations

from typing import Any

from adpilot.agents.proposal import Proposal
from adpilot.policies.compliance import visible_text
from adpilot.tools.catalogue import LIVE_STATUSES
from adpilot.tools.guard import Guard


def _summary(findings: list[dict[str, Any]]) -> str:
    return "; ".join(f"{f['rule']}: “{f['text']}”" for f in findings[:3])


async def sweep(guard: Guard, accounts: list[str], *, include_cms: bool) -> tuple[list[Proposal], list[str]]:
    proposals: list[Proposal] = []
    notes: list[str] = []
    for account in accounts:
        listed = await guard.call("compliance", "list_ads", {"customer_id": account})
        for ad in listed.data if listed.ok else []:
            if ad["status"] != "ENABLED":
                continue
            check = await guard.call(
                "compliance",
                "check_copy",
                {"headlines": ad["headlines"], "descriptions": ad["descriptions"], "customer_id": account},
            )
            if not check.ok or check.data["verdict"] == "pass":
                continue
            key = f"{ad['ad_group_id']}~{ad['ad_id']}"
            if check.data["verdict"] == "needs_review":
                notes.append(f"ad {key} in {account} needs a person's review: {_summary(check.data['findings'])}")
                continue
            proposals.append(
                Proposal(
                    role="compliance",
                    tool="set_ad_status",
                    args={
                        "customer_id": account,
                        "ad_group_id": ad["ad_group_id"],
                        "ad_id": ad["ad_id"],
                        "status": "PAUSED",
                    },
                    rationale=f"live ad {key} breaks the copy rules: {_summary(check.data['findings'])}",
                    evidence={"findings": check.data["findings"], "content_hash": check.data["content_hash"]},
                    expected_impact="no non-compliant ad stays live",
                )
            )
    if include_cms:
        listed = await guard.call("compliance", "list_posts", {})
        for summary in listed.data if listed.ok else []:
            if summary["status"] not in LIVE_STATUSES:
                continue
            post = await guard.call("compliance", "get_post", {"post_id": summary["post_id"]})
            if not post.ok:
                continue
            texts = [
                post.data["title"],
                visible_text(post.data["content"]),
                post.data["excerpt"],
                post.data["meta_description"],
            ]
            check = await guard.call("compliance", "check_copy", {"texts": [t for t in texts if t], "channel": "cms"})
            if not check.ok or check.data["verdict"] == "pass":
                continue
            if check.data["verdict"] == "needs_review":
                notes.append(f"page {summary['post_id']} needs a person's review: {_summary(check.data['findings'])}")
                continue
            proposals.append(
                Proposal(
                    role="compliance",
                    tool="update_post",
                    args={"post_id": summary["post_id"], "status": "draft"},
                    rationale=(
                        f"live page {summary['post_id']} breaks the copy rules: {_summary(check.data['findings'])}"
                    ),
                    evidence={"findings": check.data["findings"]},
                    expected_impact="the page is offline until it is fixed",
                )
            )
    return proposals, notes

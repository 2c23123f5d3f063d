"""Policy packs (YAML) and the models and rules that evaluate them."""

from adpilot.policies.loader import load_policy, pack_path
from adpilot.policies.model import Policy, covers
from adpilot.policies.rules import (
    ALLOW,
    Ruling,
    ad_status_change,
    bid_change,
    budget_change,
    campaign_status_change,
    strictest,
)

__all__ = [
    "ALLOW",
    "Policy",
    "Ruling",
    "ad_status_change",
    "bid_change",
    "budget_change",
    "campaign_status_change",
    "covers",
    "load_policy",
    "pack_path",
    "strictest",
]

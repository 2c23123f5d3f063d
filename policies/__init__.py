"""Policy packs (YAML) and the models and rules that evaluate them."""

from adpilot.policies.loader import load_policy, pack_path
from adpilot.policies.model import Policy, covers
from adpilot.policies.rules import (
    ALLOW,
    Ruling,
    account_daily_total,
    ad_status_change,
    bid_change,
    billable_unit,
    budget_change,
    campaign_status_change,
    money_limits,
    strictest,
)

__all__ = [
    "ALLOW",
    "Policy",
    "Ruling",
    "account_daily_total",
    "ad_status_change",
    "bid_change",
    "billable_unit",
    "budget_change",
    "campaign_status_change",
    "covers",
    "load_policy",
    "money_limits",
    "pack_path",
    "strictest",
]

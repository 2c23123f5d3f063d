"""The sandbox world: a pydantic model of one Google Ads manager's accounts and one WordPress site.

Its JSON dump is the contract of SCENARIOS.md §3: every collection is an object keyed by
string id, fields are snake_case as in the Google Ads API, money is int64 micros as strings.
Hidden performance truth (CTR, conversion rates, search volume) lives under ``sim`` and is
only ever read by the simulator and by benchmarks that play an oracle.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CampaignStatus = Literal["ENABLED", "PAUSED", "REMOVED"]
MatchType = Literal["EXACT", "PHRASE", "BROAD"]
PostStatus = Literal["publish", "future", "draft", "pending", "private", "trash"]
PostType = Literal["post", "page"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CampaignBudget(_Model):
    resource_name: str
    id: str
    name: str
    amount_micros: str | None = None  # the daily amount …
    total_amount_micros: str | None = None  # … or a total over the campaign's run (one of the two)
    delivery_method: Literal["STANDARD", "ACCELERATED"] = "STANDARD"
    status: Literal["ENABLED", "REMOVED"] = "ENABLED"


class Campaign(_Model):
    resource_name: str
    id: str
    name: str
    status: CampaignStatus
    campaign_budget: str
    advertising_channel_type: str = "SEARCH"
    bidding_strategy_type: str = "MANUAL_CPC"


class AdGroup(_Model):
    resource_name: str
    id: str
    name: str
    campaign: str
    status: CampaignStatus = "ENABLED"
    type: str = "SEARCH_STANDARD"
    cpc_bid_micros: str


class AdTextAsset(_Model):
    text: str
    pinned_field: str | None = None


class ResponsiveSearchAd(_Model):
    headlines: list[AdTextAsset]
    descriptions: list[AdTextAsset]
    path1: str | None = None
    path2: str | None = None


class Ad(_Model):
    resource_name: str
    id: str
    type: str = "RESPONSIVE_SEARCH_AD"
    final_urls: list[str]
    responsive_search_ad: ResponsiveSearchAd


class AdGroupAd(_Model):
    resource_name: str
    ad_group: str
    status: CampaignStatus
    ad: Ad


class KeywordInfo(_Model):
    text: str
    match_type: MatchType


class AdGroupCriterion(_Model):
    resource_name: str
    ad_group: str
    criterion_id: str
    status: CampaignStatus = "ENABLED"
    type: str = "KEYWORD"
    keyword: KeywordInfo
    cpc_bid_micros: str | None = None
    negative: bool = False


class Stat(_Model):
    """One day of traffic for one (ad group, keyword, ad) combination."""

    impressions: int = 0
    clicks: int = 0
    cost_micros: int = 0
    conversions: int = 0
    conversions_value_micros: int = 0


class ChangeEvent(_Model):
    """One entry of the account's change history (served as the ``change_event`` resource)."""

    resource_name: str
    change_date_time: str  # "YYYY-MM-DD HH:MM:SS.ffffff"
    change_resource_type: Literal["CAMPAIGN_BUDGET", "CAMPAIGN", "AD_GROUP", "AD_GROUP_AD", "AD_GROUP_CRITERION"]
    change_resource_name: str
    client_type: Literal["GOOGLE_ADS_API", "GOOGLE_ADS_WEB_CLIENT"] = "GOOGLE_ADS_API"
    user_email: str = "adpilot@sandbox.invalid"
    resource_change_operation: Literal["CREATE", "UPDATE", "REMOVE"]
    changed_fields: str = ""  # FieldMask JSON: lowerCamelCase paths, comma-separated
    old_resource: dict[str, Any] | None = None  # {"campaign_budget": {...}} (snake_case, as the world)
    new_resource: dict[str, Any] | None = None
    campaign: str | None = None
    ad_group: str | None = None


class Customer(_Model):
    resource_name: str
    id: str
    descriptive_name: str
    currency_code: str
    time_zone: str
    campaign_budgets: dict[str, CampaignBudget] = Field(default_factory=dict)
    campaigns: dict[str, Campaign] = Field(default_factory=dict)
    ad_groups: dict[str, AdGroup] = Field(default_factory=dict)
    ad_group_ads: dict[str, AdGroupAd] = Field(default_factory=dict)
    ad_group_criteria: dict[str, AdGroupCriterion] = Field(default_factory=dict)
    # date (ISO) → "adgroup~criterion~ad" → that day's traffic
    stats: dict[str, dict[str, Stat]] = Field(default_factory=dict)
    # sequence number → change, for the change_event resource (changes made through the API)
    change_events: dict[str, ChangeEvent] = Field(default_factory=dict)


class GoogleAds(_Model):
    customers: dict[str, Customer] = Field(default_factory=dict)
    # The manager account above every customer (customer_client; the login-customer-id header).
    manager_id: str = "9990001111"
    manager_name: str = "Alpine Outfitters MCC"
    next_id: int = 90000


class Post(_Model):
    id: int
    type: PostType = "post"
    status: PostStatus
    title: str
    content: str
    excerpt: str = ""
    slug: str = ""
    meta_description: str = ""  # kept by the installed SEO plugin (Cms.seo_plugin) under its meta key
    json_ld: str = ""  # structured data (JSON text), where the companion plugin keeps it
    author: int = 1
    date: str
    modified: str
    trashed_from: PostStatus | None = None


class User(_Model):
    id: int
    username: str
    name: str
    app_password: str
    capabilities: list[str]


class Cms(_Model):
    posts: dict[str, Post] = Field(default_factory=dict)
    users: dict[str, User] = Field(default_factory=dict)
    next_id: int = 600
    # Which SEO plugin is "installed", so which meta keys are registered for the REST API (any other
    # key is dropped silently, as WordPress does): adpilot = the companion plugin
    # (integrations/wordpress/adpilot-seo); yoast / rankmath = that plugin with the companion
    # registering its key; none = no key registered at all.
    seo_plugin: Literal["adpilot", "yoast", "rankmath", "none"] = "adpilot"


class KeywordTruth(_Model):
    daily_searches: float = Field(..., description="mean queries per day that match")
    competition_micros: int = Field(..., description="bid at which share reaches 63 %")
    cpc_ratio: float = Field(..., description="actual CPC as a share of the bid")


class AdGroupTruth(_Model):
    conversion_rate: float
    order_value_micros: int


class CustomerTruth(_Model):
    ad_ctr: dict[str, float] = Field(default_factory=dict)
    ad_groups: dict[str, AdGroupTruth] = Field(default_factory=dict)
    keywords: dict[str, KeywordTruth] = Field(default_factory=dict)


class Sim(_Model):
    """Hidden truth and the sandbox clock; never served by the platform APIs."""

    seed: int
    today: dt.date
    customers: dict[str, CustomerTruth] = Field(default_factory=dict)


class World(_Model):
    google_ads: GoogleAds = Field(default_factory=GoogleAds)
    cms: Cms = Field(default_factory=Cms)
    sim: Sim

    @classmethod
    def demo(cls, seed: int = 7, *, history_days: int = 28) -> World:
        """The seeded demo world with the fixed anchors of SCENARIOS.md §3."""
        from adpilot.tools.sandbox.demo import build_demo_world

        return build_demo_world(seed, history_days=history_days)

    def dump(self) -> dict[str, Any]:
        """The JSON form served by ``GET /_sandbox/state`` and addressed by scenario paths."""
        return self.model_dump(mode="json")

    def customer(self, customer_id: str) -> Customer | None:
        return self.google_ads.customers.get(customer_id)

    def clone(self) -> World:
        return copy.deepcopy(self)


def get_path(data: Any, path: str) -> Any:
    """Follow a dotted path ('google_ads.customers.1112223333.campaigns.111.status').

    Segments are matched as dict keys first; on lists a segment is an index. Raises KeyError
    with the first missing segment.
    """
    node = data
    if path == "":
        return node
    for segment in path.split("."):
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            raise KeyError(segment)
    return node


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path inside a world dump; intermediate objects must already exist."""
    parts = path.split(".")
    parent = get_path(data, ".".join(parts[:-1])) if len(parts) > 1 else data
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        parent[int(last)] = value
    else:
        raise KeyError(last)


def patched(world: World, patch: dict[str, Any]) -> World:
    """A copy of ``world`` with dotted-path patches applied and the result re-validated."""
    data = world.dump()
    for path, value in patch.items():
        set_path(data, path, value)
    return World.model_validate(data)

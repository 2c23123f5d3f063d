"""The seeded demo world: Alpine Outfitters DE/AT and their WordPress site.

The ids and values of SCENARIOS.md §3 are fixed; the hidden performance truth and the
history are drawn from the seed. Extra keywords give every ad group traffic; one ad carries a
deliberate compliance problem and the CMS has real SEO problems, so that every agent role
finds work in the demo.
"""

from __future__ import annotations

import datetime as dt
import random

from adpilot.money import units_to_micros
from adpilot.tools.sandbox.simulate import advance_day
from adpilot.tools.sandbox.world import (
    Ad,
    AdGroup,
    AdGroupAd,
    AdGroupCriterion,
    AdGroupTruth,
    AdTextAsset,
    Campaign,
    CampaignBudget,
    Cms,
    Customer,
    CustomerTruth,
    GoogleAds,
    KeywordInfo,
    KeywordTruth,
    Post,
    ResponsiveSearchAd,
    Sim,
    User,
    World,
)

DEMO_TODAY = dt.date(2026, 11, 1)
SANDBOX_USER = "adpilot"
SANDBOX_APP_PASSWORD = "sbox abcd efgh ijkl mnop qrst"
SANDBOX_DEVELOPER_TOKEN = "sandbox-developer-token"
SANDBOX_ACCESS_TOKEN = "sandbox-access-token"
SANDBOX_CLIENT_ID = "sandbox-client.apps.googleusercontent.com"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
SANDBOX_REFRESH_TOKEN = "1//sandbox-refresh-token"


def _eur(amount: str) -> str:
    return str(units_to_micros(amount))


class _CustomerBuilder:
    """Adds entities with the resource names the Google Ads API would give them."""

    def __init__(self, customer_id: str, name: str, time_zone: str) -> None:
        self.id = customer_id
        self.customer = Customer(
            resource_name=f"customers/{customer_id}",
            id=customer_id,
            descriptive_name=name,
            currency_code="EUR",
            time_zone=time_zone,
        )

    def _rn(self, collection: str, key: str) -> str:
        return f"customers/{self.id}/{collection}/{key}"

    def budget(self, budget_id: str, name: str, eur: str) -> str:
        rn = self._rn("campaignBudgets", budget_id)
        self.customer.campaign_budgets[budget_id] = CampaignBudget(
            resource_name=rn, id=budget_id, name=name, amount_micros=_eur(eur)
        )
        return rn

    def campaign(self, campaign_id: str, name: str, budget_rn: str) -> str:
        rn = self._rn("campaigns", campaign_id)
        self.customer.campaigns[campaign_id] = Campaign(
            resource_name=rn, id=campaign_id, name=name, status="ENABLED", campaign_budget=budget_rn
        )
        return rn

    def ad_group(self, ad_group_id: str, name: str, campaign_rn: str, default_bid: str) -> str:
        rn = self._rn("adGroups", ad_group_id)
        self.customer.ad_groups[ad_group_id] = AdGroup(
            resource_name=rn,
            id=ad_group_id,
            name=name,
            campaign=campaign_rn,
            cpc_bid_micros=_eur(default_bid),
        )
        return rn

    def ad(self, ad_group_id: str, ad_id: str, headlines: list[str], descriptions: list[str], url: str) -> None:
        key = f"{ad_group_id}~{ad_id}"
        self.customer.ad_group_ads[key] = AdGroupAd(
            resource_name=self._rn("adGroupAds", key),
            ad_group=self._rn("adGroups", ad_group_id),
            status="ENABLED",
            ad=Ad(
                resource_name=self._rn("ads", ad_id),
                id=ad_id,
                final_urls=[url],
                responsive_search_ad=ResponsiveSearchAd(
                    headlines=[AdTextAsset(text=t) for t in headlines],
                    descriptions=[AdTextAsset(text=t) for t in descriptions],
                ),
            ),
        )

    def keyword(self, ad_group_id: str, criterion_id: str, text: str, match: str, bid: str) -> None:
        key = f"{ad_group_id}~{criterion_id}"
        self.customer.ad_group_criteria[key] = AdGroupCriterion(
            resource_name=self._rn("adGroupCriteria", key),
            ad_group=self._rn("adGroups", ad_group_id),
            criterion_id=criterion_id,
            keyword=KeywordInfo(text=text, match_type=match),  # type: ignore[arg-type]
            cpc_bid_micros=_eur(bid),
        )


def _alpine_de() -> Customer:
    b = _CustomerBuilder("1112223333", "Alpine Outfitters DE", "Europe/Berlin")
    boots = b.campaign("111", "Boots - Search", b.budget("9001", "Boots - Search Budget", "50"))
    jackets = b.campaign("112", "Jackets - Search", b.budget("9002", "Jackets - Search Budget", "30"))
    brand = b.campaign("113", "Brand - Search", b.budget("9003", "Brand - Search Budget", "20"))
    b.ad_group("2101", "Hiking Boots", boots, "1.00")
    b.ad_group("2102", "Trail Runners", boots, "0.80")
    b.ad_group("2201", "Rain Jackets", jackets, "1.00")
    b.ad_group("2301", "Brand", brand, "0.40")
    shop = "https://www.alpine-outfitters.example/de"
    b.ad(
        "2101",
        "31001",
        ["Wasserdichte Wanderschuhe", "Alpine Outfitters Shop", "Wanderschuhe mit GORE-TEX"],
        [
            "Wanderschuhe mit wasserdichter Membran für nasse Trails. Jetzt Größe finden.",
            "Über 200 Modelle von Lowa, Meindl und Hanwag. Versand in 1–2 Werktagen.",
        ],
        f"{shop}/wanderschuhe",
    )
    b.ad(
        "2101",
        "31002",
        ["Wanderschuhe für jedes Terrain", "Trekkingschuhe ab 89 €", "Leder oder Synthetik"],
        [
            "Vom Hüttenweg bis zum Klettersteig: finden Sie den passenden Wanderschuh.",
            "30 Tage Rückgaberecht und persönliche Beratung im Alpine Outfitters Shop.",
        ],
        f"{shop}/wanderschuhe",
    )
    b.ad(
        "2101",
        "31003",
        ["Hiking Boots im Sale", "Bergschuhe für Damen & Herren", "Jetzt Wanderschuhe sichern"],
        [
            "Reduzierte Wanderschuhe bekannter Marken. Nur solange der Vorrat reicht.",
            "Bequem online bestellen und in 1–2 Werktagen loswandern.",
        ],
        f"{shop}/sale/wanderschuhe",
    )
    b.ad(
        "2102",
        "31004",
        ["Trailrunning Schuhe", "Leicht, schnell, griffig", "Trail Runner für jedes Ziel"],
        [
            "Trailrunning-Schuhe mit Grip für Wurzeln, Fels und Matsch. Jetzt entdecken.",
            "Dämpfung oder Bodengefühl: unsere Berater helfen bei der Auswahl.",
        ],
        f"{shop}/trailrunning",
    )
    b.ad(
        "2201",
        "31005",
        ["Regenjacken für Damen", "Wasserdicht & atmungsaktiv", "Jetzt Regenjacke finden"],
        [
            "Leichte Regenjacken für Wandern und Alltag. Wassersäule ab 20.000 mm.",
            "Damen- und Herrenmodelle in vielen Farben. Versand in 1–2 Werktagen.",
        ],
        f"{shop}/regenjacken",
    )
    b.ad(
        "2201",
        "31006",
        ["Regenjacken im Angebot", "Kostenloser Versand", "Regenjacken für Herren"],
        [
            "Regenjacken für jedes Wetter, vom Stadtbummel bis zur Hochtour.",
            "Atmungsaktive Jacken mit verschweißten Nähten. Jetzt im Shop entdecken.",
        ],
        f"{shop}/regenjacken",
    )
    b.ad(
        "2301",
        "31007",
        ["Alpine Outfitters", "Offizieller Online-Shop", "Outdoor-Ausrüstung seit 1987"],
        [
            "Wanderschuhe, Regenjacken und Zubehör im offiziellen Alpine Outfitters Shop.",
            "Beratung von Bergsportlern, Versand in 1–2 Werktagen.",
        ],
        shop,
    )
    b.keyword("2101", "41001", "wanderschuhe wasserdicht", "PHRASE", "1.20")
    b.keyword("2101", "41002", "hiking boots", "BROAD", "0.90")
    b.keyword("2201", "41003", "regenjacke damen", "PHRASE", "1.00")
    b.keyword("2102", "41004", "trailrunning schuhe", "PHRASE", "0.80")
    b.keyword("2201", "41006", "regenjacke herren", "PHRASE", "0.95")
    b.keyword("2301", "41005", "alpine outfitters", "EXACT", "0.40")
    return b.customer


def _alpine_at() -> Customer:
    b = _CustomerBuilder("4445556666", "Alpine Outfitters AT", "Europe/Vienna")
    boots = b.campaign("211", "Boots - Search AT", b.budget("9101", "Boots - Search AT Budget", "25"))
    b.ad_group("2801", "Wanderschuhe AT", boots, "0.90")
    shop = "https://www.alpine-outfitters.example/at"
    b.ad(
        "2801",
        "38001",
        ["Wanderschuhe in Österreich", "Alpine Outfitters Shop", "Bergschuhe für jede Tour"],
        [
            "Wanderschuhe für Alpenvereinswege und Hüttentouren. Jetzt Größe finden.",
            "Versand innerhalb Österreichs in 2–3 Werktagen.",
        ],
        f"{shop}/wanderschuhe",
    )
    b.ad(
        "2801",
        "38002",
        ["Wasserdichte Bergschuhe", "Leder oder Synthetik", "Jetzt Wanderschuhe kaufen"],
        [
            "Wasserdichte Bergschuhe von Lowa, Meindl und Hanwag im Alpine Outfitters Shop.",
            "30 Tage Rückgaberecht, persönliche Beratung per Chat.",
        ],
        f"{shop}/wanderschuhe",
    )
    b.keyword("2801", "48001", "wanderschuhe", "BROAD", "1.10")
    b.keyword("2801", "48002", "bergschuhe", "PHRASE", "0.85")
    return b.customer


def _truth(rng: random.Random, customer: Customer) -> CustomerTruth:
    truth = CustomerTruth()
    for ad_group in sorted(customer.ad_groups.values(), key=lambda g: int(g.id)):
        brand = ad_group.name == "Brand"
        truth.ad_groups[ad_group.id] = AdGroupTruth(
            conversion_rate=round(rng.uniform(0.08, 0.12) if brand else rng.uniform(0.02, 0.06), 4),
            order_value_micros=units_to_micros(rng.randrange(80, 161)),
        )
        base_ctr = rng.uniform(0.10, 0.16) if brand else rng.uniform(0.035, 0.07)
        for key in sorted(customer.ad_group_ads):
            if key.split("~")[0] == ad_group.id:
                truth.ad_ctr[key] = round(base_ctr * rng.uniform(0.45, 1.5), 4)
    for key, criterion in sorted(customer.ad_group_criteria.items()):
        brand = criterion.keyword.match_type == "EXACT" and "outfitters" in criterion.keyword.text
        truth.keywords[key] = KeywordTruth(
            daily_searches=round(rng.uniform(120, 200) if brand else rng.uniform(350, 1400), 1),
            competition_micros=units_to_micros(f"{rng.uniform(0.2, 0.4) if brand else rng.uniform(0.6, 1.4):.2f}"),
            cpc_ratio=round(rng.uniform(0.65, 0.9), 3),
        )
    return truth


_POSTS = [
    (
        501,
        "post",
        "publish",
        "Wasserdichte Wanderschuhe: Kaufberatung",
        "wasserdichte-wanderschuhe-kaufberatung",
        "<h1>Wasserdichte Wanderschuhe: Kaufberatung</h1>\n"
        "<p>Nasse Füße verderben jede Tour. Wir erklären, worauf es bei wasserdichten "
        "Wanderschuhen ankommt: Membran, Obermaterial, Sohle und Passform.</p>\n"
        "<h2>Membran oder imprägniertes Leder?</h2>\n"
        "<p>Eine Membran hält Wasser zuverlässig draußen und lässt Schweiß nach außen. Gewachstes "
        "Leder ist robuster, braucht aber Pflege. Für Regen im Herbst empfehlen wir eine Membran; "
        'passend dazu finden Sie in unserer <a href="/regenjacken-damen-herren/">Übersicht der '
        "Regenjacken</a> die richtige Jacke.</p>\n"
        "<h2>Die richtige Größe</h2>\n"
        "<p>Probieren Sie Wanderschuhe am Nachmittag und mit Wandersocken an. Zwischen Zehen und "
        "Schuhspitze sollte ein Daumen breit Platz bleiben. Mehr dazu im "
        '<a href="/groessenberatung-alt/">Größenratgeber</a>.</p>',
        "Worauf es bei wasserdichten Wanderschuhen ankommt.",
        "",
    ),
    (
        502,
        "page",
        "publish",
        "Regenjacken für Damen und Herren – Die große Übersicht für jedes Wetter",
        "regenjacken-damen-herren",
        "<h1>Regenjacken für Damen und Herren</h1>\n"
        "<p>Ob Stadtbummel oder Hochtour: eine gute Regenjacke ist wasserdicht, atmungsaktiv und "
        "leicht genug für den Rucksack. Hier finden Sie alle Modelle im Überblick.</p>\n"
        "<h2>Wassersäule und Atmungsaktivität</h2>\n"
        "<p>Ab einer Wassersäule von 20.000 mm hält eine Jacke auch Dauerregen stand.</p>",
        "",
        "Regenjacken für Damen und Herren: wasserdicht, atmungsaktiv und leicht. Alle Modelle im Überblick.",
    ),
    (
        503,
        "post",
        "draft",
        "Wintersale 2026",
        "",
        "<p>Unser Wintersale startet bald: reduzierte Wanderschuhe, Regenjacken und Zubehör.</p>",
        "",
        "",
    ),
    (
        504,
        "post",
        "publish",
        "Wanderschuhe richtig pflegen",
        "wanderschuhe-richtig-pflegen",
        "<h1>Wanderschuhe richtig pflegen</h1>\n"
        "<p>Mit der richtigen Pflege halten Wanderschuhe viele Jahre. Nach jeder Tour Schmutz "
        "abbürsten, feucht an der Luft trocknen lassen und Lederschuhe regelmäßig wachsen.</p>\n"
        "<p>Wer neue Schuhe sucht, findet Hilfe in unserer "
        '<a href="/wasserdichte-wanderschuhe-kaufberatung/">Kaufberatung</a>.</p>',
        "Pflegetipps für Leder- und Synthetikschuhe.",
        "Wanderschuhe richtig pflegen: reinigen, trocknen und wachsen. So halten Leder- und "
        "Synthetikschuhe viele Touren lang.",
    ),
]


def _cms(today: dt.date) -> Cms:
    cms = Cms()
    stamp = f"{(today - dt.timedelta(days=40)).isoformat()}T09:00:00"
    for post_id, kind, status, title, slug, content, excerpt, meta in _POSTS:
        cms.posts[str(post_id)] = Post(
            id=post_id,
            type=kind,  # type: ignore[arg-type]
            status=status,  # type: ignore[arg-type]
            title=title,
            content=content,
            excerpt=excerpt,
            slug=slug,
            meta_description=meta,
            date=stamp,
            modified=stamp,
        )
    cms.users["1"] = User(
        id=1,
        username=SANDBOX_USER,
        name="adpilot automation",
        app_password=SANDBOX_APP_PASSWORD,
        capabilities=["edit_posts", "publish_posts", "edit_pages", "publish_pages", "delete_posts"],
    )
    return cms


def build_demo_world(seed: int = 7, *, history_days: int = 28) -> World:
    """Anchors + hidden truth from ``seed`` + ``history_days`` simulated days before 2026-11-01."""
    customers = {c.id: c for c in (_alpine_de(), _alpine_at())}
    return simulated_world(customers, random.Random(seed), seed=seed, history_days=history_days)


def simulated_world(customers: dict[str, Customer], rng: random.Random, *, seed: int, history_days: int) -> World:
    """The demo shop's CMS plus ``customers``, with hidden truth drawn from ``rng`` and
    ``history_days`` simulated days that end on the eve of 2026-11-01."""
    world = World(
        google_ads=GoogleAds(customers=customers),
        cms=_cms(DEMO_TODAY),
        sim=Sim(seed=seed, today=DEMO_TODAY - dt.timedelta(days=history_days)),
    )
    for customer_id, customer in customers.items():
        world.sim.customers[customer_id] = _truth(rng, customer)
    advance_day(world, history_days)
    return world

"""The product feed (issue 15, item 3): JSON, CSV and Merchant Center XML, refused with file, line or
row and field when wrong; the demo feed agrees with the knowledge base."""

import datetime
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpilot.errors import SourceError
from adpilot.feed import (
    Feed,
    FeedError,
    MarketFacts,
    PricePoint,
    Product,
    demo_feed_path,
    feed_to_csv,
    feed_to_json,
    load_feed,
    parse_csv_feed,
    parse_json_feed,
    parse_merchant_xml,
)

KB = Path(__file__).resolve().parents[1] / "memory" / "knowledge" / "demo"

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=12)
clean = words.map(str.strip).filter(lambda w: w and "|" not in w and ";" not in w and "=" not in w)
cents = st.integers(min_value=1, max_value=10**7).map(lambda c: c * 10_000)


@st.composite
def facts(draw):
    price = draw(cents)
    sale = draw(
        st.one_of(st.none(), st.integers(min_value=10_000, max_value=price - 1) if price > 10_000 else st.none())
    )
    if sale is not None:
        sale -= sale % 10_000
        sale = sale or None
    days = sorted(draw(st.sets(st.dates(datetime.date(2020, 1, 1), datetime.date(2030, 1, 1)), max_size=4)))
    history = tuple(PricePoint(since=d, micros=draw(cents)) for d in days)
    low = draw(st.integers(0, 10))
    return MarketFacts(
        price_micros=price,
        sale_price_micros=sale,
        price_history=history,
        availability=draw(st.sampled_from(["in_stock", "out_of_stock", "preorder", "backorder"])),
        shipping_days=(low, low + draw(st.integers(0, 10))),
        return_days=draw(st.one_of(st.none(), st.integers(0, 365))),
    )


@st.composite
def feeds(draw):
    ids = draw(st.lists(st.from_regex(r"[A-Z0-9-]{1,12}", fullmatch=True), unique=True, max_size=4))
    products = []
    for pid in ids:
        markets = draw(st.dictionaries(st.sampled_from(["DE", "AT", "CH"]), facts(), min_size=1, max_size=3))
        products.append(
            Product(
                id=pid,
                title=draw(clean),
                category=draw(clean),
                aliases=tuple(draw(st.lists(clean, max_size=3))),
                url="https://shop.example/" + pid,
                markets=markets,
                selling_points=tuple(draw(st.lists(clean, max_size=3))),
            )
        )
    return Feed(products=tuple(products))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feeds())
def test_json_and_csv_round_trip(feed):
    assert parse_json_feed(feed_to_json(feed), "f.json") == feed
    assert parse_csv_feed(feed_to_csv(feed), "f.csv") == feed


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=300))
def test_random_bytes_give_a_clear_error(raw, tmp_path_factory):
    directory = tmp_path_factory.mktemp("feeds")
    for suffix in (".json", ".csv", ".xml"):
        path = directory / f"feed{suffix}"
        path.write_bytes(raw)
        try:
            load_feed(path)
        except SourceError as exc:
            assert str(exc).startswith(str(path)), exc  # noqa: PT017
        # anything else (a traceback) fails the test


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_random_text_gives_a_clear_error(text):
    for parse in (parse_json_feed, parse_csv_feed, parse_merchant_xml):
        try:
            parse(text, "f")
        except FeedError as exc:
            assert str(exc).startswith("f"), exc  # noqa: PT017


def test_the_demo_feed_agrees_with_the_knowledge_base():
    feed = load_feed(demo_feed_path())
    assert feed.markets == ["AT", "DE"]
    gtx = next(p for p in feed.products if p.title == "Alpine Trek GTX")
    assert "Preis: 189,95 €" in (KB / "produkte-wanderschuhe.md").read_text()
    assert gtx.markets["DE"].price_micros == gtx.markets["AT"].price_micros == 189_950_000
    # Germany ships in 1-2 working days (the brand's copy), Austria in three to five (service-en.md).
    assert "three to five working days" in (KB / "service-en.md").read_text()
    assert feed.uniform("DE", "shipping_days") == (1, 2) and feed.uniform("AT", "shipping_days") == (3, 5)
    assert "innerhalb von 30 Tagen" in (KB / "rechtliche-hinweise.md").read_text()
    assert feed.uniform("DE", "return_days") == feed.uniform("AT", "return_days") == 30
    titles = {p.title for p in feed.products}
    for name in ("Alpine Trek GTX", "Alpine Trek Leather", "Alpine Trail Runner", "Storm Shell", "Summit Down"):
        assert name in titles
    lowest_boot = min(
        f.current_micros for p in feed.products if p.category == "Wanderschuhe" for f in p.markets.values()
    )
    assert lowest_boot == 189_950_000  # the GTX is the cheapest boot: "ab 189,95 €"


def test_csv_errors_name_the_row_and_the_field():
    lines = feed_to_csv(load_feed(demo_feed_path())).splitlines()
    bad = "\n".join([lines[0], lines[1], lines[2].replace("189.95 EUR", "abc", 1)]) + "\n"
    with pytest.raises(FeedError, match=r"^f\.csv: row 3: price: not an amount: 'abc'"):
        parse_csv_feed(bad, "f.csv")
    with pytest.raises(FeedError, match=r"row 2: shipping_min_days: expected a whole number"):
        parse_csv_feed("\n".join([lines[0], lines[1].replace(",1,2,", ",x,2,", 1)]) + "\n", "f.csv")
    with pytest.raises(FeedError, match=r"line 1: missing columns: .*price"):
        parse_csv_feed("id,title\nA,B\n", "f.csv")
    with pytest.raises(FeedError, match=r"row 3: market: AO-TREK-GTX already has a row for DE"):
        parse_csv_feed("\n".join([lines[0], lines[1], lines[1]]) + "\n", "f.csv")
    changed = lines[2].replace("Alpine Trek GTX", "Other", 1)
    with pytest.raises(FeedError, match=r"row 3: title: 'Other' differs from row 2"):
        parse_csv_feed("\n".join([lines[0], lines[1], changed]) + "\n", "f.csv")


def test_json_errors_name_the_line_and_the_field():
    text = '{"products": [\n {"id": "x", "title": "t", "category": "c", "url": "https://a",\n "markets": {"DE": {"price": 12.5, "shipping_days": [1, 2]}}}]}'  # noqa: E501
    with pytest.raises(FeedError, match=r"line 3: products\.0\.markets\.DE: .*as a string"):
        parse_json_feed(text, "f.json")  # a float amount is refused
    with pytest.raises(FeedError, match=r"sale_price must be below price"):
        parse_json_feed(text.replace("12.5", '"12.50 EUR", "sale_price": "13 EUR"'), "f.json")
    with pytest.raises(FeedError, match=r"^f\.json:2: invalid YAML"):
        parse_json_feed("[1,\n", "f.json")


XML = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">
<channel>
<title>Alpine Outfitters AT</title>
<item>
  <g:id>AO-TREK-GTX</g:id>
  <g:title>Alpine Trek GTX</g:title>
  <g:link>https://www.alpine-outfitters.example/at/alpine-trek-gtx</g:link>
  <g:price>189.95 EUR</g:price>
  <g:sale_price>169.95 EUR</g:sale_price>
  <g:availability>in stock</g:availability>
  <g:product_type>Schuhe &gt; Wanderschuhe</g:product_type>
  <g:custom_label_0>Trekkingschuhe|Hiking Boots</g:custom_label_0>
  <g:product_highlight>GORE-TEX-Membran</g:product_highlight>
  <g:product_highlight>Vibram-Sohle</g:product_highlight>
  <g:shipping>
    <g:country>AT</g:country>
    <g:min_handling_time>1</g:min_handling_time><g:max_handling_time>1</g:max_handling_time>
    <g:min_transit_time>2</g:min_transit_time><g:max_transit_time>4</g:max_transit_time>
  </g:shipping>
</item>
</channel>
</rss>
"""


def test_merchant_center_xml():
    feed = parse_merchant_xml(XML, "at.xml", return_days=30)
    (product,) = feed.products
    assert product.category == "Wanderschuhe" and product.aliases == ("Trekkingschuhe", "Hiking Boots")
    assert product.selling_points == ("GORE-TEX-Membran", "Vibram-Sohle")
    facts = product.markets["AT"]
    assert (facts.price_micros, facts.sale_price_micros, facts.current_micros) == (
        189_950_000,
        169_950_000,
        169_950_000,
    )
    assert facts.shipping_days == (3, 5) and facts.return_days == 30 and facts.availability == "in_stock"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda x: x.replace("189.95 EUR", "189,95,0"), r"line 5: price: not an amount"),
        (lambda x: x.replace("<g:title>Alpine Trek GTX</g:title>", ""), r"line 5: g:title is missing"),
        (lambda x: x.replace("<g:country>AT</g:country>", ""), r"line 5: g:shipping/g:country"),
        (lambda x: x.replace("</item>", ""), r"line \d+: not well-formed XML"),
        (lambda x: x.replace("<rss", '<!DOCTYPE rss [<!ENTITY boom "boom">]>\n<rss'), r"line 2: a DTD or entity"),
        (
            lambda x: x.replace("<rss", '<!DOCTYPE rss SYSTEM "http://evil.example/x.dtd">\n<rss'),
            r"line 2: a DTD or entity",
        ),
    ],
)
def test_merchant_center_xml_errors_name_the_line_and_the_field(change, message):
    with pytest.raises(FeedError, match=r"^at\.xml: " + message):
        parse_merchant_xml(change(XML), "at.xml")


def test_the_lowest_price_of_the_30_days_before_a_reduction():
    def history(*points):
        return tuple(PricePoint(since=datetime.date.fromisoformat(d), micros=m) for d, m in points)

    facts = MarketFacts(
        price_micros=219_950_000,
        sale_price_micros=183_950_000,
        price_history=history(
            ("2026-03-01", 229_950_000),
            ("2026-11-10", 209_950_000),
            ("2026-11-15", 219_950_000),
            ("2026-11-25", 183_950_000),
        ),
        shipping_days=(1, 2),
    )
    assert facts.lowest_before_reduction(datetime.date(2026, 12, 2)) == 209_950_000
    # A point older than the 30 days counts only as the price in force when the window opened.
    older = facts.model_copy(
        update={
            "price_history": history(
                ("2026-03-01", 99_000_000), ("2026-09-01", 229_950_000), ("2026-11-25", 183_950_000)
            )
        }
    )
    assert older.lowest_before_reduction(datetime.date(2026, 12, 2)) == 229_950_000
    assert facts.model_copy(update={"price_history": ()}).lowest_before_reduction(datetime.date(2026, 12, 2)) is None


def test_no_float_ever_holds_an_amount():
    source = (Path(__file__).resolve().parents[1] / "adpilot" / "feed.py").read_text()
    assert not re.search(r"\bfloat\(", source)


def test_the_configured_feed_path_is_relative_to_the_config_file_and_defaults_to_the_demo_on_the_sandbox(tmp_path):
    from adpilot.compose.deployment import claim_checker
    from adpilot.config import Config, load_config

    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "shop.csv").write_text(feed_to_csv(load_feed(demo_feed_path())))
    file = tmp_path / "config.yaml"
    file.write_text(
        f"state_dir: {tmp_path / 'state'}\nfeed:\n  path: feeds/shop.csv\n  markets: {{'1112223333': AT}}\n"
    )
    config = load_config(file, environ={})
    assert config.feed.path == tmp_path / "feeds" / "shop.csv"
    checker = claim_checker(config)
    assert checker is not None and checker.markets == {"1112223333": "AT"}
    assert checker.feed == load_feed(demo_feed_path())
    assert claim_checker(Config()) is not None  # the sandbox: the demo feed
    live = Config.model_validate(
        {
            "google_ads": {"base_url": "https://googleads.googleapis.com"},
            "wordpress": {"base_url": "https://shop.example"},
        }
    )
    assert claim_checker(live) is None  # no feed configured: no claim checks

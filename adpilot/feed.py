"""The product feed: the facts ad copy and pages may state, per market.

A feed lists products (id, title, category, other names for it, landing URL, selling points) and,
per market (``DE``, ``AT``, …), what the shop sells it for there: price, sale price, the price
history (for the lowest price of the last 30 days that German price-indication law asks a
reduction to be computed against, PAngV §11), availability, shipping time in working days and
return days. The compliance gate checks price, discount, shipping and return claims against it.

Three formats, each refused with the file, the line (row) and the field when it is wrong:

* **JSON** (or YAML; read with the safe loader :func:`adpilot.sources.parse_yaml`)::

    {"products": [{"id": "ATG-1", "title": "Alpine Trek GTX", "category": "Wanderschuhe",
      "aliases": ["Trekkingschuhe"], "url": "https://…", "selling_points": ["GORE-TEX"],
      "markets": {"DE": {"price": "189.95 EUR", "sale_price": null,
                         "price_history": [["2026-09-01", "189.95"]], "availability": "in_stock",
                         "shipping_days": [1, 2], "return_days": 30}}}]}

* **CSV**, one row per product and market, columns :data:`CSV_COLUMNS` (``aliases`` and
  ``selling_points`` separated by ``|``, ``price_history`` as ``2026-09-01=189.95;2026-10-01=169.95``);
* **Google Merchant Center XML** (RSS 2.0, namespace ``g:``): ``g:id``, ``g:title``, ``g:link``,
  ``g:price`` ("189.95 EUR"), ``g:sale_price``, ``g:availability``, ``g:product_type`` (its last
  segment is the category), ``g:product_highlight`` (selling points), ``g:custom_label_0``
  (aliases, ``|``-separated), ``g:shipping`` with ``g:country`` and ``g:min/max_handling_time``
  + ``g:min/max_transit_time`` (shipping days are handling plus transit). Merchant Center keeps
  return policies outside the feed: ``g:return_days`` (an adpilot extension) or the loader's
  ``return_days`` gives them. Documents with a DTD or entity declarations are refused.

Money is integer micros (:mod:`adpilot.money`); amounts are written as decimal strings, never as
floats.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal
from xml.parsers import expat

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from adpilot.errors import MoneyError, SourceError
from adpilot.money import micros_to_units, parse_amount
from adpilot.sources import Locator, decode_text, parse_yaml, read_file, validation_problems

MAX_FEED_BYTES = 20_000_000
Availability = Literal["in_stock", "out_of_stock", "preorder", "backorder"]
CSV_COLUMNS = (
    "id",
    "title",
    "category",
    "aliases",
    "url",
    "selling_points",
    "market",
    "price",
    "sale_price",
    "price_history",
    "availability",
    "shipping_min_days",
    "shipping_max_days",
    "return_days",
)
GOOGLE_NS = "http://base.google.com/ns/1.0"
_MARKET = re.compile(r"^[A-Z]{2}$")


class FeedError(SourceError):
    """A feed file is malformed; names the file, the line (or row) and the field."""


def _money(value: object, field: str, currency: str | None = None) -> tuple[int, str]:
    """An amount written as text ("189.95 EUR", "189,95 €", "189.95") as (micros, currency)."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f'{field}: write the amount as a string such as "189.95 EUR", not {value!r}')
    try:
        micros, found = parse_amount(value, default_currency=currency or "EUR")
    except MoneyError as exc:
        raise ValueError(f"{field}: {exc}") from exc
    if currency and found != currency:
        raise ValueError(f"{field}: {value!r} is in {found}, the market's price is in {currency}")
    if micros <= 0:
        raise ValueError(f"{field}: {value!r} is not a positive amount")
    return micros, found


class PricePoint(BaseModel):
    """The price charged from ``since`` on (until the next point)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    since: dt.date
    micros: int = Field(..., gt=0)


class MarketFacts(BaseModel):
    """What a product costs and how it ships in one market."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    price_micros: int = Field(..., gt=0)
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    sale_price_micros: int | None = Field(None, gt=0)
    price_history: tuple[PricePoint, ...] = ()
    availability: Availability = "in_stock"
    shipping_days: tuple[int, int]
    return_days: int | None = Field(None, ge=0, le=3650)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        """The file form: ``price``/``sale_price`` as text, ``price_history`` as [date, amount]."""
        if not isinstance(data, dict) or "price" not in data:
            return data
        data = dict(data)
        price, currency = _money(data.pop("price"), "price", data.get("currency"))
        data.setdefault("currency", currency)
        data["price_micros"] = price
        sale = data.pop("sale_price", None)
        if sale not in (None, ""):
            data["sale_price_micros"] = _money(sale, "sale_price", currency)[0]
        history = []
        for index, point in enumerate(data.get("price_history") or []):
            if isinstance(point, dict):
                history.append(point)
                continue
            if not isinstance(point, list | tuple) or len(point) != 2:
                raise ValueError(f"price_history[{index}]: expected [date, amount], got {point!r}")
            day, amount = point
            micros = units_to_micros_text(amount, f"price_history[{index}]", currency)
            history.append({"since": day, "micros": micros})
        data["price_history"] = history
        return data

    @field_validator("shipping_days")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        low, high = value
        if not 0 <= low <= high <= 365:
            raise ValueError(f"expected [min, max] working days with 0 <= min <= max <= 365, got {list(value)}")
        return value

    @field_validator("price_history")
    @classmethod
    def _sorted(cls, value: tuple[PricePoint, ...]) -> tuple[PricePoint, ...]:
        days = [p.since for p in value]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("price_history: dates must be unique and in ascending order")
        return value

    @model_validator(mode="after")
    def _sale_below_price(self) -> MarketFacts:
        if self.sale_price_micros is not None and self.sale_price_micros >= self.price_micros:
            raise ValueError("sale_price must be below price")
        return self

    @property
    def current_micros(self) -> int:
        """What a customer pays today: the sale price when there is one."""
        return self.sale_price_micros if self.sale_price_micros is not None else self.price_micros

    def lowest_before_reduction(self, today: dt.date, days: int = 30) -> int | None:
        """The lowest price of the ``days`` days before the current reduction began (PAngV §11),
        from the price history; None when there is no reduction or the history does not cover it.
        The reduction began at the first point of the history's final run at the sale price."""
        if self.sale_price_micros is None:
            return None
        points = [p for p in self.price_history if p.since <= today]
        if not points or points[-1].micros != self.sale_price_micros:
            return None
        index = len(points) - 1
        while index > 0 and points[index - 1].micros == self.sale_price_micros:
            index -= 1
        earlier = points[:index]
        window = points[index].since - dt.timedelta(days=days)
        in_force = [p for p in earlier if p.since <= window][-1:]  # the price at the window's start
        inside = [p for p in earlier if p.since > window]
        prices = [p.micros for p in (*in_force, *inside)]
        return min(prices) if prices else None

    def file_form(self) -> dict[str, Any]:
        return {
            "price": f"{micros_to_units(self.price_micros)} {self.currency}",
            "sale_price": None
            if self.sale_price_micros is None
            else f"{micros_to_units(self.sale_price_micros)} {self.currency}",
            "price_history": [[p.since.isoformat(), micros_to_units(p.micros)] for p in self.price_history],
            "availability": self.availability,
            "shipping_days": list(self.shipping_days),
            "return_days": self.return_days,
        }


def units_to_micros_text(amount: object, field: str, currency: str) -> int:
    return _money(amount, field, currency)[0]


class Product(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(..., min_length=1, max_length=50)
    title: str = Field(..., min_length=1, max_length=150)
    category: str = Field(..., min_length=1, max_length=100)
    aliases: tuple[str, ...] = ()  # other names copy uses for the product or its category
    url: str = Field(..., pattern=r"^https?://\S+$")
    markets: dict[str, MarketFacts] = Field(..., min_length=1)
    selling_points: tuple[str, ...] = ()

    @field_validator("markets")
    @classmethod
    def _codes(cls, value: dict[str, MarketFacts]) -> dict[str, MarketFacts]:
        for code in value:
            if not _MARKET.match(code):
                raise ValueError(f"{code!r} is not a market code (two capital letters, e.g. DE, AT)")
        return value

    def file_form(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "aliases": list(self.aliases),
            "url": self.url,
            "selling_points": list(self.selling_points),
            "markets": {code: facts.file_form() for code, facts in self.markets.items()},
        }


class Feed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    products: tuple[Product, ...] = ()

    @field_validator("products")
    @classmethod
    def _unique(cls, value: tuple[Product, ...]) -> tuple[Product, ...]:
        seen: set[str] = set()
        for product in value:
            if product.id in seen:
                raise ValueError(f"product id {product.id!r} appears twice")
            seen.add(product.id)
        return value

    @property
    def markets(self) -> list[str]:
        return sorted({code for product in self.products for code in product.markets})

    def in_market(self, market: str) -> list[tuple[Product, MarketFacts]]:
        return [(p, p.markets[market]) for p in self.products if market in p.markets]

    def uniform(self, market: str, what: Literal["shipping_days", "return_days"]) -> Any:
        """The market's shipping days or return days when every product has the same, else None."""
        values = {getattr(facts, what) for _, facts in self.in_market(market)}
        return values.pop() if len(values) == 1 else None


# --- loading ------------------------------------------------------------------------------


def _validated(data: Any, locator: Locator, source: str) -> Feed:
    if not isinstance(data, dict):
        raise FeedError("expected an object with a list of `products`", source=source)
    try:
        return Feed.model_validate(data)
    except ValidationError as exc:
        raise FeedError(
            "invalid product feed:\n" + "\n".join(validation_problems(exc, locator)), source=source
        ) from exc


def _read(path: Path) -> bytes:
    try:
        return read_file(path, limit=MAX_FEED_BYTES, what="a product feed")
    except SourceError as exc:
        raise FeedError(str(exc).removeprefix(f"{path}: "), source=str(path)) from exc


def _text(raw: bytes, source: str) -> str:
    try:
        return decode_text(raw, source, what="a product feed")
    except SourceError as exc:
        raise FeedError(str(exc).removeprefix(f"{source}: "), source=source) from exc


def parse_json_feed(text: str, source: str = "<feed>") -> Feed:
    """A JSON (or YAML) feed, read with the safe YAML loader (which gives every error its line)."""
    try:
        data, locator = parse_yaml(text, source)
    except SourceError as exc:
        where = f"{source}:{exc.line}" if exc.line is not None else source
        raise FeedError(str(exc).removeprefix(f"{where}: "), source=source, line=exc.line) from exc
    return _validated(data, locator, source)


def _split(value: str, sep: str = "|") -> list[str]:
    return [part.strip() for part in value.split(sep) if part.strip()]


def parse_csv_feed(text: str, source: str = "<feed>") -> Feed:
    """A CSV feed: one row per product and market, with the columns of :data:`CSV_COLUMNS`."""
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise FeedError(f"line 1: not a CSV header ({exc})", source=source) from exc
    if not header:
        raise FeedError("empty: expected a header row with the columns " + ", ".join(CSV_COLUMNS), source=source)
    missing = [c for c in CSV_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        parts = [f"missing columns: {', '.join(missing)}"] if missing else []
        parts += [f"unknown columns: {', '.join(map(str, unknown))}"] if unknown else []
        raise FeedError("line 1: " + "; ".join(parts), source=source)
    products: dict[str, dict[str, Any]] = {}
    first_row: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise FeedError(f"row {line}: expected {len(header)} columns", source=source)
            where = f"row {line}"
            product_fields: dict[str, Any] = {
                "id": row["id"].strip(),
                "title": row["title"].strip(),
                "category": row["category"].strip(),
                "aliases": _split(row["aliases"]),
                "url": row["url"].strip(),
                "selling_points": _split(row["selling_points"]),
            }
            market = row["market"].strip()
            try:
                facts = MarketFacts.model_validate(_csv_facts(row, where, source))
            except ValidationError as exc:
                problems = "; ".join(_problem(e) for e in exc.errors(include_url=False))
                raise FeedError(f"{where}: {problems}", source=source) from exc
            known = products.get(product_fields["id"])
            if known is None:
                products[product_fields["id"]] = {**product_fields, "markets": {market: facts}}
                first_row[product_fields["id"]] = line
                continue
            for key, value in product_fields.items():
                if known[key] != value:
                    raise FeedError(
                        f"{where}: {key}: {value!r} differs from row {first_row[product_fields['id']]} "
                        f"of the same product ({known[key]!r})",
                        source=source,
                    )
            if market in known["markets"]:
                raise FeedError(
                    f"{where}: market: {product_fields['id']} already has a row for {market}", source=source
                )
            known["markets"][market] = facts
    except csv.Error as exc:
        raise FeedError(f"row {reader.line_num}: not valid CSV ({exc})", source=source) from exc
    rows = {pid: first_row[pid] for pid in products}
    try:
        return Feed.model_validate({"products": list(products.values())})
    except ValidationError as exc:
        found = []
        ids = list(products)
        for error in exc.errors(include_url=False):
            loc = list(error["loc"])
            at = f"row {rows[ids[loc[1]]]}: " if len(loc) > 1 and isinstance(loc[1], int) else ""
            field = ".".join(str(p) for p in loc[2:]) or "products"
            found.append(f"  {at}{field}: {error['msg']}")
        raise FeedError("invalid product feed:\n" + "\n".join(found), source=source) from exc


def _problem(error: Any) -> str:
    """One validation problem as "field: message" (a model-level message names its field itself)."""
    message = str(error["msg"]).removeprefix("Value error, ")
    where = ".".join(map(str, error["loc"]))
    return f"{where}: {message}" if where else message


def _csv_facts(row: dict[str, str], where: str, source: str) -> dict[str, Any]:
    def number(column: str, *, optional: bool = False) -> int | None:
        value = row[column].strip()
        if not value and optional:
            return None
        if not re.fullmatch(r"[0-9]{1,4}", value):
            raise FeedError(f"{where}: {column}: expected a whole number of days, got {value!r}", source=source)
        return int(value)

    history = []
    for part in _split(row["price_history"], ";"):
        day, sep, amount = part.partition("=")
        if not sep:
            raise FeedError(f"{where}: price_history: expected date=amount, got {part!r}", source=source)
        history.append([day.strip(), amount.strip()])
    return {
        "price": row["price"].strip(),
        "sale_price": row["sale_price"].strip() or None,
        "price_history": history,
        "availability": row["availability"].strip(),
        "shipping_days": [number("shipping_min_days"), number("shipping_max_days")],
        "return_days": number("return_days", optional=True),
    }


# --- Merchant Center XML ------------------------------------------------------------------


class _Node:
    __slots__ = ("children", "line", "tag", "text")

    def __init__(self, tag: str, line: int) -> None:
        self.tag, self.line, self.text = tag, line, ""
        self.children: list[_Node] = []

    def find(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def all(self, tag: str) -> list[_Node]:
        return [c for c in self.children if c.tag == tag]

    def value(self, tag: str) -> str:
        node = self.find(tag)
        return node.text.strip() if node is not None else ""


def _xml_tree(raw: bytes, source: str) -> _Node:
    """Parse XML with expat, refusing a DTD and entity declarations (no entity expansion, no
    external resources), and keeping each element's line."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    root = _Node("", 0)
    stack = [root]

    def refuse(*_: object) -> None:
        raise FeedError(f"line {parser.CurrentLineNumber}: a DTD or entity declaration; feeds may not have one",
                        source=source)  # fmt: skip

    def start(tag: str, _attrs: dict[str, str]) -> None:
        node = _Node(tag, parser.CurrentLineNumber)
        stack[-1].children.append(node)
        stack.append(node)

    def end(_tag: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        stack[-1].text += data

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as exc:
        raise FeedError(
            f"line {exc.lineno}: not well-formed XML ({expat.ErrorString(exc.code)})", source=source
        ) from exc
    if not root.children:
        raise FeedError("no XML element", source=source)
    return root.children[0]


def parse_merchant_xml(
    raw: bytes | str, source: str = "<feed>", *, market: str | None = None, return_days: int | None = None
) -> Feed:
    """A Google Merchant Center RSS 2.0 feed. Each item's market is its ``g:shipping/g:country``
    (or ``market`` when given); an id in several items is one product in several markets."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if len(data) > MAX_FEED_BYTES:
        raise FeedError(f"larger than {MAX_FEED_BYTES:,} bytes", source=source)
    rss = _xml_tree(data, source)
    g = GOOGLE_NS + " "
    channel = rss.find("channel")
    if rss.tag != "rss" or channel is None:
        raise FeedError(f"line {rss.line}: expected <rss><channel> with <item> elements", source=source)
    products: dict[str, dict[str, Any]] = {}
    for item in channel.all("item"):
        where = f"line {item.line}"

        def need(tag: str, item: _Node = item, where: str = where) -> str:
            value = item.value(g + tag)
            if not value:
                raise FeedError(f"{where}: g:{tag} is missing", source=source)
            return value

        pid = need("id")
        shipping = item.all(g + "shipping")
        countries = {s.value(g + "country").upper() for s in shipping if s.value(g + "country")}
        code = market or (countries.pop() if len(countries) == 1 else "")
        if not code:
            raise FeedError(
                f"{where}: g:shipping/g:country: expected exactly one country per item (or give the market)",
                source=source,
            )
        chosen = [s for s in shipping if s.value(g + "country").upper() in ("", code)] or shipping

        def days(kind: str, chosen: list[_Node] = chosen, where: str = where) -> int:
            total = 0
            for part in (f"{kind}_handling_time", f"{kind}_transit_time"):
                values = [s.value(g + part) for s in chosen if s.value(g + part)]
                if values:
                    if not re.fullmatch(r"[0-9]{1,3}", values[0]):
                        raise FeedError(f"{where}: g:{part}: expected a whole number of days", source=source)
                    total += int(values[0])
            return total

        if not any(s.value(g + "max_transit_time") for s in chosen):
            raise FeedError(f"{where}: g:shipping/g:max_transit_time is missing", source=source)
        availability = need("availability").lower().replace(" ", "_")
        returns = item.value(g + "return_days")
        if returns and not re.fullmatch(r"[0-9]{1,4}", returns):
            raise FeedError(f"{where}: g:return_days: expected a whole number of days", source=source)
        try:
            facts = MarketFacts.model_validate(
                {
                    "price": need("price"),
                    "sale_price": item.value(g + "sale_price") or None,
                    "availability": availability,
                    "shipping_days": (days("min"), days("max")),
                    "return_days": int(returns) if returns else return_days,
                }
            )
        except ValidationError as exc:
            problems = "; ".join(_problem(e) for e in exc.errors(include_url=False))
            raise FeedError(f"{where}: {problems}", source=source) from exc
        product_type = item.value(g + "product_type")
        fields = {
            "id": pid,
            "title": need("title"),
            "category": (_split(product_type, ">") or [""])[-1],
            "aliases": _split(item.value(g + "custom_label_0")),
            "url": need("link"),
            "selling_points": [n.text.strip() for n in item.all(g + "product_highlight") if n.text.strip()],
        }
        if not fields["category"]:
            raise FeedError(f"{where}: g:product_type is missing (its last segment is the category)", source=source)
        known = products.setdefault(pid, {**fields, "markets": {}})
        if code in known["markets"]:
            raise FeedError(f"{where}: g:id {pid} appears twice for market {code}", source=source)
        known["markets"][code] = facts
    try:
        return Feed.model_validate({"products": list(products.values())})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise FeedError(f"invalid product feed: {problems}", source=source) from exc


def load_feed(path: str | Path, *, market: str | None = None) -> Feed:
    """A feed file by its suffix: ``.json``/``.yaml``/``.yml``, ``.csv`` or ``.xml``."""
    path = Path(path)
    raw = _read(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return parse_merchant_xml(raw, source, market=market)
    text = _text(raw, source)
    if suffix == ".csv":
        return parse_csv_feed(text, source)
    if suffix in (".json", ".yaml", ".yml"):
        return parse_json_feed(text, source)
    raise FeedError("unknown feed format: name the file .json, .yaml, .csv or .xml", source=source)


# --- writing (for round trips and exports) -------------------------------------------------


def feed_to_json(feed: Feed) -> str:
    return json.dumps({"products": [p.file_form() for p in feed.products]}, ensure_ascii=False, indent=2) + "\n"


def feed_to_csv(feed: Feed) -> str:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for product in feed.products:
        for code, facts in product.markets.items():
            writer.writerow(
                {
                    "id": product.id,
                    "title": product.title,
                    "category": product.category,
                    "aliases": "|".join(product.aliases),
                    "url": product.url,
                    "selling_points": "|".join(product.selling_points),
                    "market": code,
                    "price": f"{micros_to_units(facts.price_micros)} {facts.currency}",
                    "sale_price": ""
                    if facts.sale_price_micros is None
                    else f"{micros_to_units(facts.sale_price_micros)} {facts.currency}",
                    "price_history": ";".join(
                        f"{p.since.isoformat()}={micros_to_units(p.micros)}" for p in facts.price_history
                    ),
                    "availability": facts.availability,
                    "shipping_min_days": facts.shipping_days[0],
                    "shipping_max_days": facts.shipping_days[1],
                    "return_days": "" if facts.return_days is None else facts.return_days,
                }
            )
    return out.getvalue()


def euro_text(micros: int, currency: str = "EUR") -> str:
    """An amount as German copy writes it: 189950000 → "189,95 €", 89000000 → "89 €"."""
    units = micros_to_units(micros)
    whole, _, cents = units.partition(".")
    text = f"{whole},{cents.ljust(2, '0')}" if cents else whole
    return f"{text} €" if currency == "EUR" else f"{text} {currency}"


def days_text(days: Iterable[int]) -> str:
    low, high = tuple(days)
    return f"{low}" if low == high else f"{low}–{high}"


DEMO_FEED = Path(__file__).resolve().parent.parent / "memory" / "feeds" / "demo.json"


def demo_feed_path() -> Path:
    """The demo world's feed (agrees with memory/knowledge/demo/), in the source tree or installed."""
    if DEMO_FEED.exists():
        return DEMO_FEED
    return Path(__file__).resolve().parent / "memory" / "feeds" / "demo.json"

"""Claims must match facts: prices, discounts, shipping and return times against the product feed.

The compliance engine (:mod:`adpilot.policies.compliance`) runs these rules on every text it
judges when it has a feed (:mod:`adpilot.feed`, config ``feed:``). Each claim is found in the
folded text, its product resolved and judged against the feed of the copy's market:

* ``claims.price`` — "ab 89 €", "from €89": the lowest current price of the products the copy is
  about, exactly; "nur 149,95 €", "für 99 EUR", "only €99": the current price of one of them;
* ``claims.discount`` — "-20 %", "20 % reduziert", "save 20%": at most the reduction against the
  lowest price of the 30 days before it began (Preisangabenverordnung §11); "statt 199 €": that
  lowest price itself;
* ``claims.shipping`` — "Versand in 1–2 Werktagen", "Lieferung in 24 h", "ships in 2 days": not
  faster than the feed's longest shipping time in the market;
* ``claims.returns`` — "30 Tage Rückgabe", "100 Tage Rückgaberecht", "30-day returns": not longer
  than the feed's return days in the market.

The product is what the claim's own sentence names (a product title, then a category or one of
its aliases), else what the content advertises (the ad group, ``subject``). A price or discount
claim whose product cannot be resolved goes to a person (``needs_review``); shipping and return
claims without a product are judged against every product of the market. The market is the
content's (``market``), else the one configured for its Google Ads account, else for pages the
site's; when it is unknown a claim passes only if it is true in every market of the feed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from adpilot.feed import Feed, MarketFacts, Product, days_text, euro_text
from adpilot.money import units_to_micros
from adpilot.normalise import fold
from adpilot.policies.content import Content

Severity = Literal["fail", "needs_review"]
QUOTE = "{quote}"  # replaced by the engine with the claim as written
MAX_CLAIMS = 200  # claims judged one by one in one text

_NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?|\d{1,6}(?:[.,]\d{1,2})?"
_MONEY = rf"(?:(?:€|eur\b|euro\b)\s?(?P<n1>{_NUM})|(?P<n2>{_NUM})(?:,[-–])?\s?(?:€|eur(?:o|os)?\b))"
_PRICE_FROM = re.compile(rf"(?<!\w)(?:ab|from|starting at)\s+{_MONEY}", re.IGNORECASE)
_PRICE_AT = re.compile(rf"(?<!\w)(?:nur|fur|jetzt|only|for|just|now)\s+{_MONEY}", re.IGNORECASE)
_REFERENCE = re.compile(rf"(?<!\w)(?:statt|anstatt|vorher|bisher|zuvor|instead of|was)\s?:?\s+{_MONEY}", re.IGNORECASE)
# An amount that is a threshold or a voucher, not a product's price ("ab 50 € Bestellwert").
_THRESHOLD_AFTER = re.compile(
    r"\s*(?:bestellwert|einkaufswert|warenwert|mindestbestellwert|warenkorb|einkauf|order|purchase|spend)",
    re.IGNORECASE,
)
_THRESHOLD_BEFORE = re.compile(
    r"(?:versand\w*|liefer\w*|kostenlos\w*|gratis\w*|free|shipping|delivery|gutschein\w*|coupon|voucher|"
    r"rabatt|discount|spare\w*|save)\W+(?:\w+\W+){0,2}$",
    re.IGNORECASE,
)
_PERCENT = re.compile(
    r"(?:(?<![\w%])-\s?(?P<p1>\d{1,2})\s?%"
    r"|(?<!\w)(?P<p2>\d{1,2})\s?%\s?(?:reduziert|rabatt|gunstiger|billiger|nachlass|ersparnis|weniger|off|discount)"
    r"|(?<!\w)(?:spare|sparen|save|bis zu|up to)\s(?P<p3>\d{1,2})\s?%)",
    re.IGNORECASE,
)
_RANGE = r"(?P<lo>\d{1,3})(?:\s?(?:[-–—]|bis|to)\s?(?P<hi>\d{1,3}))?"
_UNIT = r"(?P<unit>werktag(?:e|en)?|arbeitstag(?:e|en)?|tag(?:e|en)?|(?:business |working )?days?|stunden|std|h|hours?)"
_SHIP_WORD = (
    r"(?:versand|versendet|verschickt|lieferung|lieferzeit|liefern|geliefert|zustellung|zugestellt|"
    r"ships?|shipped|shipping|delivery|delivered|dispatch(?:ed)?|arrives?)"
)
_SHIPPING = (
    re.compile(rf"(?<!\w){_SHIP_WORD}\w*[^.!?;\n\d]{{0,25}}?(?<!\w){_RANGE}\s?{_UNIT}(?!\w)", re.IGNORECASE),
    re.compile(rf"(?<!\w){_RANGE}\s?-?\s?{_UNIT}[\s-]?{_SHIP_WORD}", re.IGNORECASE),
    re.compile(
        rf"(?<!\w)(?:in|innerhalb(?: von)?|within|binnen)\s{_RANGE}\s?"
        r"(?P<unit>werktag\w*|arbeitstag\w*|business days?|working days?)",
        re.IGNORECASE,
    ),
)
_RETURN_WORD = r"(?:ruckgabe|rucksendung|umtausch|returns?|money[- ]back)"
_RETURNS = (
    re.compile(
        rf"(?<!\w)(?P<n>\d{{1,3}})[\s-]?(?:tage?n?|days?)[\s-]?(?:kostenlose[snmr]?\s|free\s|gratis\s)?{_RETURN_WORD}\w*",
        re.IGNORECASE,
    ),
    re.compile(
        rf"(?<!\w){_RETURN_WORD}\w*[^.!?;\n\d]{{0,25}}?(?<!\w)(?P<n>\d{{1,3}})\s?(?:tage?n?|days?)(?!\w)", re.IGNORECASE
    ),
)


@dataclass(frozen=True)
class Claim:
    kind: Literal["price_from", "price", "discount", "reference", "shipping", "returns"]
    start: int
    end: int
    micros: int = 0
    percent: int = 0
    days: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class ClaimFinding:
    rule: str
    severity: Severity
    start: int
    end: int
    message: str
    suggestion: str | None = None


def _amount(match: re.Match[str]) -> int | None:
    number = match.group("n1") or match.group("n2")
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?", number):
        number = number.replace(".", "")
    try:
        return units_to_micros(number.replace(",", "."))
    except ValueError:
        return None


def find_claims(text: str) -> list[Claim]:
    """The price, discount, shipping and return claims in folded text, in order."""
    claims: list[Claim] = []
    for pattern, kind in ((_PRICE_FROM, "price_from"), (_PRICE_AT, "price"), (_REFERENCE, "reference")):
        for match in pattern.finditer(text):
            if kind != "reference" and (
                _THRESHOLD_AFTER.match(text, match.end()) or _THRESHOLD_BEFORE.search(text[: match.start()][-60:])
            ):
                continue
            micros = _amount(match)
            if micros is not None and micros > 0:
                claims.append(Claim(kind, match.start(), match.end(), micros=micros))  # type: ignore[arg-type]
    for match in _PERCENT.finditer(text):
        percent = int(match.group("p1") or match.group("p2") or match.group("p3"))
        if percent > 0:
            claims.append(Claim("discount", match.start(), match.end(), percent=percent))
    taken: list[tuple[int, int]] = []
    for pattern in _SHIPPING:
        for match in pattern.finditer(text):
            if any(a < match.end() and match.start() < b for a, b in taken):
                continue
            low, high = int(match.group("lo")), int(match.group("hi") or match.group("lo"))
            if low > high:
                continue
            unit = match.group("unit").lower()
            if unit in ("h", "std", "stunden", "hour", "hours"):
                low, high = -(-low // 24), -(-high // 24)
            taken.append((match.start(), match.end()))
            claims.append(Claim("shipping", match.start(), match.end(), days=(low, high)))
    taken = []
    for pattern in _RETURNS:
        for match in pattern.finditer(text):
            if any(a < match.end() and match.start() < b for a, b in taken):
                continue
            taken.append((match.start(), match.end()))
            days = int(match.group("n"))
            claims.append(Claim("returns", match.start(), match.end(), days=(days, days)))
    return sorted(claims, key=lambda c: c.start)


def _names(product: Product) -> tuple[list[re.Pattern[str]], list[re.Pattern[str]]]:
    title = [re.compile(rf"(?<!\w){re.escape(fold(product.title).text)}(?!\w)", re.IGNORECASE)]
    words = [product.category, *product.aliases]
    category = [re.compile(re.escape(fold(word).text), re.IGNORECASE) for word in words]
    return title, category


class ClaimChecker:
    """The claims rules of one feed; the engine asks it for each text it judges."""

    def __init__(
        self,
        feed: Feed,
        *,
        markets: Mapping[str, str] | None = None,
        site_market: str | None = None,
    ) -> None:
        self.feed = feed
        self.markets = dict(markets or {})
        self.site_market = site_market
        self._names = {product.id: _names(product) for product in feed.products}

    def market_of(self, content: Content) -> str | None:
        if content.market:
            return content.market.upper()
        if content.account and content.account in self.markets:
            return self.markets[content.account]
        if content.channel == "cms" and self.site_market:
            return self.site_market
        markets = self.feed.markets
        return markets[0] if len(markets) == 1 else None

    def _resolve(self, market: str, sentence: str, subject: str) -> tuple[str, list[tuple[Product, MarketFacts]]]:
        """The products a claim is about (and the words naming them): titles in the claim's own
        sentence, then categories or aliases there, then the same in the content's subject."""
        offers = self.feed.in_market(market)
        for where in (sentence, subject):
            if not where:
                continue
            for which in (0, 1):
                named = []
                label = ""
                for product, facts in offers:
                    for pattern in self._names[product.id][which]:
                        if found := pattern.search(where):
                            named.append((product, facts))
                            label = label or (product.title if which == 0 else found.group())
                            break
                if named:
                    return label, named
        return "", []

    def check(
        self,
        text: str,
        sentence: Callable[[int, int], tuple[int, int]],
        content: Content,
        today: dt.date,
    ) -> Iterator[ClaimFinding]:
        claims = find_claims(text)
        if not claims:
            return
        if len(claims) > MAX_CLAIMS:  # bounded work on a huge page; the rest is never silently passed
            rest = claims[MAX_CLAIMS]
            kind = {"price_from": "price", "reference": "discount"}.get(rest.kind, rest.kind)
            yield ClaimFinding(
                f"claims.{kind}",
                "needs_review",
                rest.start,
                rest.end,
                f"{len(claims) - MAX_CLAIMS} more price, discount, shipping or return claims than the gate checks "
                "one by one, from {quote} on",
                "split the text, or check the claims by hand",
            )
            claims = claims[:MAX_CLAIMS]
        market = self.market_of(content)
        subject = fold(content.subject).text
        for claim in claims:
            low, high = sentence(claim.start, claim.end)
            here = text[low:high]
            if market is not None:
                found = self._judge(claim, market, here, subject, today)
                if found is not None:
                    yield found
                continue
            results = {code: self._judge(claim, code, here, subject, today) for code in self.feed.markets}
            wrong = {code: r for code, r in results.items() if r is not None}
            if not wrong:
                continue
            first = next(iter(wrong.values()))
            if len(wrong) == len(results) and all(r.severity == "fail" for r in wrong.values()):
                yield first
                continue
            yield ClaimFinding(
                first.rule,
                "needs_review",
                claim.start,
                claim.end,
                f"{first.message} (the copy's market is unknown; it holds in "
                f"{', '.join(sorted(set(results) - set(wrong))) or 'no market'})",
                "say which account or market the copy is for",
            )

    def _judge(self, claim: Claim, market: str, here: str, subject: str, today: dt.date) -> ClaimFinding | None:
        label, offers = self._resolve(market, here, subject)
        rule = {"price_from": "claims.price", "price": "claims.price", "discount": "claims.discount"}.get(
            claim.kind, f"claims.{claim.kind}"
        )
        rule = "claims.discount" if claim.kind == "reference" else rule

        def finding(message: str, suggestion: str | None = None, severity: Severity = "fail") -> ClaimFinding:
            return ClaimFinding(rule, severity, claim.start, claim.end, message, suggestion)

        if claim.kind in ("shipping", "returns"):
            pool = offers or self.feed.in_market(market)
            what = label or "all products"
            if not pool:
                return finding(f"{QUOTE}: the feed has no products in {market}", severity="needs_review")
            if claim.kind == "shipping":
                longest = max(facts.shipping_days[1] for _, facts in pool)
                if claim.days[1] >= longest:
                    return None
                spans = sorted({facts.shipping_days for _, facts in pool})
                stated = ", ".join(f"{days_text(s)} Werktage" for s in spans)
                return finding(
                    f"{QUOTE}: the feed's shipping time for {what} in {market} is {stated}",
                    f"write “Versand in {days_text(spans[-1])} Werktagen”"
                    if len(spans) == 1
                    else "state the longest shipping time",
                )
            known = [facts.return_days for _, facts in pool]
            if any(days is None for days in known):
                return finding(
                    f"{QUOTE}: the feed states no return days for {what} in {market}",
                    "add return_days to the feed",
                    "needs_review",
                )
            shortest = min(days for days in known if days is not None)
            if claim.days[0] <= shortest:
                return None
            return finding(
                f"{QUOTE}: the feed's return period for {what} in {market} is {shortest} Tage",
                f"write “{shortest} Tage Rückgaberecht”",
            )
        if not offers:
            return finding(
                f"{QUOTE}: the copy does not say which product of the feed this is about, so the claim "
                f"cannot be checked against the {market} prices",
                "name the product or category next to the claim, or check it by hand",
                "needs_review",
            )
        if claim.kind == "price_from":
            lowest = min(facts.current_micros for _, facts in offers)
            if claim.micros == lowest:
                return None
            return finding(
                f"{QUOTE}: the feed's lowest price for {label} in {market} is {euro_text(lowest)}",
                f"write “ab {euro_text(lowest)}”",
            )
        if claim.kind == "price":
            prices = sorted({facts.current_micros for _, facts in offers})
            if claim.micros in prices:
                return None
            listed = ", ".join(euro_text(p) for p in prices)
            return finding(
                f"{QUOTE}: the feed's price for {label} in {market} is {listed}",
                f"state the feed's price ({listed})",
            )
        reduced = [(p, f) for p, f in offers if f.sale_price_micros is not None]
        if not reduced:
            return finding(
                f"{QUOTE}: the feed has no reduced price for {label} in {market}",
                "announce a reduction only while the feed has a sale price",
            )
        lows = [(p, f, f.lowest_before_reduction(today)) for p, f in reduced]
        dated = [(p, f, low) for p, f, low in lows if low is not None]
        if not dated:
            return finding(
                f"{QUOTE}: the feed's price history for {label} in {market} does not show the lowest price "
                "of the 30 days before the reduction (PAngV §11)",
                "add the price history to the feed, or check the reduction by hand",
                "needs_review",
            )
        if claim.kind == "reference":
            if any(low == claim.micros for _, _, low in dated):
                return None
            product, _, low = dated[0]
            return finding(
                f"{QUOTE}: the reference price must be the lowest price of the 30 days before the reduction "
                f"(PAngV §11); the feed's is {euro_text(low)} for {product.title} in {market}",
                f"write “statt {euro_text(low)}”",
            )
        # The largest reduction among the products, in whole percent (rounded half up).
        best = max(
            (((((low - (f.sale_price_micros or low)) * 200 + low) // (2 * low)), p, f, low) for p, f, low in dated),
            key=lambda item: item[0],
        )
        percent, product, facts, low = best
        if claim.percent <= percent:
            return None
        return finding(
            f"{QUOTE}: against the lowest price of the 30 days before the reduction ({euro_text(low)}), "
            f"{product.title} in {market} is reduced by {percent} % (to {euro_text(facts.current_micros)}) "
            "(PAngV §11)",
            f"write “-{percent} %”",
        )

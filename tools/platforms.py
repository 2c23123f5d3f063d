"""The platform clients of one process (built from configuration by :mod:`adpilot.compose`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from adpilot.tools.google_ads import GoogleAdsClient
from adpilot.tools.wordpress import WordPressClient


@dataclass
class Platforms:
    google_ads: GoogleAdsClient
    wordpress: WordPressClient
    site_url: str = ""  # the website's public address (links in SEO findings)
    _http: list[httpx.AsyncClient] = field(default_factory=list)
    on_close: list[Callable[[], None]] = field(default_factory=list)

    async def aclose(self) -> None:
        for http in self._http:
            await http.aclose()
        for close in self.on_close:
            close()

    async def __aenter__(self) -> Platforms:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

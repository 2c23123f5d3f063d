"""Google Ads API versions: which are switched off (sunset) and which adpilot defaults to.

The one place these dates live: configuration validation, the client's error for a sunset
version and the sandbox (which answers a sunset version the way Google does) all read them.
Source: developers.google.com/google-ads/api/docs/sunset-dates. Add a row here when Google
announces the next sunset.
"""

from __future__ import annotations

import datetime as dt
import re

# The newest version adpilot's request and response shapes were verified against.
NEWEST_VERIFIED = "v23"
DEFAULT_API_VERSION = NEWEST_VERIFIED

# version → the day Google switched it off (requests fail from that day on).
SUNSET_DATES: dict[str, dt.date] = {
    "v17": dt.date(2025, 6, 4),
    "v18": dt.date(2025, 8, 20),
    "v19": dt.date(2026, 2, 11),
    "v20": dt.date(2026, 6, 10),
    "v21": dt.date(2026, 8, 5),
    "v22": dt.date(2026, 10, 7),
}
_OLDEST_LISTED = min(int(v[1:]) for v in SUNSET_DATES)
_VERSION_RE = re.compile(r"^v(\d+)$")


def version_number(version: str) -> int | None:
    match = _VERSION_RE.match(version)
    return int(match.group(1)) if match else None


def sunset_on(version: str) -> dt.date | None:
    """The day ``version`` was (or will be) switched off; every version older than the oldest
    listed one is long gone (reported as the oldest listed date)."""
    if version in SUNSET_DATES:
        return SUNSET_DATES[version]
    number = version_number(version)
    if number is not None and number < _OLDEST_LISTED:
        return SUNSET_DATES[f"v{_OLDEST_LISTED}"]
    return None


def is_sunset(version: str, today: dt.date | None = None) -> bool:
    day = sunset_on(version)
    return day is not None and (today or dt.datetime.now(dt.UTC).date()) >= day


def supported_versions(today: dt.date | None = None) -> str:
    """Human-readable: the versions that still answer (for error messages)."""
    today = today or dt.datetime.now(dt.UTC).date()
    newest_sunset = max((int(v[1:]) for v in SUNSET_DATES if is_sunset(v, today)), default=0)
    floor = f"v{newest_sunset + 1}" if newest_sunset else f"v{_OLDEST_LISTED}"
    return f"{floor} or newer ({NEWEST_VERIFIED} is the newest adpilot was verified against)"


def sunset_message(version: str, today: dt.date | None = None) -> str:
    day = sunset_on(version)
    when = f" on {day.isoformat()}" if day else ""
    return (
        f"Google Ads API {version} was switched off (sunset){when}; set google_ads.api_version to a supported "
        f"version: {supported_versions(today)}"
    )

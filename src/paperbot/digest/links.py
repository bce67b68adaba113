"""Addresses of the web archive's pages: one place for the paths that the web edge serves and that digests and
``/paper search`` replies link to (``PAPERBOT_WEB_BASE_URL`` + path).

Weeks are ISO weeks (Monday to Sunday, ``2024-W16``); a weekly digest built on a Sunday covers exactly one.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import urlencode

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def day_path(day: date) -> str:
    return f"/day/{day.isoformat()}"


def week_label(day: date) -> str:
    """The ISO week of ``day``: ``2024-W16``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_path(day: date) -> str:
    """The page of the ISO week that contains ``day``."""
    return f"/week/{week_label(day)}"


def parse_week(label: str) -> date:
    """``2024-W16`` → the Monday of that ISO week; ValueError for anything else (``2024-W54``, ``2024-16``)."""
    match = _WEEK_RE.match(label)
    try:
        if match is None:
            raise ValueError("no YYYY-Www")
        return date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError as exc:
        raise ValueError(f"not an ISO week: {label[:40]!r} ({exc})") from None


def week_days(monday: date) -> tuple[date, date]:
    """First and last day (Monday, Sunday) of the ISO week starting on ``monday``."""
    return monday, monday + timedelta(days=6)


def item_path(item_id: int) -> str:
    return f"/paper/{item_id}"


def search_path(query: str, **filters: str | int | None) -> str:
    """``/search?q=…`` with the filters that are set, percent-encoded (nothing in ``query`` can end the URL)."""
    params: dict[str, str | int] = {"q": query}
    for key, value in filters.items():
        if value is not None and value != "":
            params[key] = value
    return "/search?" + urlencode(params)


def absolute(base_url: str | None, path: str) -> str | None:
    """``base_url`` + ``path``, or None when no base URL is configured."""
    if not base_url:
        return None
    return base_url.rstrip("/") + path

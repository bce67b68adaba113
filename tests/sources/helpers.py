"""Shared test helpers for the sources tests: fixture paths, a synthetic HF listing page."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data" / "sources"
HF = DATA / "hf"
FEEDS = DATA / "feeds"
PAGES = DATA / "pages"
CAPTURED = datetime(2026, 8, 22, 6, 0, tzinfo=UTC)


def hf_json(day: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((HF / f"{day}.json").read_text(encoding="utf-8"))
    return data


def listing_page(entries: list[dict[str, Any]], *, quoting: str = "double") -> str:
    """A synthetic ``/papers/date/D`` page: the real page was never saved, so we embed real API JSON the way the
    Svelte hydrater does (``data-target="DailyPapers"`` with ``data-props``), either ``&quot;``-escaped in double
    quotes or raw in single quotes (how BeautifulSoup's prettify writes it, as in the saved paper page)."""
    props = json.dumps({"dailyPapers": entries, "date": "x", "lastDate": "y"}, ensure_ascii=False)
    if quoting == "double":
        attribute = f'data-props="{html.escape(props, quote=True)}"'
    else:
        attribute = "data-props='" + props.replace("&", "&amp;").replace("'", "&#39;") + "'"
    return (
        "<!DOCTYPE html><html><head><title>Daily Papers - Hugging Face</title></head><body>"
        '<div class="SVELTE_HYDRATER contents" data-target="MainHeader" data-props="{}"></div>'
        f'<main><div class="SVELTE_HYDRATER contents" {attribute} data-target="DailyPapers"></div></main>'
        "</body></html>"
    )

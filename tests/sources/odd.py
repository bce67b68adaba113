"""Hypothesis strategies of the odd values that broke collection (issue 14), for the parser and store suites."""

from __future__ import annotations

import copy
import math
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import strategies as st

from tests.sources.helpers import hf_json

#: Strings PostgreSQL, orjson, int() or a naive parser choked on, and their neighbours.
ODD_STRINGS = [
    "", " ", "\x00", "a\x00b", "\ud800", "x\udcffy", "\ud83d", "²", "١٢٣", "12345678901", "9" * 5000,
    "\u202eevil", "\ufeffbom", "\u200b", "\x1b[31mred", "\r\n", "&#0;", "&lt;a" * 40, "<a" * 40, "</", "&",
    "javascript:alert(1)", "http://user:secret@host/x", "https://x.example/\x00y", "https://x.example/\u0085",
    "https://x.example/" + "p" * 600, "2099-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z", "NaN", "한글 제목", "😀" * 3, "e" * 700,
]  # fmt: skip
ODD_NUMBERS = [2**31, 2**31 - 1, 2**32, 2**63, 2**64 + 1, 2**70, 10**30, -1, -(2**63), 0, True, False, 1e308]

odd_text = st.sampled_from(ODD_STRINGS) | st.text(st.characters(exclude_categories=()), max_size=40)
odd_number = st.sampled_from(ODD_NUMBERS) | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
odd_value = st.recursive(
    st.none() | odd_text | odd_number,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)

# --- HF Daily Papers ---------------------------------------------------------------------------------------------

_HF_TEMPLATE = hf_json("2025-10-03")
#: Where an odd value may land in an entry: ("paper", key) or (None, key) for the daily-papers wrapper.
HF_FIELDS = [
    ("paper", "id"), ("paper", "title"), ("paper", "summary"), ("paper", "upvotes"), ("paper", "authors"),
    ("paper", "publishedAt"), ("paper", "submittedOnDailyAt"), ("paper", "githubRepo"), ("paper", "githubStars"),
    ("paper", "projectPage"), ("paper", "ai_summary"), ("paper", "ai_keywords"), ("paper", "organization"),
    (None, "thumbnail"), (None, "mediaUrl"), (None, "numComments"), (None, "submittedBy"), (None, "organization"),
    (None, "title"), (None, "summary"), (None, "upvotes"),
]  # fmt: skip


def good_hf_entry(index: int) -> dict[str, Any]:
    entry = copy.deepcopy(_HF_TEMPLATE[index % len(_HF_TEMPLATE)])
    entry["paper"]["id"] = f"2510.{90000 + index:05d}"
    return entry


@st.composite
def hostile_hf_entry(draw: st.DrawFn, index: int) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(odd_value)  # not even an object
    entry = good_hf_entry(index)
    entry["paper"]["id"] = f"2510.{80000 + index:05d}"
    for container, key in draw(st.lists(st.sampled_from(HF_FIELDS), min_size=1, max_size=6, unique=True)):
        target = entry["paper"] if container == "paper" else entry
        target[key] = draw(odd_value)
    return entry


@st.composite
def hf_page(draw: st.DrawFn) -> tuple[list[Any], list[str]]:
    """(entries in page order, the ids of the good ones)."""
    kinds = draw(st.lists(st.booleans(), min_size=1, max_size=8))
    entries: list[Any] = []
    good: list[str] = []
    for index, is_good in enumerate(kinds):
        if is_good:
            entries.append(good_hf_entry(index))
            good.append(entries[-1]["paper"]["id"])
        else:
            entries.append(draw(hostile_hf_entry(index)))
    return entries, good


# --- items handed to the store -----------------------------------------------------------------------------------

# Hypothesis takes naive bounds; timezones= makes every value aware.
odd_datetime = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@st.composite
def odd_item_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Fields of an Item as a careless source might build them (the parsers clean most; the store must cope)."""
    return {
        "title": draw(odd_text),
        "url": draw(odd_text),
        "abstract": draw(odd_text),
        "authors": tuple(draw(st.lists(odd_text, max_size=5))),
        "thumbnail_url": draw(st.none() | odd_text),
        "upvotes": draw(st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from([2**31, 2**31 - 1])),
        "extra": draw(st.dictionaries(odd_text, odd_value, max_size=4)),
        "day": draw(st.dates(min_value=date(1, 1, 2), max_value=date(9999, 12, 30))),
        "published_at": draw(st.none() | odd_datetime),
    }


def json_safe(value: Any) -> bool:
    """Whether a float inside is finite (the property compares JSON round trips)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(json_safe(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(json_safe(v) for v in value)
    return True

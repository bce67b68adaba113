"""One character set (issue 15): whatever cleans untrusted text, at ingestion, before a prompt or before a render,
leaves nothing :func:`paperbot.untrusted.clean_untrusted` would still change.

Before, four cleaners had four character sets: the renderers kept LRM/RLM (U+200E/F), the Arabic letter mark and the
word joiner and did not compose to NFC, the summarisers turned joiners into spaces, ingestion once kept the bidi
isolates.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from paperbot.digest.render import common
from paperbot.digest.text import join_limited
from paperbot.domain import DigestEntry, Item, ItemKind, Summary
from paperbot.sources.text import html_to_text
from paperbot.summarize.text import sanitize_for_prompt
from paperbot.untrusted import clean_untrusted
from tests.digest.strategies import hostile_text

#: Characters that acted, hid or differed between the old cleaners, and pieces that NFC composes.
NASTY = st.sampled_from(
    [
        "\u202e",  # RIGHT-TO-LEFT OVERRIDE
        "\u2066",  # LEFT-TO-RIGHT ISOLATE
        "\u2069",  # POP DIRECTIONAL ISOLATE
        "\u200e",  # LEFT-TO-RIGHT MARK
        "\u200f",  # RIGHT-TO-LEFT MARK
        "\u061c",  # ARABIC LETTER MARK
        "\u2060",  # WORD JOINER
        "\u200b",  # ZERO WIDTH SPACE
        "\ufeff",  # BOM
        "\u00ad",  # SOFT HYPHEN
        "\U000e0041",  # TAG LATIN CAPITAL LETTER A (invisible "ASCII smuggling")
        "\u200c",  # ZWNJ (kept)
        "\u200d",  # ZWJ (kept)
        "\x00",
        "\x1b[31m",
        "\x85",
        "\x7f",
        "\u2028",
        "\u2029",
        "\ud800",  # a lone surrogate
        "\ue000",  # private use
        "\U0001fae8",  # unassigned in Python 3.11's tables (kept)
        "e\u0301",  # NFC: é
        "\u1100\u1161\u11a8",  # NFC: 각
        "\u2000",  # EN QUAD: NFC makes it EN SPACE
        "\u3000",
        "\t",
        "\n",
        " ",
        "  ",
        "<b>",
        "&amp;",
        "`",
        "가",
        "a",
    ]
)
UNTRUSTED = st.one_of(
    st.lists(NASTY, max_size=30).map("".join),
    hostile_text(),
    st.text(max_size=200),
    st.lists(st.one_of(NASTY, st.text(max_size=5)), max_size=20).map("".join),
)


def _entry(text: str) -> DigestEntry:
    item = Item(
        source=text or "s",
        external_id="1",
        kind=ItemKind.POST,
        title=text,
        url="https://example.com/",
        day=date(2024, 11, 28),
        authors=(text, "B " + text),
        extra={"company": text},
        id=1,
    )
    summary = Summary(
        item_id=1,
        bullets=(text, "x" + text),
        levels=(0, 1),
        backend="openai_compat",
        model="m",
        prompt_version="v",
        input_hash="h",
    )
    return DigestEntry(item=item, rank=1, summary=summary, reason=text, topics=(text,))


def _encodable(text: str) -> str:
    """``text`` without lone surrogates: lxml cannot take them, and feed markup never holds one (feedparser decodes
    bytes, and refuses ``&#xD800;`` itself)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _html_to_text(text: str) -> list[str]:
    return [html_to_text(text), html_to_text(f"<p>{text}</p><br>{text}", limit=50)]


#: Every cleaner of a layer, each giving the lines it produces from one untrusted string.
CLEANERS: dict[str, Callable[[str], list[str]]] = {
    "clean_untrusted": lambda text: [clean_untrusted(text)],
    "clean_untrusted(limit)": lambda text: [clean_untrusted(text, limit=7)],
    "sources.html_to_text": lambda text: _html_to_text(_encodable(text)),
    "summarize.sanitize_for_prompt": lambda text: [sanitize_for_prompt(text, 40), sanitize_for_prompt(text, 4000)],
    "digest.join_limited": lambda text: [join_limited([text, text + "x", "y"], 30, lambda atom: atom.text)],
    "render.publisher": lambda text: [common.publisher(_entry(text).item)],
    "render.authors": lambda text: common.authors(_entry(text)),
    "render.bullets": lambda text: common.bullets(_entry(text)),
    "render.outline": lambda text: [line for _, line in common.outline(_entry(text))],
    "render.join_topics": lambda text: [common.join_topics((text, text))],
}


@settings(max_examples=400)
@given(UNTRUSTED)
def test_every_cleaner_leaves_only_what_clean_untrusted_keeps(text: str) -> None:
    for name, cleaner in CLEANERS.items():
        for line in cleaner(text):
            assert clean_untrusted(line) == line, (name, text, line)


def test_the_characters_the_old_cleaners_disagreed_on() -> None:
    # Bidi marks and the word joiner are format characters: dropped like the overrides and isolates.
    assert clean_untrusted("a\u200eb\u200fc\u061cd\u2060e") == "abcde"
    # NFC: a decomposed syllable and a letter with a combining accent come out composed, also once a dropped format
    # character stood between them.
    assert clean_untrusted("\u1100\u1161\u11a8 e\u0301 e\u200b\u0301") == "각 é é"
    assert unicodedata.is_normalized("NFC", clean_untrusted("Cafe\u0301  \u1112\u1161\u11ab"))
    # Joiners shape emoji and Persian words: kept (the summarisers used to turn them into spaces).
    assert sanitize_for_prompt("🧑\u200d💻 <x>", 100) == "🧑\u200d💻 ‹x›"
    assert html_to_text("<p>e\u0301</p>") == "é"

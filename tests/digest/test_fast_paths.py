"""The web archive's hot paths, property-tested against the plain definitions they replace: topic phrase counts
(one pass over first words instead of a regex per topic), ``clean_untrusted`` on printable text, filters without filters; and
the taxonomy version stored topics are checked against."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from paperbot.digest import topics
from paperbot.digest.ranking import check_filters
from paperbot.domain import ChannelFilters, Item, ItemKind
from paperbot.untrusted import _cleaned, clean_untrusted
from tests.digest.strategies import hostile_text

PHRASES = sorted({phrase for phrases in topics.RULES.values() for phrase in phrases})
_REFERENCE = {
    topic: re.compile(
        r"(?<![0-9a-z])(?:" + "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True)) + r")(?![0-9a-z])"
    )
    for topic, phrases in topics.RULES.items()
}


def reference_counts(text: str) -> dict[str, int]:
    """The definition: per topic, ``re.findall`` of its phrases longest first between word boundaries, at most 3."""
    found = {topic: min(len(pattern.findall(text)), 3) for topic, pattern in _REFERENCE.items()}
    return {topic: count for topic, count in found.items() if count}


def reference_clean(text: str | None) -> str:
    """The definition of :func:`clean_untrusted` (which the renderers clean with), without its fast path: every
    character through ``_cleaned``, whitespace collapsed, NFC."""
    if not text:
        return ""
    return unicodedata.normalize("NFC", " ".join("".join(map(_cleaned, text)).split()))


#: Text made of topic phrases, their pieces and glue that does or does not break a word.
GLUE = st.sampled_from([" ", "", "-", ".", ",", "x", "s", "4", "ing", " | ", "\n", "(", "é"])
PHRASE_TEXT = st.lists(
    st.one_of(st.sampled_from(PHRASES), st.sampled_from([p[: len(p) // 2] for p in PHRASES]), GLUE), max_size=30
).map("".join)


@settings(max_examples=600)
@given(st.one_of(PHRASE_TEXT, st.text(max_size=200).map(str.lower)))
def test_topic_counts_match_the_regex_definition(text: str) -> None:
    assert topics._counts(text) == reference_counts(text)


def test_topic_counts_on_known_cases() -> None:
    text = "red teaming and red-teaming; a red team. jailbreaks jailbreak x4-bit 4-bit int8 int8x llm llms"
    assert topics._counts(text) == reference_counts(text)
    assert topics._counts("adversarial prompting") == {"Red Teaming": 1, "Prompting": 1}  # one phrase, two topics
    assert topics._counts("") == {}


def test_every_phrase_starts_with_a_letter_or_digit() -> None:
    assert all(re.match(r"[0-9a-z]", phrase) for phrase in PHRASES)


@settings(max_examples=600)
@given(st.one_of(hostile_text(), st.text(max_size=300)))
def test_clean_fast_path_is_the_full_normalisation(text: str) -> None:
    assert clean_untrusted(text) == reference_clean(text)


def test_item_topics_are_memoised_and_equal_to_assign_topics() -> None:
    extra = {"ai_keywords": ["diffusion model", 3], "llm_topics": ["llms", 7, "Diffusion"]}
    assert topics.item_topics("T", "a", extra) == topics.assign_topics(
        "T", "a", ["diffusion model", 3], ["llms", 7, "Diffusion"]
    )
    plain = {"ai_keywords": ["lora"]}
    first = topics.item_topics("Sparse attention for LoRA", "We fine-tune with LoRA.", plain)
    assert first == topics.assign_topics("Sparse attention for LoRA", "We fine-tune with LoRA.", ["lora"])
    assert topics.item_topics("Sparse attention for LoRA", "We fine-tune with LoRA.", plain) is first
    assert topics.assign_item_topics("Sparse attention for LoRA", "We fine-tune with LoRA.", plain) == first
    assert topics.assign_item_topics("T", "a", extra) == topics.item_topics("T", "a", extra)


def test_the_taxonomy_version_changes_with_whatever_decides_topics() -> None:
    """Topics stored under TAXONOMY_VERSION are recomputed when it changes: it must change with any edit."""
    assert topics.taxonomy_version() == topics.TAXONOMY_VERSION
    more_phrases = {**topics.RULES, "LLMs": (*topics.RULES["LLMs"], "gemma")}
    reordered = (*topics.TOPICS[1:], topics.TOPICS[0])
    new_alias = {**topics.ALIASES, "genai": "LLMs"}
    versions = {
        topics.taxonomy_version(),
        topics.taxonomy_version(rules=more_phrases),
        topics.taxonomy_version(topics=reordered),
        topics.taxonomy_version(aliases=new_alias),
    }
    assert len(versions) == 4
    assert len(topics.TAXONOMY_VERSION) <= 32  # the item_topics.version column


_ITEMS = st.builds(
    Item,
    source=st.sampled_from(["hf_daily", "openai"]),
    external_id=st.text(max_size=5),
    kind=st.sampled_from(list(ItemKind)),
    title=st.text(max_size=20),
    url=st.just("https://example.com/"),
    day=st.just(date(2025, 5, 22)),
    authors=st.lists(st.text(max_size=8), max_size=3).map(tuple),
    upvotes=st.integers(-5, 50),
)


@settings(max_examples=300)
@given(_ITEMS, st.integers(-3, 40), st.lists(st.sampled_from(topics.TOPICS), max_size=3))
def test_check_filters_without_filters_is_the_full_path(item: Item, minimum: int, item_topics: list[str]) -> None:
    """The shortcut for filters with nothing but an upvote minimum gives the verdict of the full path (forced here
    by naming the item's own source, which keeps it and changes nothing else)."""
    fast = check_filters(item, item_topics, ChannelFilters(min_upvotes=minimum))
    full = check_filters(item, item_topics, ChannelFilters(sources=(item.source,), min_upvotes=minimum))
    assert fast == full

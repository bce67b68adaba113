"""The ASCII fast path of ``korean.words`` must split exactly like the general word pattern."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from paperbot import korean

#: Mostly ASCII with the characters that matter to the pattern (``.``, ``'``, ``_``, digits), some Hangul and
#: other scripts, so both branches and their boundaries are exercised.
_ALPHABET = st.sampled_from([*"abzAZ09 .'_-/\t\n,;()éß가힣ж٣²", "\u00a0", "\u3000"])


@given(st.text(_ALPHABET, max_size=60))
def test_words_matches_the_general_pattern(text: str) -> None:
    assert korean.words(text) == korean._WORD_RE.findall(text)


@given(st.text(max_size=60))
def test_words_matches_the_general_pattern_on_any_text(text: str) -> None:
    assert korean.words(text) == korean._WORD_RE.findall(text)


def test_words_keeps_versions_and_contractions_whole() -> None:
    assert korean.words("gpt-4o v1.5 it's e.g. ..x 'q' a_b") == ["gpt", "4o", "v1.5", "it's", "e.g", "x", "q", "a", "b"]

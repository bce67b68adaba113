"""Splitting and cleaning: never inside a URL, a grapheme cluster or a surrogate pair; nothing lost or reordered."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from paperbot.digest.render import discord, slack
from paperbot.digest.text import (
    URL_RE,
    Atom,
    AtomEscaper,
    atoms,
    escape_text,
    graphemes,
    join_limited,
    pack_lines,
    split_escaped,
    truncate,
    utf16_len,
)
from paperbot.untrusted import clean_untrusted
from tests.digest.strategies import hostile_text, long_text

ESCAPERS: list[AtomEscaper] = [lambda atom: atom.text, discord.escape_atom, slack.escape_atom]


def _unsafe_boundaries(text: str) -> set[int]:
    """Positions in ``text`` where a cut would break a grapheme cluster or a URL."""
    bad: set[int] = set()
    position = 0
    for cluster in graphemes(text):
        bad.update(range(position + 1, position + len(cluster)))
        position += len(cluster)
    for match in URL_RE.finditer(text):
        bad.update(range(match.start() + 1, match.end()))
    return bad


def _plain_cuts(text: str, chunks: list[str], escape_atom: AtomEscaper) -> list[int]:
    """Map each chunk boundary of the escaped text back to a position in the plain text (atom by atom)."""
    cuts: list[int] = []
    targets = []
    acc = 0
    for chunk in chunks[:-1]:
        acc += len(chunk)
        targets.append(acc)
    plain = escaped = 0
    pending = list(targets)
    for atom in atoms(text):
        if pending and escaped == pending[0]:
            cuts.append(plain)
            pending.pop(0)
        plain += len(atom.text)
        escaped += len(escape_atom(atom))
    if pending and escaped == pending[0]:
        cuts.append(plain)
        pending.pop(0)
    # Every cut landed on an atom boundary of the escaped text (none fell inside an escape or an atom).
    assert not pending, "a split fell inside an atom"
    return cuts


@settings(max_examples=150, deadline=None)
@given(long_text, st.integers(min_value=40, max_value=400), st.sampled_from([0, 1, 2]))
def test_split_escaped_is_lossless_and_never_cuts_an_atom(raw: str, limit: int, which: int) -> None:
    escape_atom = ESCAPERS[which]
    text = clean_untrusted(raw)
    chunks = split_escaped(text, limit, escape_atom)
    assert "".join(chunks) == escape_text(text, escape_atom)
    assert all(chunk for chunk in chunks)
    for chunk in chunks:
        if utf16_len(chunk) > limit:  # only a single URL longer than the limit may be cut
            assert any(m.end() - m.start() > limit // 4 for m in URL_RE.finditer(text))
    bad = _unsafe_boundaries(text)
    long_urls = [m for m in URL_RE.finditer(text) if utf16_len(escape_atom(Atom(m.group(), True))) > limit]
    for cut in _plain_cuts(text, chunks, escape_atom) if not long_urls else []:
        assert cut not in bad, (cut, text[max(0, cut - 5) : cut + 5])
    for chunk in chunks[1:]:
        chunk.encode("utf-16", "strict")  # no lone surrogate, so no pair was cut
        assert not unicodedata.category(chunk[0]).startswith("M"), "chunk starts with a combining mark"
        assert chunk[0] not in "\u200d\ufe0f" and not 0x1F3FB <= ord(chunk[0]) <= 0x1F3FF


@settings(max_examples=100, deadline=None)
@given(st.lists(hostile_text(30), min_size=1, max_size=30), st.integers(min_value=60, max_value=3000))
def test_pack_lines_keeps_order_and_content(lines: list[str], limit: int) -> None:
    cleaned = [clean_untrusted(line) or "-" for line in lines]
    chunks = pack_lines(cleaned, limit, discord.escape_atom)
    assert all(utf16_len(c) <= limit for c in chunks) or any(
        utf16_len(discord.escape_atom(Atom(m.group(), True))) > limit for line in cleaned for m in URL_RE.finditer(line)
    )
    joined = "".join(discord.unescape(c) for c in chunks).replace("\n", "")
    assert joined == "".join(cleaned).replace("\n", "")


def test_a_cut_at_a_space_still_leaves_room_for_the_next_atom() -> None:
    # Found by Hypothesis: the tail kept after a space cut (an emoji) plus the next atom (a URL) overflowed.
    line = "가 가 가 👨\u200d👩\u200d👧\u200d👦https://a.example.com/https://a.example.com/====="
    chunks = pack_lines(["가", line], 60, discord.escape_atom)
    assert all(utf16_len(chunk) <= 60 for chunk in chunks)
    assert "".join(discord.unescape(c) for c in chunks) == "가" + line


def test_split_prefers_spaces_and_keeps_urls_whole() -> None:
    text = "가나다 " * 30 + "https://example.com/a_very_long_path/that_must_stay_whole?x=1 " + "라마바 " * 30
    chunks = split_escaped(text, 80, lambda atom: atom.text)
    assert "".join(chunks) == text
    assert any("https://example.com/a_very_long_path/that_must_stay_whole?x=1" in c for c in chunks)
    assert all(c.endswith(" ") for c in chunks[:-1])


def test_emoji_zwj_and_flags_are_never_cut() -> None:
    family = "👨\u200d👩\u200d👧\u200d👦"
    text = family * 50
    for limit in (11, 12, 13, 20):
        chunks = split_escaped(text, limit, lambda atom: atom.text)
        assert "".join(chunks) == text
        assert all(len(c) % len(family) == 0 for c in chunks)


def test_clean_removes_controls_bidi_and_lone_surrogates() -> None:
    assert clean_untrusted("a\x1b[31mred\x1b[0m\tb\n\nc") == "a [31mred [0m b c"
    assert clean_untrusted("ab\u202ecd\u200bef") == "abcdef"
    assert clean_untrusted("x\ud800y") == "x\ufffdy"
    assert clean_untrusted(None) == ""


def test_truncate_adds_an_ellipsis_only_when_cut() -> None:
    assert truncate("짧다", 10, lambda atom: atom.text) == ("짧다", False)
    cut, was_cut = truncate("가" * 300, 256, lambda atom: atom.text)
    assert was_cut and cut.endswith("…") and utf16_len(cut) <= 256


def test_join_limited_says_how_many_names_were_left_out() -> None:
    names = [f"Author Number {i}" for i in range(100)]
    text = join_limited(names, 120, lambda atom: atom.text)
    assert len(text) <= 120
    shown = text.rsplit(" +", 1)
    assert shown[0].count(",") + 1 + int(shown[1]) == 100
    assert join_limited(["A", "B"], 100, lambda atom: atom.text) == "A, B"

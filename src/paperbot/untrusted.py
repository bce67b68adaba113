"""The one cleaner of untrusted text (pure, stdlib only): :func:`clean_untrusted`.

Every title, author, abstract and excerpt a source brings in goes through it before it is stored, and the
summarisers (before a prompt) and the digest renderers (before escaping) clean with it too, so there is one set of
characters untrusted text may hold: none that acts without being seen, one line, one normal form.

- format characters (Unicode category Cf) are dropped: bidi embeddings, overrides and isolates (U+202A–U+202E,
  U+2066–U+2069, which make text read backwards), the zero-width space, the BOM, soft hyphens; they are invisible
  by definition, so dropping them keeps what a reader sees (only the joiners ZWNJ/ZWJ stay: they shape words and
  emoji);
- control characters (Cc: C0, DEL, C1 incl. terminal escapes) and line/paragraph separators (Zl, Zp) become spaces;
- lone surrogates (Cs; lenient JSON decoding lets them through, no database can encode them) and private-use
  characters (Co) become U+FFFD;
- whitespace runs become one space, ends are stripped;
- the result is in Unicode NFC (decomposed Hangul jamo or ``e`` + U+0301 become the composed syllable or letter),
  so equal text is equal code points wherever it came from.

Unassigned code points (Cn) stay: for this Python's Unicode tables they include emoji newer than it (🫨 on 3.11),
which every client draws.
"""

from __future__ import annotations

import unicodedata

__all__ = ["clean_untrusted"]

_REPLACEMENT = "\ufffd"
#: Format characters that join (U+200C ZWNJ, U+200D ZWJ): they shape Persian and Indic words and emoji sequences
#: (🧑‍💻) and cannot reorder text, so they stay.
_JOINERS = frozenset("\u200c\u200d")


def _cleaned(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cf":
        return char if char in _JOINERS else ""
    if category in ("Cc", "Zl", "Zp"):
        return " "
    if category in ("Cs", "Co"):
        return _REPLACEMENT
    return char


def clean_untrusted(value: object, *, limit: int | None = None) -> str:
    """``value`` as one clean line (see the module); non-strings become ''. With ``limit``, at most that many
    characters, a cut one ending in "…"."""
    if not isinstance(value, str):
        return ""
    if value.isprintable() and "  " not in value and value == value.strip():
        # The common case (names, titles): str.isprintable is False for every Cc, Cf, Cs, Co, Cn, Zl, Zp character
        # and for whitespace other than the plain space, so there is nothing to clean.
        text = value
    else:
        # Whitespace first (abstracts hold newlines): _cleaned keeps every whitespace character or makes it a space,
        # so collapsing it first changes nothing, and text printable after that needs nothing more.
        text = " ".join(value.split())
        if not text.isprintable():
            text = " ".join("".join(map(_cleaned, text)).split())
    # After the cleaning (a dropped format character may have separated a letter from its accent). NFC maps no
    # character to whitespace or to one cleaned above, so the result stays clean. The check is a quick scan.
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text

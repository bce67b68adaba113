"""Text primitives for the renderers: measuring untrusted text and splitting it safely (it is cleaned first, by
:func:`paperbot.untrusted.clean_untrusted`).

Every platform limit is checked in UTF-16 code units, which is never less than the number of code points, so a
payload within limits by this measure is within limits whether the platform counts code points or JavaScript
string length. Splits happen only between *atoms*: a URL is one atom, everything else is one grapheme cluster per
atom (so a split never falls inside a URL, a grapheme cluster, or a surrogate pair). Renderers escape atom by atom,
so ``escape(a + b) == escape(a) + escape(b)`` holds and a split of the escaped text is a split of the plain text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import regex

from paperbot.untrusted import clean_untrusted

#: A URL as it appears in running text: scheme, then anything up to whitespace or a closing bracket/quote.
URL_RE = re.compile(
    r"(?:https?|ftp|javascript|data|file|mailto|discord|slack)://[^\s<>\"'`]+"
    r"|www\.[^\s<>\"'`]+"
    r"|discord(?:app)?\.(?:gg|com)/[^\s<>\"'`]+",
    re.I,
)
_GRAPHEME_RE = regex.compile(r"\X")
#: Units an escaped string may be cut between: a backslash escape, an HTML entity, a grapheme cluster.
_UNIT_RE = regex.compile(r"\\.|&(?:amp|lt|gt);|\X", regex.S)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (what JavaScript's ``.length`` reports)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def graphemes(text: str) -> list[str]:
    """Extended grapheme clusters of ``text`` (emoji ZWJ sequences, Hangul jamo, combining marks stay whole)."""
    return list(_GRAPHEME_RE.findall(text))


@dataclass(frozen=True, slots=True)
class Atom:
    """The smallest piece a split may not cut: a URL or one grapheme cluster."""

    text: str
    is_url: bool = False


def atoms(text: str) -> list[Atom]:
    """Cut ``text`` into atoms: URLs whole, everything else grapheme by grapheme."""
    result: list[Atom] = []
    position = 0
    for match in URL_RE.finditer(text):
        result.extend(Atom(g) for g in graphemes(text[position : match.start()]))
        result.append(Atom(match.group(), is_url=True))
        position = match.end()
    result.extend(Atom(g) for g in graphemes(text[position:]))
    return result


#: How a renderer escapes one atom for its platform.
AtomEscaper = Callable[[Atom], str]


def escape_text(text: str, escape_atom: AtomEscaper) -> str:
    return "".join(escape_atom(atom) for atom in atoms(text))


def split_escaped(text: str, limit: int, escape_atom: AtomEscaper) -> list[str]:
    """Escape ``text`` and cut it into chunks of at most ``limit`` UTF-16 units, only between atoms.

    Prefers to cut after a space (in the second half of a chunk). ``"".join(result) == escape_text(text)``.
    An atom longer than ``limit`` by itself (a giant URL) is the one case where an atom is cut, at grapheme
    boundaries; it cannot fit anywhere whole.
    """
    if limit < 2:
        raise ValueError("limit too small")
    pieces: list[tuple[str, int, bool]] = []  # (escaped, cost, is_space)
    for atom in atoms(text):
        escaped = escape_atom(atom)
        cost = utf16_len(escaped)
        if cost <= limit:
            pieces.append((escaped, cost, atom.text.isspace()))
            continue
        # An atom larger than a whole chunk (a giant URL) cannot fit anywhere: cut its *escaped* form between
        # escape units (a backslash pair, an entity, a grapheme), so the defusing stays intact.
        for unit in _UNIT_RE.findall(escaped):
            for cluster in _hard_cut(unit, limit):
                pieces.append((cluster, utf16_len(cluster), False))
    chunks: list[str] = []
    current: list[tuple[str, int, bool]] = []
    size = 0
    for piece in pieces:
        # A loop, not an if: after a cut at a space, the kept tail plus this piece may still not fit.
        while size + piece[1] > limit and current:
            cut = len(current)
            for index in range(len(current) - 1, len(current) // 2 - 1, -1):
                if current[index][2]:
                    cut = index + 1
                    break
            chunks.append("".join(p[0] for p in current[:cut]))
            current = current[cut:]
            size = sum(p[1] for p in current)
        current.append(piece)
        size += piece[1]
    if current:
        chunks.append("".join(p[0] for p in current))
    return chunks


def _hard_cut(text: str, limit: int) -> list[str]:
    """Last resort for one grapheme longer than a chunk (pathological combining runs): cut at code points."""
    out: list[str] = []
    current = ""
    for char in text:
        if utf16_len(current + char) > limit:
            out.append(current)
            current = ""
        current += char
    if current:
        out.append(current)
    return out


def pack_lines(lines: Sequence[str], limit: int, escape_atom: AtomEscaper, *, separator: str = "\n") -> list[str]:
    """Escape lines and pack them into chunks of at most ``limit`` units, joined by ``separator``.

    Whole lines are kept together when they fit; a line longer than a chunk is split with :func:`split_escaped`.
    Nothing is dropped or reordered.
    """
    sep_cost = utf16_len(separator)
    chunks: list[str] = []
    current = ""
    for line in lines:
        escaped = escape_text(line, escape_atom)
        if current and utf16_len(current) + sep_cost + utf16_len(escaped) <= limit:
            current = current + separator + escaped
            continue
        if current:
            chunks.append(current)
            current = ""
        if utf16_len(escaped) <= limit:
            current = escaped
        else:
            parts = split_escaped(line, limit, escape_atom)
            chunks.extend(parts[:-1])
            current = parts[-1]
    if current:
        chunks.append(current)
    return chunks


def truncate(text: str, limit: int, escape_atom: AtomEscaper, *, ellipsis: str = "…") -> tuple[str, bool]:
    """Escape ``text`` and cut it to ``limit`` units at an atom boundary, adding ``ellipsis`` when cut."""
    escaped = escape_text(text, escape_atom)
    if utf16_len(escaped) <= limit:
        return escaped, False
    budget = limit - utf16_len(ellipsis)
    out: list[str] = []
    size = 0
    for atom in atoms(text):
        piece = escape_atom(atom)
        cost = utf16_len(piece)
        if size + cost > budget:
            break
        out.append(piece)
        size += cost
    return "".join(out).rstrip() + ellipsis, True


def join_limited(names: Iterable[str], limit: int, escape_atom: AtomEscaper, *, sep: str = ", ") -> str:
    """Join names until ``limit`` units, then say how many were left out: ``a, b, c +12``."""
    all_names = [name for name in (clean_untrusted(n) for n in names) if name]
    out: list[str] = []
    size = 0
    for index, name in enumerate(all_names):
        escaped = escape_text(name, escape_atom)
        rest = len(all_names) - index - 1
        tail = f" +{rest}" if rest else ""
        cost = utf16_len(escaped) + (utf16_len(sep) if out else 0)
        if size + cost + utf16_len(tail) > limit:
            remaining = len(all_names) - index
            suffix = f"+{remaining}"
            return (sep.join(out) + " " + suffix) if out else suffix
        out.append(escaped)
        size += cost
    return sep.join(out)

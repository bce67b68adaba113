"""Text helpers shared by the summarisers: prompt-safe input, splitting English sentences, hashing input.

Titles and abstracts are untrusted (scraped, user-submitted). Before they reach a model they are cleaned by
:func:`paperbot.untrusted.clean_untrusted` (the one cleaner: NFC, no control, format or bidi characters), capped in
length, and any look-alike of the prompt's delimiters is neutralised: the last two are this module's own job.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

from paperbot.domain import Item
from paperbot.summarize.article import article_text
from paperbot.untrusted import clean_untrusted

#: Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = (
    "e.g.",
    "i.e.",
    "etc.",
    "vs.",
    "cf.",
    "fig.",
    "figs.",
    "eq.",
    "eqs.",
    "sec.",
    "no.",
    "approx.",
    "resp.",
    "dr.",
    "mr.",
    "ms.",
    "prof.",
    "inc.",
    "ltd.",
    "co.",
    "st.",
    "al.",
    "u.s.",
    "u.k.",
    "u.n.",
)
#: A sentence ends at . ! ? (a closing quote or bracket stays with it) before a space and a capital or a digit, or
#: directly before a capitalised word when the period follows a lowercase word ("estimators.We": a lost space).
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])([\"')\]]?)\s+(?=[\"'(\[]?[A-Z0-9])|(?<=[a-z]{2}[.!?])()(?=[A-Z][a-z])")
_WS_RE = re.compile(r"\s+")
#: Prompt delimiters and their look-alikes: angle brackets (also full-width and other variants) and code fences.
_DELIMITER_TRANSLATION = str.maketrans(
    {
        "<": "‹",
        ">": "›",
        "\uff1c": "‹",
        "\uff1e": "›",
        "\u2329": "‹",
        "\u232a": "›",
        "\u27e8": "‹",
        "\u27e9": "›",
        "\u3008": "‹",
        "\u3009": "›",
        "`": "'",
    }
)


def wordset(words: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string (long word lists read better so)."""
    return frozenset(words.split())


def collapse_ws(text: str) -> str:
    """Runs of whitespace become one space; ends stripped."""
    return _WS_RE.sub(" ", text).strip()


def has_hidden_characters(text: str) -> bool:
    """True when the text holds control, format (bidi, zero-width) or private-use characters other than spaces."""
    return any(unicodedata.category(ch).startswith("C") and not ch.isspace() for ch in text)


def cap_length(text: str, max_chars: int) -> str:
    """Cut ``text`` to ``max_chars``, at the end of a sentence when one is near, else at a space."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    cut = max(head.rfind(". "), head.rfind("? "), head.rfind("! "))
    if cut >= max_chars // 2:
        return head[: cut + 1]
    space = head.rfind(" ")
    return head[:space] if space >= max_chars // 2 else head


@lru_cache(maxsize=1024)
def sanitize_for_prompt(text: str, max_chars: int) -> str:
    """Untrusted text made safe to place between the prompt's delimiters."""
    text = clean_untrusted(text).translate(_DELIMITER_TRANSLATION)
    return cap_length(text, max_chars)


def split_sentences(text: str) -> list[str]:
    """English sentences of ``text`` (whitespace already collapsed), each a substring of it."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        candidate = text[start : match.start()]
        last_word = candidate.rsplit(maxsplit=1)[-1].lstrip("([\"'").lower() if candidate.strip() else ""
        if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]\.", last_word):
            continue  # "et al." / an initial: the sentence goes on
        end = match.start() + len(match.group(1) or "")  # a closing quote or bracket stays with its sentence
        sentence = text[start:end].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


_LATEX_SYMBOLS = {
    "sim": "~",
    "approx": "≈",
    "times": "×",
    "pm": "±",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "cdot": "·",
    "to": "→",
    "rightarrow": "→",
    "infty": "∞",
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "lambda": "λ",
    "mu": "μ",
    "sigma": "σ",
    "tau": "τ",
    "%": "%",
    "&": "&",
    "_": "_",
    "#": "#",
}
_LATEX_WRAPPERS = (
    "texttt|textbf|textit|textsc|textrm|textsf|mathbf|mathrm|mathcal|mathit|mathsf|mathbb|emph|operatorname"
)
#: ``\textbf{X}`` and its residue without the backslash (``texttt{D}ual``, as upstream feeds strip backslashes).
_LATEX_WRAPPED_RE = re.compile(
    rf"\\(?:{_LATEX_WRAPPERS}|text|mbox)\s*\{{([^{{}}]*)\}}|(?<![A-Za-z])(?:{_LATEX_WRAPPERS})\{{([^{{}}]*)\}}"
)
_LATEX_COMMAND_RE = re.compile(r"\\([A-Za-z]+|[%&_#])\s?")
#: Residue of ``$\sim$15`` and ``$\approx$100K`` once the backslash and dollars are gone: ``sim15``, ``approx100K``.
_LATEX_RESIDUE_RE = re.compile(r"(?<![A-Za-z])(sim|approx)(?=\s?\d)|(?<=\d)(times)(?![a-z])")
_LATEX_MATH_RE = re.compile(r"\$([^$]{0,200})\$")


def strip_latex(text: str) -> str:
    r"""LaTeX markup of abstracts turned into plain text: ``$\sim$15min`` → ``~15min``, ``\textbf{X}`` → ``X``,
    residue without backslashes (``texttt{D}ual``, ``approx100K``) too. Text without LaTeX comes back unchanged."""
    if "\\" not in text and "$" not in text and "{" not in text and not _LATEX_RESIDUE_RE.search(text):
        return text
    text = _LATEX_MATH_RE.sub(lambda m: m.group(1), text)
    text = _LATEX_WRAPPED_RE.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)
    text = _LATEX_COMMAND_RE.sub(lambda m: _LATEX_SYMBOLS.get(m.group(1), ""), text)
    text = _LATEX_RESIDUE_RE.sub(lambda m: _LATEX_SYMBOLS[m.group(1) or m.group(2)], text)
    return collapse_ws(text)


def input_hash(item: Item, max_chars: int) -> str:
    """SHA-256 of what a model sees for ``item``: kind, sanitised title and capped abstract, and a post's attached
    article (without one the hash is what it always was: stored summaries stay current)."""
    title = sanitize_for_prompt(item.title, 500)
    abstract = sanitize_for_prompt(item.abstract, max_chars)
    payload = f"{item.kind.value}\n{title}\n{abstract}"
    article = article_text(item)
    if article:
        payload += "\n\x00article\n" + article
    return hashlib.sha256(payload.encode()).hexdigest()

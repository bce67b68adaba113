"""Korean text analysis shared by search indexing and the summary evaluation (ROUGE on morphemes).

With the ``korean`` extra installed (kiwipiepy, which ships its model) text is split into morphemes, so
``모델의`` yields ``모델`` + ``의`` and ``언어모델`` yields ``언어`` + ``모델``. Without it a lighter fallback strips
common particles and endings from Hangul words and splits long ones into two-syllable pieces: worse, but
dependency-free. ``analyzer_name()`` says which one is in use.
"""

from __future__ import annotations

import importlib.util
import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

_WORD_RE = re.compile(r"[0-9A-Za-z]+(?:[.'][0-9A-Za-z]+)*|[\uac00-\ud7a3]+|[^\W\d_]+", re.UNICODE)
_HANGUL_RE = re.compile(r"[\uac00-\ud7a3]")
#: ASCII text (most English abstracts) only needs the first alternative of _WORD_RE; it is found faster by turning
#: every other character into a space and splitting, with the regex only for pieces holding ``.`` or ``'``.
_ASCII_WORD_RE = re.compile(r"[0-9A-Za-z]+(?:[.'][0-9A-Za-z]+)*")
_ASCII_SEPARATORS = str.maketrans(
    {chr(code): " " for code in range(128) if not (chr(code).isalnum() or chr(code) in ".'")}
)

#: Kiwi tags kept as search tokens: nouns, verb/adjective stems, roots, foreign words, numbers, hanja.
_CONTENT_TAGS = ("NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SN", "SH", "MAG")

#: Particles and endings stripped by the fallback, longest first.
_FALLBACK_SUFFIXES = tuple(
    sorted(
        {
            "으로서",
            "으로써",
            "에서는",
            "에게서",
            "이라는",
            "이라고",
            "입니다",
            "습니다",
            "합니다",
            "했습니다",
            "으로",
            "에서",
            "에게",
            "까지",
            "부터",
            "보다",
            "처럼",
            "만큼",
            "라는",
            "이나",
            "하고",
            "하는",
            "하여",
            "해서",
            "했다",
            "한다",
            "된다",
            "되는",
            "이다",
            "니다",
            "과",
            "와",
            "은",
            "는",
            "이",
            "가",
            "을",
            "를",
            "의",
            "에",
            "도",
            "만",
            "로",
            "고",
            "며",
            "한",
            "된",
        },
        key=len,
        reverse=True,
    )
)


_load_lock = threading.Lock()


@lru_cache(maxsize=1)
def _load_kiwi() -> Any:
    try:
        from kiwipiepy import Kiwi
    except ImportError:
        return None
    return Kiwi()


@lru_cache(maxsize=1)
def _get_kiwi() -> Any:
    """The shared Kiwi instance (loading takes seconds, so it happens once), or None.

    Loaded under a lock: threads that ask at the same time wait for one load instead of each loading a model.
    """
    with _load_lock:
        return _load_kiwi()


def kiwi() -> Any:
    """The shared Kiwi analyser (loaded on first use, seconds: call it off the event loop), or None."""
    return _get_kiwi()


@lru_cache(maxsize=1)
def _kiwi_installed() -> bool:
    return importlib.util.find_spec("kiwipiepy") is not None


def analyzer_name() -> str:
    """``kiwi`` when the morphological analyser is installed, else ``fallback``.

    Answered without loading Kiwi's model (two seconds, ~300 MB): text without Hangul never needs it, so a
    backfill of English papers does not pay for it.
    """
    return "kiwi" if _kiwi_installed() else "fallback"


def load() -> str:
    """Load the analyser now rather than on the first Korean text (Kiwi takes seconds); returns its name."""
    _get_kiwi()
    return analyzer_name()


def normalize(text: str) -> str:
    """NFKC (composes NFD Hangul, folds full-width forms), drop control/format characters, casefold."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isprintable():  # isprintable() is False for every category-C character (and a few spaces)
        text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return text.casefold()


def words(text: str) -> list[str]:
    """Latin/number words (``v1.5``, ``it's`` kept whole), Hangul runs and other letter runs of ``text``, in order."""
    if not text.isascii():
        return _WORD_RE.findall(text)
    found: list[str] = []
    for piece in text.translate(_ASCII_SEPARATORS).split():
        if piece.isalnum():
            found.append(piece)
        else:
            found.extend(_ASCII_WORD_RE.findall(piece))
    return found


def _fallback_split(word: str, *, pieces: bool = True) -> list[str]:
    if not _HANGUL_RE.match(word):
        return [word]
    stem = word
    for suffix in _FALLBACK_SUFFIXES:
        if len(stem) > len(suffix) and stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if len(stem) <= 2 or not pieces:
        return [stem]
    # Compound nouns are usually two-syllable pieces (언어모델 → 언어, 모델): index the pieces and the whole.
    return [stem, *(stem[i : i + 2] for i in range(0, len(stem) - 1))]


def morphemes(text: str) -> list[str]:
    """Every morpheme of ``text`` in order (casefolded), for ROUGE; punctuation and whitespace dropped."""
    clean = normalize(text)
    kiwi = _get_kiwi()
    if kiwi is None:
        return [piece for word in words(clean) for piece in _fallback_split(word, pieces=False)]
    return [
        token.form
        for token in kiwi.tokenize(clean)
        if not token.tag.startswith(("S", "W")) or token.tag in ("SL", "SN", "SH")
    ]


def index_tokens(text: str, *, with_stems: bool = True) -> list[str]:
    """Content tokens of ``text`` for a search index: nouns, stems, Latin words and numbers, casefolded.

    With the analyser, ``with_stems`` also adds each Hangul word with its particle or ending stripped (the
    fallback's stem): Kiwi sometimes mis-splits rare nouns next to loanwords (``희소 어텐션`` → ``희``, ``소``,
    ``어텐션``), and the stem keeps ``희소`` findable. Queries leave it off so that ``언어모델`` still means
    ``언어`` + ``모델`` and matches ``언어 모델``.
    """
    clean = normalize(text)
    if clean.isascii() or not _HANGUL_RE.search(clean):
        # Most papers are English: the analyser would only add sub-pieces of words kept whole here, at ~1 ms a
        # text. query_tokens() takes the same path for queries without Hangul, so both sides agree.
        return words(clean)
    kiwi = _get_kiwi()
    if kiwi is None:
        return [piece for word in words(clean) for piece in _fallback_split(word) if piece]
    tokens: list[str] = []
    for token in kiwi.tokenize(clean):
        if token.tag.startswith(_CONTENT_TAGS):
            tokens.append(token.form)
    seen = set(tokens)
    for word in words(clean):
        extra = word
        if _HANGUL_RE.match(word):
            if not with_stems:
                continue
            extra = _fallback_split(word, pieces=False)[0]
            if len(extra) < 2:  # a bare particle (``와`` after ``GPT-4o``) or a syllable Kiwi already has
                continue
        # Kiwi splits "gpt-4" into pieces; keep Latin words whole too, so exact names still match.
        if extra not in seen:
            seen.add(extra)
            tokens.append(extra)
    return tokens


@lru_cache(maxsize=4096)
def index_text(text: str) -> str:
    """``index_tokens`` joined by spaces: the value of a full-text index column."""
    return " ".join(index_tokens(text))


#: Query tokens too common to narrow a search: Korean stems and bound nouns that nearly every summary has, and
#: English function words. Dropped from queries (not from the index) unless nothing else is left.
QUERY_STOPWORDS = frozenset(
    {
        "하",
        "있",
        "되",
        "않",
        "없",
        "수",
        "것",
        "등",
        "때",
        "이",
        "그",
        "저",
        "더",
        "잘",
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "is",
        "of",
        "on",
        "or",
        "the",
        "to",
        "via",
        "with",
    }
)


def query_tokens(text: str, *, limit: int = 16) -> list[str]:
    """``index_tokens`` of a search query: deduplicated, stopwords dropped (unless that leaves none), at most ``limit``."""
    clean = normalize(text)
    if _HANGUL_RE.search(clean):
        tokens = list(dict.fromkeys(index_tokens(clean, with_stems=False)))
    else:
        # No Hangul: the analyser would only add sub-pieces of words the index also holds whole, so skip it (and
        # its seconds-long first load in a short-lived CLI).
        tokens = list(dict.fromkeys(words(clean)))
    kept = [token for token in tokens if token not in QUERY_STOPWORDS]
    return (kept or tokens)[:limit]

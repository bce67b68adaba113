"""Korean text analysis shared by search indexing and the summary evaluation (ROUGE on morphemes).

Two analysers:

- the fallback (always available, pure Python, microseconds a text): strips common particles and endings from
  Hangul words and indexes long ones also as two-syllable pieces (``언어모델`` → ``언어모델``, ``언어``, ``모델``);
- Kiwi (the ``korean`` extra, kiwipiepy): morphemes, so ``모델의`` yields ``모델`` + ``의``.

Search uses the fallback unless configured otherwise (``configure(search_analyzer="kiwi")``, the
``search_analyzer`` setting). Measured on the graded relevance judgements of tests/data/search/relevance.jsonl
(95 queries over 94 real papers; tests/search/test_ranking.py, bench/eval_search.py) through SQLite FTS5: recall@10
0.775, P@5 0.367, nDCG@5 0.723 for the fallback against 0.760, 0.365, 0.728 for Kiwi (the differences' bootstrap
intervals all contain 0; the fallback wins on unspaced compounds, Kiwi on particle-heavy sentences), while Kiwi
costs ~320 MB of RSS even with its typo and multi-word dictionaries off (~500 MB with them) and a load of 2-7 s during which it holds
the GIL (a worker thread does not keep the event loop running). Kiwi stays what the summary gate and ROUGE use
(:func:`kiwi`, :func:`morphemes`) when installed. ``analyzer_name()`` says which analyser search uses; documents
record it, and ``paperbot search --reindex`` rebuilds them after a change.
"""

from __future__ import annotations

import importlib.util
import re
import threading
import unicodedata
from collections.abc import Iterable
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

#: Kiwi without its typo-correction and multi-word dictionaries: peak RSS of a process that loads it and analyses
#: one sentence 347 MB instead of 539 MB, loading in 2.4 s instead of 6.8 s (kiwipiepy 0.24, this 2-core box), with
#: the same recall@10, P@5 and nDCG@5 on the graded judgements of tests/data/search (measured with both settings).
KIWI_OPTIONS: dict[str, Any] = {"load_typo_dict": False, "load_multi_dict": False}
#: A sentence whose analysis makes Kiwi load its whole model (the constructor alone does not: the first
#: ``tokenize`` does, for seconds).
_WARM_UP_TEXT = "언어모델의 희소 어텐션을 연구합니다."

SEARCH_ANALYZERS = ("fallback", "kiwi")
_search_analyzer = "fallback"


def configure(*, search_analyzer: str) -> None:
    """Choose the search analyser (``fallback`` or ``kiwi``; ``kiwi`` without kiwipiepy installed is the fallback).

    Call it once at start, before anything is indexed: documents and queries must be analysed alike.
    """
    global _search_analyzer  # noqa: PLW0603 (one process-wide choice, like the loaded model itself)
    if search_analyzer not in SEARCH_ANALYZERS:
        raise ValueError(f"unknown search analyser {search_analyzer!r} (one of {', '.join(SEARCH_ANALYZERS)})")
    if search_analyzer != _search_analyzer:
        _search_analyzer = search_analyzer
        index_text.cache_clear()


@lru_cache(maxsize=1)
def _load_kiwi() -> Any:
    try:
        from kiwipiepy import Kiwi
    except ImportError:
        return None
    analyser = Kiwi(**KIWI_OPTIONS)
    analyser.tokenize(_WARM_UP_TEXT)  # the model loads here, not on the first real text
    return analyser


@lru_cache(maxsize=1)
def _get_kiwi() -> Any:
    """The shared Kiwi instance (loading takes seconds, so it happens once), or None.

    Loaded under a lock: threads that ask at the same time wait for one load instead of each loading a model.
    """
    with _load_lock:
        return _load_kiwi()


def kiwi() -> Any:
    """The shared Kiwi analyser (loaded on first use, seconds holding the GIL), or None."""
    return _get_kiwi()


def _search_kiwi() -> Any:
    """Kiwi when search uses it, else None (the fallback)."""
    return _get_kiwi() if _search_analyzer == "kiwi" else None


@lru_cache(maxsize=1)
def _kiwi_installed() -> bool:
    return importlib.util.find_spec("kiwipiepy") is not None


def kiwi_installed() -> bool:
    """Whether kiwipiepy is installed (the summary gate and ROUGE then use it, whatever search uses)."""
    return _kiwi_installed()


def analyzer_name() -> str:
    """The search analyser: ``kiwi`` when configured and installed, else ``fallback``.

    Answered without loading Kiwi's model (seconds, ~300 MB): text without Hangul never needs it, so a backfill of
    English papers does not pay for it.
    """
    return "kiwi" if _search_analyzer == "kiwi" and _kiwi_installed() else "fallback"


def load() -> str:
    """Make the search analyser ready now (Kiwi: load its model and analyse a sentence); returns its name.

    Kiwi holds the GIL while it loads, so even in a worker thread this stalls the event loop for seconds: call it
    before the loop serves anyone. The fallback needs nothing.
    """
    if analyzer_name() == "kiwi":
        _get_kiwi()
    return analyzer_name()


def ready() -> bool:
    """Whether analysing Korean text for search now takes microseconds to milliseconds (no model left to load)."""
    return analyzer_name() == "fallback" or _load_kiwi.cache_info().currsize > 0


def needs_model(texts: Iterable[str]) -> bool:
    """Whether analysing ``texts`` for search runs Kiwi (some Hangul and Kiwi is the search analyser): worth a
    worker thread. The fallback's analysis is pure Python over a few words and runs where it is called."""
    return analyzer_name() == "kiwi" and any(not text.isascii() and _HANGUL_RE.search(text) for text in texts)


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
    kiwi = _search_kiwi()
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

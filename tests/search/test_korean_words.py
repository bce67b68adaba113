"""Word splitting shortcuts: ``korean.words``' ASCII path, and ASCII text left to SQLite FTS5 to tokenise."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from paperbot import korean
from paperbot.store import search

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


def _fts5_terms(text: str) -> list[tuple[str, int]]:
    with sqlite3.connect(":memory:") as db:
        db.execute("CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='unicode61')")
        db.execute("CREATE VIRTUAL TABLE terms USING fts5vocab(docs, 'instance')")
        db.execute("INSERT INTO docs (body) VALUES (?)", (text,))
        return [(term, offset) for term, offset in db.execute("SELECT term, offset FROM terms ORDER BY offset")]


@given(st.text(st.characters(max_codepoint=127), max_size=80))
def test_fts5_tokenises_ascii_text_as_the_analyser_does(text: str) -> None:
    # SQLite stores ASCII fields untokenised (search.make_document(fts5=True)) and search_fts uses unicode61 as
    # here (migration 0002): FTS5 must find the same terms at
    # the same positions as in the analyser's tokens, or phrase queries and bm25 would change.
    assert _fts5_terms(text) == _fts5_terms(" ".join(korean.index_tokens(text)))


def test_ascii_documents_for_sqlite_keep_the_text_and_others_are_analysed() -> None:
    english = search.make_document(
        1, title="GPT-4o v1.5", abstract="It's fast.", authors=(), extra={}, bullets=(), fts5=True
    )
    assert (english.title_tokens, english.body_tokens) == ("GPT-4o v1.5", "It's fast.")
    korean_title = search.make_document(
        1, title="언어모델의 추론", abstract="", authors=(), extra={}, bullets=(), fts5=True
    )
    assert korean_title.title_tokens == korean.index_text("언어모델의 추론")


def test_english_documents_and_the_analyser_name_do_not_load_kiwi() -> None:
    # Kiwi's model costs seconds and ~300 MB: a backfill of English papers must not load it.
    script = (
        "import sys\n"
        "from paperbot import korean\n"
        "from paperbot.store import search\n"
        "korean.configure(search_analyzer='kiwi')\n"
        "doc = search.make_document(1, title='Sparse attention', abstract='We study it.', authors=('A B',),"
        " extra={'ai_keywords': ['LLM']}, bullets=(), fts5=True)\n"
        "doc = search.make_document(1, title='Sparse attention', abstract='We study it.', authors=(), extra={},"
        " bullets=())\n"
        "assert doc.analyzer == korean.analyzer_name() == 'kiwi', doc.analyzer\n"
        "assert 'kiwipiepy' not in sys.modules, 'kiwi was loaded'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)

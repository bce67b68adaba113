"""Recall@5 of the labelled query set (Korean and English) over the fixture papers, on every repository."""

from __future__ import annotations

import pytest

from paperbot import korean
from paperbot.ports import Repository
from tests.search.corpus import load_corpus, load_queries, recall_at


def test_the_labelled_set_is_big_and_bilingual() -> None:
    queries = load_queries()
    korean_queries = [q for q in queries if any("\uac00" <= ch <= "\ud7a3" for ch in q["q"])]
    assert len(queries) >= 40
    assert len(korean_queries) >= 20
    assert len(queries) - len(korean_queries) >= 15


@pytest.mark.usefixtures("kiwi_search")
async def test_recall_at_5_with_the_korean_analyser(repository: Repository) -> None:
    assert korean.analyzer_name() == "kiwi", "kiwipiepy is part of the dev extra"
    ids = await load_corpus(repository)
    recall, missed = await recall_at(repository, ids)
    print(f"recall@5 (kiwi) = {recall:.3f}; missed: {missed}")
    assert recall >= 0.9, missed


@pytest.mark.usefixtures("no_kiwi")
async def test_recall_at_5_with_the_fallback_analyser(repository: Repository) -> None:
    assert korean.analyzer_name() == "fallback"
    ids = await load_corpus(repository)
    recall, missed = await recall_at(repository, ids)
    print(f"recall@5 (fallback) = {recall:.3f}; missed: {missed}")
    assert recall >= 0.9, missed

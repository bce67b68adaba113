"""Fixtures for the search tests: the analyser switched off (the documented fallback)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paperbot import korean


@pytest.fixture
def no_kiwi(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run as if kiwipiepy were not installed (index and queries both use the fallback analyser)."""
    korean.index_text.cache_clear()
    monkeypatch.setattr(korean, "_get_kiwi", lambda: None)
    monkeypatch.setattr(korean, "_kiwi_installed", lambda: False)
    yield
    korean.index_text.cache_clear()


@pytest.fixture
def kiwi_search() -> Iterator[None]:
    """Search analysed by Kiwi (``search_analyzer = "kiwi"``) instead of the default fallback."""
    korean.configure(search_analyzer="kiwi")
    yield
    korean.configure(search_analyzer="fallback")


@pytest.fixture(params=["kiwi", "fallback"])
def analyser(request: pytest.FixtureRequest) -> str:
    """Each Korean analyser in turn: kiwipiepy, then the fallback."""
    if request.param == "fallback":
        request.getfixturevalue("no_kiwi")
    else:
        request.getfixturevalue("kiwi_search")
    assert korean.analyzer_name() == request.param
    return str(request.param)

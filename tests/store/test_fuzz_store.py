"""Property suite (issue 14): every repository — in memory, SQLite, PostgreSQL — stores items and source states
carrying the odd values that aborted PostgreSQL collects, and every item comes back.

An item is never refused for its values: NUL bytes and lone surrogates are dropped or replaced, counts clamped to
the INTEGER column, ids over VARCHAR(500) hashed, NaN/Infinity and 70-bit integers in JSON made storable,
oversized validators dropped. What comes back is exactly ``storable_item`` of what went in, on every backend.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperbot.domain import Item, ItemKind, SourceState
from paperbot.ports import Repository
from paperbot.store.values import (
    ETAG_MAX,
    MAX_INT,
    clamp_count,
    storable_external_id,
    storable_item,
    storable_json,
    storable_text,
)
from tests.sources.odd import json_safe, odd_item_fields, odd_text

_STORE = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
_RUNS = itertools.count()


async def _open(url: str | None) -> Repository:
    if url is None:
        from paperbot.store.memory import InMemoryRepository

        return InMemoryRepository()
    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository

    return SqlRepository(create_engine(url), owns_engine=True)


def _items(source: str, odd: list[dict[str, Any]], kinds: list[bool], id_tails: list[str]) -> list[Item]:
    items = [
        Item(source=source, external_id=f"good-{n}", kind=ItemKind.POST, title=f"좋은 글 {n}",
             url=f"https://blog.example.com/{n}", day=date(2025, 10, 3))
        for n in range(2)
    ]  # fmt: skip
    for n, (fields, is_paper, tail) in enumerate(zip(odd, kinds, id_tails, strict=False)):
        kind = ItemKind.PAPER if is_paper else ItemKind.POST
        items.append(Item(source=source, external_id=f"odd-{n}-{tail}", kind=kind, **fields))
    return items


async def _round_trip(url: str | None, odd: list[dict[str, Any]], kinds: list[bool], tails: list[str]) -> None:
    repository = await _open(url)
    source = f"fuzz-{next(_RUNS)}-{uuid.uuid4().hex[:8]}"
    try:
        items = _items(source, odd, kinds, tails)
        stored = await repository.add_items(items)
        assert [s.created for s in stored] == [True] * len(items)
        for item, result in zip(items, stored, strict=True):
            expected = storable_item(item)
            found = await repository.find_item(source, storable_external_id(item.external_id))
            assert found is not None and found.id == result.value.id
            assert found.external_id == expected.external_id and len(found.external_id) <= 500
            assert (found.title, found.url, found.abstract) == (expected.title, expected.url, expected.abstract)
            assert found.authors == expected.authors == tuple(storable_text(a) for a in item.authors)
            assert found.thumbnail_url == expected.thumbnail_url
            assert found.upvotes == clamp_count(item.upvotes) and 0 <= found.upvotes <= MAX_INT
            assert found.day == item.day
            assert found.published_at == item.published_at
            if json_safe(item.extra):
                assert found.extra == storable_json(item.extra)
        again = await repository.add_items(items)
        assert [s.created for s in again] == [False] * len(items)
    finally:
        await repository.close()


@_STORE
@given(
    st.lists(odd_item_fields(), max_size=4),
    st.lists(st.booleans(), min_size=4, max_size=4),
    st.lists(odd_text, min_size=4, max_size=4),
)
def test_items_with_odd_values_are_all_stored_and_come_back(
    repository_url: str | None, odd: list[dict[str, Any]], kinds: list[bool], tails: list[str]
) -> None:
    asyncio.run(_round_trip(repository_url, odd, kinds, tails))


async def _save_state(url: str | None, etag: str | None, last_modified: str | None, error: str | None) -> None:
    repository = await _open(url)
    name = f"fuzz-state-{uuid.uuid4().hex[:12]}"
    try:
        await repository.save_source_state(
            SourceState(name=name, etag=etag, last_modified=last_modified, consecutive_failures=2, last_error=error)
        )
        state = await repository.get_source_state(name)
        assert state is not None and state.consecutive_failures == 2
        assert state.etag == (storable_text(etag) if etag is not None and len(etag) <= ETAG_MAX else None)
        assert state.last_modified == (
            storable_text(last_modified) if last_modified is not None and len(last_modified) <= 100 else None
        )
        assert state.last_error == (storable_text(error) if error is not None else None)
    finally:
        await repository.close()


@_STORE
@given(st.none() | odd_text, st.none() | odd_text, st.none() | odd_text)
def test_source_states_with_odd_validators_are_saved(
    repository_url: str | None, etag: str | None, last_modified: str | None, error: str | None
) -> None:
    asyncio.run(_save_state(repository_url, etag, last_modified, error))

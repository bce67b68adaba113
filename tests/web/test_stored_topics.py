"""Topics stored with the items (``item_topics``): the repository contract on memory, SQLite and PostgreSQL, the
text-free listing a week is ranked from, and pages that are the same whether topics are stored, missing or stale."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from paperbot.digest.links import week_days, week_path
from paperbot.digest.topics import TAXONOMY_VERSION, item_topics
from paperbot.domain import Item, ItemKind, Summary, Vote
from paperbot.errors import StoreError
from paperbot.ports import Repository
from paperbot.service import archive
from paperbot.web.app import create_app
from tests.web.conftest import web_config
from tests.web.seed import CROWDED_DAY, Seeded

T0 = datetime(2025, 5, 22, 12, tzinfo=UTC)
DAY = date(2025, 5, 22)


def _item(ident: str, day: date = DAY, *, kind: ItemKind = ItemKind.PAPER, **changes: Any) -> Item:
    item = Item(
        source="hf_daily" if kind is ItemKind.PAPER else "blog",
        external_id=ident,
        kind=kind,
        title=f"Diffusion item {ident}",
        url=f"https://example.com/{ident}",
        day=day,
        abstract="A text-to-image diffusion model.",
        upvotes=3,
        upvotes_captured_at=T0 if kind is ItemKind.PAPER else None,
    )
    return replace(item, **changes)


async def _add(repository: Repository, *items: Item) -> list[int]:
    stored = await repository.add_items(items)
    return [s.value.id for s in stored if s.value.id is not None]


def _summary(item_id: int, text: str, created: datetime) -> Summary:
    return Summary(
        item_id=item_id,
        bullets=(text,),
        backend="offline",
        model="m",
        prompt_version="v1",
        input_hash=text.ljust(64, "0")[:64],
        created_at=created,
    )


# --- repository contract ----------------------------------------------------------------------------------------


async def test_topics_are_stored_under_a_version_and_only_that_version_is_read(repository: Repository) -> None:
    a, b = await _add(repository, _item("a"), _item("b"))
    assert await repository.save_topics("v1", {a: ("Diffusion", "Multimodal"), b: ["LLMs"], 10**9: ["Other"]}) == 2
    listed = {
        row.id: row.topics for row in await repository.listed_items(day_from=DAY, day_to=DAY, topics_version="v1")
    }
    assert listed == {a: ("Diffusion", "Multimodal"), b: ("LLMs",)}
    assert all(
        row.topics is None for row in await repository.listed_items(day_from=DAY, day_to=DAY, topics_version="v2")
    )
    ranked = await repository.items_with_votes(day_from=DAY, day_to=DAY, topics_version="v1")
    assert {r.item.id: r.topics for r in ranked} == listed
    assert all(r.topics is None for r in await repository.items_with_votes(day_from=DAY, day_to=DAY))
    # Storing again replaces, whatever the version was.
    assert await repository.save_topics("v2", {a: ["Quantization"]}) == 1
    again = await repository.listed_items(day_from=DAY, day_to=DAY, topics_version="v2")
    assert {row.id: row.topics for row in again} == {a: ("Quantization",), b: None}
    assert await repository.save_topics("v2", {}) == 0


async def test_the_listing_is_items_with_votes_without_the_text(repository: Repository) -> None:
    later = DAY + timedelta(days=1)
    published = datetime(2025, 5, 22, 8, 30, tzinfo=UTC)
    ids = await _add(
        repository,
        _item("low", upvotes=1),
        _item("high", upvotes=9),
        _item("next-day", later, upvotes=4),
        _item("post", kind=ItemKind.POST, published_at=published),
        _item("seen", kind=ItemKind.POST, extra={"backlog": True}),
        _item("odd", kind=ItemKind.POST, extra={"backlog": 0}),  # JSON that is there but false
        _item("marked-paper", extra={"backlog": True, "ai_keywords": ["x"]}),  # only posts are a feed's backlog
    )
    low, high, _, post, *_ = ids
    for n, (item_id, value) in enumerate([(low, 1), (low, 1), (post, -1), (high, -1)]):
        await repository.add_vote(Vote("slack", f"m{n}", f"{n:064x}", "👍", value, channel_id=f"C{n}", item_id=item_id))
    full = await repository.items_with_votes(day_from=DAY, day_to=later)
    listed = await repository.listed_items(day_from=DAY, day_to=later, topics_version=TAXONOMY_VERSION)
    assert [row.id for row in listed] == [r.item.id for r in full]  # the same order, ties included
    for row, ranked in zip(listed, full, strict=True):
        item = ranked.item
        assert (row.source, row.external_id, row.kind, row.day, row.upvotes, row.published_at) == (
            item.source,
            item.external_id,
            item.kind,
            item.day,
            item.upvotes,
            item.published_at,
        )
        assert row.team_votes == ranked.team_votes
        assert row.backlog == (item.kind is ItemKind.POST and bool(item.extra.get("backlog")))
        assert row.topics is None
    assert [row.backlog for row in listed if row.kind is ItemKind.POST] == [False, True, False]
    assert {row.id: row.team_votes for row in listed if row.team_votes} == {low: 2, post: -1, high: -1}
    assert next(row for row in listed if row.id == post).published_at == published


async def test_items_with_summaries_read_whole_items_with_their_latest_summary(repository: Repository) -> None:
    a, b, c = await _add(repository, _item("a", authors=("Kim", "Lee")), _item("b"), _item("c"))
    await repository.add_summary(_summary(a, "old", T0))
    await repository.add_summary(_summary(a, "new", T0 + timedelta(hours=1)))
    await repository.add_summary(_summary(c, "only", T0))
    found = await repository.items_with_summaries([c, a, b, 10**9, a])
    assert list(found) == [c, a, b]  # in the order asked, unknown ids left out
    assert found[a][0] == await repository.get_item(a) and found[a][0].authors == ("Kim", "Lee")
    assert found[a][1] is not None and found[a][1].bullets == ("new",)
    assert found[a][1] == (await repository.latest_summaries([a]))[a]
    assert found[b][1] is None
    assert found[c][1] is not None and found[c][1].bullets == ("only",)
    assert await repository.items_with_summaries([]) == {}


async def test_items_needing_topics_are_the_missing_and_the_stale_by_id(repository: Repository) -> None:
    ids = await _add(repository, *(_item(f"i{n}") for n in range(6)))
    await repository.save_topics("v2", {ids[0]: ["LLMs"], ids[3]: ["LLMs"]})
    await repository.save_topics("v1", {ids[1]: ["LLMs"]})
    stale = await repository.items_needing_topics("v2")
    assert [item.id for item in stale] == [ids[1], ids[2], ids[4], ids[5]]
    assert stale[0] == await repository.get_item(ids[1])  # whole items: topics are assigned from their text
    first = await repository.items_needing_topics("v2", limit=2)
    assert [item.id for item in first] == [ids[1], ids[2]]
    rest = await repository.items_needing_topics("v2", after_id=ids[2], limit=10)
    assert [item.id for item in rest] == [ids[4], ids[5]]
    assert await repository.items_needing_topics("v2", limit=0) == []


async def test_store_missing_topics_assigns_every_item_once(repository: Repository) -> None:
    items = [
        _item("diffusion"),
        _item("llm", title="A large language model technical report", abstract="We pretrain an LLM."),
        _item("llm-topics", title="Plain", abstract="", extra={"llm_topics": ["Red Teaming"]}),
        _item("post", kind=ItemKind.POST, title="Quantization to int4", abstract=""),
    ]
    ids = await _add(repository, *items)
    await repository.save_topics("an old taxonomy", {ids[0]: ["Recommendation"]})
    assert await archive.store_missing_topics(repository, batch=3) == 4  # in two batches
    assert await archive.store_missing_topics(repository) == 0
    listed = await repository.listed_items(day_from=DAY, day_to=DAY, topics_version=TAXONOMY_VERSION)
    expected = {i: item_topics(item.title, item.abstract, item.extra) for i, item in zip(ids, items, strict=True)}
    assert {row.id: row.topics for row in listed} == expected
    assert expected[ids[0]][0] == "Diffusion" and expected[ids[2]] == ("Red Teaming",)


# --- pages ------------------------------------------------------------------------------------------------------


async def _pages(repository: Repository, keeper: archive.TopicKeeper | None = None) -> tuple[Any, ...]:
    week = await archive.week_page(repository, week_days(CROWDED_DAY)[0], keeper=keeper)
    day = await archive.day_page(repository, CROWDED_DAY, keeper=keeper)
    return week, day


async def test_pages_are_the_same_with_stored_missing_or_stale_topics(repository: Repository, seeded: Seeded) -> None:
    assigned = await _pages(repository)  # nothing stored: every topic assigned by the page
    listed = await repository.listed_items(
        day_from=CROWDED_DAY - timedelta(days=7), day_to=CROWDED_DAY + timedelta(days=7), topics_version="x"
    )
    ids = [row.id for row in listed]
    # Stale topics (another taxonomy's) must not show up: wrong on purpose.
    await repository.save_topics("an old taxonomy", dict.fromkeys(ids, ("Recommendation",)))
    assert await _pages(repository) == assigned
    assert await archive.store_missing_topics(repository) >= len(ids)
    assert await _pages(repository) == assigned
    week, day = assigned
    assert week.papers == 26 and sum(bar.papers for bar in week.topics) == 26
    assert len(day.papers) == 26
    assert all(entry.item.title and entry.item.url for entry in week.digest.entries)  # whole items, not the listing


async def test_pages_read_the_stored_topics(repository: Repository, seeded: Seeded) -> None:
    """Stored topics of the current version are what the pages show (so they are really read, not re-assigned)."""
    await archive.store_missing_topics(repository)
    await repository.save_topics(TAXONOMY_VERSION, dict.fromkeys(seeded.crowded, ("Quantization",)))
    week, day = await _pages(repository)
    crowded = set(seeded.crowded)
    assert all(e.topics == ("Quantization",) for e in day.papers if e.item.id in crowded)
    assert any(e.item.id in crowded for e in week.digest.entries)
    assert all(e.topics == ("Quantization",) for e in week.digest.entries if e.item.id in crowded)
    quantization = next(bar for bar in week.topics if bar.topic == "Quantization")
    assert quantization.papers >= len(crowded)


async def test_topics_a_page_assigned_are_handed_to_the_keeper_and_stored(
    repository: Repository, seeded: Seeded
) -> None:
    keeper = archive.TopicKeeper(repository)
    running = asyncio.create_task(keeper.run())
    try:
        for _ in range(200):  # the backfill of the whole seeded archive
            if not await repository.items_needing_topics(TAXONOMY_VERSION, limit=1):
                break
            await asyncio.sleep(0.01)
        assert not await repository.items_needing_topics(TAXONOMY_VERSION, limit=1)
        # Items collected after the start (while the archive runs) get their topics from the first page showing them.
        new = await _add(repository, _item("late-1", CROWDED_DAY, upvotes=999), _item("late-2", CROWDED_DAY))
        assert {i.id for i in await repository.items_needing_topics(TAXONOMY_VERSION)} == set(new)
        week, _ = await _pages(repository, keeper)
        late = next(entry for entry in week.digest.entries if entry.item.id == new[0])
        assert late.rank == 1 and late.topics[0] == "Diffusion"  # grouped under its topic, ranked first of the week
        for _ in range(200):
            if not await repository.items_needing_topics(TAXONOMY_VERSION, limit=1):
                break
            await asyncio.sleep(0.01)
        assert not await repository.items_needing_topics(TAXONOMY_VERSION, limit=1)
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running


class _ReadOnly:
    """A repository whose writes fail, as with a read-only database role."""

    def __init__(self, inner: Repository) -> None:
        self._inner = inner
        self.attempts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def save_topics(self, version: str, topics: Any) -> int:
        self.attempts += 1
        raise StoreError("database error: OperationalError: attempt to write a readonly database")


async def test_an_archive_that_cannot_store_topics_warns_once_and_serves_the_same_pages(
    repository: Repository, seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    expected = await _pages(repository)
    read_only = _ReadOnly(repository)
    keeper = archive.TopicKeeper(read_only)  # type: ignore[arg-type]
    running = asyncio.create_task(keeper.run())
    try:
        with caplog.at_level(logging.WARNING, logger="paperbot.archive"):
            for _ in range(3):
                assert await _pages(read_only, keeper) == expected  # type: ignore[arg-type]
                await asyncio.sleep(0.01)
        assert read_only.attempts >= 2  # the backfill, then what the pages handed over
        warnings = [r for r in caplog.records if r.name == "paperbot.archive"]
        assert len(warnings) == 1 and "readonly" in warnings[0].getMessage()
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running


async def test_the_archive_app_stores_topics_while_it_serves(repository: Repository, seeded: Seeded) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    client: TestClient[Any, Any] = TestClient(
        TestServer(create_app(repository, web_config()), host="127.0.0.1", port=0)
    )
    await client.start_server()
    try:
        first = await (await client.get(week_path(CROWDED_DAY))).text()
        for _ in range(300):
            if not await repository.items_needing_topics(TAXONOMY_VERSION, limit=1):
                break
            await asyncio.sleep(0.01)
        assert not await repository.items_needing_topics(TAXONOMY_VERSION, limit=1)
        assert await (await client.get(week_path(CROWDED_DAY))).text() == first  # byte for byte
    finally:
        await client.close()
    off: TestClient[Any, Any] = TestClient(
        TestServer(create_app(repository, web_config(store_topics=False)), host="127.0.0.1", port=0)
    )
    await off.start_server()
    try:
        assert await (await off.get(week_path(CROWDED_DAY))).text() == first
    finally:
        await off.close()

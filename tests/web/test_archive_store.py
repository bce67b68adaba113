"""The archive's read-only repository queries, held to one contract on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from paperbot.domain import Item, ItemKind, UpvotePoint, Vote
from paperbot.ports import Repository

T0 = datetime(2025, 5, 22, 12, tzinfo=UTC)


def _item(
    ident: str, day: date, *, kind: ItemKind = ItemKind.PAPER, upvotes: int = 0, source: str = "hf_daily"
) -> Item:
    return Item(
        source=source,
        external_id=ident,
        kind=kind,
        title=f"Item {ident}",
        url=f"https://example.com/{ident}",
        day=day,
        upvotes=upvotes,
        upvotes_captured_at=T0 if kind is ItemKind.PAPER else None,
    )


async def _add(repository: Repository, *items: Item) -> list[int]:
    ids = []
    for stored in await repository.add_items(items):
        assert stored.value.id is not None
        ids.append(stored.value.id)
    return ids


async def test_latest_and_neighbour_days(repository: Repository) -> None:
    assert await repository.latest_day() is None
    assert await repository.neighbour_days(date(2025, 1, 1)) == (None, None)
    await _add(
        repository,
        _item("a", date(2025, 5, 20)),
        _item("b", date(2025, 5, 22)),
        _item("p", date(2025, 5, 25), kind=ItemKind.POST, source="blog"),
    )
    assert await repository.latest_day() == date(2025, 5, 25)
    assert await repository.latest_day(kind=ItemKind.PAPER) == date(2025, 5, 22)
    assert await repository.neighbour_days(date(2025, 5, 22)) == (date(2025, 5, 20), date(2025, 5, 25))
    assert await repository.neighbour_days(date(2025, 5, 22), kind=ItemKind.PAPER) == (date(2025, 5, 20), None)
    assert await repository.neighbour_days(date(2025, 5, 21)) == (date(2025, 5, 20), date(2025, 5, 22))
    assert await repository.neighbour_days(date(2030, 1, 1)) == (date(2025, 5, 25), None)


async def test_upvote_history_keeps_every_capture(repository: Repository) -> None:
    (paper,) = await _add(repository, _item("a", date(2025, 5, 22), upvotes=5))
    assert await repository.upvote_history(paper) == [UpvotePoint(T0, 5)]  # the current value, never refreshed
    await repository.update_upvotes(paper, 12, T0 + timedelta(hours=6))
    await repository.update_upvotes(paper, 30, T0 + timedelta(days=1))
    assert await repository.upvote_history(paper) == [
        UpvotePoint(T0, 5),
        UpvotePoint(T0 + timedelta(hours=6), 12),
        UpvotePoint(T0 + timedelta(days=1), 30),
    ]
    await repository.update_upvotes(paper, 31, T0 + timedelta(days=1))  # same capture time: corrected, not doubled
    history = await repository.upvote_history(paper)
    assert [p.upvotes for p in history] == [5, 12, 31]
    item = await repository.get_item(paper)
    assert item is not None and item.upvotes == 31
    (post,) = await _add(repository, _item("p", date(2025, 5, 22), kind=ItemKind.POST, source="blog"))
    assert await repository.upvote_history(post) == []
    assert await repository.upvote_history(987654) == []


async def test_channel_votes_are_counts_per_channel(repository: Repository) -> None:
    (paper, other) = await _add(repository, _item("a", date(2025, 5, 22)), _item("b", date(2025, 5, 22)))
    votes = [
        ("discord", "1", 1, paper),
        ("discord", "1", 1, paper),
        ("discord", "1", -1, paper),
        ("slack", "C1", -1, paper),
        ("discord", None, 1, paper),
        ("discord", "1", 1, other),
    ]
    for n, (platform, channel, value, item_id) in enumerate(votes):
        await repository.add_vote(
            Vote(
                platform, f"m{n}", f"{n:064x}", "👍" if value > 0 else "👎", value, channel_id=channel, item_id=item_id
            )
        )
    found = await repository.channel_votes(paper)
    assert [(v.platform, v.channel_id, v.up, v.down, v.net) for v in found] == [
        ("discord", "1", 2, 1, 1),
        ("discord", None, 1, 0, 1),
        ("slack", "C1", 0, 1, -1),
    ]
    assert await repository.channel_votes(123456) == []


async def test_top_items_rank_by_upvotes_and_weighted_votes(repository: Repository) -> None:
    day = date(2025, 5, 22)
    ids = await _add(
        repository,
        _item("a", day, upvotes=50),
        _item("b", day, upvotes=40),
        _item("c", day - timedelta(days=1), upvotes=40),
        _item("p", day, kind=ItemKind.POST, source="blog"),
        _item("old", day - timedelta(days=30), upvotes=999),
    )
    a, b, c, post, _old = ids
    for n, (item_id, value) in enumerate([(b, 1), (b, 1), (b, 1), (b, 1), (post, 1), (a, -1)]):
        await repository.add_vote(Vote("discord", f"m{n}", f"{n:064x}", "👍", value, channel_id="1", item_id=item_id))
    ranked = await repository.top_items(day_from=day - timedelta(days=6), day_to=day, vote_weight=3.0, limit=10)
    assert [(r.item.id, r.team_votes) for r in ranked] == [(b, 4), (a, -1), (c, 0), (post, 1)]
    papers = await repository.top_items(
        day_from=day - timedelta(days=6), day_to=day, vote_weight=3.0, limit=2, kind=ItemKind.PAPER
    )
    assert [r.item.id for r in papers] == [b, a]
    assert await repository.top_items(day_from=day, day_to=day, vote_weight=3.0, limit=0) == []


async def test_source_activity(repository: Repository) -> None:
    await _add(
        repository,
        _item("a", date(2025, 5, 1), source="blog", kind=ItemKind.POST),
        _item("b", date(2025, 5, 20), source="blog", kind=ItemKind.POST),
        _item("c", date(2025, 5, 21)),
    )
    found = await repository.source_activity(["blog", "hf_daily", "gone", "blog"], since=date(2025, 5, 10))
    assert list(found) == ["blog", "hf_daily", "gone"]
    assert (found["blog"].recent_items, found["blog"].last_day) == (1, date(2025, 5, 20))
    assert (found["hf_daily"].recent_items, found["hf_daily"].last_day) == (1, date(2025, 5, 21))
    assert (found["gone"].recent_items, found["gone"].last_day) == (0, None)


async def test_neighbours_of_a_span(repository: Repository) -> None:
    await _add(repository, *(_item(str(n), date(2025, 5, 10) + timedelta(days=3 * n)) for n in range(5)))
    # 05-10 05-13 05-16 05-19 05-22: the neighbours of the span 05-12 .. 05-18
    assert await repository.neighbour_days(date(2025, 5, 12), last=date(2025, 5, 18)) == (
        date(2025, 5, 10),
        date(2025, 5, 19),
    )


async def test_archive_reads_do_not_wait_for_a_sqlite_writer(sqlite_url: str) -> None:
    """A page read while a collect holds SQLite's write lock answers at once (a deferred read in WAL mode) instead
    of waiting up to the busy timeout, as an immediate transaction would."""
    import asyncio
    import time

    from sqlalchemy import text

    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository

    repository = SqlRepository(create_engine(sqlite_url), owns_engine=True)
    writer = create_engine(sqlite_url)
    try:
        await _add(repository, _item("a", date(2025, 5, 22)))
        async with writer.begin() as conn:  # BEGIN IMMEDIATE: holds the write lock until the block ends
            await conn.execute(text("UPDATE items SET upvotes = upvotes + 1"))
            started = time.monotonic()
            day = await asyncio.wait_for(repository.latest_day(), timeout=5)
            around = await asyncio.wait_for(repository.neighbour_days(date(2025, 5, 1)), timeout=5)
            week = date(2025, 5, 19), date(2025, 5, 25)
            listed = await asyncio.wait_for(
                repository.listed_items(day_from=week[0], day_to=week[1], topics_version="v"), timeout=5
            )
            whole = await asyncio.wait_for(repository.items_with_summaries([row.id for row in listed]), timeout=5)
            assert time.monotonic() - started < 2
        assert day == date(2025, 5, 22) and around == (None, date(2025, 5, 22))
        assert [item.external_id for item, _ in whole.values()] == ["a"]
    finally:
        await writer.dispose()
        await repository.close()


async def test_items_with_votes_are_list_items_with_their_votes(repository: Repository) -> None:
    day = date(2025, 5, 22)
    a, b, post = await _add(
        repository,
        _item("a", day, upvotes=5),
        _item("b", day, upvotes=9),
        _item("p", day, kind=ItemKind.POST, source="blog"),
    )
    for n, (item_id, value) in enumerate([(a, 1), (a, 1), (post, -1)]):
        await repository.add_vote(Vote("slack", f"m{n}", f"{n:064x}", "👍", value, channel_id=f"C{n}", item_id=item_id))
    listed = await repository.list_items(day_from=day, day_to=day)
    found = await repository.items_with_votes(day_from=day, day_to=day)
    assert [r.item for r in found] == listed
    assert [(r.item.id, r.team_votes) for r in found] == [(b, 0), (a, 2), (post, -1)]
    papers = await repository.items_with_votes(day_from=day, day_to=day, kind=ItemKind.PAPER)
    assert [r.item.id for r in papers] == [b, a]
    assert await repository.items_with_votes(day_from=day + timedelta(days=1), day_to=day + timedelta(days=9)) == []

"""Issue 14, finding 8: a post first seen after its day's digest is still posted — by the next digest of the same
target, exactly once — and posts dated 2099 or 1999 are shown (with a clamped date) instead of never.

A real local feed changes over three days; collection, the digest of a Discord target and the delivery records it
leaves behind run on every repository. Before, posts were picked by published day inside the window since the
previous digest: a post dated 23:30 that the feed showed at 01:00 fell into no window.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest

from paperbot.domain import Delivery, Digest, DigestKind, ItemKind
from paperbot.ports import Repository
from paperbot.service.collect import SourceStatus, collect
from paperbot.service.digest import build_digest
from paperbot.sources.feed import FeedSource
from paperbot.sources.fetch import Fetcher
from tests.sources.localserver import LocalServer, Reply, local_server

D = date(2025, 8, 20)
TARGET = "discord:42"


def _rss(*items: tuple[str, str]) -> bytes:
    """A WordPress-style RSS feed with (slug, RFC 822 date) items, newest first as feeds list them."""
    entries = "".join(
        f"<item><title>Post {slug}</title><link>https://blog.example.com/{slug}</link>"
        f"<guid>https://blog.example.com/{slug}</guid><pubDate>{when}</pubDate></item>"
        for slug, when in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Example blog</title>'
        f"<link>https://blog.example.com/</link>{entries}</channel></rss>"
    ).encode()


OLD = ("old", "Mon, 18 Aug 2025 09:00:00 +0000")
A = ("a", "Wed, 20 Aug 2025 12:00:00 +0000")
B = ("b", "Wed, 20 Aug 2025 23:30:00 +0000")  # dated the 20th, shown by the feed (its CDN) only at 01:00 on the 21st
C = ("c", "Thu, 21 Aug 2025 10:00:00 +0000")
FUTURE = ("future", "Fri, 01 Jan 2099 00:00:00 +0000")
ANCIENT = ("ancient", "Fri, 01 Jan 1999 00:00:00 +0000")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        yield running


def _titles(digest: Digest) -> list[str]:
    return [entry.item.title for entry in digest.entries if entry.item.kind is ItemKind.POST]


async def _deliver(repository: Repository, digest: Digest, day: date) -> None:
    """What publishing records: the run of (target, daily, day) and one delivery per chunk with its item."""
    run = (await repository.claim_run(TARGET, DigestKind.DAILY, day)).value
    assert run.id is not None
    for chunk, entry in enumerate(digest.entries, start=1):
        await repository.add_delivery(Delivery(run_id=run.id, target=TARGET, chunk=chunk, item_id=entry.item.id))


async def test_a_post_first_seen_after_its_days_digest_is_posted_by_the_next_one(
    repository: Repository, server: LocalServer
) -> None:
    feed: list[bytes] = []
    server.route("/feed.xml", lambda _request: Reply(body=feed[-1]))

    async def collect_at(moment: datetime, *items: tuple[str, str]) -> None:
        feed.append(_rss(*items))
        source = FeedSource(
            Fetcher(http, attempts=1, host_interval=0, allow_private=True),
            name="blog",
            url=f"{server.base}/feed.xml",
            first_fetch_limit=0,
            clock=lambda: moment,
        )
        report = await collect(repository, [source], day=moment.date(), now=moment)
        assert report.sources[0].status is SourceStatus.OK

    async with httpx.AsyncClient() as http:
        await collect_at(datetime(2025, 8, 19, 6, tzinfo=UTC), OLD)  # first fetch: the old post is backlog
        await collect_at(datetime(2025, 8, 21, 0, 4, tzinfo=UTC), A, OLD)  # just before the digest of the 20th
        first = await build_digest(repository, day=D, target=TARGET)
        assert _titles(first) == ["Post a"]
        await _deliver(repository, first, D)
        await collect_at(datetime(2025, 8, 21, 1, 0, tzinfo=UTC), B, A, OLD)  # the late post appears
        await collect_at(datetime(2025, 8, 22, 0, 4, tzinfo=UTC), FUTURE, C, B, A, OLD, ANCIENT)
        second = await build_digest(repository, day=date(2025, 8, 21), target=TARGET)

    # Dates order the posts, they no longer pick them: 2099 is clamped to when it was seen, 1999 is unknown (the
    # post's day is then the day it was seen).
    assert _titles(second) == ["Post future", "Post ancient", "Post c", "Post b"]
    future, ancient = second.entries[0].item, second.entries[1].item
    assert future.published_at == datetime(2025, 8, 22, 0, 4, tzinfo=UTC)
    assert ancient.published_at is None and ancient.day == date(2025, 8, 22)
    # Rebuilding the same run (a resumed publish) keeps what it already delivered.
    await _deliver(repository, second, date(2025, 8, 21))
    again = await build_digest(repository, day=date(2025, 8, 21), target=TARGET)
    assert _titles(again) == _titles(second)
    # The next day has nothing left to repeat.
    third = await build_digest(repository, day=date(2025, 8, 22), target=TARGET)
    assert _titles(third) == []
    # Without a target (the console) the late post is in the digest of the day it was first seen.
    console = await build_digest(repository, day=date(2025, 8, 21))
    assert "Post b" in _titles(console)


async def test_a_digest_with_more_posts_than_it_shows_leaves_the_rest_for_the_next(repository: Repository) -> None:
    """``max_posts`` cut used to drop the rest for good: they are "not yet in a digest of this target"."""
    from paperbot.digest.ranking import RankingPolicy
    from paperbot.domain import Item

    seen = datetime(2025, 8, 21, 0, 4, tzinfo=UTC)
    for n in range(5):
        item = Item(
            source="blog",
            external_id=f"p{n}",
            kind=ItemKind.POST,
            title=f"Post {n}",
            url=f"https://blog.example.com/p{n}",
            day=D,
            published_at=datetime(2025, 8, 20, 10 + n, tzinfo=UTC),
        )
        await repository.add_items([item], seen_at=seen)
    policy = RankingPolicy(max_posts=3)
    first = await build_digest(repository, day=D, target=TARGET, policy=policy)
    assert _titles(first) == ["Post 4", "Post 3", "Post 2"]
    await _deliver(repository, first, D)
    second = await build_digest(repository, day=date(2025, 8, 21), target=TARGET, policy=policy)
    assert _titles(second) == ["Post 1", "Post 0"]

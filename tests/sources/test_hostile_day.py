"""Issue 14, finding 1 (and 5, 7, 8's clamping): a day with hostile HF entries and a hostile blog, collected from a
real local server into every repository — PostgreSQL included, which refused what SQLite took — twice in a row.

Before the fix, PostgreSQL aborted the whole collect on the first odd value (int32 range, a NUL byte, VARCHAR(500),
an oversized validator), the source state was never saved, and the next day failed the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from paperbot.digest.render.console import render_console
from paperbot.domain import ItemKind
from paperbot.errors import StoreError
from paperbot.ports import Repository
from paperbot.service.collect import SourceStatus, collect
from paperbot.service.digest import build_digest
from paperbot.sources.feed import FeedSource
from paperbot.sources.fetch import Fetcher
from paperbot.sources.hf import MAX_COUNT, HFDailySource
from paperbot.store.values import MAX_INT
from tests.sources.hostile import (
    GOOD_POST_TITLES,
    HOSTILE_DAY,
    HOSTILE_NOW,
    HOSTILE_VALIDATORS,
    MANY_AUTHORS,
    good_hf_ids,
    hostile_feed,
    hostile_hf_body,
)
from tests.sources.localserver import LocalServer, Reply, local_server


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        running.route("/api/daily_papers", Reply(body=hostile_hf_body(), headers={"Content-Type": "application/json"}))
        running.route(
            "/feed.xml",
            Reply(body=hostile_feed(), headers={"Content-Type": "application/rss+xml", **HOSTILE_VALIDATORS}),
        )
        yield running


def _sources(http: httpx.AsyncClient, server: LocalServer, now_offset: timedelta = timedelta()) -> list[object]:
    fetcher = Fetcher(http, attempts=1, host_interval=0, allow_private=True)
    clock = lambda: HOSTILE_NOW + now_offset  # noqa: E731
    return [
        HFDailySource(fetcher, base_url=server.base, clock=clock),
        FeedSource(
            fetcher, name="kakao_tech", url=f"{server.base}/feed.xml", title="카카오 기술 블로그",
            first_fetch_limit=100, clock=clock,
        ),
    ]  # fmt: skip


async def test_a_hostile_day_yields_every_good_paper_and_post_twice_in_a_row(
    repository: Repository, server: LocalServer
) -> None:
    async with httpx.AsyncClient() as http:
        for run, offset in enumerate((timedelta(), timedelta(hours=1))):
            report = await collect(
                repository,
                _sources(http, server, offset),
                day=HOSTILE_DAY,
                now=HOSTILE_NOW + offset,  # type: ignore[arg-type]
            )
            assert [(o.name, o.status) for o in report.sources] == [
                ("hf_daily", SourceStatus.OK),
                ("kakao_tech", SourceStatus.OK),
            ], report.sources
            assert report.sources[1].skipped == 1  # only the post whose one link holds a NUL byte
            digest = await build_digest(repository, day=HOSTILE_DAY)
            papers = [e.item.external_id for e in digest.entries if e.item.kind is ItemKind.PAPER]
            posts = {e.item.title for e in digest.entries if e.item.kind is ItemKind.POST}
            assert sorted(papers) == sorted(good_hf_ids()), f"run {run}"
            assert posts == GOOD_POST_TITLES, f"run {run}"
            assert digest.failed_sources == ()
            assert "휴일" not in render_console(digest)

    hostile = await repository.find_item("hf_daily", good_hf_ids()[0])
    assert hostile is not None
    assert hostile.upvotes == MAX_INT == MAX_COUNT
    assert hostile.thumbnail_url is None  # a URL with a control character is no URL
    assert hostile.title == "Lone \ufffd surrogate title"
    assert len(hostile.authors) == MANY_AUTHORS  # every author stored
    assert hostile.day == HOSTILE_DAY  # 2099 is not believed
    second = await repository.find_item("hf_daily", good_hf_ids()[1])
    assert second is not None and second.upvotes == MAX_INT
    assert second.extra["ai_keywords"] == ["ok", "nul byte", "\ufffd"]
    state = await repository.get_source_state("kakao_tech")
    assert state is not None and state.last_success_at is not None and state.consecutive_failures == 0
    assert state.etag is None and state.last_modified is None  # oversized validators are dropped, not stored

    future = next(e.item for e in digest.entries if e.item.title == "2099년에서 온 글")
    assert future.published_at is not None and future.published_at <= HOSTILE_NOW + timedelta(hours=1)
    ancient = next(e.item for e in digest.entries if e.item.title == "1999년의 글")
    assert ancient.published_at is None  # before 2000: unknown, not a 1999 date
    long_link = next(e.item for e in digest.entries if e.item.title == "긴 링크만 있는 글")
    assert long_link.external_id.startswith("sha256:") and len(long_link.external_id) < 100
    console = render_console(digest)
    assert "👍 2147483647" in console
    assert "+656" in console  # 664 authors stored, 8 shown on the terminal


class _RefusingRepository:
    """A real repository whose database refuses every write for one source (as PostgreSQL refused NUL bytes)."""

    def __init__(self, inner: Repository, refused_source: str) -> None:
        self.inner = inner
        self.refused_source = refused_source

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def add_items(self, items: object, **kwargs: object) -> object:
        batch = list(items)  # type: ignore[call-overload]
        if any(item.source == self.refused_source for item in batch):
            raise StoreError("database error: DataError: invalid byte sequence for encoding UTF8: 0x00")
        return await self.inner.add_items(batch, **kwargs)  # type: ignore[arg-type]


async def test_a_source_the_database_refuses_fails_alone_and_later_sources_are_stored(
    repository: Repository, server: LocalServer
) -> None:
    refusing = _RefusingRepository(repository, "hf_daily")
    async with httpx.AsyncClient() as http:
        report = await collect(refusing, _sources(http, server), day=HOSTILE_DAY, now=HOSTILE_NOW)  # type: ignore[arg-type]
    assert [(o.name, o.status) for o in report.sources] == [
        ("hf_daily", SourceStatus.FAILED),
        ("kakao_tech", SourceStatus.OK),
    ]
    assert report.sources[0].error is not None and report.sources[0].error.startswith("storing failed:")
    failed = await repository.get_source_state("hf_daily")
    assert failed is not None and failed.consecutive_failures == 1 and failed.last_success_at is None
    posts = await repository.list_items(kind=ItemKind.POST)
    assert {p.title for p in posts} == GOOD_POST_TITLES

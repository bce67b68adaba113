"""The platform-neutral ``/paper`` use cases, against every Repository implementation where storage matters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from paperbot.domain import (
    ChannelFilters,
    DigestKind,
    Item,
    ItemKind,
    RunStatus,
    SourceState,
    Subscription,
    Summary,
    Vote,
)
from paperbot.ports import FetchResult, Repository
from paperbot.service import commands
from paperbot.service.commands import ADMIN_ONLY, Caller, CommandContext, CommandError, next_run

NOW = datetime(2024, 4, 20, 1, 0, tzinfo=UTC)  # 10:00 in Seoul: "today" is HF day 2024-04-19
DAY = date(2024, 4, 19)
MEMBER = Caller(platform="chat", channel_id="c1")
ADMIN = Caller(platform="chat", channel_id="c1", is_admin=True)


def paper(n: int, *, day: date = DAY, upvotes: int = 10, title: str | None = None) -> Item:
    return Item(
        source="hf_daily", external_id=f"2404.{10000 + n}", kind=ItemKind.PAPER, title=title or f"Paper {n}",
        url=f"https://arxiv.org/abs/2404.{10000 + n}", day=day, upvotes=upvotes,
    )  # fmt: skip


def context(repository: Repository, **kwargs: object) -> CommandContext:
    return CommandContext(repository, now=lambda: NOW, **kwargs)  # type: ignore[arg-type]


async def test_today_uses_the_channel_filters_and_votes(repository: Repository) -> None:
    here = Caller(platform="discord", channel_id="111")
    stored = [
        (await repository.add_item(item)).value
        for item in (paper(1, upvotes=50), paper(2, upvotes=10), paper(4, upvotes=12))
    ]
    await repository.add_item(paper(3, day=date(2024, 4, 18), upvotes=99))  # another day
    await repository.save_subscription(
        Subscription(platform="discord", channel_id="111", filters=ChannelFilters(exclude=("Paper 1",)))
    )
    assert stored[1].id is not None
    for voter in ("a", "b"):  # this channel's votes lift paper 2 over paper 4 (10 + 3×2 > 12)
        await repository.add_vote(Vote("discord", "m1", voter, "👍", 1, channel_id="111", item_id=stored[1].id))
    reply = await commands.today(context(repository), here)
    assert [view.item.external_id for view in reply.papers] == ["2404.10002", "2404.10004"]
    assert reply.papers[0].channel_votes == 2
    assert "2024-04-19" in reply.text and "2편" in reply.text


async def test_today_is_the_digest_as_posted_blog_posts_included(repository: Repository) -> None:
    """``/paper today`` builds the real digest (``build_digest``): the channel's blog posts are in it too."""
    from tests.factories import post

    await repository.add_item(paper(1, upvotes=50))
    await repository.add_items([post(1, day=DAY)], seen_at=NOW - timedelta(hours=20))
    reply = await commands.today(context(repository), Caller(platform="discord", channel_id="111"))
    assert [view.item.kind for view in reply.papers] == [ItemKind.PAPER, ItemKind.POST]
    assert "블로그 새 글 1편" in reply.text


async def test_top_blends_hf_upvotes_with_channel_votes(repository: Repository) -> None:
    low = (await repository.add_item(paper(1, upvotes=10))).value
    await repository.add_item(paper(2, upvotes=20))
    assert low.id is not None
    for voter in ("a", "b", "c", "d"):
        await repository.add_vote(Vote("chat", "m1", voter, "👍", 1, channel_id="c1", item_id=low.id))
    reply = await commands.top(context(repository), MEMBER, "day")
    assert [view.item.external_id for view in reply.papers] == ["2404.10001", "2404.10002"]  # 10 + 3×4 > 20
    assert reply.papers[0].channel_votes == 4
    other_channel = await commands.top(context(repository), Caller("chat", "c2"), "day")
    assert [view.item.external_id for view in other_channel.papers] == ["2404.10002", "2404.10001"]
    with pytest.raises(CommandError) as refused:
        await commands.top(context(repository), MEMBER, "decade")
    assert "day, week, month" in refused.value.user_message


@dataclass
class FakeHFSource:
    name: str = "hf_daily"
    kind: ItemKind = ItemKind.PAPER
    asked: int = 0

    async def fetch(self, day: date, *, state: SourceState | None = None) -> FetchResult:
        return FetchResult()

    async def fetch_one(self, external_id: str) -> Item | None:
        self.asked += 1
        return paper(9) if external_id == "2404.10009" else None


@dataclass
class FakeSummarizer:
    backend: str = "offline"
    model: str = "offline"
    daily_budget_usd: float | None = 1.0
    calls: int = 0

    def cache_key(self, item: Item) -> tuple[str, str, str]:
        return ("h", "v1", self.model)

    async def summarize(self, item: Item) -> Summary:
        self.calls += 1
        assert item.id is not None
        return Summary(item.id, ("요약 하나.",), self.backend, self.model, "v1", "h")

    async def fallback(self, item: Item, reason: str) -> Summary:
        return await self.summarize(item)


async def test_show_fetches_and_summarises_an_unknown_paper_once(repository: Repository) -> None:
    source, summarizer = FakeHFSource(), FakeSummarizer()
    ctx = context(repository, sources=[source], summarizer=summarizer)
    reply = await commands.show(ctx, MEMBER, "https://arxiv.org/abs/2404.10009")
    assert reply.papers[0].item.title == "Paper 9" and reply.papers[0].bullets == ("요약 하나.",)
    again = await commands.show(ctx, MEMBER, "2404.10009v3")
    assert again.papers[0].bullets == ("요약 하나.",)
    assert (source.asked, summarizer.calls) == (1, 1)
    with pytest.raises(CommandError, match="unknown"):
        await commands.show(ctx, MEMBER, "2404.10008")
    with pytest.raises(CommandError) as bad:
        await commands.show(ctx, MEMBER, "<@123>")
    assert "arXiv ID" in bad.value.user_message


async def test_admin_commands_refuse_members_and_store_nothing(repository: Repository) -> None:
    ctx = context(repository)
    for call in (
        commands.subscribe(ctx, MEMBER),
        commands.unsubscribe(ctx, MEMBER),
        commands.config(ctx, MEMBER, keywords="rag"),
    ):
        with pytest.raises(CommandError) as refused:
            await call
        assert refused.value.user_message == ADMIN_ONLY
    assert await repository.list_subscriptions() == []


async def test_subscribe_validates_and_clears_a_broken_reason(repository: Repository) -> None:
    ctx = context(repository)
    for kwargs, fragment in (
        ({"at": "25:00"}, "HH:MM"),
        ({"timezone": "Seoul"}, "시간대"),
        ({"kind": "hourly"}, "daily"),
    ):
        with pytest.raises(CommandError) as bad:
            await commands.subscribe(ctx, ADMIN, **kwargs)  # type: ignore[arg-type]
        assert fragment in bad.value.user_message
    await repository.save_subscription(Subscription(platform="chat", channel_id="c1", broken_reason="403"))
    reply = await commands.subscribe(ctx, ADMIN, "daily", "7:05", "UTC")
    [saved] = await repository.list_subscriptions()
    assert (saved.time, saved.timezone, saved.broken_reason) == ("07:05", "UTC", None)
    assert "2024-04-20 07:05" in reply.text  # next: today at 07:05 UTC (it is 01:00 UTC now)


async def test_config_validates_lists_sources_and_bounds(repository: Repository) -> None:
    ctx = context(repository, sources=[FakeHFSource()])
    with pytest.raises(CommandError, match="without subscription"):
        await commands.config(ctx, ADMIN, keywords="x")
    await repository.save_subscription(Subscription(platform="chat", channel_id="c1"))
    await repository.save_subscription(Subscription(platform="chat", channel_id="c1", kind=DigestKind.WEEKLY))
    reply = await commands.config(ctx, ADMIN, keywords=" RAG, 강화학습 ,RAG", authors="Kim", min_upvotes=3)
    assert not reply.ephemeral
    for saved in await repository.list_subscriptions():
        assert saved.filters.keywords == ("RAG", "강화학습") and saved.filters.min_upvotes == 3
    cleared = await commands.config(ctx, ADMIN, keywords="-")
    assert dict(cleared.fields)["키워드"] == "(없음)" and dict(cleared.fields)["저자"] == "Kim"
    for kwargs, fragment in (
        ({"sources": "nowhere"}, "hf_daily"),
        ({"min_upvotes": -1}, "최소 추천"),
        ({"keywords": ",".join(str(n) for n in range(30))}, "20개"),
        ({"exclude": "x" * 100}, "60자"),
    ):
        with pytest.raises(CommandError) as bad:
            await commands.config(ctx, ADMIN, **kwargs)  # type: ignore[arg-type]
        assert fragment in bad.value.user_message
    shown = await commands.config(ctx, ADMIN)
    assert shown.ephemeral and dict(shown.fields)["최소 추천 수"] == "3"


async def test_status_reports_sources_subscriptions_and_budget(repository: Repository) -> None:
    await repository.save_source_state(SourceState(name="hf_daily", last_success_at=NOW))
    await repository.save_source_state(SourceState(name="blog", consecutive_failures=4))
    await repository.save_subscription(Subscription(platform="chat", channel_id="c1", broken_reason="Missing Access"))
    reply = await commands.status(context(repository, summarizer=FakeSummarizer()), MEMBER)
    fields = dict(reply.fields)
    assert "blog: 연속 4회 실패" in fields["출처"] and "hf_daily" in fields["출처"]
    assert "발송 중단" in fields["구독 (daily)"] and "Missing Access" in fields["구독 (daily)"]
    assert "예산 $1.00" in fields["요약"]
    assert reply.ephemeral


async def test_status_shows_the_last_digest_of_a_subscription(repository: Repository) -> None:
    await repository.save_subscription(Subscription(platform="chat", channel_id="c1"))
    first = await commands.status(context(repository), MEMBER)
    assert "아직 발송 전" in dict(first.fields)["구독 (daily)"]
    run = (await repository.claim_run("chat:c1", DigestKind.DAILY, date(2024, 4, 19))).value
    assert run.id is not None
    await repository.set_run_status(run.id, RunStatus.DONE)
    later = await commands.status(context(repository), MEMBER)
    assert "마지막 발송 2024-04-19 (완료)" in dict(later.fields)["구독 (daily)"]


def test_next_run_daily_and_weekly() -> None:
    daily = Subscription(platform="chat", channel_id="c1", time="09:00", timezone="Asia/Seoul")
    assert next_run(daily, NOW).isoformat() == "2024-04-21T09:00:00+09:00"  # 10:00 KST now: tomorrow
    weekly = Subscription(platform="chat", channel_id="c1", kind=DigestKind.WEEKLY, weekday=0, time="09:00")
    assert next_run(weekly, NOW).isoformat() == "2024-04-22T09:00:00+09:00"  # the next Monday


async def test_search_returns_first_bullets_and_suggests_titles(repository: Repository) -> None:
    item = (await repository.add_item(paper(1, title="Speculative decoding at scale"))).value
    assert item.id is not None
    await repository.add_summary(Summary(item.id, ("첫 요점.", "둘째 요점."), "offline", "offline", "v1", "h"))
    ctx = context(repository)
    reply = await commands.search(ctx, MEMBER, "speculative decoding")
    assert [view.bullets for view in reply.papers] == [("첫 요점.",)]
    assert await commands.suggest_titles(ctx, "speculative") == [("Speculative decoding at scale",) * 2]
    assert await commands.suggest_titles(ctx, "  ") == []
    empty = await commands.search(ctx, MEMBER, "<@everyone>")
    assert empty.ephemeral and not empty.papers

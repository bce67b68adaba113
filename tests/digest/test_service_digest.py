"""``build_digest`` over every Repository implementation: channel votes and filters, posts window, no run claimed."""

from __future__ import annotations

from datetime import date

import pytest

from paperbot.domain import ChannelFilters, DigestKind, Subscription, Vote
from paperbot.errors import ConfigError
from paperbot.ports import Repository
from paperbot.service.digest import build_digest, split_target
from tests.digest.helpers import paper, post, summary

DAY = date(2024, 4, 19)


async def _store(repository: Repository) -> dict[str, int]:
    ids: dict[str, int] = {}
    items = [
        paper("2404.00001", upvotes=10, title="Diffusion for video generation"),
        paper("2404.00002", upvotes=6, title="Jailbreaking large language models"),
        paper("2404.00003", upvotes=50, day=date(2024, 4, 18), title="Yesterday's paper"),
        post("p-old", day=date(2024, 4, 16)),
        post("p-new", day=DAY),
        post("p-backlog", day=DAY, extra={"backlog": True}),
    ]
    for item in items:
        stored = await repository.add_item(item)
        assert stored.value.id is not None
        ids[item.external_id] = stored.value.id
    await repository.add_summary(summary(ids["2404.00001"], ("확산 모델 요약",), backend="offline"))
    for voter in ("u1", "u2"):
        vote = Vote("discord", "m", voter, "👍", 1, channel_id="42", item_id=ids["2404.00002"])
        await repository.add_vote(vote)
    await repository.add_vote(Vote("discord", "m2", "u3", "👍", 1, channel_id="7", item_id=ids["2404.00001"]))
    return ids


async def test_daily_digest_uses_the_channel_votes_and_summaries(repository: Repository) -> None:
    ids = await _store(repository)
    digest = await build_digest(repository, day=DAY, target="discord:42")
    assert digest.target == "discord:42"
    papers = digest.sections[0].entries
    assert [e.item.id for e in papers] == [ids["2404.00002"], ids["2404.00001"]]  # 6 + 3×2 > 10
    assert papers[0].team_votes == 2 and papers[1].team_votes == 0  # channel 7's vote does not count here
    assert papers[1].summary is not None and papers[1].summary.bullets == ("확산 모델 요약",)
    assert digest.offline
    assert [e.item.external_id for e in digest.sections[1].entries] == ["p-new"]  # backlog skipped
    # Rendering is not publishing: no digest run was claimed.
    assert (await repository.claim_run("discord:42", DigestKind.DAILY, DAY)).created


async def test_posts_since_the_previous_digest(repository: Repository) -> None:
    await _store(repository)
    digest = await build_digest(repository, day=DAY, previous_day=date(2024, 4, 15))
    assert [e.item.external_id for e in digest.sections[1].entries] == ["p-new", "p-old"]


async def test_posts_since_the_targets_previous_digest_run(repository: Repository) -> None:
    await _store(repository)
    await repository.claim_run("discord:42", DigestKind.DAILY, date(2024, 4, 15))  # the channel missed 3 days
    digest = await build_digest(repository, day=DAY, target="discord:42")
    assert [e.item.external_id for e in digest.sections[1].entries] == ["p-new", "p-old"]
    # A run for the day itself (being published now) is not "the previous digest".
    await repository.claim_run("discord:42", DigestKind.DAILY, DAY)
    again = await build_digest(repository, day=DAY, target="discord:42")
    assert [e.item.external_id for e in again.sections[1].entries] == ["p-new", "p-old"]


async def test_post_window_is_capped_after_a_long_silence(repository: Repository) -> None:
    await repository.add_item(post("p-ancient", day=date(2024, 3, 1)))
    await repository.add_item(post("p-week", day=date(2024, 4, 13)))
    digest = await build_digest(repository, day=DAY, previous_day=date(2024, 2, 1))
    assert [e.item.external_id for e in digest.entries] == ["p-week"]


async def test_subscription_filters_apply(repository: Repository) -> None:
    await _store(repository)
    await repository.save_subscription(
        Subscription(platform="slack", channel_id="C0PAPERS01", filters=ChannelFilters(topics=("Red Teaming",)))
    )
    digest = await build_digest(repository, day=DAY, target="slack:C0PAPERS01")
    assert [e.item.external_id for e in digest.entries] == ["2404.00002"]
    explicit = await build_digest(repository, day=DAY, target="slack:C0PAPERS01", filters=ChannelFilters())
    assert len(explicit.sections[0].entries) == 2


async def test_weekly_digest_covers_seven_days(repository: Repository) -> None:
    await _store(repository)
    digest = await build_digest(repository, day=DAY, kind=DigestKind.WEEKLY)
    assert digest.start_day == date(2024, 4, 13)
    papers = [e.item.external_id for s in digest.sections for e in s.entries if e.item.kind.value == "paper"]
    assert sorted(papers) == ["2404.00001", "2404.00002", "2404.00003"]


def test_targets_are_checked() -> None:
    assert split_target("discord:123") == ("discord", "123")
    assert split_target("slack:C0AB12") == ("slack", "C0AB12")
    for bad in ("discord:", "discord:abc", "teams:1", "console", "slack:C1 ; x"):
        with pytest.raises(ConfigError):
            split_target(bad)

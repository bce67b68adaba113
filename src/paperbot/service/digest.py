"""Use case: build the digest of a day (or week) for a target from what the repository holds.

Reads the items of the day, their newest summaries, the target channel's reaction votes and its subscription
filters, and hands them to the pure builder (:mod:`paperbot.digest.build`). It claims no digest run: rendering and
previewing never mark anything as posted (publishing does, in :mod:`paperbot.service.publish`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import date, timedelta

from paperbot.digest import links
from paperbot.digest.build import build_daily, build_weekly, week_start
from paperbot.digest.ranking import DEFAULT_POLICY, RankingPolicy
from paperbot.domain import ChannelFilters, Digest, DigestKind, ItemKind
from paperbot.errors import ConfigError
from paperbot.ports import Repository

PLATFORMS = ("discord", "slack")


def split_target(target: str) -> tuple[str, str]:
    """``discord:123`` → (``discord``, ``123``); a ConfigError names what is wrong."""
    platform, sep, channel = target.partition(":")
    if not sep or platform not in PLATFORMS or not channel.strip():
        raise ConfigError(
            f"invalid target {target!r}: use discord:CHANNEL_ID or slack:CHANNEL_ID",
            user_message="대상은 discord:채널ID 또는 slack:채널ID 형식이어야 합니다.",
        )
    channel = channel.strip()
    if platform == "discord" and not channel.isdigit():
        raise ConfigError(f"invalid Discord channel id {channel!r}", user_message="Discord 채널 ID는 숫자여야 합니다.")
    if platform == "slack" and not channel.isalnum():
        raise ConfigError(f"invalid Slack channel id {channel!r}", user_message="Slack 채널 ID 형식이 아닙니다.")
    return platform, channel


async def channel_filters(repository: Repository, target: str, kind: DigestKind) -> ChannelFilters:
    """The filters of the target's subscription of ``kind`` (else of any of its subscriptions), or none."""
    platform, channel = split_target(target)
    subscriptions = [s for s in await repository.list_subscriptions(platform=platform) if s.channel_id == channel]
    for subscription in sorted(subscriptions, key=lambda s: s.kind is not kind):
        return subscription.filters
    return ChannelFilters()


#: The longest stretch of blog posts a daily digest catches up on after the channel missed digests.
MAX_POST_WINDOW_DAYS = 7


async def build_digest(
    repository: Repository,
    *,
    day: date,
    kind: DigestKind = DigestKind.DAILY,
    target: str | None = None,
    filters: ChannelFilters | None = None,
    policy: RankingPolicy = DEFAULT_POLICY,
    previous_day: date | None = None,
    exclude_item_ids: Collection[int] = (),
    archive_base_url: str | None = None,
) -> Digest:
    """The digest of ``day`` for ``target`` (None: no channel — no channel votes, no filters).

    With ``archive_base_url`` (``PAPERBOT_WEB_BASE_URL``) the digest links to the web archive's page of the day
    (weekly: of the week), where every paper of the day is listed, not only the top ones.

    Daily: papers of the HF day ``day``; blog posts of the days after ``previous_day`` up to ``day``. The default
    ``previous_day`` is the day of the target's previous daily digest run (else the day before), and the window
    is at most ``MAX_POST_WINDOW_DAYS``. Weekly: the seven days ending on ``day``.
    """
    channel_id = split_target(target)[1] if target else None
    if filters is None:
        filters = await channel_filters(repository, target, kind) if target else ChannelFilters()
    if kind is DigestKind.WEEKLY:
        first = week_start(day)
        papers = await repository.list_items(day_from=first, day_to=day, kind=ItemKind.PAPER)
        posts = await repository.list_items(day_from=first, day_to=day, kind=ItemKind.POST)
    else:
        papers = await repository.list_items(day_from=day, day_to=day, kind=ItemKind.PAPER)
        if previous_day is None and target is not None:
            previous = await repository.last_run(target, DigestKind.DAILY, before=day)
            previous_day = previous.day if previous is not None else None
        since = (previous_day or day - timedelta(days=1)) + timedelta(days=1)
        # After a long silence, a week of posts is news; older ones are not worth a flood.
        since = max(since, day - timedelta(days=MAX_POST_WINDOW_DAYS - 1))
        posts = await repository.list_items(day_from=min(since, day), day_to=day, kind=ItemKind.POST)
    ids = [item.id for item in (*papers, *posts) if item.id is not None]
    summaries = await repository.latest_summaries(ids) if ids else {}
    votes = await repository.vote_totals(ids, channel_id=channel_id) if ids else {}
    if kind is DigestKind.WEEKLY:
        digest = build_weekly(
            day, papers, posts, summaries=summaries, team_votes=votes, filters=filters, policy=policy, target=target
        )
    else:
        digest = build_daily(
            day,
            papers,
            posts,
            summaries=summaries,
            team_votes=votes,
            filters=filters,
            policy=policy,
            exclude_item_ids=exclude_item_ids,
            target=target,
        )
    path = links.week_path(day) if kind is DigestKind.WEEKLY else links.day_path(day)
    url = links.absolute(archive_base_url, path)
    return replace(digest, archive_url=url) if url else digest

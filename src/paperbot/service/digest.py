"""Use case: build the digest of a day (or week) for a target from what the repository holds.

Reads the items of the day, their newest summaries, the target channel's reaction votes and its subscription
filters, and hands them to the pure builder (:mod:`paperbot.digest.build`). It claims no digest run: rendering and
previewing never mark anything as posted (publishing does, in :mod:`paperbot.service.publish`).

Blog posts are chosen by when paperbot first saw them and by whether the target already had them, not by their
published date: a post dated 23:30 that a feed first showed at 01:00, after that day's digest, used to miss every
digest. A daily digest takes the posts first seen (or dated) since the day of the target's previous daily digest
that no other daily digest run of the target delivered; the published date only orders and labels them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from paperbot.digest import links
from paperbot.digest.build import build_daily, build_weekly, week_start
from paperbot.digest.ranking import DEFAULT_POLICY, RankingPolicy
from paperbot.domain import ChannelFilters, Digest, DigestKind, Item, ItemKind, SourceState, Target
from paperbot.ports import Repository


def split_target(target: str) -> tuple[str, str]:
    """``discord:123`` → (``discord``, ``123``); a ConfigError names what is wrong (see :class:`Target`)."""
    parsed = Target.parse(target)
    return parsed.platform, parsed.channel_id


async def channel_filters(repository: Repository, target: str, kind: DigestKind) -> ChannelFilters:
    """The filters of the target's subscription of ``kind`` (else of any of its subscriptions), or none."""
    platform, channel = split_target(target)
    subscriptions = await repository.list_subscriptions(platform=platform, channel_id=channel)
    for subscription in sorted(subscriptions, key=lambda s: s.kind is not kind):
        return subscription.filters
    return ChannelFilters()


#: The longest stretch of blog posts a daily digest catches up on after the channel missed digests.
MAX_POST_WINDOW_DAYS = 7
#: A digest of day D is posted during D + 1: what is first seen until then belongs to it.
_SEEN_SLACK = timedelta(days=2)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def failed_sources_of(states: Sequence[SourceState], day: date) -> tuple[str, ...]:
    """Sources whose latest attempt, made while the digest of ``day`` was being prepared, failed."""
    start, end = _midnight(day), _midnight(day) + _SEEN_SLACK
    return tuple(
        sorted(
            state.name
            for state in states
            if state.consecutive_failures > 0
            and state.last_attempt_at is not None
            and start <= state.last_attempt_at < end
        )
    )


async def _daily_posts(repository: Repository, day: date, target: str | None, previous_day: date | None) -> list[Item]:
    oldest = day - timedelta(days=MAX_POST_WINDOW_DAYS - 1)  # after a long silence, a week of posts is news
    since = max((previous_day or day - timedelta(days=1)) + timedelta(days=1), oldest)
    since = min(since, day)
    # For a target, "first seen" starts on the previous digest's own day: posts it had no room for, or saw too
    # late, get their turn, and what it delivered is excluded by the delivery records.
    seen_from = since if target is None or previous_day is None else max(min(previous_day, day), oldest)
    return await repository.list_post_candidates(
        day_from=since,
        day_to=day,
        seen_from=_midnight(seen_from),
        seen_until=_midnight(day) + _SEEN_SLACK,
        not_delivered_to=target,
        except_run_day=day,
    )


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
    failed_sources: Collection[str] | None = None,
) -> Digest:
    """The digest of ``day`` for ``target`` (None: no channel — no channel votes, no filters, no delivery history).

    With ``archive_base_url`` (``PAPERBOT_WEB_BASE_URL``) the digest links to the web archive's page of the day
    (weekly: of the week), where every paper of the day is listed, not only the top ones.

    Daily: papers of the HF day ``day``; blog posts first seen (or dated) since ``previous_day`` — by default the
    day of the target's previous daily digest run, else ``day`` itself — for at most ``MAX_POST_WINDOW_DAYS``,
    minus those another daily run of the target delivered. Weekly: the seven days ending on ``day``.
    ``failed_sources`` (default: the sources whose collection for this digest failed) are named in the digest.
    """
    channel_id = split_target(target)[1] if target else None
    if filters is None:
        filters = await channel_filters(repository, target, kind) if target else ChannelFilters()
    if failed_sources is None:
        failed_sources = failed_sources_of(await repository.list_source_states(), day)
    if kind is DigestKind.WEEKLY:
        first = week_start(day)
        papers = await repository.list_items(day_from=first, day_to=day, kind=ItemKind.PAPER)
        posts = await repository.list_post_candidates(
            day_from=first, day_to=day, seen_from=_midnight(first), seen_until=_midnight(day) + _SEEN_SLACK
        )
    else:
        papers = await repository.list_items(day_from=day, day_to=day, kind=ItemKind.PAPER)
        if previous_day is None and target is not None:
            previous = await repository.last_run(target, DigestKind.DAILY, before=day)
            previous_day = previous.day if previous is not None else None
        posts = await _daily_posts(repository, day, target, previous_day)
    ids = [item.id for item in (*papers, *posts) if item.id is not None]
    summaries = await repository.latest_summaries(ids) if ids else {}
    votes = await repository.vote_totals(ids, channel_id=channel_id) if ids else {}
    if kind is DigestKind.WEEKLY:
        digest = build_weekly(
            day,
            papers,
            posts,
            summaries=summaries,
            team_votes=votes,
            filters=filters,
            policy=policy,
            target=target,
            failed_sources=failed_sources,
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
            failed_sources=failed_sources,
        )
    path = links.week_path(day) if kind is DigestKind.WEEKLY else links.day_path(day)
    url = links.absolute(archive_base_url, path)
    return replace(digest, archive_url=url) if url else digest

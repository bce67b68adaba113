"""Build digests from items, summaries and votes (pure: the service layer reads the repository).

Daily: the papers of one HF day, ranked and cut (:mod:`paperbot.digest.ranking`), then the blog posts the channel
has not had yet (chosen by :func:`paperbot.service.digest.build_digest`; published dates only order and label them). Weekly: the week's best papers grouped by topic, then its most-voted posts.
When nothing is left the digest carries a one-line ``empty_reason`` instead of being silent.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta

from paperbot.digest.ranking import DEFAULT_POLICY, Ranked, RankingPolicy, Verdict, check_filters, rank_papers, reasons
from paperbot.digest.topics import OTHER, TOPICS, item_topics
from paperbot.domain import (
    ChannelFilters,
    Digest,
    DigestEntry,
    DigestKind,
    DigestSection,
    Item,
    ItemKind,
    Summary,
)

PAPERS_TITLE = "Daily Papers"
POSTS_TITLE = "블로그 새 글"
WEEKLY_POSTS_TITLE = "이번 주 블로그"
OFFLINE_BACKEND = "offline"
_WEEKDAYS = "월화수목금토일"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _is_backlog(item: Item) -> bool:
    # Posts recorded as seen on a feed's first fetch are not news: the collector marks them so.
    return bool(item.extra.get("backlog"))


#: Topics already known per item id (stored with the items), so a listing need not classify them again.
KnownTopics = Mapping[int, tuple[str, ...]]


def _topics(item: Item, known: KnownTopics) -> tuple[str, ...]:
    if item.id is not None and (found := known.get(item.id)) is not None:
        return found
    return item_topics(item.title, item.abstract, item.extra)


def _entry(ranked: Ranked, summaries: Mapping[int, Summary], topics: tuple[str, ...], reason: str) -> DigestEntry:
    item = ranked.item
    return DigestEntry(
        item=item,
        rank=ranked.rank,
        summary=summaries.get(item.id) if item.id is not None else None,
        reason=reason,
        topics=topics,
        team_votes=ranked.team_votes,
        score=ranked.score,
    )


def _post_sort_key(item: Item) -> tuple[date, datetime, str]:
    published = item.published_at or _EPOCH
    return (item.day, published, item.external_id)


def _post_entries(
    kept: Iterable[tuple[Item, Verdict, tuple[str, ...], int]],
    summaries: Mapping[int, Summary],
    *,
    default_reason: str,
) -> tuple[DigestEntry, ...]:
    """Digest entries of the kept blog posts, ranked in the order given; team votes are their score."""
    return tuple(
        DigestEntry(
            item=item,
            rank=index,
            summary=summaries.get(item.id) if item.id is not None else None,
            reason=reasons(Ranked(item, float(votes), votes, index, verdict)) or default_reason,
            topics=topics,
            team_votes=votes,
            score=float(votes),
        )
        for index, (item, verdict, topics, votes) in enumerate(kept, start=1)
    )


def _posts(
    posts: Iterable[Item],
    filters: ChannelFilters,
    exclude: Collection[int],
    team_votes: Mapping[int, int],
    known: KnownTopics,
) -> list[tuple[Item, Verdict, tuple[str, ...], int]]:
    kept = []
    for item in posts:
        if item.kind is not ItemKind.POST or _is_backlog(item) or (item.id is not None and item.id in exclude):
            continue
        topics = _topics(item, known)
        verdict = check_filters(item, topics, filters)
        if verdict.keep:
            votes = team_votes.get(item.id, 0) if item.id is not None else 0
            kept.append((item, verdict, topics, votes))
    return kept


def _is_offline(entries: Iterable[DigestEntry]) -> bool:
    return any(entry.summary is not None and entry.summary.backend == OFFLINE_BACKEND for entry in entries)


def empty_message(
    kind: DigestKind, day: date, start: date, *, had_candidates: bool, failed_sources: Collection[str] = ()
) -> str:
    """The one line said when a digest has nothing to show (never "a holiday" when sources could not be read)."""
    if failed_sources and not had_candidates:
        span = f"{start.isoformat()} ~ {day.isoformat()} 주간" if kind is DigestKind.WEEKLY else _day_label(day)
        return f"{span}에는 보여 드릴 논문과 블로그 글이 없습니다. 출처 {len(failed_sources)}곳을 가져오지 못했습니다."
    if kind is DigestKind.WEEKLY:
        span = f"{start.isoformat()} ~ {day.isoformat()}"
        if had_candidates:
            return f"{span} 주간에는 이 채널의 조건에 맞는 논문과 블로그 글이 없습니다."
        return f"{span} 주간에는 모인 논문과 블로그 글이 없습니다."
    label = _day_label(day)
    if had_candidates:
        return f"{label}에는 이 채널의 조건에 맞는 새 논문과 블로그 글이 없습니다 (이미 보냈거나 필터에 걸렸습니다)."
    if day.weekday() >= 5:
        return f"{label}은 주말이라 HF Daily Papers에 올라온 논문도, 새 블로그 글도 없습니다."
    return (
        f"{label}에는 HF Daily Papers에 올라온 논문도, 새 블로그 글도 없습니다 (휴일이거나 아직 수집 전일 수 있습니다)."
    )


def _day_label(day: date) -> str:
    return f"{day.isoformat()}({_WEEKDAYS[day.weekday()]})"


def build_daily(
    day: date,
    papers: Iterable[Item],
    posts: Iterable[Item] = (),
    *,
    summaries: Mapping[int, Summary] | None = None,
    team_votes: Mapping[int, int] | None = None,
    filters: ChannelFilters | None = None,
    policy: RankingPolicy = DEFAULT_POLICY,
    exclude_item_ids: Collection[int] = (),
    target: str | None = None,
    known_topics: KnownTopics | None = None,
    failed_sources: Collection[str] = (),
) -> Digest:
    """The daily digest of ``day``: ranked papers of that HF day, then ``posts`` (already chosen by the caller:
    not yet in a digest of the target, first seen or dated within the window).

    ``known_topics``: topics already known per item id (the others are assigned here).
    """
    known = known_topics or {}
    summaries = summaries or {}
    team_votes = team_votes or {}
    filters = filters or ChannelFilters()
    paper_list = [p for p in papers if p.kind is ItemKind.PAPER and p.day == day]
    post_list = list(posts)
    candidates = [p for p in paper_list if p.id is None or p.id not in exclude_item_ids]
    topics_of: dict[tuple[str, str], tuple[str, ...]] = {}
    checked: list[tuple[Item, Verdict]] = []
    for item in candidates:
        topics = _topics(item, known)
        topics_of[(item.source, item.external_id)] = topics
        verdict = check_filters(item, topics, filters)
        if verdict.keep:
            checked.append((item, verdict))
    ranked = rank_papers(checked, team_votes, policy)
    paper_entries = tuple(
        _entry(r, summaries, topics_of[(r.item.source, r.item.external_id)], reasons(r, total=len(checked)))
        for r in ranked
    )
    kept_posts = _posts(post_list, filters, exclude_item_ids, team_votes, known)
    kept_posts.sort(key=lambda row: _post_sort_key(row[0]), reverse=True)
    post_entries = _post_entries(kept_posts[: policy.max_posts], summaries, default_reason="새 글")
    sections = []
    if paper_entries:
        sections.append(DigestSection(PAPERS_TITLE, paper_entries))
    if post_entries:
        sections.append(DigestSection(POSTS_TITLE, post_entries))
    had_candidates = bool(paper_list) or any(p.kind is ItemKind.POST and not _is_backlog(p) for p in post_list)
    entries = paper_entries + post_entries
    return Digest(
        kind=DigestKind.DAILY,
        day=day,
        sections=tuple(sections),
        offline=_is_offline(entries),
        empty_reason=None
        if entries
        else empty_message(DigestKind.DAILY, day, day, had_candidates=had_candidates, failed_sources=failed_sources),
        start_day=day,
        target=target,
        total_papers=len(paper_list),
        failed_sources=tuple(sorted(failed_sources)),
    )


def week_start(day: date) -> date:
    """First day of the 7-day week ending on ``day``."""
    return day - timedelta(days=6)


def build_weekly(
    day: date,
    papers: Iterable[Item],
    posts: Iterable[Item] = (),
    *,
    summaries: Mapping[int, Summary] | None = None,
    team_votes: Mapping[int, int] | None = None,
    filters: ChannelFilters | None = None,
    policy: RankingPolicy = DEFAULT_POLICY,
    target: str | None = None,
    known_topics: KnownTopics | None = None,
    failed_sources: Collection[str] = (),
) -> Digest:
    """Best of the week ending on ``day``: top papers by HF upvotes and team votes grouped by topic, then posts.

    ``known_topics``: topics already known per item id (the others are assigned here).
    """
    known = known_topics or {}
    summaries = summaries or {}
    team_votes = team_votes or {}
    filters = filters or ChannelFilters()
    start = week_start(day)
    paper_list = [p for p in papers if p.kind is ItemKind.PAPER and start <= p.day <= day]
    post_list = list(posts)  # chosen by the caller: dated or first seen within the week
    topics_of: dict[tuple[str, str], tuple[str, ...]] = {}
    checked: list[tuple[Item, Verdict]] = []
    for item in paper_list:
        topics = _topics(item, known)
        topics_of[(item.source, item.external_id)] = topics
        verdict = check_filters(item, topics, filters)
        if verdict.keep:
            checked.append((item, verdict))
    ranked = rank_papers(checked, team_votes, policy, top_n=policy.weekly_top_n)
    groups: dict[str, list[DigestEntry]] = {}
    for r in ranked:
        topics = topics_of[(r.item.source, r.item.external_id)]
        primary = topics[0] if topics else OTHER
        groups.setdefault(primary, []).append(_entry(r, summaries, topics, reasons(r, weekly=True, total=len(checked))))
    sections = [DigestSection(topic, tuple(groups[topic])) for topic in TOPICS if topic in groups]
    kept_posts = _posts(post_list, filters, (), team_votes, known)
    kept_posts.sort(key=lambda row: (row[3], _post_sort_key(row[0])), reverse=True)
    post_entries = _post_entries(kept_posts[: policy.weekly_max_posts], summaries, default_reason="이번 주 새 글")
    if post_entries:
        sections.append(DigestSection(WEEKLY_POSTS_TITLE, post_entries))
    entries = tuple(e for s in sections for e in s.entries)
    had_candidates = bool(paper_list) or any(not _is_backlog(p) for p in post_list)
    return Digest(
        kind=DigestKind.WEEKLY,
        day=day,
        sections=tuple(sections),
        offline=_is_offline(entries),
        empty_reason=None
        if entries
        else empty_message(DigestKind.WEEKLY, day, start, had_candidates=had_candidates, failed_sources=failed_sources),
        start_day=start,
        target=target,
        total_papers=len(paper_list),
        failed_sources=tuple(sorted(failed_sources)),
    )

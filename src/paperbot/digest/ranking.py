"""Ranking and per-channel filters: which papers make a digest, in which order, and why."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from paperbot.digest.topics import canonical_topic
from paperbot.domain import ChannelFilters, Item, ItemKind
from paperbot.untrusted import clean_untrusted


@dataclass(frozen=True, slots=True)
class RankingPolicy:
    """How papers are ranked and cut.

    ``score = HF upvotes + channel_vote_weight × the channel's own reaction votes``. A paper is kept when it is
    within ``top_n`` (None: no cap) and its score reaches ``min_score`` (None: no threshold). Papers by a pinned
    author are always kept.
    """

    top_n: int | None = 10
    min_score: float | None = None
    channel_vote_weight: float = 3.0
    max_posts: int = 10
    weekly_top_n: int = 20
    weekly_max_posts: int = 5


DEFAULT_POLICY = RankingPolicy()


def score(item: Item, team_votes: int, policy: RankingPolicy = DEFAULT_POLICY) -> float:
    return float(item.upvotes) + policy.channel_vote_weight * team_votes


def _phrase_re(phrase: str) -> re.Pattern[str]:
    # Latin phrases match on word boundaries ("rag" must not hit "storage"); Hangul ones as substrings, because
    # particles attach to Korean words ("모델의").
    escaped = re.escape(phrase.lower())
    if phrase.isascii():
        return re.compile(r"(?<![0-9a-z])" + escaped + r"(?![0-9a-z])")
    return re.compile(escaped)


def _haystack(item: Item) -> str:
    keywords = item.extra.get("ai_keywords")
    parts = [item.title, item.abstract]
    if isinstance(keywords, list):
        parts.extend(str(k) for k in keywords)
    return " \n ".join(clean_untrusted(p) for p in parts).lower()


def _norm_name(name: str) -> str:
    return " ".join(clean_untrusted(name).lower().replace(".", " ").split())


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the channel's filters say about one item."""

    keep: bool
    pinned_author: str | None = None
    matched_keywords: tuple[str, ...] = ()
    matched_topics: tuple[str, ...] = ()


_KEEP = Verdict(keep=True)
_DROP = Verdict(keep=False)


def check_filters(item: Item, topics: Iterable[str], filters: ChannelFilters) -> Verdict:
    """Apply ``filters``: sources and exclusions always; keywords, topics and minimum upvotes unless pinned."""
    if not (filters.sources or filters.exclude or filters.keywords or filters.authors or filters.topics):
        # Nothing but the upvote minimum: the verdict the full path below gives, without building its parts (a
        # week's listing checks hundreds of papers against no filters at all).
        return _DROP if item.kind is ItemKind.PAPER and item.upvotes < filters.min_upvotes else _KEEP
    if filters.sources and item.source not in filters.sources:
        return Verdict(keep=False)
    haystack = _haystack(item) if filters.exclude or filters.keywords else ""  # only phrases look at the text
    for phrase in filters.exclude:
        if phrase.strip() and _phrase_re(phrase.strip()).search(haystack):
            return Verdict(keep=False)
    pinned = None
    wanted = {_norm_name(a): a for a in filters.authors if a.strip()}
    for author in item.authors if wanted else ():
        if _norm_name(author) in wanted:
            pinned = clean_untrusted(author)
            break
    matched = tuple(k.strip() for k in filters.keywords if k.strip() and _phrase_re(k.strip()).search(haystack))
    item_topics = set(topics)
    wanted_topics = [canonical_topic(t) or t for t in filters.topics]
    matched_topics = tuple(t for t in wanted_topics if t in item_topics)
    if pinned is None:
        if filters.keywords and not matched:
            return Verdict(keep=False)
        if filters.topics and not matched_topics:
            return Verdict(keep=False)
        if item.kind is ItemKind.PAPER and item.upvotes < filters.min_upvotes:
            return Verdict(keep=False)
    return Verdict(keep=True, pinned_author=pinned, matched_keywords=matched, matched_topics=matched_topics)


@dataclass(frozen=True, slots=True)
class Ranked:
    item: Item
    score: float
    team_votes: int
    rank: int
    verdict: Verdict
    #: Position among all candidates of the day (before the cut); differs from ``rank`` for pinned papers.
    position: int = 0


def _order(item: Item) -> int:
    return item.id if item.id is not None else 2**62


def rank_papers(
    papers: Iterable[tuple[Item, Verdict]],
    team_votes: Mapping[int, int],
    policy: RankingPolicy = DEFAULT_POLICY,
    *,
    top_n: int | None = None,
) -> list[Ranked]:
    """Sort by score (then upvotes, then id for stability) and cut by ``top_n``/``min_score``; pinned always stay."""
    cap = policy.top_n if top_n is None else top_n
    scored = []
    for item, verdict in papers:
        votes = team_votes.get(item.id, 0) if item.id is not None else 0
        scored.append((score(item, votes, policy), votes, item, verdict))
    # Ties keep the collection order (item ids follow the HF API's order), then the external id.
    scored.sort(key=lambda row: (-row[0], -row[2].upvotes, _order(row[2]), row[2].external_id))
    kept: list[Ranked] = []
    for position, (value, votes, item, verdict) in enumerate(scored, start=1):
        within = (cap is None or position <= cap) and (policy.min_score is None or value >= policy.min_score)
        if within or verdict.pinned_author:
            kept.append(Ranked(item, value, votes, len(kept) + 1, verdict, position))
    return kept


def reasons(ranked: Ranked, *, weekly: bool = False, total: int | None = None) -> str:
    """The short Korean "why included" line: votes, matched keywords and topics, pinned author."""
    parts: list[str] = []
    item = ranked.item
    if item.kind is ItemKind.PAPER:
        label = "이번 주 HF 추천" if weekly else "HF 추천"
        parts.append(f"{label} {item.upvotes}표")
        if total and total > 1:
            parts.append(f"{total}편 중 {ranked.position}위")
    if ranked.team_votes:
        parts.append(f"팀 투표 {ranked.team_votes:+d}")
    if ranked.verdict.pinned_author:
        parts.append(f"관심 저자 {ranked.verdict.pinned_author}")
    parts.extend(f"키워드 '{k}'" for k in ranked.verdict.matched_keywords)
    parts.extend(f"관심 주제 {t}" for t in ranked.verdict.matched_topics)
    return " · ".join(parts)

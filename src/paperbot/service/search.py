"""The search use case behind ``paperbot search`` and ``/paper search`` on Discord and Slack.

:func:`search` takes the raw user query (any text: it is analysed and bound as parameters by the repository, never
interpreted) and returns a :class:`SearchOutcome`: the hits with the latest summary, HF upvotes and team votes,
ready for any renderer. Titles, bullets and links are untrusted: the platform escapes them. ``notice`` is trusted
Korean written here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from paperbot import korean
from paperbot.domain import Item, ItemKind, SearchHit, SearchMatch, Summary
from paperbot.ports import Repository

DEFAULT_LIMIT = 10
MAX_LIMIT = 25

NO_QUERY = "검색어를 입력해 주세요."
NO_RESULTS = "검색 결과가 없습니다."


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One hit as users see it."""

    item: Item
    summary: Summary | None
    team_votes: int
    match: SearchMatch
    score: float

    @property
    def hf_upvotes(self) -> int:
        """Hugging Face upvotes as last captured (0 for blog posts)."""
        return self.item.upvotes

    @property
    def first_bullet(self) -> str | None:
        """The first Korean bullet of the latest summary, if the item has been summarised."""
        if self.summary is None or not self.summary.bullets:
            return None
        return self.summary.bullets[0]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``--json``, logs, platform adapters)."""
        return {
            "id": self.item.id,
            "title": self.item.title,
            "day": self.item.day.isoformat(),
            "source": self.item.source,
            "kind": self.item.kind.value,
            "url": self.item.url,
            "hf_upvotes": self.hf_upvotes,
            "team_votes": self.team_votes,
            "first_bullet": self.first_bullet,
            "match": self.match.value,
            "score": round(self.score, 6),
        }


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """The answer to one search; ``notice`` (trusted Korean) is set when there is nothing to show."""

    query: str
    results: tuple[SearchResult, ...]
    notice: str | None = None


def clamp_limit(limit: int | None) -> int:
    """``limit`` within 1..MAX_LIMIT (``None``: the default)."""
    if limit is None:
        return DEFAULT_LIMIT
    return max(1, min(int(limit), MAX_LIMIT))


async def search(
    repository: Repository,
    query: str,
    *,
    limit: int | None = None,
    since: date | None = None,
    sources: Sequence[str] | None = None,
    kind: ItemKind | None = None,
    channel_id: str | None = None,
) -> SearchOutcome:
    """Search everything collected. ``channel_id`` counts team votes of that channel only (chat commands);
    without it, votes from every channel count (CLI). Hostile or empty input gives an empty outcome, not an error.
    """
    if not query or not query.strip():
        return SearchOutcome(query="", results=(), notice=NO_QUERY)
    hits = await repository.search_items(query, limit=clamp_limit(limit), day_from=since, sources=sources, kind=kind)
    if not hits:
        return SearchOutcome(query=query, results=(), notice=NO_RESULTS)
    return SearchOutcome(query=query, results=await results_of(repository, hits, channel_id=channel_id))


async def results_of(
    repository: Repository, hits: Sequence[SearchHit], *, channel_id: str | None = None
) -> tuple[SearchResult, ...]:
    """The hits with their latest summary and team votes (of ``channel_id``, else of every channel)."""
    ids = [hit.item.id for hit in hits if hit.item.id is not None]
    summaries = await repository.latest_summaries(ids) if ids else {}
    votes = await repository.vote_totals(ids, channel_id=channel_id) if ids else {}
    return tuple(
        SearchResult(
            item=hit.item,
            summary=summaries.get(hit.item.id) if hit.item.id is not None else None,
            team_votes=votes.get(hit.item.id, 0) if hit.item.id is not None else 0,
            match=hit.match,
            score=hit.score,
        )
        for hit in hits
    )


_RELATIVE_SINCE_RE = re.compile(r"^(\d{1,4})d$")


def parse_since(value: str | None, today: date) -> date | None:
    """``YYYY-MM-DD`` or ``Nd`` (the last N days before ``today``); None for nothing; ValueError otherwise."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    match = _RELATIVE_SINCE_RE.match(text)
    if match:
        return today - timedelta(days=int(match.group(1)))
    return date.fromisoformat(text)


async def warm_up() -> str:
    """Load the Korean analyser off the event loop (Kiwi takes seconds to load); returns its name.

    A long-running bot calls this at start so the first ``/paper search`` does not stall the gateway.
    """
    return await asyncio.to_thread(korean.load)

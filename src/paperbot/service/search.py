"""The search use case behind ``paperbot search`` and ``/paper search`` on Discord and Slack.

:func:`search` takes the raw user query (any text: it is analysed and bound as parameters by the repository, never
interpreted) and returns a :class:`SearchOutcome`: the hits with the latest summary, HF upvotes and team votes,
ready for any renderer. Titles, bullets and links are untrusted: the platform escapes them. ``notice`` is trusted
Korean written here.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from paperbot import korean
from paperbot.domain import Item, ItemKind, SearchHit, SearchMatch, Summary
from paperbot.ports import Repository

logger = logging.getLogger(__name__)

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


#: How long an autocomplete may search: Discord drops an autocomplete interaction not answered within 3 s of its
#: creation (it cannot be deferred), and the request spent part of that on its way here.
AUTOCOMPLETE_SECONDS = 2.0
_background: set[asyncio.Task[SearchOutcome]] = set()


async def search_within(
    repository: Repository,
    query: str,
    seconds: float,
    *,
    limit: int | None = None,
    channel_id: str | None = None,
) -> SearchOutcome | None:
    """:func:`search`, or None when it takes longer than ``seconds`` (autocomplete: answer something in time).

    The query is analysed off the event loop (see ``SqlRepository.search_items``), so the wait is a real bound. A
    search that runs late is not cancelled (a cancelled database read can leave its connection unusable): it
    finishes in the background, and its result is dropped.
    """
    task = asyncio.create_task(search(repository, query, limit=limit, channel_id=channel_id))
    done, _ = await asyncio.wait({task}, timeout=max(0.0, seconds))
    if task in done:
        return task.result()
    _background.add(task)
    task.add_done_callback(_finished_late)
    return None


def _finished_late(task: asyncio.Task[SearchOutcome]) -> None:
    _background.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.warning("late autocomplete search failed: %s", type(error).__name__)


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
    """Make the search analyser ready (Kiwi: load its model and analyse a sentence); returns its name.

    The default analyser (the fallback) needs nothing. Kiwi (``search_analyzer = "kiwi"``) holds the GIL while its
    model loads (2-7 s), so the worker thread here does not keep the event loop responsive: a bot that uses Kiwi
    calls this before it connects to the platforms.
    """
    if korean.ready():
        return korean.analyzer_name()
    return await asyncio.to_thread(korean.load)

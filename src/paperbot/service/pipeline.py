"""The digest pipeline, once: collect the covered day → summarise what is pending → build → publish (or hand back).

``paperbot digest`` and the scheduled jobs of ``paperbot run`` (:mod:`paperbot.service.runtime`) both run it; they
differ only in what they do with the outcome (print it, count it in the metrics). Collection has a deadline per
source and one over the whole step: a hanging source delays a digest by at most ``collect_deadline``, and the
digest is then built from what is stored. Publishing is :func:`paperbot.service.publish.publish_digest`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from paperbot.digest.build import week_start
from paperbot.domain import Digest, DigestKind, Target, utcnow
from paperbot.ports import ArticleSource, ChunkSender, Repository, Source, Summarizer
from paperbot.service.collect import CollectReport, collect
from paperbot.service.digest import build_digest
from paperbot.service.publish import PublishResult, publish_digest
from paperbot.service.summarize import SummarizeReport, summarize_pending

logger = logging.getLogger("paperbot.pipeline")


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the first three steps did, and the digest they built."""

    digest: Digest
    #: None when collection was not asked for, or passed its deadline (then ``collect_timed_out``).
    collected: CollectReport | None
    summarized: SummarizeReport
    collect_timed_out: bool = False

    @property
    def failed_sources(self) -> list[str]:
        return [outcome.name for outcome in self.collected.failed] if self.collected else []

    @property
    def all_sources_failed(self) -> bool:
        report = self.collected
        return report is not None and bool(report.sources) and len(report.failed) == len(report.sources)


@dataclass(slots=True)
class DigestPipeline:
    """Everything the pipeline needs, built once by the composition root."""

    repository: Repository
    sources: Sequence[Source]
    summarizer: Summarizer
    senders: Mapping[str, ChunkSender] = field(default_factory=dict)
    llm_concurrency: int = 4
    llm_daily_budget_usd: float | None = None
    #: Per-source deadline for sources without their own (``collect`` stores what the others brought).
    source_deadline: float = 120.0
    #: Backstop over a whole collection inside a digest.
    collect_deadline: float = 150.0
    #: ``PAPERBOT_WEB_BASE_URL``: digests link to the web archive's page of their day.
    archive_base_url: str | None = None
    #: Fetches shown blog posts' pages after collecting (issue 17); None: off.
    articles: ArticleSource | None = None
    now: Callable[[], datetime] = utcnow

    async def collect(self, day: date, *, only: Sequence[str] | None = None) -> CollectReport:
        """Fetch the sources (or those named in ``only``) for ``day``, each under ``source_deadline``."""
        return await collect(
            self.repository,
            self.sources,
            day=day,
            only=only,
            now=self.now(),
            deadline=self.source_deadline,
            articles=self.articles,
        )

    async def prepare(self, day: date, kind: DigestKind, target: Target | None, *, fetch: bool = True) -> Prepared:
        """Collect ``day`` (unless ``fetch`` is False), summarise what is pending and build ``target``'s digest.

        ``target`` None builds the channel-less digest (console, markdown: no votes, no filters, no history).
        """
        collected: CollectReport | None = None
        timed_out = False
        if fetch:
            try:
                async with asyncio.timeout(self.collect_deadline):
                    collected = await self.collect(day)
            except TimeoutError:
                timed_out = True
                logger.warning(
                    "collection of %s passed its %.0fs deadline; using what is stored", day, self.collect_deadline
                )
        summarized = await summarize_pending(
            self.repository,
            self.summarizer,
            day_from=week_start(day) if kind is DigestKind.WEEKLY else day,
            concurrency=self.llm_concurrency,
            daily_budget_usd=self.llm_daily_budget_usd,
        )
        digest = await build_digest(
            self.repository,
            day=day,
            kind=kind,
            target=str(target) if target is not None else None,
            archive_base_url=self.archive_base_url,
            # What this collection could not fetch; without one, the sources' stored states say it.
            failed_sources=[o.name for o in collected.failed] if collected is not None else None,
        )
        return Prepared(digest=digest, collected=collected, summarized=summarized, collect_timed_out=timed_out)

    async def publish(self, digest: Digest, target: Target) -> PublishResult:
        """Post ``digest`` to ``target`` (each chunk at most once; a resumed run sends its stored chunks)."""
        return await publish_digest(self.repository, digest, target, self.senders)

"""``InMemoryRepository``: the Repository port in plain dicts, for tests and dry runs.

It honours the same uniqueness rules and ordering as ``SqlRepository``; the contract suite in
``tests/store/test_repository_contract.py`` runs against both.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from types import SimpleNamespace

from paperbot.domain import (
    Article,
    ChannelVotes,
    Delivery,
    DeliveryState,
    DigestKind,
    DigestRun,
    Item,
    ItemKind,
    ListedItem,
    LlmUsage,
    RankedItem,
    RunStatus,
    SearchHit,
    SourceActivity,
    SourceState,
    Stored,
    Subscription,
    Summary,
    UpvotePoint,
    UsageTotals,
    Vote,
    utcnow,
)
from paperbot.errors import StoreError
from paperbot.store import search
from paperbot.store.article_rows import article_from_row, article_values
from paperbot.store.search_memory import MemorySearchIndex
from paperbot.store.values import clamp_count, storable_item, storable_state


class InMemoryRepository:
    """Everything in dictionaries; safe for concurrent asyncio tasks because no method awaits mid-update."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._items: dict[int, Item] = {}
        self._first_seen: dict[int, datetime] = {}
        self._item_keys: dict[tuple[str, str], int] = {}
        self._summaries: dict[int, Summary] = {}
        self._summary_keys: dict[tuple[int, str, str, str], int] = {}
        self._sources: dict[str, SourceState] = {}
        self._runs: dict[int, DigestRun] = {}
        self._run_keys: dict[tuple[str, str, date], int] = {}
        self._deliveries: dict[int, Delivery] = {}
        self._delivery_keys: dict[tuple[int, str, int], int] = {}
        self._votes: dict[tuple[str, str, str, str], Vote] = {}
        self._subscriptions: dict[tuple[str, str, str], Subscription] = {}
        self._events: set[tuple[str, str]] = set()
        self._usage: list[LlmUsage] = []
        self._search = MemorySearchIndex()
        self._leases: dict[str, tuple[str, datetime]] = {}
        self._upvote_history: dict[int, dict[datetime, int]] = {}
        self._topics: dict[int, tuple[str, tuple[str, ...]]] = {}  # item id -> (taxonomy version, topics)
        self._articles: dict[int, Article] = {}

    async def close(self) -> None:
        return None

    # --- items ------------------------------------------------------------------------------------------------

    async def add_item(self, item: Item, *, seen_at: datetime | None = None) -> Stored[Item]:
        item = storable_item(item)  # the values a real database would hold
        key = (item.source, item.external_id)
        existing = self._item_keys.get(key)
        if existing is not None:
            return Stored(self._items[existing], created=False)
        item_id = next(self._ids)
        stored = replace(item, id=item_id, extra=dict(item.extra))
        self._items[item_id] = stored
        self._item_keys[key] = item_id
        self._first_seen[item_id] = seen_at or utcnow()
        self._search.put(search.build_document(stored))
        return Stored(stored, created=True)

    async def add_items(self, items: Iterable[Item], *, seen_at: datetime | None = None) -> list[Stored[Item]]:
        return [await self.add_item(item, seen_at=seen_at) for item in items]

    async def get_item(self, item_id: int) -> Item | None:
        return self._items.get(item_id)

    async def find_item(self, source: str, external_id: str) -> Item | None:
        item_id = self._item_keys.get((source, external_id))
        return self._items[item_id] if item_id is not None else None

    async def list_items(
        self,
        *,
        day_from: date | None = None,
        day_to: date | None = None,
        kind: ItemKind | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[Item]:
        found = [
            item
            for item in self._items.values()
            if (day_from is None or item.day >= day_from)
            and (day_to is None or item.day <= day_to)
            and (kind is None or item.kind == kind)
            and (sources is None or item.source in sources)
        ]
        return sorted(found, key=lambda i: (-i.day.toordinal(), -i.upvotes, i.id or 0))

    async def update_upvotes(self, item_id: int, upvotes: int, captured_at: datetime) -> None:
        if item_id in self._items:
            old = self._items[item_id]
            history = self._upvote_history.setdefault(item_id, {})
            if old.upvotes_captured_at is not None:
                history.setdefault(old.upvotes_captured_at, old.upvotes)
            history[captured_at] = clamp_count(upvotes)
            self._items[item_id] = replace(old, upvotes=clamp_count(upvotes), upvotes_captured_at=captured_at)

    async def list_post_candidates(
        self,
        *,
        day_from: date,
        day_to: date,
        seen_from: datetime,
        seen_until: datetime,
        not_delivered_to: str | None = None,
        except_run_day: date | None = None,
    ) -> list[Item]:
        delivered: set[int] = set()
        if not_delivered_to is not None:
            runs = {
                run_id
                for run_id, run in self._runs.items()
                if run.target == not_delivered_to
                and run.kind is DigestKind.DAILY
                and (except_run_day is None or run.day != except_run_day)
            }
            delivered = {d.item_id for d in self._deliveries.values() if d.run_id in runs and d.item_id is not None}
        found = [
            item
            for item_id, item in self._items.items()
            if item.kind is ItemKind.POST
            and item_id not in delivered
            and (day_from <= item.day <= day_to or seen_from <= self._first_seen[item_id] < seen_until)
        ]
        return sorted(found, key=lambda item: (-item.day.toordinal(), item.id or 0))

    # --- articles (issue 17) ----------------------------------------------------------------------------------

    async def save_article(self, article: Article) -> None:
        if article.item_id not in self._items:  # the SQL table's foreign key refuses it too
            raise StoreError(f"database error: no item {article.item_id} for its article")
        # Through the stored row's values, so what comes back is exactly what the SQL repository would return.
        self._articles[article.item_id] = article_from_row(SimpleNamespace(**article_values(article)))

    async def get_articles(self, item_ids: Sequence[int]) -> dict[int, Article]:
        return {item_id: self._articles[item_id] for item_id in dict.fromkeys(item_ids) if item_id in self._articles}

    # --- summaries --------------------------------------------------------------------------------------------

    async def add_summary(self, summary: Summary) -> Stored[Summary]:
        return (await self.add_summaries([summary]))[0]

    async def add_summaries(self, summaries: Sequence[Summary]) -> list[Stored[Summary]]:
        # All or nothing, as the SQL transaction: a summary of an unknown item is refused as its foreign key is.
        missing = sorted({summary.item_id for summary in summaries} - self._items.keys())
        if missing:
            raise StoreError(f"database error: no item {missing[0]} for its summary")
        results: list[Stored[Summary]] = []
        now = utcnow()
        for summary in summaries:
            key = (summary.item_id, summary.input_hash, summary.prompt_version, summary.model)
            existing = self._summary_keys.get(key)
            if existing is not None:
                results.append(Stored(self._summaries[existing], created=False))
                continue
            summary_id = next(self._ids)
            stored = replace(summary, id=summary_id, created_at=summary.created_at or now)
            self._summaries[summary_id] = stored
            self._summary_keys[key] = summary_id
            self._reindex(summary.item_id)
            results.append(Stored(stored, created=True))
        return results

    async def find_summary(self, item_id: int, input_hash: str, prompt_version: str, model: str) -> Summary | None:
        summary_id = self._summary_keys.get((item_id, input_hash, prompt_version, model))
        return self._summaries[summary_id] if summary_id is not None else None

    async def latest_summaries(self, item_ids: Sequence[int]) -> dict[int, Summary]:
        wanted = set(item_ids)
        result: dict[int, Summary] = {}
        ordered = sorted(self._summaries.values(), key=lambda s: (s.created_at or utcnow(), s.id or 0), reverse=True)
        for summary in ordered:
            if summary.item_id in wanted:
                result.setdefault(summary.item_id, summary)
        return result

    async def items_without_summary(self, *, day_from: date | None = None, limit: int | None = None) -> list[Item]:
        summarized = {summary.item_id for summary in self._summaries.values()}
        pending = [item for item in await self.list_items(day_from=day_from) if item.id not in summarized]
        return pending[:limit] if limit is not None else pending

    # --- search -----------------------------------------------------------------------------------------------

    def _reindex(self, item_id: int) -> None:
        item = self._items.get(item_id)
        if item is not None:
            latest = self._latest_summary(item_id)
            self._search.put(search.build_document(item, latest.bullets if latest else ()))

    def _latest_summary(self, item_id: int) -> Summary | None:
        mine = [s for s in self._summaries.values() if s.item_id == item_id]
        return max(mine, key=lambda s: (s.created_at or utcnow(), s.id or 0)) if mine else None

    async def search_items(
        self,
        query: str,
        *,
        limit: int = 10,
        day_from: date | None = None,
        sources: Sequence[str] | None = None,
        kind: ItemKind | None = None,
    ) -> list[SearchHit]:
        def allowed(item_id: int) -> bool:
            item = self._items[item_id]
            return (
                (day_from is None or item.day >= day_from)
                and (sources is None or item.source in sources)
                and (kind is None or item.kind == kind)
            )

        ranked = await self._search.search(search.parse_query(query), max(limit, 0), allowed)
        return [SearchHit(self._items[i], score, match) for i, score, match in ranked]

    async def reindex_search(self) -> int:
        for item_id in self._items:
            self._reindex(item_id)
        return len(self._items)

    # --- source state -----------------------------------------------------------------------------------------

    async def get_source_state(self, name: str) -> SourceState | None:
        return self._sources.get(name)

    async def save_source_state(self, state: SourceState) -> None:
        self._sources[state.name] = storable_state(state)

    async def list_source_states(self) -> list[SourceState]:
        return [self._sources[name] for name in sorted(self._sources)]

    # --- digest runs and deliveries ---------------------------------------------------------------------------

    async def claim_run(self, target: str, kind: DigestKind, day: date) -> Stored[DigestRun]:
        key = (target, kind.value, day)
        existing = self._run_keys.get(key)
        if existing is not None:
            return Stored(self._runs[existing], created=False)
        run_id = next(self._ids)
        run = DigestRun(id=run_id, target=target, kind=kind, day=day, created_at=utcnow())
        self._runs[run_id] = run
        self._run_keys[key] = run_id
        return Stored(run, created=True)

    async def set_run_status(self, run_id: int, status: RunStatus, *, note: str | None = None) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        finished = utcnow() if status in (RunStatus.DONE, RunStatus.SKIPPED, RunStatus.FAILED) else run.finished_at
        self._runs[run_id] = replace(run, status=status, note=note, finished_at=finished)

    async def add_delivery(self, delivery: Delivery) -> Stored[Delivery]:
        key = (delivery.run_id, delivery.target, delivery.chunk)
        existing = self._delivery_keys.get(key)
        if existing is not None:
            return Stored(self._deliveries[existing], created=False)
        delivery_id = next(self._ids)
        stored = replace(delivery, id=delivery_id, updated_at=utcnow())
        self._deliveries[delivery_id] = stored
        self._delivery_keys[key] = delivery_id
        return Stored(stored, created=True)

    async def store_chunks(self, run_id: int, deliveries: Sequence[Delivery]) -> Stored[list[Delivery]]:
        ordered = sorted(deliveries, key=lambda d: d.chunk)
        created = bool(ordered) and (run_id, ordered[0].target, ordered[0].chunk) not in self._delivery_keys
        if created:
            for delivery in ordered:
                await self.add_delivery(replace(delivery, state=DeliveryState.PENDING, platform_message_id=None))
        return Stored(await self.list_deliveries(run_id), created=created)

    async def transition_delivery(
        self,
        delivery_id: int,
        *,
        expected: Iterable[DeliveryState],
        new: DeliveryState,
        platform_message_id: str | None = None,
        error: str | None = None,
    ) -> bool:
        current = self._deliveries.get(delivery_id)
        if current is None or current.state not in set(expected):
            return False
        self._deliveries[delivery_id] = replace(
            current,
            state=new,
            platform_message_id=platform_message_id or current.platform_message_id,
            last_error=error,
            attempts=current.attempts + 1 if new is DeliveryState.SENDING else current.attempts,
            updated_at=utcnow(),
        )
        return True

    async def list_deliveries(self, run_id: int) -> list[Delivery]:
        found = [d for d in self._deliveries.values() if d.run_id == run_id]
        return sorted(found, key=lambda d: (d.target, d.chunk))

    async def find_delivery_by_message(self, target: str, platform_message_id: str) -> Delivery | None:
        for delivery in self._deliveries.values():
            if delivery.target == target and delivery.platform_message_id == platform_message_id:
                return delivery
        return None

    async def last_run(self, target: str, kind: DigestKind, *, before: date | None = None) -> DigestRun | None:
        runs = [
            run
            for run in self._runs.values()
            if run.target == target and run.kind == kind and (before is None or run.day < before)
        ]
        return max(runs, key=lambda run: (run.day, run.id or 0), default=None)

    # --- votes ------------------------------------------------------------------------------------------------

    async def add_vote(self, vote: Vote) -> bool:
        key = (vote.platform, vote.message_id, vote.voter_hash, vote.emoji)
        if key in self._votes:
            return False
        self._votes[key] = replace(vote, created_at=vote.created_at or utcnow())
        return True

    async def remove_vote(self, platform: str, message_id: str, voter_hash: str, emoji: str) -> bool:
        return self._votes.pop((platform, message_id, voter_hash, emoji), None) is not None

    async def list_votes(self, platform: str, message_id: str) -> list[Vote]:
        return [vote for key, vote in self._votes.items() if key[0] == platform and key[1] == message_id]

    async def vote_totals(self, item_ids: Sequence[int], *, channel_id: str | None = None) -> dict[int, int]:
        wanted = set(item_ids)
        totals: dict[int, int] = {}
        for vote in self._votes.values():
            if vote.item_id in wanted and (channel_id is None or vote.channel_id == channel_id):
                totals[vote.item_id] = totals.get(vote.item_id, 0) + vote.value
        return totals

    # --- subscriptions ----------------------------------------------------------------------------------------

    async def save_subscription(self, subscription: Subscription) -> Subscription:
        key = (subscription.platform, subscription.channel_id, subscription.kind.value)
        existing = self._subscriptions.get(key)
        stored = replace(subscription, id=existing.id if existing else next(self._ids))
        self._subscriptions[key] = stored
        return stored

    async def remove_subscription(self, platform: str, channel_id: str, kind: DigestKind | None = None) -> int:
        doomed = [
            key
            for key in self._subscriptions
            if key[0] == platform and key[1] == channel_id and (kind is None or key[2] == kind.value)
        ]
        for key in doomed:
            del self._subscriptions[key]
        return len(doomed)

    async def list_subscriptions(
        self, *, platform: str | None = None, channel_id: str | None = None, active: bool | None = None
    ) -> list[Subscription]:
        return [
            subscription
            for subscription in (self._subscriptions[key] for key in sorted(self._subscriptions))
            if (platform is None or subscription.platform == platform)
            and (channel_id is None or subscription.channel_id == channel_id)
            and (active is None or subscription.active is active)
        ]

    # --- inbound events ---------------------------------------------------------------------------------------

    async def mark_event_processed(self, platform: str, event_id: str) -> bool:
        key = (platform, event_id)
        if key in self._events:
            return False
        self._events.add(key)
        return True

    # --- LLM usage --------------------------------------------------------------------------------------------

    async def acquire_lease(self, name: str, holder: str, ttl: timedelta, *, now: datetime | None = None) -> bool:
        now = now or utcnow()
        current = self._leases.get(name)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._leases[name] = (holder, now + ttl)
        return True

    async def release_lease(self, name: str, holder: str) -> None:
        current = self._leases.get(name)
        if current is not None and current[0] == holder:
            del self._leases[name]

    async def record_usage(self, usage: LlmUsage) -> None:
        self._usage.append(usage)

    async def usage_totals(self, day: date) -> UsageTotals:
        today = [u for u in self._usage if u.day == day]
        return UsageTotals(
            calls=len(today),
            tokens_in=sum(u.tokens_in for u in today),
            tokens_out=sum(u.tokens_out for u in today),
            cost_usd=sum(u.cost_usd for u in today),
        )

    # --- web archive (read-only) ------------------------------------------------------------------------------

    def _days(self, kind: ItemKind | None) -> list[date]:
        return [item.day for item in self._items.values() if kind is None or item.kind == kind]

    async def latest_day(self, *, kind: ItemKind | None = None) -> date | None:
        return max(self._days(kind), default=None)

    async def neighbour_days(
        self, day: date, *, kind: ItemKind | None = None, last: date | None = None
    ) -> tuple[date | None, date | None]:
        days = self._days(kind)
        after = last or day
        return max((d for d in days if d < day), default=None), min((d for d in days if d > after), default=None)

    async def upvote_history(self, item_id: int) -> list[UpvotePoint]:
        points = [UpvotePoint(at, value) for at, value in sorted(self._upvote_history.get(item_id, {}).items())]
        item = self._items.get(item_id)
        if item is None or item.kind is not ItemKind.PAPER or item.upvotes_captured_at is None:
            return points
        if not points or points[-1].captured_at < item.upvotes_captured_at:
            points.append(UpvotePoint(item.upvotes_captured_at, item.upvotes))
        return points

    async def channel_votes(self, item_id: int) -> list[ChannelVotes]:
        counts: dict[tuple[str, str | None], list[int]] = {}
        for vote in self._votes.values():
            if vote.item_id == item_id:
                up_down = counts.setdefault((vote.platform, vote.channel_id), [0, 0])
                if vote.value > 0:
                    up_down[0] += 1
                elif vote.value < 0:
                    up_down[1] += 1
        found = [ChannelVotes(platform, channel, up, down) for (platform, channel), (up, down) in counts.items()]
        return sorted(found, key=lambda v: (-(v.up + v.down), v.platform, v.channel_id or ""))

    async def items_with_votes(
        self, *, day_from: date, day_to: date, kind: ItemKind | None = None, topics_version: str | None = None
    ) -> list[RankedItem]:
        items = await self.list_items(day_from=day_from, day_to=day_to, kind=kind)
        totals = await self.vote_totals([item.id for item in items if item.id is not None])
        return [
            RankedItem(item, totals.get(item.id or 0, 0), self._stored_topics(item.id or 0, topics_version))
            for item in items
        ]

    def _stored_topics(self, item_id: int, version: str | None) -> tuple[str, ...] | None:
        stored = self._topics.get(item_id)
        return stored[1] if stored is not None and version is not None and stored[0] == version else None

    async def listed_items(self, *, day_from: date, day_to: date, topics_version: str) -> list[ListedItem]:
        return [
            ListedItem(
                id=r.item.id or 0,
                source=r.item.source,
                external_id=r.item.external_id,
                kind=r.item.kind,
                day=r.item.day,
                upvotes=r.item.upvotes,
                published_at=r.item.published_at,
                backlog=r.item.kind is ItemKind.POST and bool(r.item.extra.get("backlog")),
                team_votes=r.team_votes,
                topics=r.topics,
            )
            for r in await self.items_with_votes(day_from=day_from, day_to=day_to, topics_version=topics_version)
        ]

    async def items_with_summaries(self, item_ids: Sequence[int]) -> dict[int, tuple[Item, Summary | None]]:
        return {
            item_id: (self._items[item_id], self._latest_summary(item_id))
            for item_id in dict.fromkeys(item_ids)
            if item_id in self._items
        }

    async def save_topics(self, version: str, topics: Mapping[int, Sequence[str]]) -> int:
        stored = 0
        for item_id, names in topics.items():
            if item_id in self._items:
                self._topics[item_id] = (version, tuple(names))
                stored += 1
        return stored

    async def items_needing_topics(self, version: str, *, after_id: int = 0, limit: int = 500) -> list[Item]:
        stale = (
            item
            for item_id, item in sorted(self._items.items())
            if item_id > after_id and self._topics.get(item_id, ("",))[0] != version
        )
        return list(itertools.islice(stale, max(limit, 0)))

    async def top_items(
        self,
        *,
        day_from: date,
        day_to: date,
        vote_weight: float,
        limit: int,
        kind: ItemKind | None = None,
    ) -> list[RankedItem]:
        items = await self.list_items(day_from=day_from, day_to=day_to, kind=kind)
        totals = await self.vote_totals([item.id for item in items if item.id is not None])
        ranked = [RankedItem(item, totals.get(item.id or 0, 0)) for item in items]
        ranked.sort(
            key=lambda r: (
                -(r.item.upvotes + vote_weight * r.team_votes),
                -r.item.upvotes,
                -r.item.day.toordinal(),
                r.item.id or 0,
            )
        )
        return ranked[: max(limit, 0)]

    async def source_activity(self, names: Sequence[str], *, since: date) -> dict[str, SourceActivity]:
        found: dict[str, SourceActivity] = {}
        for name in dict.fromkeys(names):
            days = [item.day for item in self._items.values() if item.source == name]
            found[name] = SourceActivity(name, sum(1 for d in days if d >= since), max(days, default=None))
        return found

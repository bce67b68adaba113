"""The web archive's read-only queries (and the topics it stores)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, Text, and_, case, func, literal, or_, select, type_coerce, union_all

from paperbot.domain import ChannelVotes, Item, ItemKind, ListedItem, RankedItem, SourceActivity, Summary, UpvotePoint
from paperbot.store.engine import json_loads
from paperbot.store.models import ItemRow, ItemTopicsRow, SummaryRow, UpvoteHistoryRow, VoteRow
from paperbot.store.rows import item_from_row, summary_from_row
from paperbot.store.sqlbase import SqlBase


class ArchiveStore(SqlBase):
    """``ArchiveRepository`` on SQL."""

    async def latest_day(self, *, kind: ItemKind | None = None) -> date | None:
        stmt = select(func.max(ItemRow.day))
        if kind is not None:
            stmt = stmt.where(ItemRow.kind == kind.value)
        async with self._read() as conn:
            value = (await conn.execute(stmt)).scalar_one_or_none()
        return _as_date(value)

    async def neighbour_days(
        self, day: date, *, kind: ItemKind | None = None, last: date | None = None
    ) -> tuple[date | None, date | None]:
        before = select(func.max(ItemRow.day)).where(ItemRow.day < day)
        after = select(func.min(ItemRow.day)).where(ItemRow.day > (last or day))
        if kind is not None:
            before = before.where(ItemRow.kind == kind.value)
            after = after.where(ItemRow.kind == kind.value)
        async with self._read() as conn:  # one statement, one snapshot
            previous, following = (await conn.execute(select(before.scalar_subquery(), after.scalar_subquery()))).one()
        return _as_date(previous), _as_date(following)

    async def upvote_history(self, item_id: int) -> list[UpvotePoint]:
        history = UpvoteHistoryRow.__table__
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    select(history.c.captured_at, history.c.upvotes)
                    .where(history.c.item_id == item_id)
                    .order_by(history.c.captured_at)
                )
            ).all()
            current = (
                await conn.execute(
                    select(ItemRow.upvotes, ItemRow.upvotes_captured_at).where(
                        ItemRow.id == item_id, ItemRow.kind == ItemKind.PAPER.value
                    )
                )
            ).one_or_none()
        points = [UpvotePoint(row.captured_at, row.upvotes) for row in rows]
        return _with_current(points, current)

    async def channel_votes(self, item_id: int) -> list[ChannelVotes]:
        up = func.sum(case((VoteRow.value > 0, 1), else_=0))
        down = func.sum(case((VoteRow.value < 0, 1), else_=0))
        stmt = (
            select(VoteRow.platform, VoteRow.channel_id, up, down)
            .where(VoteRow.item_id == item_id)
            .group_by(VoteRow.platform, VoteRow.channel_id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        found = [
            ChannelVotes(platform, channel, int(ups or 0), int(downs or 0)) for platform, channel, ups, downs in rows
        ]
        return sorted(found, key=_channel_order)

    async def items_with_votes(
        self, *, day_from: date, day_to: date, kind: ItemKind | None = None, topics_version: str | None = None
    ) -> list[RankedItem]:
        items = ItemRow.__table__
        topics = ItemTopicsRow.__table__
        stmt: Select[Any] = select(items, _votes_of(items).label("team_votes"))
        if topics_version is not None:
            stmt = stmt.add_columns(topics.c.topics.label("stored_topics")).select_from(
                _with_topics(items, topics_version)
            )
        stmt = stmt.where(items.c.day >= day_from, items.c.day <= day_to)
        if kind is not None:
            stmt = stmt.where(items.c.kind == kind.value)
        stmt = stmt.order_by(items.c.day.desc(), items.c.upvotes.desc(), items.c.id)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        if topics_version is None:
            return [RankedItem(item_from_row(row), int(row.team_votes or 0)) for row in rows]
        return [RankedItem(item_from_row(row), int(row.team_votes or 0), _topics_of(row.stored_topics)) for row in rows]

    async def listed_items(self, *, day_from: date, day_to: date, topics_version: str) -> list[ListedItem]:
        items = ItemRow.__table__
        stmt = (
            select(
                items.c.id,
                items.c.source,
                items.c.external_id,
                items.c.kind,
                items.c.day,
                items.c.upvotes,
                items.c.published_at,
                # Only posts can be a feed's backlog: the papers' JSON is not parsed for it. Both JSON values come
                # as text and are parsed below (hundreds of rows: the JSON type's result processing is layers deep).
                type_coerce(case((items.c.kind == ItemKind.POST.value, items.c.extra["backlog"]), else_=None), Text),
                _votes_of(items).label("team_votes"),
                type_coerce(ItemTopicsRow.__table__.c.topics, Text),
            )
            .select_from(_with_topics(items, topics_version))
            .where(items.c.day >= day_from, items.c.day <= day_to)
            .order_by(items.c.day.desc(), items.c.upvotes.desc(), items.c.id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            ListedItem(
                id=item_id,
                source=source,
                external_id=external_id,
                kind=_KINDS[kind],
                day=day,
                upvotes=upvotes,
                published_at=published_at,
                backlog=bool(_json_value(backlog)),  # the same truth test as the digest's ``extra.get("backlog")``
                team_votes=int(votes or 0),
                topics=_topics_of(_json_value(topics)),
            )
            for item_id, source, external_id, kind, day, upvotes, published_at, backlog, votes, topics in rows
        ]

    async def items_with_summaries(self, item_ids: Sequence[int]) -> dict[int, tuple[Item, Summary | None]]:
        ids = list(dict.fromkeys(item_ids))
        if not ids:
            return {}
        items = ItemRow.__table__
        summaries = SummaryRow.__table__
        newest = summaries.alias("newest")
        latest = (  # the summary latest_summaries picks, through the summaries' item index
            select(newest.c.id)
            .where(newest.c.item_id == items.c.id)
            .order_by(newest.c.created_at.desc(), newest.c.id.desc())
            .limit(1)
            .correlate(items)
            .scalar_subquery()
        )
        stmt = (
            select(items, *(column.label(_SUMMARY_PREFIX + column.name) for column in summaries.c))
            .select_from(items.outerjoin(summaries, summaries.c.id == latest))
            .where(items.c.id.in_(ids))
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        found = {
            row.id: (item_from_row(row), summary_from_row(row, _SUMMARY_PREFIX) if row.summary_id is not None else None)
            for row in rows
        }
        return {item_id: found[item_id] for item_id in ids if item_id in found}

    async def save_topics(self, version: str, topics: Mapping[int, Sequence[str]]) -> int:
        if not topics:
            return 0
        table = ItemTopicsRow.__table__
        wanted = sorted(topics)  # one lock order for every writer: two archives storing at once cannot deadlock
        async with self._tx() as conn:
            existing = set((await conn.execute(select(ItemRow.id).where(ItemRow.id.in_(wanted)))).scalars())
            rows = [{"item_id": i, "version": version, "topics": list(topics[i])} for i in wanted if i in existing]
            if rows:
                stmt = self._insert(table)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["item_id"], set_={"version": stmt.excluded.version, "topics": stmt.excluded.topics}
                )
                await conn.execute(stmt, rows)
        return len(rows)

    async def items_needing_topics(self, version: str, *, after_id: int = 0, limit: int = 500) -> list[Item]:
        items = ItemRow.__table__
        topics = ItemTopicsRow.__table__
        stmt = (
            select(items)
            .select_from(items.outerjoin(topics, topics.c.item_id == items.c.id))
            .where(items.c.id > after_id, or_(topics.c.item_id.is_(None), topics.c.version != version))
            .order_by(items.c.id)
            .limit(max(limit, 0))
        )
        # A pass starts by counting: when every item has topics of this version (item_topics rows belong to items),
        # two counts (an index, a small table) answer instead of a walk through the whole items table, which is
        # what the archive would otherwise pay each time it starts once its topics are complete.
        complete = select(
            select(func.count()).select_from(items).scalar_subquery()
            == select(func.count()).select_from(topics).where(topics.c.version == version).scalar_subquery()
        )
        async with self._read() as conn:
            if after_id <= 0 and (await conn.execute(complete)).scalar_one():
                return []
            rows = (await conn.execute(stmt)).all()
        return [item_from_row(row) for row in rows]

    async def top_items(
        self,
        *,
        day_from: date,
        day_to: date,
        vote_weight: float,
        limit: int,
        kind: ItemKind | None = None,
    ) -> list[RankedItem]:
        items = ItemRow.__table__
        votes = _votes_of(items)
        stmt: Select[Any] = select(items, votes.label("team_votes")).where(
            items.c.day >= day_from, items.c.day <= day_to
        )
        if kind is not None:
            stmt = stmt.where(items.c.kind == kind.value)
        stmt = stmt.order_by(
            (items.c.upvotes + vote_weight * votes).desc(), items.c.upvotes.desc(), items.c.day.desc(), items.c.id
        ).limit(max(limit, 0))
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [RankedItem(item_from_row(row), int(row.team_votes or 0)) for row in rows]

    async def source_activity(self, names: Sequence[str], *, since: date) -> dict[str, SourceActivity]:
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        # One statement, two index seeks per source (ix_items_source_day), instead of a scan or 2 × N round trips.
        rows = [
            select(
                literal(index).label("n"),
                select(func.max(ItemRow.day)).where(ItemRow.source == name).scalar_subquery().label("last_day"),
                select(func.count())
                .select_from(ItemRow)
                .where(ItemRow.source == name, ItemRow.day >= since)
                .scalar_subquery()
                .label("recent"),
            )
            for index, name in enumerate(wanted)
        ]
        async with self._read() as conn:
            result = (await conn.execute(union_all(*rows) if len(rows) > 1 else rows[0])).all()
        return {
            wanted[row.n]: SourceActivity(wanted[row.n], int(row.recent), _as_date(row.last_day))
            for row in sorted(result, key=lambda row: row.n)
        }


_SUMMARY_PREFIX = "summary_"
_KINDS = {kind.value: kind for kind in ItemKind}


def _json_value(raw: Any) -> Any:
    """A JSON value read as text (None stays None: SQL NULL, or a missing key)."""
    return json_loads(raw) if isinstance(raw, str | bytes) else raw


def _with_topics(items: Any, version: str) -> Any:
    """``items`` with each item's stored topics, when they were stored under taxonomy ``version``."""
    topics = ItemTopicsRow.__table__
    return items.outerjoin(topics, and_(topics.c.item_id == items.c.id, topics.c.version == version))


def _topics_of(value: Any) -> tuple[str, ...] | None:
    return tuple(map(str, value)) if isinstance(value, list) else None


def _votes_of(items: Any) -> Any:
    """Each item's team votes (every channel) through the votes' item index, not an aggregate of every vote."""
    return select(func.coalesce(func.sum(VoteRow.value), 0)).where(VoteRow.item_id == items.c.id).scalar_subquery()


def _as_date(value: Any) -> date | None:
    """A date from an aggregate: SQLite's ``max(day)`` comes back as ISO text, PostgreSQL's as a date."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _with_current(points: list[UpvotePoint], current: Any) -> list[UpvotePoint]:
    """The recorded points plus the item's own current count (a paper never refreshed has no history row)."""
    if current is None or current.upvotes_captured_at is None:
        return points
    if not points or points[-1].captured_at < current.upvotes_captured_at:
        points.append(UpvotePoint(current.upvotes_captured_at, current.upvotes))
    return points


def _channel_order(votes: ChannelVotes) -> tuple[int, str, str]:
    return (-(votes.up + votes.down), votes.platform, votes.channel_id or "")

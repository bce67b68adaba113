"""The schema: SQLAlchemy ORM tables. Alembic migrations in ``paperbot/migrations`` must match this exactly
(``paperbot db check`` fails on drift).

Uniqueness constraints are the real guarantee against double work; see ../DESIGN.md "Storage".
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from paperbot.domain import utcnow
from paperbot.store.values import ETAG_MAX, EXTERNAL_ID_MAX, LAST_MODIFIED_MAX

#: Stable constraint names on every database (Alembic autogenerate and downgrades depend on them).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text and would lose the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON}


class SourceRow(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    etag: Mapped[str | None] = mapped_column(String(ETAG_MAX))
    last_modified: Mapped[str | None] = mapped_column(String(LAST_MODIFIED_MAX))
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ItemRow(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_items_day_kind", "day", "kind"),
        Index("ix_items_source_day", "source", "day"),  # 0005: the archive's per-source activity
        # 0005: what a week's listing reads, so ranking hundreds of items never touches their rows (abstracts)
        Index("ix_items_listing", "day", "upvotes", "id", "kind", "source", "external_id", "published_at"),
        Index("ix_items_kind_first_seen_at", "kind", "first_seen_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_MAX))
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    day: Mapped[date] = mapped_column(Date)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    abstract: Mapped[str] = mapped_column(Text, default="")
    thumbnail_url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    upvotes: Mapped[int] = mapped_column(Integer, default=0)
    upvotes_captured_at: Mapped[datetime | None]
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class SummaryRow(Base):
    __tablename__ = "summaries"
    __table_args__ = (UniqueConstraint("item_id", "input_hash", "prompt_version", "model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    input_hash: Mapped[str] = mapped_column(String(64))
    prompt_version: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200))
    backend: Mapped[str] = mapped_column(String(50))
    bullets: Mapped[list[str]] = mapped_column(JSON)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Depth of each bullet (nested blog highlights, migration 0006); NULL: every bullet is top level.
    levels: Mapped[list[int] | None] = mapped_column(JSON)


class DigestRunRow(Base):
    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("target", "kind", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class DeliveryRow(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("run_id", "target", "chunk"),
        Index("ix_deliveries_target_message", "target", "platform_message_id"),
        Index("ix_deliveries_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("digest_runs.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(200))
    chunk: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    platform_message_id: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The chunk as rendered when the run was claimed (revision 0007); NULL on rows written before it.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reactions: Mapped[list[str] | None] = mapped_column(JSON)
    thread_of: Mapped[int | None] = mapped_column(Integer)


class VoteRow(Base):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("platform", "message_id", "voter_hash", "emoji"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    message_id: Mapped[str] = mapped_column(String(100))
    voter_hash: Mapped[str] = mapped_column(String(64))
    emoji: Mapped[str] = mapped_column(String(100))
    value: Mapped[int] = mapped_column(Integer)
    channel_id: Mapped[str | None] = mapped_column(String(100))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("platform", "channel_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace_id: Mapped[str | None] = mapped_column(String(100))
    channel_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    time: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    weekday: Mapped[int] = mapped_column(Integer, default=0)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    broken_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedEventRow(Base):
    __tablename__ = "processed_events"
    __table_args__ = (UniqueConstraint("platform", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(200))
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class LlmUsageRow(Base):
    __tablename__ = "llm_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    backend: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    tokens_in: Mapped[int] = mapped_column(Integer)
    tokens_out: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SearchDocRow(Base):
    """The search document of one item (see ``paperbot.store.search``), rewritten with the item and its summaries.

    Migration 0002 also creates what this model cannot describe on both databases: on SQLite the FTS5 tables
    ``search_fts``/``search_trgm`` and their triggers, on PostgreSQL the generated ``tsv`` column and the GIN
    indexes. ``migrations/env.py`` hides those from ``paperbot db check``.
    """

    __tablename__ = "search_docs"

    item_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    title_tokens: Mapped[str] = mapped_column(Text)
    summary_tokens: Mapped[str] = mapped_column(Text)
    meta_tokens: Mapped[str] = mapped_column(Text)
    body_tokens: Mapped[str] = mapped_column(Text)
    raw_text: Mapped[str] = mapped_column(Text)
    analyzer: Mapped[str] = mapped_column(String(20))


class UpvoteHistoryRow(Base):
    """One capture of a paper's HF upvotes (migration 0005). ``update_upvotes`` records the old and the new value."""

    __tablename__ = "upvote_history"
    __table_args__ = (UniqueConstraint("item_id", "captured_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    upvotes: Mapped[int] = mapped_column(Integer)
    captured_at: Mapped[datetime]


class ItemTopicsRow(Base):
    """An item's topics as the service assigned them (``paperbot.digest.topics``), with the taxonomy version that
    did (migration 0005): the archive's listings read them instead of classifying every abstract of a week per page.
    Topics of another version are stale and are recomputed; an item's text never changes once stored."""

    __tablename__ = "item_topics"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    topics: Mapped[list[str]] = mapped_column(JSON)


class ArticleRow(Base):
    """A blog post's page as fetched once (migration 0006): its main text as blocks, or why the excerpt stands in,
    with the page's validators for a conditional re-fetch. One row per item, replaced on a re-fetch."""

    __tablename__ = "item_articles"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    blocks: Mapped[list[list[Any]]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    extractor: Mapped[str] = mapped_column(String(50))
    etag: Mapped[str | None] = mapped_column(String(ETAG_MAX))
    last_modified: Mapped[str | None] = mapped_column(String(LAST_MODIFIED_MAX))
    fetched_at: Mapped[datetime]


class LeaseRow(Base):
    """A named lease (the leader lease of ``paperbot run``): who holds it and until when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]


metadata = Base.metadata

"""Row → domain value mappers shared by the SQL store modules."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from paperbot.domain import (
    ChannelFilters,
    Delivery,
    DeliveryState,
    DigestKind,
    DigestRun,
    Item,
    ItemKind,
    OutboundChunk,
    RunStatus,
    SourceState,
    Subscription,
    Summary,
)


def item_from_row(row: Any) -> Item:
    values = row._mapping  # a few times faster than a Row's attributes: the archive reads hundreds per page
    return Item(
        id=values["id"],
        source=values["source"],
        external_id=values["external_id"],
        kind=ItemKind(values["kind"]),
        title=values["title"],
        url=values["url"],
        day=values["day"],
        authors=tuple(values["authors"] or ()),
        abstract=values["abstract"] or "",
        thumbnail_url=values["thumbnail_url"],
        published_at=values["published_at"],
        upvotes=values["upvotes"],
        upvotes_captured_at=values["upvotes_captured_at"],
        extra=dict(values["extra"] or {}),
    )


def summary_from_row(row: Any, prefix: str = "") -> Summary:
    """A summary from its row, or from its columns labelled ``prefix`` + name beside another table's."""
    values = row._mapping
    return Summary(
        id=values[prefix + "id"],
        item_id=values[prefix + "item_id"],
        bullets=tuple(values[prefix + "bullets"]),
        backend=values[prefix + "backend"],
        model=values[prefix + "model"],
        prompt_version=values[prefix + "prompt_version"],
        input_hash=values[prefix + "input_hash"],
        tokens_in=values[prefix + "tokens_in"],
        tokens_out=values[prefix + "tokens_out"],
        cost_usd=values[prefix + "cost_usd"],
        fallback_reason=values[prefix + "fallback_reason"],
        created_at=values[prefix + "created_at"],
        levels=tuple(values[prefix + "levels"] or ()),
    )


def source_state_from_row(row: Any) -> SourceState:
    return SourceState(
        name=row.name,
        etag=row.etag,
        last_modified=row.last_modified,
        last_attempt_at=row.last_attempt_at,
        last_success_at=row.last_success_at,
        consecutive_failures=row.consecutive_failures,
        last_error=row.last_error,
    )


def run_from_row(row: Any) -> DigestRun:
    return DigestRun(
        id=row.id,
        target=row.target,
        kind=DigestKind(row.kind),
        day=row.day,
        status=RunStatus(row.status),
        created_at=row.created_at,
        finished_at=row.finished_at,
        note=row.note,
    )


def delivery_from_row(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        run_id=row.run_id,
        target=row.target,
        chunk=row.chunk,
        state=DeliveryState(row.state),
        item_id=row.item_id,
        platform_message_id=row.platform_message_id,
        attempts=row.attempts,
        last_error=row.last_error,
        updated_at=row.updated_at,
        content=chunk_of(row),
    )


def subscription_from_row(row: Any) -> Subscription:
    filters = dict(row.filters or {})
    return Subscription(
        id=row.id,
        platform=row.platform,
        workspace_id=row.workspace_id,
        channel_id=row.channel_id,
        kind=DigestKind(row.kind),
        time=row.time,
        timezone=row.timezone,
        weekday=row.weekday,
        filters=ChannelFilters(
            keywords=tuple(filters.get("keywords", ())),
            exclude=tuple(filters.get("exclude", ())),
            authors=tuple(filters.get("authors", ())),
            sources=tuple(filters.get("sources", ())),
            topics=tuple(filters.get("topics", ())),
            min_upvotes=int(filters.get("min_upvotes", 0)),
        ),
        enabled=row.enabled,
        broken_reason=row.broken_reason,
    )


def filters_json(filters: ChannelFilters) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(filters).items()}


#: Items per INSERT statement (PostgreSQL: 14 bound parameters each, far below its limit of 32,767).


def chunk_columns(chunk: OutboundChunk | None) -> dict[str, Any]:
    """The columns that hold ``chunk`` (all NULL for a row without one)."""
    if chunk is None:
        return {"payload": None, "reactions": None, "thread_of": None}
    return {"payload": dict(chunk.payload), "reactions": list(chunk.reactions), "thread_of": chunk.thread_of}


def chunk_of(row: Any) -> OutboundChunk | None:
    """The stored chunk of a delivery row, or None for rows written before chunks were stored."""
    payload = getattr(row, "payload", None)
    if payload is None:
        return None
    return OutboundChunk(
        payload=payload,
        item_id=row.item_id,
        reactions=tuple(row.reactions or ()),
        thread_of=row.thread_of,
    )

"""Articles' stored form (issue 17), free of SQLAlchemy: the in-memory repository stores through it too.

Blocks are stored as ``[kind, level, text]`` lists in one JSON column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paperbot.domain import Article, ArticleBlock, ArticleStatus, BlockKind, utcnow
from paperbot.store.values import ETAG_MAX, LAST_MODIFIED_MAX


def _text(value: str) -> str:
    return value.replace("\x00", "\ufffd")  # PostgreSQL text refuses NUL; extractors should never leave one


def blocks_to_json(blocks: Sequence[ArticleBlock]) -> list[list[Any]]:
    return [[block.kind.value, block.level, _text(block.text)] for block in blocks]


def blocks_from_json(value: Any) -> tuple[ArticleBlock, ...]:
    """Blocks from their stored form; a malformed entry is skipped, never an error (the excerpt still stands)."""
    blocks: list[ArticleBlock] = []
    for entry in value or ():
        if not (isinstance(entry, list | tuple) and len(entry) == 3):
            continue
        kind, level, text = entry
        if kind in BlockKind._value2member_map_ and isinstance(level, int) and isinstance(text, str):
            blocks.append(ArticleBlock(BlockKind(kind), text, level))
    return tuple(blocks)


def article_values(article: Article) -> dict[str, Any]:
    return {
        "item_id": article.item_id,
        "url": _text(article.url),
        "status": article.status.value,
        "blocks": blocks_to_json(article.blocks),
        "reason": _text(article.reason) if article.reason is not None else None,
        "extractor": article.extractor[:50],
        "etag": article.etag[:ETAG_MAX] if article.etag else None,
        "last_modified": article.last_modified[:LAST_MODIFIED_MAX] if article.last_modified else None,
        "fetched_at": article.fetched_at or utcnow(),
    }


def article_from_row(row: Any) -> Article:
    status = row.status if row.status in ArticleStatus._value2member_map_ else ArticleStatus.FALLBACK.value
    return Article(
        item_id=row.item_id,
        url=row.url,
        status=ArticleStatus(status),
        blocks=blocks_from_json(row.blocks),
        reason=row.reason,
        extractor=row.extractor,
        etag=row.etag,
        last_modified=row.last_modified,
        fetched_at=row.fetched_at,
    )

"""Articles (issue 17): a blog post's page as fetched once, stored beside the item (table ``item_articles``).

A small mixin of :class:`paperbot.store.sql.SqlRepository` (one concern, one module); the in-memory repository has
its twin in :mod:`paperbot.store.memory`. Blocks are stored as ``[kind, level, text]`` lists in one JSON column.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from paperbot.domain import Article, ArticleBlock, ArticleStatus, BlockKind, utcnow
from paperbot.store.models import ArticleRow
from paperbot.store.values import ETAG_MAX, LAST_MODIFIED_MAX

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

#: Item ids per read (well under every database's bound-parameter limit).
_READ_BATCH = 500


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


class SqlArticles:
    """``ArticleRepository`` on the SQL repository's transactions."""

    if TYPE_CHECKING:

        def _tx(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

        def _read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

        def _insert(self, table: Any) -> Any: ...

    async def save_article(self, article: Article) -> None:
        values = article_values(article)
        async with self._tx() as conn:
            stmt = self._insert(ArticleRow).values(**values)
            stmt = stmt.on_conflict_do_update(
                index_elements=["item_id"], set_={key: value for key, value in values.items() if key != "item_id"}
            )
            await conn.execute(stmt)

    async def get_articles(self, item_ids: Sequence[int]) -> dict[int, Article]:
        ids = list(dict.fromkeys(item_ids))
        found: dict[int, Article] = {}
        for start in range(0, len(ids), _READ_BATCH):
            batch = ids[start : start + _READ_BATCH]
            async with self._read() as conn:
                rows = (await conn.execute(select(ArticleRow.__table__).where(ArticleRow.item_id.in_(batch)))).all()
            found.update((row.item_id, article_from_row(row)) for row in rows)
        return found

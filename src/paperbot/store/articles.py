"""Articles (issue 17): a blog post's page as fetched once, stored beside the item (table ``item_articles``).

A small mixin of :class:`paperbot.store.sql.SqlRepository` (one concern, one module); the in-memory repository has
its twin in :mod:`paperbot.store.memory`. Blocks are stored as ``[kind, level, text]`` lists in one JSON column.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from paperbot.domain import Article
from paperbot.store.article_rows import article_from_row, article_values
from paperbot.store.models import ArticleRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

#: Item ids per read (well under every database's bound-parameter limit).
_READ_BATCH = 500


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

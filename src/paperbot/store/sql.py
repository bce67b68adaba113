"""``SqlRepository``: the Repository port over SQLAlchemy async (SQLite and PostgreSQL).

One class composed of one store per concern, each in its own module behind its Protocol of ``paperbot.ports``:

- :mod:`~paperbot.store.items` (``ItemRepository``), :mod:`~paperbot.store.summaries` (``SummaryRepository``),
  :mod:`~paperbot.store.search_store` (``SearchRepository``; SQL in :mod:`~paperbot.store.search_sql`),
  :mod:`~paperbot.store.sources` (``SourceStateRepository``), :mod:`~paperbot.store.runs` (``DeliveryRepository``),
  :mod:`~paperbot.store.votes` (``VoteRepository``, ``EventRepository``), :mod:`~paperbot.store.subscriptions`,
  :mod:`~paperbot.store.leases`, :mod:`~paperbot.store.usage`, :mod:`~paperbot.store.archive`
  (``ArchiveRepository``);
- :mod:`~paperbot.store.sqlbase`: what they share (engine, transactions, the dialect's INSERT);
  :mod:`~paperbot.store.rows`: rows to domain values.

Writes that race on a uniqueness constraint use ``INSERT … ON CONFLICT DO NOTHING`` and then read the winner's
row, so the loser gets ``Stored(created=False)`` instead of an IntegrityError. Every SQLAlchemy error is wrapped
into :class:`StoreError` at this boundary. A write transaction holds SQLite's write lock for the database only:
text is analysed for search before it begins, and reads take no write lock at all (see ``SqlBase._read``).
"""

from __future__ import annotations

from paperbot.store.archive import ArchiveStore
from paperbot.store.articles import SqlArticles
from paperbot.store.items import ItemStore
from paperbot.store.leases import LeaseStore
from paperbot.store.runs import RunStore
from paperbot.store.search_store import SearchStore
from paperbot.store.sources import SourceStateStore
from paperbot.store.sqlbase import SqlBase
from paperbot.store.subscriptions import SubscriptionStore
from paperbot.store.summaries import SummaryStore
from paperbot.store.usage import UsageStore
from paperbot.store.votes import VoteStore

__all__ = ["SqlBase", "SqlRepository"]


class SqlRepository(
    ItemStore,
    SummaryStore,
    SearchStore,
    SourceStateStore,
    RunStore,
    VoteStore,
    SubscriptionStore,
    LeaseStore,
    UsageStore,
    ArchiveStore,
    SqlArticles,
):
    """Repository on an ``AsyncEngine`` (``SqlBase``'s constructor). The engine is owned by the caller unless
    ``owns_engine``."""

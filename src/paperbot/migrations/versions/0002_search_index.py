"""Search index: ``search_docs`` plus FTS5 (SQLite) or tsvector + pg_trgm (PostgreSQL); backfills existing items.

See ``paperbot.store.search`` for the design. Objects created here with raw SQL (FTS5 tables and triggers, the
generated ``tsv`` column, GIN indexes) are hidden from ``paperbot db check`` by ``migrations/env.py``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("paperbot.migrations")

_TOKEN_COLUMNS = ("title_tokens", "summary_tokens", "meta_tokens", "body_tokens")

_SQLITE_UP = [
    # Token fields in weight order: title, summary, authors + keywords, abstract (see FIELD_WEIGHTS).
    "CREATE VIRTUAL TABLE search_fts USING fts5("
    "title_tokens, summary_tokens, meta_tokens, body_tokens, "
    "content='search_docs', content_rowid='item_id', tokenize='unicode61')",
    "INSERT INTO search_fts(search_fts, rank) VALUES ('rank', 'bm25(10.0, 5.0, 2.0, 1.0)')",
    # detail=none keeps the trigram index small; LIKE/GLOB re-check the text, so matches stay exact.
    "CREATE VIRTUAL TABLE search_trgm USING fts5("
    "raw_text, content='search_docs', content_rowid='item_id', tokenize='trigram', detail='none')",
    """CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
        INSERT INTO search_fts(rowid, title_tokens, summary_tokens, meta_tokens, body_tokens)
        VALUES (new.item_id, new.title_tokens, new.summary_tokens, new.meta_tokens, new.body_tokens);
        INSERT INTO search_trgm(rowid, raw_text) VALUES (new.item_id, new.raw_text);
    END""",
    """CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
        INSERT INTO search_fts(search_fts, rowid, title_tokens, summary_tokens, meta_tokens, body_tokens)
        VALUES ('delete', old.item_id, old.title_tokens, old.summary_tokens, old.meta_tokens, old.body_tokens);
        INSERT INTO search_trgm(search_trgm, rowid, raw_text) VALUES ('delete', old.item_id, old.raw_text);
    END""",
    """CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
        INSERT INTO search_fts(search_fts, rowid, title_tokens, summary_tokens, meta_tokens, body_tokens)
        VALUES ('delete', old.item_id, old.title_tokens, old.summary_tokens, old.meta_tokens, old.body_tokens);
        INSERT INTO search_trgm(search_trgm, rowid, raw_text) VALUES ('delete', old.item_id, old.raw_text);
        INSERT INTO search_fts(rowid, title_tokens, summary_tokens, meta_tokens, body_tokens)
        VALUES (new.item_id, new.title_tokens, new.summary_tokens, new.meta_tokens, new.body_tokens);
        INSERT INTO search_trgm(rowid, raw_text) VALUES (new.item_id, new.raw_text);
    END""",
]

_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS search_docs_au",
    "DROP TRIGGER IF EXISTS search_docs_ad",
    "DROP TRIGGER IF EXISTS search_docs_ai",
    "DROP TABLE IF EXISTS search_trgm",
    "DROP TABLE IF EXISTS search_fts",
]

_POSTGRES_UP = [
    "ALTER TABLE search_docs ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple'::regconfig, title_tokens), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, summary_tokens), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, meta_tokens), 'C') || "
    "setweight(to_tsvector('simple'::regconfig, body_tokens), 'D')) STORED",
    "CREATE INDEX ix_search_docs_tsv ON search_docs USING gin (tsv)",
    "CREATE INDEX ix_search_docs_raw_trgm ON search_docs USING gin (raw_text gin_trgm_ops)",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "search_docs",
        sa.Column("item_id", sa.Integer(), autoincrement=False, nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in _TOKEN_COLUMNS),
        sa.Column("raw_text", sa.Text(), nullable=False),
        sa.Column("analyzer", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_search_docs_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_search_docs")),
    )
    if dialect == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
    elif dialect == "postgresql":
        for statement in _POSTGRES_UP:
            op.execute(statement)
        hangul = op.get_bind().execute(sa.text("SELECT cardinality(show_trgm('한국어'))")).scalar_one()
        if not hangul:
            from paperbot.store.search import TRIGRAM_WARNING

            logger.warning(TRIGRAM_WARNING)
    _backfill()


def _backfill() -> None:
    """Index the items stored before this revision (the analyser loads only when there are some)."""
    bind = op.get_bind()
    items = sa.table(
        "items",
        sa.column("id", sa.Integer()),
        sa.column("title", sa.Text()),
        sa.column("abstract", sa.Text()),
        sa.column("authors", sa.JSON()),
        sa.column("extra", sa.JSON()),
    )
    summaries = sa.table(
        "summaries",
        sa.column("id", sa.Integer()),
        sa.column("item_id", sa.Integer()),
        sa.column("bullets", sa.JSON()),
        sa.column("created_at", sa.DateTime()),
    )
    rows = bind.execute(sa.select(items)).all()
    if not rows:
        return
    from paperbot.store.search import make_document

    bullets: dict[int, list[str]] = {}
    for item_id, item_bullets in bind.execute(
        sa.select(summaries.c.item_id, summaries.c.bullets).order_by(
            summaries.c.created_at.desc(), summaries.c.id.desc()
        )
    ):
        bullets.setdefault(int(item_id), list(item_bullets or ()))
    docs = sa.table(
        "search_docs",
        sa.column("item_id", sa.Integer()),
        *(sa.column(name, sa.Text()) for name in (*_TOKEN_COLUMNS, "raw_text")),
        sa.column("analyzer", sa.String()),
    )
    values = [
        make_document(
            row.id,
            title=row.title,
            abstract=row.abstract,
            authors=row.authors or (),
            extra=row.extra,
            bullets=bullets.get(row.id, ()),
        ).values()
        for row in rows
    ]
    for start in range(0, len(values), 500):
        bind.execute(sa.insert(docs), values[start : start + 500])
    logger.info("search index backfilled: %d items", len(values))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    op.drop_table("search_docs")
    if dialect == "postgresql":
        # Leave pg_trgm in place if something else in this database depends on it.
        op.execute(
            "DO $$ BEGIN DROP EXTENSION IF EXISTS pg_trgm; "
            "EXCEPTION WHEN dependent_objects_still_exist THEN NULL; END $$"
        )

"""Bulk writes on SQLite: many rows in one statement, passed as one JSON parameter and unpacked by ``json_each``.

Why not an executemany: aiosqlite runs SQLite on its own thread, and the sqlite3 module releases the GIL around
every step of a statement, so every executed row (executemany runs the statement once per row) and every row a
``RETURNING`` hands back is one more trip between that thread and the event loop. While the loop is busy (a
backfill parsing responses), each trip can wait for the interpreter's switch interval: in bench/bench_backfill.py
that stretched the thread's 0.7 s of SQLite work to 1.7 s. One statement fed by ``json_each`` steps once, and
SQLite's triggers (the FTS5 index) see all rows in one statement too.

Values go through each column's own SQLAlchemy bind processor first, so they are stored exactly as
``insert(table)`` would store them (datetimes as SQLAlchemy's text format, JSON columns as JSON text). Column names
come from the table definition; every value travels inside the bound JSON parameter, never in the SQL text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import FromClause, Table, TextClause, text
from sqlalchemy.engine import Dialect

#: Rows per statement: the JSON parameter of 1,000 items with their abstracts is a few megabytes.
ROWS_PER_STATEMENT = 1000


@lru_cache(maxsize=32)
def insert_from_json(table: FromClause, columns: tuple[str, ...], on_conflict: str) -> TextClause:
    """``INSERT INTO table (columns) SELECT … FROM json_each(:rows) WHERE true <on_conflict>``.

    ``:rows`` is a JSON array of arrays, one per row, values in ``columns`` order (see :func:`json_rows`).
    ``on_conflict`` is a fixed clause written in this package, never user input. (``WHERE true`` is SQLite's
    required disambiguation between a SELECT's join constraint and the upsert's ``ON CONFLICT``.)
    """
    if not isinstance(table, Table):
        raise TypeError(f"bulk inserts go into tables, not {type(table).__name__}")
    names = [table.c[name].name for name in columns]  # a KeyError here is a programming error, before any SQL
    picks = ", ".join(f"json_extract(value, '$[{n}]')" for n in range(len(names)))
    # Fixed fragments only (table and column names from the model, the clause from this package): hence the waiver.
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {picks} FROM json_each(:rows) WHERE true {on_conflict}"  # noqa: S608
    return text(sql)


def _memoised(process: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """``process`` with its results for dates and datetimes remembered: a batch shares a few of them (the day, the
    capture time, the insertion time), and formatting each one again is most of the encoding's cost."""
    if process is None:
        return None
    seen: dict[Any, Any] = {}

    def memoised(value: Any) -> Any:
        if type(value) not in (date, datetime):  # exact types: other values may be unhashable or mutable
            return process(value)
        if value not in seen:
            seen[value] = process(value)
        return seen[value]

    return memoised


def _processors(table: FromClause, columns: Sequence[str], dialect: Dialect) -> list[Callable[[Any], Any] | None]:
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


def json_rows(table: FromClause, columns: Sequence[str], dialect: Dialect, rows: Iterable[Mapping[str, Any]]) -> str:
    """The ``:rows`` parameter: each row's values in ``columns`` order, through the columns' bind processors."""
    processors = [_memoised(process) for process in _processors(table, columns, dialect)]
    encoded = [
        [
            value if process is None else process(value)
            for process, value in zip(processors, (row[c] for c in columns), strict=True)
        ]
        for row in rows
    ]
    # orjson: several megabytes of abstracts per call, serialised about ten times faster than by json.dumps. A str,
    # not bytes: SQLite 3.45+ would read a BLOB argument of json_each as its binary JSONB format.
    return orjson.dumps(encoded).decode()

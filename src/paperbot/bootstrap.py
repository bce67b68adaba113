"""Composition root: the only module that knows concrete classes. Builds ``Services`` inside ``async with``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from paperbot.config import Settings
from paperbot.ports import Repository


@dataclass(slots=True)
class Services:
    """What the use cases need, built once per process (or per CLI command)."""

    settings: Settings
    repository: Repository


@asynccontextmanager
async def build_services(settings: Settings) -> AsyncIterator[Services]:
    """Open the database (schema must be at head) and everything else; close them all on exit."""
    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository

    engine = create_engine(settings.database_url)
    repository = SqlRepository(engine, owns_engine=True)
    try:
        yield Services(settings=settings, repository=repository)
    finally:
        await repository.close()

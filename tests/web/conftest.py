"""Fixtures for the web archive: a seeded repository (memory, SQLite, PostgreSQL) behind a real aiohttp server.

Seeding the archive takes seconds (hundreds of writes, Korean analysis for the search index); the pages only read
it. So each database backend is seeded once per session (per xdist worker) into a template, and every test that
asks for ``seeded`` gets its own copy of it (SQLite's backup API, PostgreSQL's ``CREATE DATABASE … TEMPLATE``):
still one fresh database per test, so a test that writes changes nothing for the next one.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from paperbot.ports import Repository
from paperbot.web.app import WebConfig, create_app
from tests.conftest import REPOSITORY_BACKENDS, PostgresServer, _truncate_all, copy_sqlite
from tests.web.seed import NOW, Seeded, seed

SOURCES = ("hf_daily", "openai", "kakao_tech", "deepmind")

ClientFactory = Callable[..., Any]


SEEDED = pytest.StashKey[Seeded]()


def _seed_database(url: str) -> Seeded:
    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository

    async def run() -> Seeded:
        repository = SqlRepository(create_engine(url), owns_engine=True)
        try:
            return await seed(repository)
        finally:
            await repository.close()  # no connection may stay open on a PostgreSQL template

    return asyncio.run(run())


@pytest.fixture(scope="session")
def _seeded_sqlite(tmp_path_factory: pytest.TempPathFactory, _migrated_sqlite_template: Path) -> tuple[Path, Seeded]:
    path = tmp_path_factory.mktemp("seeded-sqlite") / "paperbot.db"
    copy_sqlite(_migrated_sqlite_template, path)
    return path, _seed_database(f"sqlite+aiosqlite:///{path}")


@pytest.fixture(scope="session")
def _seeded_postgres(postgres_server: PostgresServer) -> tuple[str, Seeded]:
    from paperbot.store import migrate

    url = postgres_server.create_database()
    migrate.upgrade(url)
    return url.rpartition("/")[2], _seed_database(url)


@pytest.fixture(params=REPOSITORY_BACKENDS)
def repository_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """As the suite-wide fixture; a test that asks for ``seeded`` gets a fresh copy of the seeded template."""
    wants_seeded = "seeded" in request.fixturenames
    if request.param == "memory":
        yield None  # the in-memory repository is seeded per test: it is fast and cannot be copied across loops
    elif request.param == "sqlite" and wants_seeded:
        template, seeded = request.getfixturevalue("_seeded_sqlite")
        copy_sqlite(template, tmp_path / "paperbot.db")
        request.node.stash[SEEDED] = copy.deepcopy(seeded)
        yield f"sqlite+aiosqlite:///{tmp_path / 'paperbot.db'}"
    elif request.param == "sqlite":
        yield str(request.getfixturevalue("sqlite_url"))
    elif wants_seeded:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        template, seeded = request.getfixturevalue("_seeded_postgres")
        url = server.create_database(template=template)
        request.node.stash[SEEDED] = copy.deepcopy(seeded)
        yield url
        server.drop_database(url)
    else:
        url = str(request.getfixturevalue("postgres_url"))
        asyncio.run(_truncate_all(url))
        yield url


@pytest.fixture
async def seeded(request: pytest.FixtureRequest, repository: Repository) -> Seeded:
    """The seeded archive's ids; ``repository`` holds it (copied from the template, or seeded now in memory)."""
    if SEEDED in request.node.stash:
        return request.node.stash[SEEDED]
    return await seed(repository)


def web_config(**changes: Any) -> WebConfig:
    values: dict[str, Any] = {"source_names": SOURCES, "clock": lambda: NOW, **changes}
    return WebConfig(**values)


@pytest.fixture
async def make_client(repository: Repository) -> AsyncIterator[ClientFactory]:
    """``await make_client(**WebConfig changes)``: a client of the archive on a local port (closed at the end)."""
    clients: list[TestClient[Any, Any]] = []

    async def make(**changes: Any) -> TestClient[Any, Any]:
        app = create_app(repository, web_config(**changes))
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(make_client: ClientFactory, seeded: Seeded) -> TestClient[Any, Any]:
    """The seeded archive, public (no token)."""
    result: TestClient[Any, Any] = await make_client()
    return result

"""Fixtures for the web archive: a seeded repository (memory, SQLite, PostgreSQL) behind a real aiohttp server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from paperbot.ports import Repository
from paperbot.web.app import WebConfig, create_app
from tests.web.seed import NOW, Seeded, seed

SOURCES = ("hf_daily", "openai", "kakao_tech", "deepmind")

ClientFactory = Callable[..., Any]


@pytest.fixture
async def seeded(repository: Repository) -> Seeded:
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

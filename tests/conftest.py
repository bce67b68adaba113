"""Shared fixtures: databases for the contract suites.

PostgreSQL tests use ``PAPERBOT_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``) to
create a throwaway database per test session, and skip with the reason when no server answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from paperbot.config import normalize_database_url
from paperbot.ports import Repository

# CI runs the property tests on a fixed seed sequence, so a red CI is reproducible and never a coin toss; local
# runs keep exploring new examples (and Hypothesis's database replays any failure they find).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def _is_local(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and other non-IP families never leave the machine
    host = str(address[0]).split("%", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: resolving it could already mean the internet


def _offline_connect(original: Any) -> Any:
    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            # What an offline CI machine answers; tests never touch the internet, so no test may depend on it.
            raise OSError(errno.ENETUNREACH, f"tests are offline: connecting to {address!r} is refused")
        return original(self, address)

    return connect


# The suite must pass on a machine without internet: every socket of this process may reach loopback only.
socket.socket.connect = _offline_connect(socket.socket.connect)  # type: ignore[method-assign]
socket.socket.connect_ex = _offline_connect(socket.socket.connect_ex)  # type: ignore[method-assign]

DEFAULT_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _admin_url() -> str:
    return os.environ.get("PAPERBOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL)


async def _admin_execute(statement: str) -> None:
    import asyncpg

    dsn = _admin_url().replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn, timeout=3)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _postgres_unavailable() -> str | None:
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return "asyncpg is not installed (pip install 'paperbot[postgres]')"
    try:
        asyncio.run(_admin_execute("SELECT 1"))
    except Exception as exc:  # any failure to connect means "no PostgreSQL here"
        return f"no PostgreSQL at {_admin_url()}: {type(exc).__name__}: {exc}"
    return None


def _database_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return normalize_database_url(f"{base}/{name}")


class PostgresServer:
    """Creates throwaway databases (UTF-8, C.UTF-8 ctype so pg_trgm sees Hangul) and drops them at the end."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def create_database(self, *, template: str | None = None) -> str:
        """A new database: empty, or a copy of the database ``template`` (by name; nobody may be connected to it)."""
        name = f"paperbot_test_{uuid.uuid4().hex[:12]}"
        if template is None:
            statement = (
                f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
            )
        else:
            statement = f"CREATE DATABASE {name} TEMPLATE {template}"  # encoding and locale come with the copy
        asyncio.run(_admin_execute(statement))
        self.created.append(name)
        return _database_url(_admin_url(), name)

    def drop_database(self, url: str) -> None:
        name = url.rpartition("/")[2]
        asyncio.run(_admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        self.created.remove(name)

    def drop_all(self) -> None:
        for name in self.created:
            asyncio.run(_admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    reason = _postgres_unavailable()
    if reason:
        if os.environ.get("PAPERBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PAPERBOT_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    server = PostgresServer()
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """A migrated PostgreSQL database shared by the session (tables are emptied between tests)."""
    from paperbot.store import migrate

    url = postgres_server.create_database()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated by Alembic per session (per xdist worker); each test gets a copy of it."""
    from paperbot.store import migrate

    path = tmp_path_factory.mktemp("sqlite-template") / "paperbot.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _migrated_sqlite_template: Path) -> str:
    """A fresh, migrated SQLite file: a copy of the session's migrated template, byte for byte what running the
    migrations would leave (SQLite's online backup API copies it consistently, WAL or not)."""
    path = tmp_path / "paperbot.db"
    copy_sqlite(_migrated_sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def copy_sqlite(source_path: Path, target_path: Path) -> None:
    """Copy a SQLite database consistently (SQLite's online backup API, WAL or not)."""
    with (
        contextlib.closing(sqlite3.connect(source_path)) as source,
        contextlib.closing(sqlite3.connect(target_path)) as target,
    ):
        source.backup(target)


async def _truncate_all(url: str) -> None:
    """Empty every table and restart every sequence: a fresh database as far as a test can tell.

    DELETE, not TRUNCATE: on a few rows per table DELETE is ~15× faster (0.02 s vs 0.3 s here; TRUNCATE takes an
    exclusive lock and a new file per table), and this runs before every PostgreSQL test."""
    from sqlalchemy import text

    from paperbot.store.engine import create_engine
    from paperbot.store.models import metadata

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):  # children before the rows they reference
                await connection.execute(table.delete())
            sequences = await connection.execute(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
            )
            for (name,) in sequences.all():
                await connection.execute(text(f'ALTER SEQUENCE "{name}" RESTART'))
    finally:
        await engine.dispose()


#: The three Repository implementations every contract suite runs on (tests/web's seeded archive too).
REPOSITORY_BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=REPOSITORY_BACKENDS)
def repository_url(request: pytest.FixtureRequest) -> str | None:
    """The database behind each Repository implementation (None: in memory). Sync, so migrations may run."""
    if request.param == "memory":
        return None
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    url = str(request.getfixturevalue("postgres_url"))
    asyncio.run(_truncate_all(url))
    return url


@pytest.fixture
async def repository(repository_url: str | None) -> AsyncIterator[Repository]:
    """Every Repository implementation, so one suite holds them all to the same contract."""
    if repository_url is None:
        from paperbot.store.memory import InMemoryRepository

        yield InMemoryRepository()
        return
    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository

    repo = SqlRepository(create_engine(repository_url), owns_engine=True)
    yield repo
    await repo.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist, hand out the ``slow`` tests first (stable order otherwise): the longest ones then start
    early instead of one of them running alone on one worker at the end."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)

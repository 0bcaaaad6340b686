"""Shared fixtures: settings, stores on SQLite and PostgreSQL, a two-tenant world, clients.

PostgreSQL tests run against the service on 127.0.0.1:5432 (each session gets a fresh
database). Under CI=true a missing service fails the run; elsewhere those tests skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backend.core.settings import Settings, load_settings
from backend.migrate import migrate
from backend.runtime import Runtime
from tests.factories import World, build_world
from tests.graphql import GraphQLClient

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("ANJIAN_TEST_PG_URL", "postgresql://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ANJIAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Where the tests' mails link to (ANJIAN_PUBLIC_URL): no request of a test is addressed to it,
# so a link built from a request's Host header cannot pass for it.
PUBLIC_URL = "https://anjian.example.cn"


def service_unavailable(what: str, reason: str) -> None:
    """Skip outside CI; under CI=true the service tests must run, so fail instead."""
    message = f"{what} unavailable: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI=true requires it)")
    pytest.skip(message)


def make_settings(data_dir: Path, chdb_dir: Path, **overrides: str) -> Settings:
    env = {
        "ANJIAN_DATA_DIR": str(data_dir),
        "ANJIAN_CLICKHOUSE_URL": f"chdb://{chdb_dir}",
        "ANJIAN_PASSWORD_SCRYPT_LOG2N": "10",
        "ANJIAN_ENV_FILE": str(data_dir / "absent.env"),
        "ANJIAN_PUBLIC_URL": PUBLIC_URL,
        **overrides,
    }
    return load_settings(env)


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedded ClickHouse engine per pytest process (chdb allows one path per process)."""
    return tmp_path_factory.mktemp("clickhouse")


def create_pg_database(admin_url: str) -> str:
    """A fresh database for one test session; returns its URL."""
    import psycopg

    name = f"anjian_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        service_unavailable("PostgreSQL", str(exc).strip())
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def drop_pg_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = create_pg_database(PG_ADMIN_URL)
    yield url
    drop_pg_database(PG_ADMIN_URL, url)


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def runtime(
    backend_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    chdb_dir: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Runtime]:
    """A migrated store on each relational backend, sharing the process's ClickHouse engine."""
    data_dir = tmp_path_factory.mktemp(f"data-{backend_name}")
    overrides = {}
    if backend_name == "postgres":
        overrides["ANJIAN_DATABASE_URL"] = request.getfixturevalue("pg_url")
    settings = make_settings(data_dir, chdb_dir, **overrides)
    rt = Runtime(settings)
    migrate(
        owner_engine=rt.owner_engine,
        keyring=rt.keyring,
        clickhouse=rt.clickhouse,
        cluster=settings.clickhouse_cluster,
    )
    yield rt
    await rt.close()


@pytest.fixture(scope="session")
async def world(runtime: Runtime) -> World:
    return await build_world(runtime)


@pytest.fixture(scope="session")
async def api(runtime: Runtime) -> AsyncIterator[GraphQLClient]:
    """A GraphQL client on the app (in-process ASGI), sharing the session's runtime."""
    from litestar.testing import AsyncTestClient

    from backend.app import create_app

    async with AsyncTestClient(app=create_app(runtime=runtime)) as client:
        yield GraphQLClient(client)


@pytest.fixture
def throttle_clock_stands_still(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sign-in throttle's clock held still: a test of a one-second lock is not undone by a
    busy machine taking longer than that between two requests."""
    from backend.core.db import utcnow

    still = utcnow()
    monkeypatch.setattr(runtime.login_throttle, "clock", lambda: still)

"""Schema migrations: Alembic on SQLite and PostgreSQL, and the ClickHouse DDL ledger.

Each relational test gets a fresh database (a new SQLite file, or a new PostgreSQL database).
ClickHouse checks run against the session's embedded engine without changing what other tests
see; the ones that must start from an empty engine or damage the ledger run in a subprocess
with an engine of their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

import backend.models  # noqa: F401  (fills the metadata)
from backend.core.db import Base
from backend.core.errors import ConfigurationError
from backend.migrate import downgrade_relational, head_revision, migrate, upgrade_relational
from backend.runtime import Runtime
from backend.telemetry import migrate as ch_migrate
from backend.telemetry.store import open_client
from tenants.scope import tenant_owned_classes
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database, make_settings

ROOT = Path(__file__).resolve().parents[2]
# Every tenant-owned table must have row-level security: a new model without it fails here.
RLS_TABLES = tuple(sorted(cls.__tablename__ for cls in tenant_owned_classes()))
MODEL_TABLES = set(Base.metadata.tables)


@asynccontextmanager
async def empty_database(backend: str, tmp_path: Path, chdb_dir: Path) -> AsyncIterator[Runtime]:
    """A Runtime on an empty database (nothing migrated yet), dropped afterwards."""
    url = create_pg_database(PG_ADMIN_URL) if backend == "postgres" else None
    overrides = {} if url is None else {"ANJIAN_DATABASE_URL": url}
    runtime = Runtime(make_settings(tmp_path, chdb_dir, **overrides))
    try:
        yield runtime
    finally:
        await runtime.close()
        if url is not None:
            drop_pg_database(PG_ADMIN_URL, url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def fresh(
    request: pytest.FixtureRequest, tmp_path: Path, chdb_dir: Path
) -> AsyncIterator[Runtime]:
    async with empty_database(request.param, tmp_path, chdb_dir) as runtime:
        yield runtime


@pytest.fixture
async def fresh_pg(tmp_path: Path, chdb_dir: Path) -> AsyncIterator[Runtime]:
    async with empty_database("postgres", tmp_path, chdb_dir) as runtime:
        yield runtime


def table_names(runtime: Runtime) -> set[str]:
    with runtime.owner_engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def schema_differences(runtime: Runtime) -> list[Any]:
    with runtime.owner_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "render_as_batch": conn.dialect.name == "sqlite"},
        )
        return list(compare_metadata(context, Base.metadata))


def pg_rows(runtime: Runtime, sql: str) -> list[tuple[Any, ...]]:
    with runtime.owner_engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


# --- Alembic -------------------------------------------------------------------------------


def test_upgrade_from_empty_to_head(fresh: Runtime) -> None:
    assert table_names(fresh) == set()
    assert upgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring) == (
        None,
        head_revision(),
    )
    assert table_names(fresh) == MODEL_TABLES | {"alembic_version"}
    if not fresh.settings.is_postgres:
        assert (fresh.settings.data_dir / "anjian.db").is_file()


def test_upgrade_at_head_changes_nothing(fresh: Runtime) -> None:
    upgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring)
    assert upgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring) == (
        head_revision(),
        head_revision(),
    )


def test_migrated_schema_matches_the_models(fresh: Runtime) -> None:
    upgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring)
    assert schema_differences(fresh) == []


def test_downgrade_to_base_and_upgrade_again(fresh: Runtime) -> None:
    upgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring)
    downgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring, target="base")
    assert table_names(fresh) <= {"alembic_version"}
    if fresh.settings.is_postgres:
        assert pg_rows(fresh, "SELECT tablename FROM pg_policies") == []
        assert pg_rows(fresh, "SELECT 1 FROM pg_proc WHERE proname = 'anjian_tenant_visible'") == []

    assert upgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring) == (
        None,
        head_revision(),
    )
    assert table_names(fresh) == MODEL_TABLES | {"alembic_version"}
    assert schema_differences(fresh) == []


@pytest.mark.postgres
def test_row_level_security_is_enabled_and_forced(fresh_pg: Runtime) -> None:
    upgrade_relational(owner_engine=fresh_pg.owner_engine, keyring=fresh_pg.keyring)
    names = ", ".join(f"'{t}'" for t in RLS_TABLES)
    rows = pg_rows(
        fresh_pg,
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE n.nspname = 'public' AND c.relname IN ({names})",
    )
    assert sorted(rows) == sorted((t, True, True) for t in RLS_TABLES)
    policies = pg_rows(fresh_pg, "SELECT tablename FROM pg_policies WHERE schemaname = 'public'")
    assert sorted(policies) == sorted((t,) for t in RLS_TABLES)


async def test_full_migrate_seeds_the_contract_plans_once(fresh: Runtime) -> None:
    """The whole of ``anjian migrate`` (relational, ClickHouse, seeds) on a fresh database."""
    first = migrate(
        owner_engine=fresh.owner_engine,
        keyring=fresh.keyring,
        clickhouse=fresh.clickhouse,
        cluster=fresh.settings.clickhouse_cluster,
    )
    assert (first.relational_before, first.relational_after) == (None, head_revision())
    assert first.seeded > 0
    assert first.changed
    with fresh.owner_engine.connect() as conn:
        plans = conn.execute(
            text("SELECT code, max_sensors, max_readings_per_minute FROM plans")
        ).all()
    assert sorted(tuple(p) for p in plans) == [
        ("basic", 200, 60_000),
        ("enterprise", 10_000, 12_000_000),
        ("standard", 1_000, 600_000),
    ]
    second = migrate(
        owner_engine=fresh.owner_engine,
        keyring=fresh.keyring,
        clickhouse=fresh.clickhouse,
        cluster=fresh.settings.clickhouse_cluster,
    )
    assert second.seeded == 0
    assert second.clickhouse_applied == []
    assert not second.changed


# --- ClickHouse, on the session's engine (read-only checks) ---------------------------------


@pytest.fixture
def clickhouse(tmp_path: Path, chdb_dir: Path) -> Any:
    client = open_client(make_settings(tmp_path, chdb_dir))
    ch_migrate.migrate(client)  # whichever test first reaches the engine applies the DDL
    return client


def test_clickhouse_migrate_again_applies_nothing(clickhouse: Any) -> None:
    assert ch_migrate.migrate(clickhouse) == []
    ledger = clickhouse.query(
        "SELECT version, name, checksum FROM anjian_schema_migrations ORDER BY version"
    ).result_rows
    assert [tuple(row) for row in ledger] == [
        (m.version, m.name, m.checksum) for m in ch_migrate.discover()
    ]


def test_readings_table_layout(clickhouse: Any) -> None:
    [(sorting_key, engine)] = clickhouse.query(
        "SELECT sorting_key, engine FROM system.tables "
        "WHERE database = currentDatabase() AND name = 'readings'"
    ).result_rows
    assert sorting_key.replace(" ", "") == "tenant_id,sensor_id,ts"
    assert engine == "MergeTree"
    columns = dict(
        clickhouse.query(
            "SELECT name, type FROM system.columns "
            "WHERE database = currentDatabase() AND table = 'readings'"
        ).result_rows
    )
    assert columns["ts"] == "DateTime64(3, 'UTC')"
    assert columns["tenant_id"] == columns["sensor_id"] == "UUID"


def test_edited_migration_is_refused(clickhouse: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ch_migrate.discover()
    edited = [ch_migrate.Migration(m.version, m.name, m.sql + "\n-- edited") for m in real]
    monkeypatch.setattr(ch_migrate, "discover", lambda: edited)
    with pytest.raises(ConfigurationError, match=r"0001_readings was edited"):
        ch_migrate.migrate(clickhouse)


def fake_migrations_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, files: dict[str, str]
) -> None:
    folder = tmp_path / "clickhouse"
    folder.mkdir()
    for name, sql in files.items():
        (folder / name).write_text(sql, encoding="utf-8")
    monkeypatch.setattr(ch_migrate, "resources", SimpleNamespace(files=lambda _pkg: tmp_path))


def test_discover_refuses_two_migrations_with_one_number(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_migrations_folder(
        monkeypatch, tmp_path, {"0001_readings.sql": "SELECT 1", "0001_other.sql": "SELECT 2"}
    )
    with pytest.raises(ConfigurationError, match="0001"):
        ch_migrate.discover()


def test_discover_orders_by_number_and_ignores_other_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_migrations_folder(
        monkeypatch,
        tmp_path,
        {
            "0010_later.sql": "SELECT 10",
            "0002_sooner.sql": "SELECT 2",
            "README.md": "notes",
            "3_unpadded.sql": "SELECT 3",
        },
    )
    assert [(m.version, m.name) for m in ch_migrate.discover()] == [(2, "sooner"), (10, "later")]


def test_statements_skip_comments_and_split_at_line_end() -> None:
    migration = ch_migrate.Migration(
        1,
        "x",
        "-- a comment; not a statement\nCREATE TABLE a (s String DEFAULT ';')\n"
        "ENGINE = Memory;\n\n  -- another\nCREATE TABLE b (x UInt8) ENGINE = Memory;\n",
    )
    assert migration.statements() == [
        "CREATE TABLE a (s String DEFAULT ';')\nENGINE = Memory",
        "CREATE TABLE b (x UInt8) ENGINE = Memory",
    ]


# --- ClickHouse, on an engine of its own (a subprocess) --------------------------------------

FRESH_ENGINE = """
import json, sys
from backend.core.errors import ConfigurationError
from backend.core.settings import load_settings
from backend.telemetry import migrate as m
from backend.telemetry.store import open_client

data = sys.argv[1]
client = open_client(load_settings({"ANJIAN_DATA_DIR": data, "ANJIAN_ENV_FILE": data + "/x"}))
names = lambda applied: [f"{x.version:04d}_{x.name}" for x in applied]
out = {"first": names(m.migrate(client)), "second": names(m.migrate(client)),
       "known": names(m.discover())}

real = m.discover
extra = m.Migration(9999, "extra", "CREATE TABLE IF NOT EXISTS extra_t (x UInt8)\\n"
                                "ENGINE = MergeTree ORDER BY x;\\n")
m.discover = lambda: [*real(), extra]
out["added"] = names(m.migrate(client))
out["tables"] = sorted(r[0] for r in client.query("SHOW TABLES").result_rows)
m.discover = real

client.command("ALTER TABLE anjian_schema_migrations UPDATE checksum = 'bogus' "
               "WHERE version = 1 SETTINGS mutations_sync = 1")
try:
    m.migrate(client)
    out["tampered"] = None
except ConfigurationError as exc:
    out["tampered"] = exc.message
print(json.dumps(out))
"""


@pytest.mark.slow
def test_clickhouse_migrations_on_a_fresh_engine(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FRESH_ENGINE, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["first"] == out["known"]
    assert out["first"][0] == "0001_readings"
    assert out["second"] == []
    assert out["added"] == ["9999_extra"]
    assert {"readings", "extra_t", "anjian_schema_migrations"} <= set(out["tables"])
    assert out["tampered"] is not None
    assert "0001_readings" in out["tampered"]


async def test_rebuilding_the_alarm_tables_keeps_every_alarm_and_transition(
    fresh: Runtime,
) -> None:
    """0007 rebuilds alarms and alarm_rules on SQLite: with foreign keys enforced, a careless
    rebuild would cascade-delete the alarms' transitions. Down to 0006 and up again."""
    from backend.alarms.engine import Signal
    from backend.alarms.models import AlarmRule
    from backend.alarms.rules import Severity
    from backend.alarms.service import SignalContext, apply_signal
    from backend.migrate import seed
    from tenants.scope import Scope, scoped_session
    from tests.factories import build_world

    upgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring)
    seed(owner_engine=fresh.owner_engine)
    world = await build_world(fresh)
    sensor = world.a.sensor_ids["GT-101"]
    scope = Scope.for_tenant(world.a.tenant_id)
    async with scoped_session(fresh.sessions, scope) as session, session.begin():
        rule = AlarmRule(
            tenant_id=world.a.tenant_id,
            site_id=world.a.site_id,
            sensor_id=sensor,
            device_id=world.a.device_id,
            kind="threshold",
            definition={"kind": "threshold", "levels": []},
            source="override",
        )
        session.add(rule)
        await session.flush()
        where = SignalContext(world.a.tenant_id, world.a.site_id, world.a.device_id, None)
        for kind, severity in (("raise", Severity.ORANGE), ("upgrade", Severity.RED)):
            signal = Signal(rule.id, sensor, world.a.device_id, kind, kind, severity, 60.0, 1)  # type: ignore[arg-type]
            await apply_signal(session=session, signal=signal, where=where)

    def counts() -> tuple[int, int, int]:
        with fresh.owner_engine.connect() as connection:
            return tuple(  # type: ignore[return-value]
                connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("alarm_rules", "alarms", "alarm_transitions")
            )

    before = counts()
    assert before[1:] == (1, 2)
    downgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring, target="0006")
    assert counts() == before
    upgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring)
    assert counts() == before

"""Cluster DDL, generated from the migrations and checked as SQL text (no cluster runs here).

Every generated statement is also parsed by the real ClickHouse parser (``formatQuery`` on the
session's embedded engine), so a syntax slip fails here rather than on a production cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from backend.core.settings import Settings
from backend.telemetry import store
from backend.telemetry.cluster import cluster_statements, split_statements
from backend.telemetry.migrate import Migration, discover
from tests.conftest import make_settings


def migration(version: int) -> Migration:
    return {m.version: m for m in discover()}[version]


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory: pytest.TempPathFactory, chdb_dir: Path) -> Iterator[Client]:
    """The process's embedded engine (the same one the runtime fixture opens)."""
    settings: Settings = make_settings(tmp_path_factory.mktemp("cluster-ddl"), chdb_dir)
    yield store.open_client(settings)


def parses(client: Client, statement: str) -> str:
    formatted = client.query("SELECT formatQuery({s:String})", parameters={"s": statement})
    return str(formatted.result_rows[0][0])


def test_0001_snapshot() -> None:
    assert cluster_statements(migration(1).sql, "anjian") == [
        "CREATE TABLE IF NOT EXISTS readings_local ON CLUSTER 'anjian'\n"
        "(\n"
        "    tenant_id UUID,\n"
        "    site_id   UUID,\n"
        "    sensor_id UUID,\n"
        "    ts        DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),\n"
        "    value     Float64 CODEC(Gorilla, ZSTD(1))\n"
        ")\n"
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/anjian/readings', '{replica}')\n"
        "PARTITION BY toYYYYMM(ts)\n"
        "ORDER BY (tenant_id, sensor_id, ts)",
        "CREATE TABLE IF NOT EXISTS readings ON CLUSTER 'anjian' AS readings_local\n"
        "ENGINE = Distributed('anjian', currentDatabase(), readings_local, cityHash64(tenant_id))",
    ]


def test_0002_snapshot() -> None:
    statements = cluster_statements(migration(2).sql, "anjian")
    assert [s.splitlines()[0] for s in statements] == [
        "ALTER TABLE readings_local ON CLUSTER 'anjian' ADD COLUMN IF NOT EXISTS retention_days "
        "UInt16 DEFAULT 365",
        "ALTER TABLE readings ON CLUSTER 'anjian' ADD COLUMN IF NOT EXISTS retention_days UInt16 "
        "DEFAULT 365",
        "ALTER TABLE readings_local ON CLUSTER 'anjian' MODIFY TTL toDateTime(ts) + "
        "toIntervalDay(retention_days)",
        "CREATE TABLE IF NOT EXISTS readings_1m_local ON CLUSTER 'anjian'",
        "CREATE TABLE IF NOT EXISTS readings_1m ON CLUSTER 'anjian' AS readings_1m_local",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS readings_1m_mv ON CLUSTER 'anjian' TO "
        "readings_1m_local AS SELECT tenant_id, any(site_id) AS site_id, sensor_id, "
        "toStartOfMinute(ts) AS bucket,",
        "CREATE TABLE IF NOT EXISTS readings_1h_local ON CLUSTER 'anjian'",
        "CREATE TABLE IF NOT EXISTS readings_1h ON CLUSTER 'anjian' AS readings_1h_local",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS readings_1h_mv ON CLUSTER 'anjian' TO "
        "readings_1h_local AS SELECT tenant_id, any(site_id) AS site_id, sensor_id, "
        "toStartOfHour(ts) AS bucket,",
        "CREATE TABLE IF NOT EXISTS sensor_latest_local ON CLUSTER 'anjian'",
        "CREATE TABLE IF NOT EXISTS sensor_latest ON CLUSTER 'anjian' AS sensor_latest_local",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS sensor_latest_mv ON CLUSTER 'anjian' TO "
        "sensor_latest_local AS SELECT tenant_id, any(site_id) AS site_id, sensor_id, "
        "max(ts) AS last_ts,",
        "CREATE TABLE IF NOT EXISTS events_local ON CLUSTER 'anjian'",
        "CREATE TABLE IF NOT EXISTS events ON CLUSTER 'anjian' AS events_local",
        "CREATE TABLE IF NOT EXISTS device_seen_local ON CLUSTER 'anjian'",
        "CREATE TABLE IF NOT EXISTS device_seen ON CLUSTER 'anjian' AS device_seen_local",
        "CREATE TABLE IF NOT EXISTS device_last_seen_local ON CLUSTER 'anjian'",
        "CREATE TABLE IF NOT EXISTS device_last_seen ON CLUSTER 'anjian' AS device_last_seen_local",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS device_last_seen_mv ON CLUSTER 'anjian' TO "
        "device_last_seen_local AS SELECT tenant_id, any(site_id) AS site_id, device_id, "
        "max(ts) AS last_seen",
    ]
    by_head = {s.splitlines()[0]: s for s in statements}
    assert by_head["CREATE TABLE IF NOT EXISTS readings_1m_local ON CLUSTER 'anjian'"] == (
        "CREATE TABLE IF NOT EXISTS readings_1m_local ON CLUSTER 'anjian'\n"
        "(\n"
        "    tenant_id      UUID,\n"
        "    site_id        SimpleAggregateFunction(any, UUID),\n"
        "    sensor_id      UUID,\n"
        "    bucket         DateTime('UTC'),\n"
        "    min_value      SimpleAggregateFunction(min, Float64),\n"
        "    max_value      SimpleAggregateFunction(max, Float64),\n"
        "    sum_value      SimpleAggregateFunction(sum, Float64),\n"
        "    count          SimpleAggregateFunction(sum, UInt64),\n"
        "    last_value     AggregateFunction(argMax, Float64, DateTime64(3, 'UTC')),\n"
        "    retention_days SimpleAggregateFunction(max, UInt16)\n"
        ")\n"
        "ENGINE = ReplicatedAggregatingMergeTree("
        "'/clickhouse/tables/{shard}/anjian/readings_1m', '{replica}')\n"
        "PARTITION BY toYYYYMM(bucket)\n"
        "ORDER BY (tenant_id, sensor_id, bucket)\n"
        "TTL bucket + toIntervalDay(retention_days)"
    )
    mv = next(s for s in statements if s.startswith("CREATE MATERIALIZED VIEW IF NOT EXISTS r"))
    assert mv.endswith("FROM readings_local\nGROUP BY tenant_id, sensor_id, bucket")
    seen = statements[-1]
    assert seen.endswith("FROM device_seen_local\nGROUP BY tenant_id, device_id")


@pytest.mark.parametrize("version", [m.version for m in discover()])
def test_every_table_becomes_replicated_local_and_distributed(version: int) -> None:
    source = migration(version).sql
    statements = cluster_statements(source, "prod-cluster")
    tables = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)\s*\(", source)
    views = re.findall(r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+)", source)
    backfills = [s for s in split_statements(source) if s.startswith("INSERT INTO ")]
    ddl = [s for s in statements if s not in backfills]
    assert all(" ON CLUSTER 'prod-cluster'" in s.splitlines()[0] for s in ddl)
    # A backfill runs once, as written, between the Distributed tables.
    assert [s for s in statements if s in backfills] == backfills
    assert not any("non_replicated_deduplication_window" in s for s in statements)
    for table in tables:
        [local] = [
            s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {table}_local")
        ]
        assert re.search(
            rf"ENGINE = Replicated(Aggregating)?MergeTree\('/clickhouse/tables/\{{shard\}}/anjian/"
            rf"{table}', '\{{replica\}}'\)",
            local,
        ), local
        # The columns are the single-node table's, verbatim.
        columns = re.search(rf"CREATE TABLE IF NOT EXISTS {table}\s*(\(.*?\n\))", source, re.S)
        assert columns is not None and columns.group(1) in local
        [distributed] = [
            s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {table} ")
        ]
        assert distributed == (
            f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER 'prod-cluster' AS {table}_local\n"
            f"ENGINE = Distributed('prod-cluster', currentDatabase(), {table}_local, "
            "cityHash64(tenant_id))"
        )
    for view, target in views:
        [statement] = [s for s in statements if f" VIEW IF NOT EXISTS {view} " in s]
        assert f" TO {target}_local AS " in statement
        assert re.findall(r"\bFROM (\w+)", statement) and all(
            name.endswith("_local") for name in re.findall(r"\bFROM (\w+)", statement)
        )
    # Nothing is lost: one statement per single-node statement, plus one per table and per
    # column change for the Distributed side.
    column_alters = len(re.findall(r"^ALTER TABLE \w+ (ADD|DROP|MODIFY) COLUMN", source, re.M))
    assert len(statements) == len(split_statements(source)) + len(tables) + column_alters


@pytest.mark.parametrize("version", [m.version for m in discover()])
def test_generated_statements_parse(clickhouse: Client, version: int) -> None:
    for statement in cluster_statements(migration(version).sql, "anjian"):
        formatted = parses(clickhouse, statement)
        if not statement.startswith("INSERT INTO "):
            assert "ON CLUSTER anjian" in formatted, formatted


def test_0003_the_day_masks_are_fed_by_the_local_hourly_rollup_and_backfilled_once() -> None:
    statements = cluster_statements(migration(3).sql, "anjian")
    assert [s.splitlines()[0] for s in statements] == [
        "CREATE TABLE IF NOT EXISTS sensor_hours_1d_local ON CLUSTER 'anjian'",
        "CREATE TABLE IF NOT EXISTS sensor_hours_1d ON CLUSTER 'anjian' AS sensor_hours_1d_local",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS sensor_hours_1d_mv ON CLUSTER 'anjian' TO "
        "sensor_hours_1d_local AS SELECT tenant_id, any(site_id) AS site_id, sensor_id, "
        "toDate(bucket, 'Asia/Shanghai') AS day,",
        "INSERT INTO sensor_hours_1d",
    ]
    assert statements[2].endswith("FROM readings_1h_local\nGROUP BY tenant_id, sensor_id, day")
    assert statements[3].endswith("FROM readings_1h\nGROUP BY tenant_id, sensor_id, day")


def test_settings_other_than_the_dedup_window_are_kept() -> None:
    sql = (
        "CREATE TABLE IF NOT EXISTS t\n(tenant_id UUID, x Float64)\n"
        "ENGINE = ReplacingMergeTree(version)\nORDER BY (tenant_id)\n"
        "SETTINGS index_granularity = 4096, non_replicated_deduplication_window = 10000;\n"
        "ALTER TABLE t MODIFY SETTING non_replicated_deduplication_window = 5, "
        "merge_with_ttl_timeout = 60;\n"
        "ALTER TABLE t MODIFY SETTING non_replicated_deduplication_window = 100;\n"
        "ALTER TABLE t DROP COLUMN IF EXISTS x;\n"
        "DROP TABLE IF EXISTS t;\n"
        "DROP VIEW IF EXISTS t_mv\n"
    )
    assert cluster_statements(sql, "c") == [
        "CREATE TABLE IF NOT EXISTS t_local ON CLUSTER 'c'\n(tenant_id UUID, x Float64)\n"
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/anjian/t', "
        "'{replica}', version)\nORDER BY (tenant_id)\nSETTINGS index_granularity = 4096",
        "CREATE TABLE IF NOT EXISTS t ON CLUSTER 'c' AS t_local\n"
        "ENGINE = Distributed('c', currentDatabase(), t_local, cityHash64(tenant_id))",
        "ALTER TABLE t_local ON CLUSTER 'c' MODIFY SETTING merge_with_ttl_timeout = 60",
        "ALTER TABLE t_local ON CLUSTER 'c' DROP COLUMN IF EXISTS x",
        "ALTER TABLE t ON CLUSTER 'c' DROP COLUMN IF EXISTS x",
        "DROP TABLE IF EXISTS t ON CLUSTER 'c' SYNC",
        "DROP TABLE IF EXISTS t_local ON CLUSTER 'c' SYNC",
        "DROP VIEW IF EXISTS t_mv ON CLUSTER 'c' SYNC",
    ]


def test_all_kept_settings_parse(clickhouse: Client) -> None:
    sql = (
        "CREATE TABLE IF NOT EXISTS t\n(tenant_id UUID)\nENGINE = MergeTree\nORDER BY tenant_id\n"
        "SETTINGS index_granularity = 4096, non_replicated_deduplication_window = 10000;\n"
        "ALTER TABLE t MODIFY SETTING merge_with_ttl_timeout = 60, index_granularity_bytes = 0"
    )
    for statement in cluster_statements(sql, "c"):
        parses(clickhouse, statement)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("CREATE VIEW v AS SELECT 1", "no cluster form"),
        ("INSERT INTO readings VALUES (1)", "no cluster form"),
        ("CREATE TABLE t (a UInt8) ENGINE = Memory", "MergeTree"),
        ("ALTER TABLE t ADD COLUMN b UInt8, MODIFY TTL ts + INTERVAL 1 DAY", "split it"),
    ],
)
def test_statements_without_a_cluster_form_are_refused(sql: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cluster_statements(sql, "c")


@pytest.mark.parametrize("name", ["", "a b", "c'; DROP TABLE readings; --", "x\n"])
def test_bad_cluster_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="cluster name"):
        cluster_statements(migration(1).sql, name)

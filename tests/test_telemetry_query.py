"""The scoped ClickHouse query builder, the readings queries, and telemetry over GraphQL.

ClickHouse is shared by the whole test session, so every test writes readings under sensor
ids of its own (fresh uuids, or a tenant provisioned for this module) at its own timestamps.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.core.errors import ScopeRequired
from backend.runtime import Runtime
from backend.telemetry import readings
from backend.telemetry.query import select_from
from tenants.scope import Scope
from tests.factories import TenantWorld, World, build_tenant
from tests.graphql import GraphQLClient

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
TELEMETRY = """
query($s: ID!, $f: DateTime!, $t: DateTime!, $b: Int) {
  telemetry(sensorId: $s, from: $f, to: $t, bucketSeconds: $b) { ts min max avg count }
}"""
LATEST = "{ sites { id sensors { id code latest { ts value } } } }"


def insert(
    client: Any, rows: Sequence[tuple[uuid.UUID, uuid.UUID, uuid.UUID, datetime, float]]
) -> None:
    """Rows of (tenant, site, sensor, ts, value) as one columnar insert."""
    columns = tuple(list(column) for column in zip(*rows, strict=True))
    assert readings.insert_columns(client, columns) == len(rows)  # type: ignore[arg-type]


def iso_z(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_output(value: str) -> datetime:
    """A GraphQL timestamp exactly as the contract writes it: RFC 3339, UTC, with Z."""
    assert RFC3339_UTC.match(value), f"not RFC 3339 UTC with Z: {value!r}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def instant(value: datetime | str) -> datetime:
    """The instant a value names, reading a zone-less one as UTC.

    Lenient on purpose: the format is asserted once, in its own tests, so the value checks
    below still run (and report) when only the format is wrong.
    """
    ts = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


# --- the builder ------------------------------------------------------------------------------

TENANT_1 = uuid.UUID("00000000-0000-4000-8000-000000000001")
TENANT_2 = uuid.UUID("00000000-0000-4000-8000-000000000002")
SENSOR_1 = uuid.UUID("00000000-0000-4000-8000-00000000000a")


@pytest.mark.parametrize(
    "scope",
    [Scope(), Scope(jurisdictions=frozenset({"320000"})), None, "tenant"],
    ids=["empty", "jurisdiction-without-tenants", "none", "not-a-scope"],
)
def test_builder_refuses_a_missing_scope(scope: Any) -> None:
    with pytest.raises(ScopeRequired):
        select_from(scope, "readings", "count()")


@pytest.mark.parametrize(
    "table", ["anjian_schema_migrations", "system.tables", "readings; DROP TABLE readings", ""]
)
def test_builder_refuses_unscoped_tables(table: str) -> None:
    with pytest.raises(ScopeRequired):
        select_from(Scope.for_tenant(TENANT_1), table, "count()")


def test_rendered_sql_snapshot() -> None:
    scope = Scope(tenant_ids=frozenset({TENANT_2}), jurisdiction_tenant_ids=frozenset({TENANT_1}))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    sql, parameters = (
        select_from(scope, "readings", "sensor_id", "max(ts) AS last_ts")
        .where("sensor_id IN {sensor_ids:Array(UUID)}", sensor_ids=[str(SENSOR_1)])
        .where("ts >= {start:DateTime64(3, 'UTC')}", start=start)
        .grouped("sensor_id")
        .ordered("sensor_id")
        .limited(10)
        .render()
    )
    assert sql == (
        "SELECT sensor_id, max(ts) AS last_ts\n"
        "FROM readings\n"
        "WHERE (tenant_id IN {scope_tenant_ids:Array(UUID)})\n"
        "  AND (sensor_id IN {sensor_ids:Array(UUID)})\n"
        "  AND (ts >= {start:DateTime64(3, 'UTC')})\n"
        "GROUP BY sensor_id\n"
        "ORDER BY sensor_id\n"
        "LIMIT 10"
    )
    assert parameters == {
        "sensor_ids": [str(SENSOR_1)],
        "start": start,
        "scope_tenant_ids": [str(TENANT_1), str(TENANT_2)],
    }


def test_caller_conditions_cannot_widen_the_tenant_filter() -> None:
    sql, _ = select_from(Scope.for_tenant(TENANT_1), "readings", "count()").where("1 OR 1").render()
    where = sql.split("WHERE ", 1)[1]
    assert where.startswith("(tenant_id IN {scope_tenant_ids:Array(UUID)})\n  AND (1 OR 1)")


@pytest.mark.parametrize(
    "name", ["scope_tenant_ids", "Sensor", "1st", "bad-name", "a b", "x;DROP", "ünï"]
)
def test_bad_parameter_names_are_rejected(name: str) -> None:
    query = select_from(Scope.for_tenant(TENANT_1), "readings", "count()")
    with pytest.raises(ValueError):
        query.where("sensor_id = {x:UUID}", **{name: str(SENSOR_1)})
    with pytest.raises(ValueError):
        query.bind(**{name: 1})
    _, parameters = query.render()
    assert parameters == {"scope_tenant_ids": [str(TENANT_1)]}


# --- readings on the engine -------------------------------------------------------------------


async def test_latest_sees_only_the_scope(runtime: Runtime) -> None:
    client = runtime.clickhouse
    tenant_a, tenant_b, site = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sensor_a, sensor_b = uuid.uuid4(), uuid.uuid4()
    t0 = datetime(2025, 2, 1, 8, 0, tzinfo=UTC)
    insert(
        client,
        [
            (tenant_a, site, sensor_a, t0, 1.5),
            (tenant_a, site, sensor_a, t0 + timedelta(seconds=5, milliseconds=250), 2.5),
            (tenant_b, site, sensor_b, t0 + timedelta(minutes=1), 9.0),
            # A row of B's under A's sensor id, later than A's own: must not leak into A's view.
            (tenant_b, site, sensor_a, t0 + timedelta(minutes=2), 99.0),
        ],
    )
    found = readings.latest(client, Scope.for_tenant(tenant_a), [sensor_a, sensor_b])
    assert set(found) == {sensor_a}
    assert found[sensor_a].value == 2.5
    assert instant(found[sensor_a].ts) == t0 + timedelta(seconds=5, milliseconds=250)

    found_b = readings.latest(client, Scope.for_tenant(tenant_b), [sensor_a, sensor_b])
    assert found_b[sensor_b].value == 9.0
    assert found_b[sensor_a].value == 99.0

    both = Scope(jurisdictions=frozenset({"320000"}), jurisdiction_tenant_ids=frozenset({tenant_a}))
    assert set(readings.latest(client, both, [sensor_a, sensor_b])) == {sensor_a}
    assert readings.latest(client, Scope.for_tenant(tenant_a), []) == {}


async def test_or_condition_stays_inside_the_scope(runtime: Runtime) -> None:
    client = runtime.clickhouse
    tenant_a, tenant_b, site, sensor = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    t0 = datetime(2025, 2, 2, tzinfo=UTC)
    insert(client, [(tenant_a, site, sensor, t0, 1.0), (tenant_b, site, sensor, t0, 2.0)])
    rows = (
        select_from(Scope.for_tenant(tenant_a), "readings", "tenant_id", "value")
        .where("sensor_id = {s:UUID} OR 1 = 1", s=str(sensor))
        .where("sensor_id = {s2:UUID}", s2=str(sensor))
        .run(client)
    )
    assert rows == [(tenant_a, 1.0)]


async def test_readings_return_aware_utc_timestamps(runtime: Runtime) -> None:
    client = runtime.clickhouse
    tenant, site, sensor = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    ts = datetime(2025, 2, 3, 4, 5, 6, 789_000, tzinfo=UTC)
    insert(client, [(tenant, site, sensor, ts, 1.0)])
    scope = Scope.for_tenant(tenant)
    latest = readings.latest(client, scope, [sensor])[sensor].ts
    bucket = readings.buckets(client, scope, sensor, ts, ts + timedelta(seconds=1), 1)[0].ts
    for value in (latest, bucket):
        assert value.tzinfo is not None, f"naive timestamp from ClickHouse: {value!r}"
        assert value.utcoffset() == timedelta(0)
    assert latest == ts
    assert bucket == ts.replace(microsecond=0)


def expected_buckets(
    rows: Sequence[tuple[datetime, float]], start: datetime, end: datetime, step: int
) -> list[tuple[datetime, float, float, float, int]]:
    grouped: dict[int, list[float]] = {}
    for ts, value in rows:
        if start <= ts < end:
            epoch_ms = round(ts.timestamp() * 1000)
            grouped.setdefault(epoch_ms // (step * 1000) * step, []).append(value)
    return [
        (datetime.fromtimestamp(key, UTC), min(v), max(v), sum(v) / len(v), len(v))
        for key, v in sorted(grouped.items())
    ]


@pytest.mark.parametrize("step", [60, 7, 45, 3600])
async def test_buckets_are_half_open_and_epoch_aligned(runtime: Runtime, step: int) -> None:
    client = runtime.clickhouse
    tenant, other_tenant, site = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sensor, other_sensor = uuid.uuid4(), uuid.uuid4()
    start = datetime(2025, 3, 1, 0, 0, 30, tzinfo=UTC)
    end = start + timedelta(minutes=3)
    ms = timedelta(milliseconds=1)
    points = [
        (start - ms, 1000.0),  # before the range
        (start, 1.0),
        (start + timedelta(seconds=15), 4.0),
        (start + timedelta(seconds=29) + 999 * ms, 2.0),
        (start + timedelta(seconds=30), 8.0),
        (start + timedelta(seconds=61, milliseconds=500), -3.5),
        (start + timedelta(seconds=95), 6.25),
        (start + timedelta(seconds=150), 0.0),
        (end - ms, 5.0),
        (end, 2000.0),  # the end is excluded
    ]
    rows = [(tenant, site, sensor, ts, value) for ts, value in points]
    rows.append((tenant, site, other_sensor, start + timedelta(seconds=1), 3000.0))
    rows.append((other_tenant, site, sensor, start + timedelta(seconds=2), 4000.0))
    insert(client, rows)

    got = readings.buckets(client, Scope.for_tenant(tenant), sensor, start, end, step)
    want = expected_buckets(points, start, end, step)
    assert [instant(b.ts) for b in got] == [w[0] for w in want]
    for bucket, (_, mn, mx, avg, count) in zip(got, want, strict=True):
        assert (bucket.min, bucket.max, bucket.count) == (mn, mx, count)
        assert math.isclose(bucket.avg, avg)
    assert sum(b.count for b in got) == 8
    for bucket in got:
        assert int(instant(bucket.ts).timestamp()) % step == 0

    outsider = readings.buckets(client, Scope.for_tenant(uuid.uuid4()), sensor, start, end, step)
    assert outsider == []


# --- over GraphQL ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def tenant_t(runtime: Runtime) -> TenantWorld:
    """A tenant of this module's own, in Beijing, so no other test reads its sensors."""
    return await build_tenant(runtime, "T", "110100", "110101")


async def test_sites_show_the_latest_reading(
    api: GraphQLClient, runtime: Runtime, world: World, tenant_t: TenantWorld
) -> None:
    gas, temperature = tenant_t.sensor_ids["GT-101"], tenant_t.sensor_ids["TT-201"]
    t0 = datetime(2025, 6, 1, 8, 0, 0, 123_000, tzinfo=UTC)
    insert(
        runtime.clickhouse,
        [
            (tenant_t.tenant_id, tenant_t.site_id, gas, t0, 11.5),
            (tenant_t.tenant_id, tenant_t.site_id, gas, t0 + timedelta(seconds=2), 12.75),
            # Another tenant's row under T's sensor id, later still: not T's to see.
            (world.b.tenant_id, world.b.site_id, gas, t0 + timedelta(minutes=5), 77.0),
        ],
    )
    result = await api.query(LATEST, as_user=tenant_t.users["owner"])
    assert result.code is None, result.body
    sites = result.data["sites"]
    assert [s["id"] for s in sites] == [str(tenant_t.site_id)]
    sensors = {s["code"]: s for s in sites[0]["sensors"]}
    assert set(sensors) == {"GT-101", "TT-201"}
    latest = sensors["GT-101"]["latest"]
    assert latest["value"] == 12.75
    assert instant(latest["ts"]) == t0 + timedelta(seconds=2)
    assert sensors["TT-201"]["latest"] is None
    assert sensors["TT-201"]["id"] == str(temperature)

    other = await api.query(LATEST, as_user=world.a.users["owner"])
    assert str(tenant_t.site_id) not in {s["id"] for s in other.data["sites"]}


async def test_telemetry_buckets_for_the_owner(
    api: GraphQLClient, runtime: Runtime, tenant_t: TenantWorld
) -> None:
    sensor = tenant_t.sensor_ids["TT-201"]
    start = datetime(2025, 6, 2, 10, 0, 0, tzinfo=UTC)
    points = [(start + timedelta(seconds=s), float(v)) for s, v in [(0, 20), (30, 22), (61, 25)]]
    points.append((start + timedelta(minutes=2), 99.0))  # exactly `to`: excluded
    insert(
        runtime.clickhouse,
        [(tenant_t.tenant_id, tenant_t.site_id, sensor, ts, v) for ts, v in points],
    )
    end = start + timedelta(minutes=2)
    result = await api.query(
        TELEMETRY,
        {"s": str(sensor), "f": iso_z(start), "t": iso_z(end), "b": 60},
        as_user=tenant_t.users["viewer"],
    )
    assert result.code is None, result.body
    got = [
        (instant(b["ts"]), b["min"], b["max"], b["avg"], b["count"])
        for b in result.data["telemetry"]
    ]
    assert got == expected_buckets(points, start, end, 60)

    # The same instant written with a +08:00 offset selects the same range.
    shifted = await api.query(
        TELEMETRY,
        {
            "s": str(sensor),
            "f": "2025-06-02T18:00:00+08:00",
            "t": "2025-06-02T18:02:00+08:00",
            "b": 60,
        },
        as_user=tenant_t.users["owner"],
    )
    assert shifted.code is None, shifted.body
    assert [b["count"] for b in shifted.data["telemetry"]] == [c[4] for c in got]


async def test_graphql_timestamps_are_utc_with_z(
    api: GraphQLClient, runtime: Runtime, tenant_t: TenantWorld
) -> None:
    sensor = tenant_t.sensor_ids["TT-201"]
    ts = datetime(2025, 6, 4, 1, 2, 3, 456_000, tzinfo=UTC)
    insert(runtime.clickhouse, [(tenant_t.tenant_id, tenant_t.site_id, sensor, ts, 19.5)])
    result = await api.query(
        TELEMETRY,
        {"s": str(sensor), "f": "2025-06-04T09:00:00+08:00", "t": "2025-06-04T09:10:00+08:00"},
        as_user=tenant_t.users["owner"],
    )
    assert result.code is None, result.body
    [bucket] = result.data["telemetry"]
    assert parse_output(bucket["ts"]) <= ts

    sites = await api.query(LATEST, as_user=tenant_t.users["owner"])
    latest = {s["id"]: s["latest"] for s in sites.data["sites"][0]["sensors"]}[str(sensor)]
    assert latest is not None
    assert parse_output(latest["ts"]) == ts


async def test_telemetry_accepts_epoch_milliseconds(
    api: GraphQLClient, runtime: Runtime, tenant_t: TenantWorld
) -> None:
    sensor = tenant_t.sensor_ids["TT-201"]
    start = datetime(2025, 6, 3, tzinfo=UTC)
    insert(
        runtime.clickhouse,
        [(tenant_t.tenant_id, tenant_t.site_id, sensor, start + timedelta(seconds=1), 30.0)],
    )
    millis = int(start.timestamp() * 1000)
    result = await api.query(
        TELEMETRY,
        {"s": str(sensor), "f": millis, "t": millis + 60_000, "b": 60},
        as_user=tenant_t.users["owner"],
    )
    assert result.code is None, result.body
    assert [b["count"] for b in result.data["telemetry"]] == [1]


async def test_telemetry_of_another_tenant_is_not_found(
    api: GraphQLClient, world: World, tenant_t: TenantWorld
) -> None:
    variables = {
        "s": str(tenant_t.sensor_ids["GT-101"]),
        "f": "2025-06-01T00:00:00Z",
        "t": "2025-06-02T00:00:00Z",
        "b": 3600,
    }
    for user in (world.b.users["owner"], world.a.users["owner"], world.regulators["320000"]):
        result = await api.query(TELEMETRY, variables, as_user=user)
        assert result.codes == ["NOT_FOUND"], (user, result.body)
        assert result.data is None
    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        result = await api.query(
            TELEMETRY, {**variables, "s": missing}, as_user=tenant_t.users["owner"]
        )
        assert result.codes == ["NOT_FOUND"], result.body


@pytest.mark.parametrize(
    ("start", "end", "bucket"),
    [
        ("2025-06-02T00:00:00Z", "2025-06-02T00:00:00Z", 60),  # to == from
        ("2025-06-02T00:00:00Z", "2025-06-01T00:00:00Z", 60),  # to < from
        ("2025-06-01T00:00:00", "2025-06-02T00:00:00", 60),  # no zone
        ("2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z", 0),
        ("2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z", -60),
        ("2020-01-01T00:00:00Z", "2025-06-02T00:00:00Z", 1),  # far too many buckets
        ("yesterday", "2025-06-02T00:00:00Z", 60),
    ],
)
async def test_telemetry_bad_ranges(
    api: GraphQLClient, tenant_t: TenantWorld, start: str, end: str, bucket: int
) -> None:
    result = await api.query(
        TELEMETRY,
        {"s": str(tenant_t.sensor_ids["GT-101"]), "f": start, "t": end, "b": bucket},
        as_user=tenant_t.users["owner"],
    )
    # One error per offending argument (a zone-less from and to are two).
    assert result.codes and set(result.codes) == {"BAD_USER_INPUT"}, result.body
    assert result.data is None

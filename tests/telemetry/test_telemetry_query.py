"""The scoped ClickHouse query builder, the readings queries, and telemetry over GraphQL.

ClickHouse is shared by the whole test session, so every test writes readings under sensor
ids of its own (fresh uuids, or a tenant provisioned for this module) at its own timestamps.
Readings are written through the production path (spool record → spool → flusher), at times
relative to now: the retention TTL drops rows older than their retention on insert.
"""

from __future__ import annotations

import json
import math
import random
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from backend.core.errors import ScopeRequired
from backend.runtime import Runtime
from backend.telemetry import readings, records
from backend.telemetry.batches import BatchLedger
from backend.telemetry.flusher import Flusher
from backend.telemetry.query import select_from
from backend.telemetry.spool import Position, Spool
from tenants.scope import Scope
from tests.factories import TenantWorld, World, build_tenant
from tests.graphql import GraphQLClient

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
TELEMETRY = """
query($s: ID!, $f: DateTime!, $t: DateTime!, $b: Int) {
  telemetry(sensorId: $s, from: $f, to: $t, bucketSeconds: $b) { ts min max avg count last }
}"""
LATEST = "{ sites { id sensors { id code latest { ts value } } } }"

Row = tuple[uuid.UUID, uuid.UUID, uuid.UUID, datetime, float]  # tenant, site, sensor, ts, value


def hours_ago(hours: float) -> datetime:
    """The start of the current UTC hour, minus ``hours``: recent enough to outlive the TTL."""
    top = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return top - timedelta(hours=hours)


def epoch_ms(ts: datetime) -> int:
    return (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


class Pipeline:
    """The production write path into the session's ClickHouse: spool records appended to a
    ``Spool`` of this test's own, a ``Flusher`` inserting them with its deduplication tokens.

    ``first_segment`` starts the spool at another segment number than 1, as a spool that has
    been running a while; two pipelines with the same number write at the same positions.
    """

    def __init__(self, client: Client, directory: Path, *, first_segment: int = 1) -> None:
        spool_dir = directory / "spool"
        spool_dir.mkdir(parents=True)
        self.start = Position(first_segment, 0)
        state = directory / "flushed.json"
        if first_segment != 1:
            (spool_dir / f"{first_segment:010d}.spool").touch()
            state.write_text(json.dumps({"flushed": str(self.start), "intent": None}))
        self.spool = Spool(spool_dir)
        self.ledger = BatchLedger(directory / "batches.sqlite")
        self.flusher = Flusher(self.spool, client, self.ledger, state)
        self.runs: list[tuple[Position, Position]] = []

    async def readings(
        self,
        tenant_id: uuid.UUID,
        site_id: uuid.UUID,
        rows: Sequence[tuple[uuid.UUID, datetime, float]],
        *,
        device_id: uuid.UUID | None = None,
        retention_days: int = 365,
    ) -> None:
        """One accepted batch of (sensor, ts, value), as ingest spools it."""
        await self.spool.append(
            records.encode_readings(
                tenant_id=tenant_id,
                site_id=site_id,
                device_id=device_id or uuid.uuid4(),
                batch_id=uuid.uuid4(),
                retention_days=retention_days,
                sensor_ids=[sensor.bytes for sensor, _, _ in rows],
                ts_ms=[epoch_ms(ts) for _, ts, _ in rows],
                values=[value for _, _, value in rows],
            )
        )

    async def heartbeat(
        self, tenant_id: uuid.UUID, site_id: uuid.UUID, device_id: uuid.UUID, ts: datetime
    ) -> None:
        await self.spool.append(
            records.encode_heartbeat(
                tenant_id=tenant_id, site_id=site_id, device_id=device_id, ts_ms=epoch_ms(ts)
            )
        )

    async def insert(self, rows: Sequence[Row]) -> int:
        """Rows of (tenant, site, sensor, ts, value): one batch per (tenant, site), flushed."""
        batches: dict[tuple[uuid.UUID, uuid.UUID], list[tuple[uuid.UUID, datetime, float]]] = {}
        for tenant, site, sensor, ts, value in rows:
            batches.setdefault((tenant, site), []).append((sensor, ts, value))
        for (tenant, site), batch in batches.items():
            await self.readings(tenant, site, batch)
        return self.flush()

    def flush(self) -> int:
        """Flush everything durable; returns the rows flushed."""
        flushed = 0
        for _ in range(1000):
            before = self.flusher.checkpoint.flushed
            if before >= self.spool.durable:
                return flushed
            flushed += self.flusher.flush_once()
            self.runs.append((before, self.flusher.checkpoint.flushed))
        raise AssertionError("the flusher makes no progress")

    def replay(self) -> int:
        """Every run flushed so far, inserted again exactly as after a crash that left its
        intent behind (the insert landed, the checkpoint was not saved)."""
        replayed = 0
        for start, end in self.runs:
            self.flusher.checkpoint.flushed = start
            self.flusher.checkpoint.intent = (start, end)
            self.flusher.checkpoint.save()
            replayed += self.flusher.flush_once()
            assert self.flusher.checkpoint.flushed == end
        return replayed

    def close(self) -> None:
        self.spool.close()
        self.ledger.close()


@pytest.fixture
async def pipeline(runtime: Runtime, tmp_path: Path) -> AsyncIterator[Pipeline]:
    pipe = Pipeline(runtime.clickhouse, tmp_path)
    yield pipe
    pipe.close()


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


Expected = tuple[datetime, float, float, float, int, float]  # ts, min, max, avg, count, last


def expected_buckets(
    rows: Sequence[tuple[datetime, float]], start: datetime, end: datetime, step: int
) -> list[Expected]:
    """Buckets computed in Python from the rows themselves: the ground truth."""
    grouped: dict[int, list[tuple[int, float]]] = {}
    for ts, value in rows:
        if start <= ts < end:
            ms = epoch_ms(ts)
            grouped.setdefault(ms // (step * 1000) * step, []).append((ms, value))
    out = []
    for key, points in sorted(grouped.items()):
        values = [v for _, v in points]
        last = max(points, key=lambda p: p[0])[1]
        out.append(
            (
                datetime.fromtimestamp(key, UTC),
                min(values),
                max(values),
                sum(values) / len(values),
                len(values),
                last,
            )
        )
    return out


def assert_buckets(got: Sequence[readings.Bucket], want: Sequence[Expected]) -> None:
    assert [instant(b.ts) for b in got] == [w[0] for w in want]
    for bucket, (ts, mn, mx, avg, count, last) in zip(got, want, strict=True):
        assert (bucket.min, bucket.max, bucket.count, bucket.last) == (mn, mx, count, last), ts
        assert math.isclose(bucket.avg, avg, rel_tol=1e-9, abs_tol=1e-9), ts


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


def test_narrowing_to_the_owner_keeps_the_scope_first() -> None:
    scope = Scope(tenant_ids=frozenset({TENANT_1}), jurisdiction_tenant_ids=frozenset({TENANT_2}))
    sql, parameters = (
        select_from(scope, "sensor_latest", "count()")
        .owned_by(TENANT_2)
        .where("site_id = {site:UUID}", site=str(SENSOR_1))
        .render()
    )
    assert sql.split("WHERE ", 1)[1] == (
        "(tenant_id IN {scope_tenant_ids:Array(UUID)})\n"
        "  AND (tenant_id = {owner_tenant_id:UUID})\n"
        "  AND (site_id = {site:UUID})"
    )
    assert parameters["owner_tenant_id"] == str(TENANT_2)
    assert parameters["scope_tenant_ids"] == [str(TENANT_1), str(TENANT_2)]


@pytest.mark.parametrize(
    "name",
    ["scope_tenant_ids", "owner_tenant_id", "Sensor", "1st", "bad-name", "a b", "x;DROP", "ünï"],
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


async def test_latest_sees_only_the_scope(runtime: Runtime, pipeline: Pipeline) -> None:
    client = runtime.clickhouse
    tenant_a, tenant_b, site = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sensor_a, sensor_b = uuid.uuid4(), uuid.uuid4()
    t0 = hours_ago(2)
    await pipeline.insert(
        [
            (tenant_a, site, sensor_a, t0, 1.5),
            (tenant_a, site, sensor_a, t0 + timedelta(seconds=5, milliseconds=250), 2.5),
            (tenant_b, site, sensor_b, t0 + timedelta(minutes=1), 9.0),
            # A row of B's under A's sensor id, later than A's own: must not leak into A's view.
            (tenant_b, site, sensor_a, t0 + timedelta(minutes=2), 99.0),
        ]
    )
    # An older reading arriving later does not replace the latest one.
    await pipeline.insert([(tenant_a, site, sensor_a, t0 - timedelta(minutes=30), -1.0)])

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


async def test_latest_survives_merges(runtime: Runtime, pipeline: Pipeline) -> None:
    client = runtime.clickhouse
    tenant, site, sensor = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    t0 = hours_ago(1)
    for minute, value in [(3, 30.0), (1, 10.0), (7, 70.0), (5, 50.0)]:  # one batch each
        await pipeline.insert([(tenant, site, sensor, t0 + timedelta(minutes=minute), value)])
    client.command("OPTIMIZE TABLE sensor_latest FINAL")
    found = readings.latest(client, Scope.for_tenant(tenant), [sensor])
    assert found[sensor] == readings.Latest(t0 + timedelta(minutes=7), 70.0)


async def test_or_condition_stays_inside_the_scope(runtime: Runtime, pipeline: Pipeline) -> None:
    client = runtime.clickhouse
    tenant_a, tenant_b, site, sensor = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    t0 = hours_ago(2)
    await pipeline.insert([(tenant_a, site, sensor, t0, 1.0), (tenant_b, site, sensor, t0, 2.0)])
    rows = (
        select_from(Scope.for_tenant(tenant_a), "readings", "tenant_id", "value")
        .where("sensor_id = {s:UUID} OR 1 = 1", s=str(sensor))
        .where("sensor_id = {s2:UUID}", s2=str(sensor))
        .run(client)
    )
    assert rows == [(tenant_a, 1.0)]


async def test_readings_return_aware_utc_timestamps(runtime: Runtime, pipeline: Pipeline) -> None:
    client = runtime.clickhouse
    tenant, site, sensor = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    ts = hours_ago(3) + timedelta(minutes=5, seconds=6, milliseconds=789)
    await pipeline.insert([(tenant, site, sensor, ts, 1.0)])
    scope = Scope.for_tenant(tenant)
    latest = readings.latest(client, scope, [sensor])[sensor].ts
    bucket = readings.buckets(client, scope, sensor, ts, ts + timedelta(seconds=1), 1)[0].ts
    hour = readings.buckets(client, scope, sensor, ts - timedelta(hours=1), ts, 3600)
    minute = readings.buckets(client, scope, sensor, hours_ago(4), hours_ago(2), 60)[0].ts
    assert hour == []  # the range is half-open: ts itself is `end`
    for value in (latest, bucket, minute):
        assert value.tzinfo is not None, f"naive timestamp from ClickHouse: {value!r}"
        assert value.utcoffset() == timedelta(0)
    assert latest == ts
    assert bucket == ts.replace(microsecond=0)
    assert minute == ts.replace(second=0, microsecond=0)


@pytest.mark.parametrize("step", [60, 7, 45, 120, 3600, 86400])
async def test_buckets_are_half_open_and_epoch_aligned(
    runtime: Runtime, pipeline: Pipeline, step: int
) -> None:
    client = runtime.clickhouse
    tenant, other_tenant, site = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sensor, other_sensor = uuid.uuid4(), uuid.uuid4()
    start = hours_ago(3) + timedelta(seconds=30)  # not on a minute: rollups cover the middle
    end = start + timedelta(minutes=3)
    ms = timedelta(milliseconds=1)
    points = [
        (start - ms, 1000.0),  # before the range, in the same minute as `start`
        (start, 1.0),
        (start + timedelta(seconds=15), 4.0),
        (start + timedelta(seconds=29) + 999 * ms, 2.0),
        (start + timedelta(seconds=30), 8.0),
        (start + timedelta(seconds=61, milliseconds=500), -3.5),
        (start + timedelta(seconds=95), 6.25),
        (start + timedelta(seconds=150), 0.0),
        (end - ms, 5.0),
        (end, 2000.0),  # the end is excluded, though its minute began inside the range
    ]
    rows = [(tenant, site, sensor, ts, value) for ts, value in points]
    rows.append((tenant, site, other_sensor, start + timedelta(seconds=1), 3000.0))
    rows.append((other_tenant, site, sensor, start + timedelta(seconds=2), 4000.0))
    await pipeline.insert(rows)

    got = readings.buckets(client, Scope.for_tenant(tenant), sensor, start, end, step)
    assert_buckets(got, expected_buckets(points, start, end, step))
    assert sum(b.count for b in got) == 8
    for bucket in got:
        assert int(instant(bucket.ts).timestamp()) % step == 0

    outsider = readings.buckets(client, Scope.for_tenant(uuid.uuid4()), sensor, start, end, step)
    assert outsider == []
    # A regulator's scope holds both tenants: naming the sensor's owner keeps the other's row out.
    both = Scope(
        jurisdictions=frozenset({"320000"}),
        jurisdiction_tenant_ids=frozenset({tenant, other_tenant}),
    )
    assert readings.buckets(client, both, sensor, start, end, step, owner=tenant) == got
    assert sum(b.count for b in readings.buckets(client, both, sensor, start, end, step)) == 9


async def test_reading_count_counts_one_site_in_scope(runtime: Runtime, pipeline: Pipeline) -> None:
    client = runtime.clickhouse
    tenant, other_tenant, site, other_site = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    start = hours_ago(2)
    end = start + timedelta(minutes=10)
    inside = [
        (tenant, site, uuid.uuid4(), start + timedelta(seconds=i), float(i)) for i in range(7)
    ]
    await pipeline.insert(
        [
            *inside,
            (tenant, site, uuid.uuid4(), start - timedelta(milliseconds=1), 0.0),
            (tenant, site, uuid.uuid4(), end, 0.0),
            (tenant, other_site, uuid.uuid4(), start, 0.0),
            (other_tenant, site, uuid.uuid4(), start, 0.0),
        ]
    )
    assert readings.reading_count(client, Scope.for_tenant(tenant), site, start, end) == 7
    assert readings.reading_count(client, Scope.for_tenant(uuid.uuid4()), site, start, end) == 0


# --- over GraphQL ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def tenant_t(runtime: Runtime) -> TenantWorld:
    """A tenant of this module's own, in Beijing, so no other test reads its sensors."""
    return await build_tenant(runtime, "T", "110000", "110101")


async def test_sites_show_the_latest_reading(
    api: GraphQLClient, pipeline: Pipeline, world: World, tenant_t: TenantWorld
) -> None:
    gas, temperature = tenant_t.sensor_ids["GT-101"], tenant_t.sensor_ids["TT-201"]
    t0 = hours_ago(1) + timedelta(milliseconds=123)
    await pipeline.insert(
        [
            (tenant_t.tenant_id, tenant_t.site_id, gas, t0, 11.5),
            (tenant_t.tenant_id, tenant_t.site_id, gas, t0 + timedelta(seconds=2), 12.75),
            # Another tenant's row under T's sensor id, later still: not T's to see.
            (world.b.tenant_id, world.b.site_id, gas, t0 + timedelta(minutes=5), 77.0),
        ]
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
    assert sensors["TT-201"]["id"] == str(temperature)

    other = await api.query(LATEST, as_user=world.a.users["owner"])
    assert str(tenant_t.site_id) not in {s["id"] for s in other.data["sites"]}


async def test_telemetry_buckets_for_the_owner(
    api: GraphQLClient, pipeline: Pipeline, tenant_t: TenantWorld
) -> None:
    sensor = tenant_t.sensor_ids["TT-201"]
    start = hours_ago(5)
    points = [(start + timedelta(seconds=s), float(v)) for s, v in [(0, 20), (30, 22), (61, 25)]]
    points.append((start + timedelta(minutes=2), 99.0))  # exactly `to`: excluded
    await pipeline.insert(
        [(tenant_t.tenant_id, tenant_t.site_id, sensor, ts, v) for ts, v in points]
    )
    end = start + timedelta(minutes=2)
    result = await api.query(
        TELEMETRY,
        {"s": str(sensor), "f": iso_z(start), "t": iso_z(end), "b": 60},
        as_user=tenant_t.users["viewer"],
    )
    assert result.code is None, result.body
    got = [
        (instant(b["ts"]), b["min"], b["max"], b["avg"], b["count"], b["last"])
        for b in result.data["telemetry"]
    ]
    assert got == expected_buckets(points, start, end, 60)

    # The same instants written with a +08:00 offset select the same range.
    beijing = timezone(timedelta(hours=8))
    shifted = await api.query(
        TELEMETRY,
        {
            "s": str(sensor),
            "f": start.astimezone(beijing).isoformat(),
            "t": end.astimezone(beijing).isoformat(),
            "b": 60,
        },
        as_user=tenant_t.users["owner"],
    )
    assert shifted.code is None, shifted.body
    assert [b["count"] for b in shifted.data["telemetry"]] == [c[4] for c in got]


async def test_telemetry_chooses_a_bucket_when_none_is_given(
    api: GraphQLClient, pipeline: Pipeline, tenant_t: TenantWorld
) -> None:
    sensor = tenant_t.sensor_ids["GT-101"]
    start = hours_ago(30) + timedelta(seconds=17)
    end = hours_ago(6)
    rng = random.Random(7)
    points = sorted(
        (
            start
            + timedelta(milliseconds=rng.randrange(int((end - start).total_seconds() * 1000))),
            round(rng.uniform(0, 60), 3),
        )
        for _ in range(400)
    )
    await pipeline.insert(
        [(tenant_t.tenant_id, tenant_t.site_id, sensor, ts, v) for ts, v in points]
    )
    result = await api.query(
        TELEMETRY,
        {"s": str(sensor), "f": iso_z(start), "t": iso_z(end)},
        as_user=tenant_t.users["owner"],
    )
    assert result.code is None, result.body
    step = readings.default_bucket_seconds(end - start)
    assert step % 60 == 0  # 24 hours: served by the minute rollup and raw edges
    buckets = result.data["telemetry"]
    assert len(buckets) <= readings.DEFAULT_BUCKET_COUNT
    want = expected_buckets(points, start, end, step)
    assert [(instant(b["ts"]), b["count"], b["min"], b["max"], b["last"]) for b in buckets] == [
        (w[0], w[4], w[1], w[2], w[5]) for w in want
    ]
    assert sum(b["count"] for b in buckets) == 400


async def test_graphql_timestamps_are_utc_with_z(
    api: GraphQLClient, pipeline: Pipeline, tenant_t: TenantWorld
) -> None:
    sensor = tenant_t.sensor_ids["TT-201"]
    ts = hours_ago(0) - timedelta(minutes=7, milliseconds=544)  # the latest of the module
    await pipeline.insert([(tenant_t.tenant_id, tenant_t.site_id, sensor, ts, 19.5)])
    beijing = timezone(timedelta(hours=8))
    result = await api.query(
        TELEMETRY,
        {
            "s": str(sensor),
            "f": (ts - timedelta(minutes=1)).astimezone(beijing).isoformat(),
            "t": (ts + timedelta(minutes=9)).astimezone(beijing).isoformat(),
        },
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
    api: GraphQLClient, pipeline: Pipeline, tenant_t: TenantWorld
) -> None:
    sensor = tenant_t.sensor_ids["TT-201"]
    start = hours_ago(8)
    await pipeline.insert(
        [(tenant_t.tenant_id, tenant_t.site_id, sensor, start + timedelta(seconds=1), 30.0)]
    )
    millis = epoch_ms(start)
    result = await api.query(
        TELEMETRY,
        {"s": str(sensor), "f": millis, "t": millis + 60_000, "b": 60},
        as_user=tenant_t.users["owner"],
    )
    assert result.code is None, result.body
    assert [b["count"] for b in result.data["telemetry"]] == [1]


async def test_telemetry_over_the_widest_range(
    api: GraphQLClient, pipeline: Pipeline, tenant_t: TenantWorld
) -> None:
    sensor = tenant_t.sensor_ids["GT-101"]
    await pipeline.insert([(tenant_t.tenant_id, tenant_t.site_id, sensor, hours_ago(40), 1.0)])
    recent = {"s": str(sensor), "f": iso_z(hours_ago(48)), "t": iso_z(hours_ago(-1)), "b": 86400}
    widest = {"s": str(sensor), "f": "1900-01-01T00:00:00Z", "t": "2200-01-01T00:00:00Z"}
    counts = []
    for variables in (recent, widest, {**widest, "b": 2_000_000_000}):
        result = await api.query(TELEMETRY, variables, as_user=tenant_t.users["owner"])
        assert result.code is None, result.body
        counts.append(sum(b["count"] for b in result.data["telemetry"]))
    assert counts[0] >= 1
    assert counts[1] == counts[2] == counts[0]


async def test_telemetry_of_another_tenant_is_not_found(
    api: GraphQLClient, world: World, tenant_t: TenantWorld
) -> None:
    variables = {
        "s": str(tenant_t.sensor_ids["GT-101"]),
        "f": iso_z(hours_ago(24)),
        "t": iso_z(hours_ago(0)),
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
        ("2026-06-02T00:00:00Z", "2026-06-02T00:00:00Z", 60),  # to == from
        ("2026-06-02T00:00:00Z", "2026-06-01T00:00:00Z", 60),  # to < from
        ("2026-06-01T00:00:00", "2026-06-02T00:00:00", 60),  # no zone
        ("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z", 0),
        ("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z", -60),
        ("2020-01-01T00:00:00Z", "2026-06-02T00:00:00Z", 1),  # far too many buckets
        ("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z", 8),  # 10,800 buckets
        ("yesterday", "2026-06-02T00:00:00Z", 60),
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


SENSOR = "query($id: ID!) { sensor(id: $id) { id code kind unit siteId deviceId } }"


async def test_one_sensor_for_its_tenant_and_not_found_for_another(
    api: GraphQLClient, world: World
) -> None:
    """The sensor history page opens one sensor by id; another tenant's id is not found."""
    sensor = world.a.sensor_ids["GT-101"]
    for role in ("owner", "safety_manager", "operator", "viewer"):
        result = await api.query(SENSOR, {"id": str(sensor)}, as_user=world.a.users[role])
        assert result.code is None, (role, result.body)
        assert result.data["sensor"]["code"] == "GT-101"
        assert result.data["sensor"]["siteId"] == str(world.a.site_id)
    for role in ("owner", "safety_manager", "operator", "viewer"):
        result = await api.query(SENSOR, {"id": str(sensor)}, as_user=world.b.users[role])
        assert result.codes == ["NOT_FOUND"], (role, result.body)
    unknown = await api.query(SENSOR, {"id": str(uuid.uuid4())}, as_user=world.a.users["owner"])
    assert unknown.codes == ["NOT_FOUND"]
    anonymous = await api.query(SENSOR, {"id": str(sensor)})
    assert anonymous.codes == ["UNAUTHENTICATED"]

"""Rollups agree with the raw readings, replays are stored once, and the source chosen for a
bucket size covers the range exactly.

Readings go through the production write path (spool → flusher → ClickHouse, with the
flusher's deduplication tokens): see ``tests.telemetry.test_telemetry_query.Pipeline``.
"""

from __future__ import annotations

import itertools
import math
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from backend.runtime import Runtime
from backend.telemetry import readings
from backend.telemetry.query import select_from
from tenants.scope import Scope
from tests.telemetry.test_telemetry_query import (
    Pipeline,
    assert_buckets,
    epoch_ms,
    expected_buckets,
    hours_ago,
)

ROLLUP_TABLES = {60: "readings_1m", 3600: "readings_1h"}
RAW_BUCKET = {60: "toStartOfMinute(ts)", 3600: "toStartOfHour(ts)"}

# (bucket start, min, max, sum, count, last)
Aggregate = tuple[datetime, float, float, float, int, float]


@pytest.fixture
async def pipeline(runtime: Runtime, tmp_path: Path) -> AsyncIterator[Pipeline]:
    pipe = Pipeline(runtime.clickhouse, tmp_path)
    yield pipe
    pipe.close()


def truth(points: list[tuple[datetime, float]], seconds: int) -> list[Aggregate]:
    """Per-bucket aggregates computed in Python from what was sent."""
    grouped: dict[int, list[tuple[int, float]]] = {}
    for ts, value in points:
        ms = epoch_ms(ts)
        grouped.setdefault(ms // (seconds * 1000) * seconds, []).append((ms, value))
    out = []
    for key, rows in sorted(grouped.items()):
        values = [v for _, v in rows]
        last = max(rows)[1]
        out.append(
            (
                datetime.fromtimestamp(key, UTC),
                min(values),
                max(values),
                sum(values),
                len(values),
                last,
            )
        )
    return out


def from_rollup(client: Client, scope: Scope, sensor: uuid.UUID, seconds: int) -> list[Aggregate]:
    rows = (
        select_from(
            scope,
            ROLLUP_TABLES[seconds],
            "bucket",
            "min(min_value)",
            "max(max_value)",
            "sum(sum_value)",
            "sum(count)",
            "argMaxMerge(last_value)",
        )
        .where("sensor_id = {sensor:UUID}", sensor=str(sensor))
        .grouped("bucket")
        .ordered("bucket")
        .run(client)
    )
    return [(ts, mn, mx, total, int(n), last) for ts, mn, mx, total, n, last in rows]


def from_raw(client: Client, scope: Scope, sensor: uuid.UUID, seconds: int) -> list[Aggregate]:
    rows = (
        select_from(
            scope,
            "readings",
            f"{RAW_BUCKET[seconds]} AS start",
            "min(value)",
            "max(value)",
            "sum(value)",
            "count()",
            "argMax(value, ts)",
        )
        .where("sensor_id = {sensor:UUID}", sensor=str(sensor))
        .grouped("start")
        .ordered("start")
        .run(client)
    )
    return [(ts, mn, mx, total, int(n), last) for ts, mn, mx, total, n, last in rows]


def assert_same(got: list[Aggregate], want: list[Aggregate], what: str) -> None:
    assert [g[0] for g in got] == [w[0] for w in want], what
    for g, w in zip(got, want, strict=True):
        ts, mn, mx, total, count, last = g
        assert (mn, mx, count, last) == (w[1], w[2], w[4], w[5]), (what, ts)
        assert math.isclose(total, w[3], rel_tol=1e-9, abs_tol=1e-6), (what, ts)
        assert math.isclose(total / count, w[3] / w[4], rel_tol=1e-9, abs_tol=1e-9), (what, ts)


def counts(client: Client, tenant: uuid.UUID) -> dict[str, int]:
    """Stored rows of one tenant: raw, in each rollup, latest values and "device seen"."""
    scope = Scope.for_tenant(tenant)
    out = {}
    for table, expression in [
        ("readings", "count()"),
        ("readings_1m", "sum(count)"),
        ("readings_1h", "sum(count)"),
        ("sensor_latest", "uniqExact(sensor_id)"),
        ("device_seen", "count()"),
    ]:
        [(value,)] = select_from(scope, table, expression).run(client)
        out[table] = int(value)
    return out


# --- rollups against raw ------------------------------------------------------------------------


class Sent:
    """Random readings of a few sensors over several hours, sent in several flushes."""

    def __init__(self, sensors: int, hours: int, per_sensor: int, seed: int) -> None:
        rng = random.Random(seed)
        self.tenant, self.site = uuid.uuid4(), uuid.uuid4()
        self.start = hours_ago(hours + 1) + timedelta(minutes=rng.randrange(60))
        self.end = self.start + timedelta(hours=hours)
        span_ms = int((self.end - self.start).total_seconds() * 1000)
        self.points: dict[uuid.UUID, list[tuple[datetime, float]]] = {}
        for _ in range(sensors):
            stamps = sorted(rng.sample(range(span_ms), per_sensor))  # distinct: "last" is unique
            self.points[uuid.uuid4()] = [
                (self.start + timedelta(milliseconds=ms), round(rng.uniform(-20, 80), 3))
                for ms in stamps
            ]

    @property
    def total(self) -> int:
        return sum(len(p) for p in self.points.values())

    async def send(self, pipeline: Pipeline, batches: int, seed: int) -> None:
        rows = [
            (self.tenant, self.site, sensor, ts, value)
            for sensor, points in self.points.items()
            for ts, value in points
        ]
        random.Random(seed).shuffle(rows)  # out of order, as devices deliver
        size = math.ceil(len(rows) / batches)
        for index in range(0, len(rows), size):
            await pipeline.insert(rows[index : index + size])


async def test_rollups_agree_with_raw_aggregates(runtime: Runtime, pipeline: Pipeline) -> None:
    client = runtime.clickhouse
    sent = Sent(sensors=3, hours=5, per_sensor=1500, seed=3)
    await sent.send(pipeline, batches=6, seed=4)
    scope = Scope.for_tenant(sent.tenant)

    def check(when: str) -> None:
        for sensor, points in sent.points.items():
            for seconds in (60, 3600):
                want = truth(points, seconds)
                what = f"{when}, {seconds} s"
                assert_same(from_raw(client, scope, sensor, seconds), want, f"raw {what}")
                assert_same(from_rollup(client, scope, sensor, seconds), want, f"rollup {what}")

    check("as inserted")
    for table in ("readings", "readings_1m", "readings_1h"):
        client.command(f"OPTIMIZE TABLE {table} FINAL")
    check("after OPTIMIZE FINAL")
    # Merged: one rollup row per sensor and bucket holds the whole aggregate.
    for seconds, table in ROLLUP_TABLES.items():
        [(rows,)] = select_from(scope, table, "count()").run(client)
        assert rows == sum(len(truth(p, seconds)) for p in sent.points.values())


@pytest.mark.parametrize("step", [60, 300, 3600, 7200, 86400, 45, 1])
async def test_buckets_over_hours_match_the_readings(
    runtime: Runtime, pipeline: Pipeline, step: int
) -> None:
    """Buckets served from rollups (plus raw edges) equal those computed from what was sent,
    for ranges that start and end off the minute."""
    client = runtime.clickhouse
    sent = Sent(sensors=2, hours=4, per_sensor=800, seed=step)
    await sent.send(pipeline, batches=3, seed=step + 1)
    scope = Scope.for_tenant(sent.tenant)
    start = sent.start + timedelta(minutes=7, seconds=13, milliseconds=250)
    end = sent.end - timedelta(minutes=52, seconds=3, milliseconds=1)
    for sensor, points in sent.points.items():
        got = readings.buckets(client, scope, sensor, start, end, step)
        assert_buckets(got, expected_buckets(points, start, end, step))
        assert sum(b.count for b in got) == sum(1 for ts, _ in points if start <= ts < end)


async def test_a_replayed_flush_is_stored_once(runtime: Runtime, pipeline: Pipeline) -> None:
    client = runtime.clickhouse
    sent = Sent(sensors=2, hours=3, per_sensor=400, seed=11)
    await sent.send(pipeline, batches=4, seed=12)
    before = counts(client, sent.tenant)
    assert before["readings"] == before["readings_1m"] == before["readings_1h"] == sent.total
    assert before["sensor_latest"] == 2
    assert before["device_seen"] == 4  # one per batch of data
    sensor = next(iter(sent.points))
    scope = Scope.for_tenant(sent.tenant)
    minute_before = readings.buckets(client, scope, sensor, sent.start, sent.end, 60)

    assert pipeline.replay() == sent.total  # the flusher re-sent every row...
    assert counts(client, sent.tenant) == before  # ...and ClickHouse kept them once
    minute_after = readings.buckets(client, scope, sensor, sent.start, sent.end, 60)
    # The same buckets; a mean is a sum over parts that merges may add in another order.
    assert [replace(b, avg=0.0) for b in minute_after] == [
        replace(b, avg=0.0) for b in minute_before
    ]
    assert [b.avg for b in minute_after] == pytest.approx([b.avg for b in minute_before])

    for table in ("readings", "readings_1m", "readings_1h", "sensor_latest", "device_seen"):
        client.command(f"OPTIMIZE TABLE {table} FINAL")
    assert counts(client, sent.tenant) == before


async def test_a_fresh_spool_is_not_mistaken_for_a_replay(runtime: Runtime, tmp_path: Path) -> None:
    """Two spools that never shared a record (a data directory re-created, or a second server
    writing to the same ClickHouse) must not have one's inserts dropped as the other's
    replays, even when their records sit at the same spool positions."""
    client = runtime.clickhouse
    segment = random.randrange(1_000, 1_000_000_000)
    start = hours_ago(2)
    tenants = [uuid.uuid4(), uuid.uuid4()]
    for index, tenant in enumerate(tenants):
        pipe = Pipeline(client, tmp_path / f"server-{index}", first_segment=segment)
        try:
            rows = [(uuid.uuid4(), start + timedelta(seconds=s), float(s)) for s in range(10)]
            await pipe.readings(tenant, uuid.uuid4(), rows)
            assert pipe.flush() == 10
        finally:
            pipe.close()
    for tenant in tenants:
        stored = counts(client, tenant)
        assert stored["readings"] == 10, f"tenant {tenant}: acknowledged readings were dropped"
        assert stored["readings_1m"] == 10


# --- choosing the source ------------------------------------------------------------------------


def test_plan_reads_whole_rollup_buckets_and_raw_edges() -> None:
    start = datetime(2026, 1, 1, 10, 20, 30, tzinfo=UTC)
    end = datetime(2026, 1, 1, 14, 5, 10, tzinfo=UTC)
    hour, minute = datetime(2026, 1, 1, 11, tzinfo=UTC), datetime(2026, 1, 1, 14, tzinfo=UTC)
    assert [(s.table, a, b) for s, a, b in readings.plan(start, end, 7200)] == [
        ("readings", start, datetime(2026, 1, 1, 10, 21, tzinfo=UTC)),
        ("readings_1m", datetime(2026, 1, 1, 10, 21, tzinfo=UTC), hour),
        ("readings_1h", hour, minute),
        ("readings_1m", minute, datetime(2026, 1, 1, 14, 5, tzinfo=UTC)),
        ("readings", datetime(2026, 1, 1, 14, 5, tzinfo=UTC), end),
    ]
    assert [s.table for s, _, _ in readings.plan(start, end, 120)] == [
        "readings",
        "readings_1m",
        "readings",
    ]
    assert [s.table for s, _, _ in readings.plan(start, end, 90)] == ["readings"]
    aligned = readings.plan(hour, minute, 3600)
    assert [(s.table, a, b) for s, a, b in aligned] == [("readings_1h", hour, minute)]
    assert readings.plan(end, start, 60) == []


@pytest.mark.parametrize("step", [1, 7, 60, 90, 3600, 86400])
def test_plan_covers_the_range_exactly(step: int) -> None:
    rng = random.Random(step)
    for _ in range(200):
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=rng.randrange(10**9))
        end = start + timedelta(milliseconds=rng.randrange(1, 10**9))
        pieces = readings.plan(start, end, step)
        assert pieces[0][1] == start and pieces[-1][2] == end
        for (_, _, previous_end), (_, next_start, _) in itertools.pairwise(pieces):
            assert previous_end == next_start
        for source, a, b in pieces:
            assert a < b
            if source.seconds:  # a rollup piece is whole buckets that divide the output bucket
                assert step % source.seconds == 0
                assert epoch_ms(a) % (source.seconds * 1000) == 0
                assert epoch_ms(b) % (source.seconds * 1000) == 0


@pytest.mark.parametrize(
    "span",
    [
        timedelta(seconds=10),
        timedelta(hours=1),
        timedelta(hours=6),
        timedelta(days=2),
        timedelta(days=365),
        timedelta(days=3650 * 4),
    ],
)
def test_default_bucket_gives_a_few_hundred_buckets(span: timedelta) -> None:
    step = readings.default_bucket_seconds(span)
    assert step >= 1
    assert span.total_seconds() / step <= readings.DEFAULT_BUCKET_COUNT
    if span > timedelta(hours=5):  # long ranges are served by the rollups alone
        assert step % 60 == 0
    if span > timedelta(days=13):
        assert step % 3600 == 0

"""Reading the readings table and its rollups (all reads through the scoped builder).

Time-series buckets are served from the cheapest source that gives exact answers:

* ``readings_1h`` when the bucket size is a multiple of an hour, ``readings_1m`` when it is a
  multiple of a minute, the raw ``readings`` table otherwise;
* the range stays half-open ``[start, end)`` on the readings' own timestamps: a rollup row
  covers a whole minute or hour, so it is used only for the whole minutes/hours inside the
  range, and the ragged edges (a ``start`` or ``end`` that is not on a minute/hour boundary)
  are read from the next finer source. Results are merged per output bucket.

Output buckets are aligned to the Unix epoch in UTC (``toStartOfInterval`` with a second
interval), so each rollup minute or hour falls wholly inside one output bucket.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from backend.core.errors import BadInput
from backend.telemetry.query import select_from
from tenants.scope import Scope

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Ranges are clipped to what ClickHouse's DateTime holds (the rollups' bucket column); no
# reading lies outside it (ingest refuses timestamps from the future).
LATEST_INSTANT = datetime(2106, 1, 1, tzinfo=UTC)


def clip(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    return max(start, EPOCH), min(end, LATEST_INSTANT)


@dataclass(frozen=True)
class Latest:
    ts: datetime
    value: float


@dataclass(frozen=True)
class Bucket:
    ts: datetime
    min: float
    max: float
    avg: float
    count: int
    last: float  # the value with the latest timestamp in the bucket


def latest(
    client: Client, scope: Scope, sensor_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Latest]:
    """The most recent reading of each sensor, from ``sensor_latest`` (one row per sensor after
    merges, so this never scans history)."""
    if not sensor_ids:
        return {}
    rows = (
        select_from(scope, "sensor_latest", "sensor_id", "max(last_ts)", "argMaxMerge(last_value)")
        .where("sensor_id IN {sensor_ids:Array(UUID)}", sensor_ids=[str(s) for s in sensor_ids])
        .grouped("sensor_id")
        .run(client)
    )
    return {sensor_id: Latest(ts, value) for sensor_id, ts, value in rows}


def latest_of_site(
    client: Client, scope: Scope, site_id: uuid.UUID, *, owner: uuid.UUID
) -> dict[uuid.UUID, datetime]:
    """When each sensor of a site (owned by tenant ``owner``) last reported; sensors that never
    reported are absent."""
    rows = (
        select_from(scope, "sensor_latest", "sensor_id", "max(last_ts)")
        .owned_by(owner)
        .where("site_id = {site_id:UUID}", site_id=str(site_id))
        .grouped("sensor_id")
        .run(client)
    )
    return dict(rows)


def reading_count(
    client: Client,
    scope: Scope,
    site_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    owner: uuid.UUID | None = None,
) -> int:
    """Raw readings of one site with ``start <= ts < end`` (only the owning tenant's rows
    when ``owner`` is given)."""
    start, end = clip(start, end)
    if start >= end:
        return 0
    query = select_from(scope, "readings", "count()")
    if owner is not None:
        query.owned_by(owner)
    [(count,)] = (
        query.where("site_id = {site_id:UUID}", site_id=str(site_id))
        .where(
            "ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}",
            start=start,
            end=end,
        )
        .run(client)
    )
    return int(count)


# --- buckets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    table: str
    seconds: int  # the width of one row's bucket; 0 for raw readings


RAW = Source("readings", 0)
MINUTE = Source("readings_1m", 60)
HOUR = Source("readings_1h", 3600)
ROLLUPS = (HOUR, MINUTE)  # coarsest first

# (start, min, max, sum, count, last) of one output bucket from one source.
_Row = tuple[datetime, float, float, float, int, float]


def _floor(ts: datetime, seconds: int) -> datetime:
    step = timedelta(seconds=seconds)
    return EPOCH + (ts - EPOCH) // step * step


def _ceil(ts: datetime, seconds: int) -> datetime:
    floor = _floor(ts, seconds)
    return floor if floor == ts else floor + timedelta(seconds=seconds)


def plan(
    start: datetime, end: datetime, bucket_seconds: int, rollups: Sequence[Source] = ROLLUPS
) -> list[tuple[Source, datetime, datetime]]:
    """The pieces ``[start, end)`` is read from, in time order: the coarsest rollup whose
    bucket divides ``bucket_seconds`` for its whole buckets inside the range, finer sources
    for the edges."""
    if start >= end:
        return []
    for index, source in enumerate(rollups):
        if bucket_seconds % source.seconds:
            continue
        inner_start, inner_end = _ceil(start, source.seconds), _floor(end, source.seconds)
        if inner_start >= inner_end:
            continue
        finer = rollups[index + 1 :]
        return [
            *plan(start, inner_start, bucket_seconds, finer),
            (source, inner_start, inner_end),
            *plan(inner_end, end, bucket_seconds, finer),
        ]
    return [(RAW, start, end)]


def _query_piece(
    client: Client,
    scope: Scope,
    sensor_id: uuid.UUID,
    source: Source,
    start: datetime,
    end: datetime,
    bucket_seconds: int,
    owner: uuid.UUID | None,
) -> list[tuple[Any, ...]]:
    if source is RAW:
        columns = [
            "toStartOfInterval(ts, toIntervalSecond({step:UInt32})) AS start",
            "min(value)",
            "max(value)",
            "sum(value)",
            "count()",
            "argMax(value, ts)",
        ]
        time_range = "ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}"
    else:
        columns = [
            "toStartOfInterval(bucket, toIntervalSecond({step:UInt32})) AS start",
            "min(min_value)",
            "max(max_value)",
            "sum(sum_value)",
            "sum(count)",
            "argMaxMerge(last_value)",
        ]
        # Whole rollup buckets only: the planner hands this source aligned bounds.
        time_range = "bucket >= {start:DateTime('UTC')} AND bucket < {end:DateTime('UTC')}"
    query = select_from(scope, source.table, *columns)
    if owner is not None:
        query.owned_by(owner)
    return (
        query.where("sensor_id = {sensor_id:UUID}", sensor_id=str(sensor_id))
        .where(time_range, start=start, end=end)
        .bind(step=bucket_seconds)
        .grouped("start")
        .ordered("start")
        .run(client)
    )


def buckets(
    client: Client,
    scope: Scope,
    sensor_id: uuid.UUID,
    start: datetime,
    end: datetime,
    bucket_seconds: int,
    *,
    owner: uuid.UUID | None = None,
) -> list[Bucket]:
    """Aggregates of one sensor over ``[start, end)`` in epoch-aligned buckets, oldest first;
    buckets without readings are absent. ``owner``: only the owning tenant's rows."""
    if bucket_seconds <= 0:
        raise BadInput("bucket_seconds must be positive")
    start, end = clip(start, end)
    merged: dict[datetime, list[Any]] = {}
    for source, piece_start, piece_end in plan(start, end, bucket_seconds):
        rows = _query_piece(
            client, scope, sensor_id, source, piece_start, piece_end, bucket_seconds, owner
        )
        for ts, mn, mx, total, count, last in rows:
            key = ts.astimezone(UTC)
            acc = merged.get(key)
            if acc is None:
                merged[key] = [mn, mx, total, int(count), last]
            else:  # pieces come in time order, so a later piece holds the later "last"
                acc[0], acc[1] = min(acc[0], mn), max(acc[1], mx)
                acc[2] += total
                acc[3] += int(count)
                acc[4] = last
    return [
        Bucket(ts, mn, mx, total / count, count, last)
        for ts, (mn, mx, total, count, last) in sorted(merged.items())
    ]


# Bucket sizes offered when the caller does not choose one; from a minute up each is a
# multiple of 60 (and from an hour of 3600), so long ranges are served by the rollups.
NICE_BUCKETS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    2 * 86400,
    7 * 86400,
    30 * 86400,
)
DEFAULT_BUCKET_COUNT = 300


def default_bucket_seconds(span: timedelta, target: int = DEFAULT_BUCKET_COUNT) -> int:
    """The smallest "nice" bucket giving at most about ``target`` buckets over ``span``."""
    wanted = span.total_seconds() / target
    for seconds in NICE_BUCKETS:
        if seconds >= wanted:
            return seconds
    return math.ceil(wanted / 86400) * 86400

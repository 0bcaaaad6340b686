"""Reading and writing the readings table (all through the scoped builder for reads)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from clickhouse_connect.driver.client import Client

from backend.telemetry.query import select_from
from tenants.scope import Scope

READING_COLUMNS = ["tenant_id", "site_id", "sensor_id", "ts", "value"]


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


def insert_columns(
    client: Client,
    columns: tuple[
        Sequence[uuid.UUID],
        Sequence[uuid.UUID],
        Sequence[uuid.UUID],
        Sequence[datetime],
        Sequence[float],
    ],
    *,
    dedup_token: str | None = None,
) -> int:
    """One columnar insert; the caller vouches the rows were validated against the registry."""
    settings = {}
    if dedup_token is not None:
        settings = {
            "insert_deduplication_token": dedup_token,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
        }
    client.insert(
        "readings",
        list(columns),
        column_names=READING_COLUMNS,
        column_oriented=True,
        settings=settings,
    )
    return len(columns[0])


def latest(
    client: Client, scope: Scope, sensor_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Latest]:
    if not sensor_ids:
        return {}
    rows = (
        select_from(scope, "readings", "sensor_id", "max(ts)", "argMax(value, ts)")
        .where("sensor_id IN {sensor_ids:Array(UUID)}", sensor_ids=[str(s) for s in sensor_ids])
        .grouped("sensor_id")
        .run(client)
    )
    return {sensor_id: Latest(ts, value) for sensor_id, ts, value in rows}


def buckets(
    client: Client,
    scope: Scope,
    sensor_id: uuid.UUID,
    start: datetime,
    end: datetime,
    bucket_seconds: int,
) -> list[Bucket]:
    rows = (
        select_from(
            scope,
            "readings",
            "toStartOfInterval(ts, toIntervalSecond({bucket:UInt32})) AS bucket",
            "min(value)",
            "max(value)",
            "avg(value)",
            "count()",
        )
        .where("sensor_id = {sensor_id:UUID}", sensor_id=str(sensor_id))
        .where(
            "ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}",
            start=start,
            end=end,
        )
        .bind(bucket=bucket_seconds)
        .grouped("bucket")
        .ordered("bucket")
        .run(client)
    )
    return [Bucket(ts, mn, mx, avg, int(n)) for ts, mn, mx, avg, n in rows]

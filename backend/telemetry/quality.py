"""Data quality (数据质量) of many sites at once: what their devices and sensors last sent, and
which sensors sent one value only over the last hours.

Each function is one ClickHouse query for a whole set of sites, whatever their number (a
regulator's division), keyed by (owning tenant, id) so a regulator's wider scope never mixes
rows another tenant wrote under the same ids. The rules that turn these figures into problems
live with the regulators (``backend.oversight.quality``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from clickhouse_connect.driver.client import Client

from backend.telemetry.query import select_from
from backend.telemetry.readings import Latest
from tenants.scope import Scope

Key = tuple[uuid.UUID, uuid.UUID]  # (owning tenant, device or sensor)


def _site_ids(site_ids: Collection[uuid.UUID]) -> list[str]:
    return sorted(str(s) for s in site_ids)


def devices_last_seen_in(
    client: Client, scope: Scope, site_ids: Collection[uuid.UUID]
) -> dict[Key, datetime]:
    """When each device of ``site_ids`` was last heard from (a heartbeat or a batch of data);
    devices never heard from are absent. ``device_last_seen`` holds a row per device."""
    if not site_ids:
        return {}
    rows = (
        select_from(scope, "device_last_seen", "tenant_id", "device_id", "max(last_seen)")
        .where("site_id IN {site_ids:Array(UUID)}", site_ids=_site_ids(site_ids))
        .grouped("tenant_id", "device_id")
        .run(client)
    )
    return {(tenant, device): ts.astimezone(UTC) for tenant, device, ts in rows}


def latest_in(client: Client, scope: Scope, site_ids: Collection[uuid.UUID]) -> dict[Key, Latest]:
    """The most recent reading of each sensor of ``site_ids``; sensors that never reported
    are absent. ``sensor_latest`` holds a row per sensor, so this never scans history."""
    if not site_ids:
        return {}
    rows = (
        select_from(
            scope,
            "sensor_latest",
            "tenant_id",
            "sensor_id",
            "max(last_ts)",
            "argMaxMerge(last_value)",
        )
        .where("site_id IN {site_ids:Array(UUID)}", site_ids=_site_ids(site_ids))
        .grouped("tenant_id", "sensor_id")
        .run(client)
    )
    return {
        (tenant, sensor): Latest(ts.astimezone(UTC), value) for tenant, sensor, ts, value in rows
    }


@dataclass(frozen=True)
class Flatline:
    since: datetime  # the start of the first minute of the window holding a reading
    value: float
    readings: int


def flatlines(
    client: Client,
    scope: Scope,
    site_ids: Collection[uuid.UUID],
    *,
    now: datetime,
    window_seconds: int,
    min_readings: int,
) -> dict[Key, Flatline]:
    """The sensors of ``site_ids`` that sent at least ``min_readings`` readings over the last
    ``window_seconds`` and all of them the same value (the smallest equals the largest).

    Read from the one-minute rollup, grouped by sensor: the window starts at the minute that
    holds ``now - window_seconds`` (so it may reach back up to a minute further) and ends with
    the latest reading."""
    if not site_ids:
        return {}
    start = now.astimezone(UTC) - timedelta(seconds=window_seconds)
    start = start.replace(second=0, microsecond=0)
    rows = (
        select_from(
            scope,
            "readings_1m",
            "tenant_id",
            "sensor_id",
            "min(bucket)",
            "min(min_value) AS low",
            "max(max_value) AS high",
            "sum(count) AS n",
        )
        .where("site_id IN {site_ids:Array(UUID)}", site_ids=_site_ids(site_ids))
        .where("bucket >= {start:DateTime('UTC')}", start=start)
        .grouped("tenant_id", "sensor_id")
        .keeping("n >= {min_readings:UInt64}", min_readings=min_readings)
        .keeping("low = high")
        .run(client)
    )
    return {
        (tenant, sensor): Flatline(since.astimezone(UTC), float(low), int(n))
        for tenant, sensor, since, low, _high, n in rows
    }

"""Synthetic history for benchmarks: hours of readings written straight into the hourly rollup.

A month of minute readings for a province's sensors would be billions of raw rows; what reads
a month (the regulators' online-rate history) reads ``readings_1h`` only. So ``anjian bench
oversight`` writes the older hours here, as the rollup's view would have aggregated them (60
readings an hour of one value), and the recent hours as raw readings through the flusher's
insert (``backend.telemetry.flusher.insert_readings``). Values and gaps come from a hash of the
sensor and the hour, so a run is reproducible and needs no data from Python per row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

_HOURLY = """
INSERT INTO readings_1h
SELECT tenant_id, any(site_id), sensor_id, bucket, min(v), max(v), sum(v) * 60,
       toUInt64(60 * count()), argMaxState(v, toDateTime64(bucket, 3, 'UTC') + 3540),
       toUInt16({retention_days:UInt16})
FROM (
    SELECT s.1 AS tenant_id, s.2 AS site_id, s.3 AS sensor_id,
           toDateTime({start:DateTime('UTC')}, 'UTC') + toIntervalHour(number) AS bucket,
           20 + (cityHash64(sensor_id, number) % 1000) / 100 AS v
    FROM (SELECT arrayJoin(arrayZip({tenants:Array(UUID)}, {sites:Array(UUID)},
                                    {sensors:Array(UUID)})) AS s) AS points
    CROSS JOIN numbers({hours:UInt32}) AS hours
    WHERE cityHash64(sensor_id, number, 'gap') % 1000 >= {gap_permille:UInt32}
)
GROUP BY tenant_id, sensor_id, bucket
"""


def write_hourly_history(
    client: Client,
    sensors: Sequence[tuple[uuid.UUID, uuid.UUID, uuid.UUID]],
    *,
    start: datetime,
    hours: int,
    gap_permille: int,
    retention_days: int = 365,
) -> None:
    """Write ``hours`` hourly rollup rows from ``start`` (a whole hour) for each of ``sensors``
    ((tenant, site, sensor)), leaving out about ``gap_permille`` / 1000 of the sensor-hours
    (hours without a reading)."""
    if start.minute or start.second or start.microsecond:
        raise ValueError("the history starts at a whole hour")
    if not 0 <= gap_permille <= 1000:
        raise ValueError("gap_permille is between 0 and 1000")
    if not sensors or hours <= 0:
        return
    client.command(
        _HOURLY,
        parameters={
            "tenants": [str(t) for t, _, _ in sensors],
            "sites": [str(s) for _, s, _ in sensors],
            "sensors": [str(s) for _, _, s in sensors],
            "start": start.astimezone(UTC).replace(tzinfo=None),
            "hours": hours,
            "gap_permille": gap_permille,
            "retention_days": retention_days,
        },
    )


def table_rows(client: Client, table: str) -> int:
    """The rows of one of the readings tables (before merges: an aggregating table's parts may
    still hold a group twice)."""
    if table not in _COUNTED:
        raise ValueError(f"not a readings table: {table!r}")
    return int(client.command(f"SELECT count() FROM {table}"))


_COUNTED = frozenset({"readings", "readings_1m", "readings_1h", "sensor_latest", "device_seen"})

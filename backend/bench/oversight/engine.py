"""The ClickHouse side of ``anjian bench oversight``, in a process of its own (only one process
may open a chdb directory, and the server opens it later):

* ``build``: the recent hours as raw readings, one reading a minute per sensor, inserted as the
  flusher inserts them (``backend.telemetry.flusher.insert_readings``: Native blocks, with the
  rollups and latest values filled by their views, and a device-seen row per record), then
  topped up to the current minute; and the older hours of the month straight into the hourly
  rollup (``backend.telemetry.synthetic``);
* ``measure``: the ClickHouse queries behind each GraphQL field, run directly through
  clickhouse-connect with the regulator's scope, for the ratio of the server to the engine.

``python -m backend.bench.oversight.engine build|measure DATA_DIR SCALE [HOURS|REPEAT]``
prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from backend.bench.oversight.world import (
    LEVELS,
    OFFLINE_FOR,
    OUT_OF_RANGE_FOR,
    RAW_HOURS,
    STALE_FOR,
    World,
    kind_range,
    plan,
)
from backend.core.settings import load_settings
from backend.oversight.notices.service import CHINA_TIME
from backend.oversight.quality import FLATLINE_MIN_READINGS, FLATLINE_WINDOW_SECONDS
from backend.telemetry import flusher, records, status, store, synthetic
from backend.telemetry import quality as telemetry_quality
from tenants.scope import Scope

HISTORY_DAYS = 30
BLOCK_READINGS = 1_000_000
HISTORY_CHUNK = 2_000  # sensors per INSERT … SELECT
HISTORY_GAP_PERMILLE = 20
OFFLINE_AFTER_SECONDS = 300
RETENTION_DAYS = 365


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


class _Readings:
    """Every sensor's readings, a minute at a time, as arrays per device. The unhealthy ones
    go wrong relative to ``end``, the end of the planned hours: the silent stay silent and the
    saturated stay at the top while the world is topped up past it."""

    def __init__(self, world: World, end: datetime) -> None:
        self.end_ms = int(end.timestamp() * 1000)
        self.devices = world.devices
        self.per_device = len(self.devices[0][1].sensors) if self.devices else 0
        ids = [[s.id.bytes for s in d.sensors] for _, d in self.devices]
        self.sensor_ids = np.frombuffer(b"".join(b for row in ids for b in row), dtype="V16")
        self.sensor_ids = self.sensor_ids.reshape(len(self.devices), self.per_device)
        flags = [[(s.stale, s.flat, s.out_of_range) for s in d.sensors] for _, d in self.devices]
        shaped = np.array(flags, dtype=bool).reshape(len(self.devices), self.per_device, 3)
        self.stale, self.flat, self.out_of_range = shaped[..., 0], shaped[..., 1], shaped[..., 2]
        self.offline = np.array([d.offline for _, d in self.devices], dtype=bool)
        # Each sensor reports at its own second of the minute, as real transmitters drift.
        self.offset_ms = (np.arange(self.sensor_ids.size).reshape(self.sensor_ids.shape) * 7919) % (
            59_000
        )
        self.retention = RETENTION_DAYS
        self.high = kind_range()[1]

    def records(
        self, first: int, last: int, minutes: np.ndarray, rng: np.random.Generator
    ) -> list[records.ReadingsRecord]:
        """The readings records of devices ``first`` to ``last`` over ``minutes`` (epoch ms)."""
        out = []
        m = len(minutes)
        for index in range(first, last):
            site, device = self.devices[index]
            ts = minutes[:, None] + self.offset_ms[index][None, :]
            keep = np.ones(ts.shape, dtype=bool)
            if self.offline[index]:
                keep &= ts <= self.end_ms - OFFLINE_FOR.total_seconds() * 1000
            keep &= ~(
                self.stale[index][None, :] & (ts > self.end_ms - STALE_FOR.total_seconds() * 1000)
            )
            values = 20.0 + rng.normal(0.0, 1.5, size=(m, self.per_device)).round(2)
            values[:, self.flat[index]] = 25.0
            late = ts > self.end_ms - OUT_OF_RANGE_FOR.total_seconds() * 1000
            values[late & self.out_of_range[index][None, :]] = self.high
            if not keep.any():
                continue
            out.append(
                records.ReadingsRecord(
                    tenant_id=site.tenant_id.bytes,
                    site_id=site.id.bytes,
                    device_id=device.id.bytes,
                    batch_id=device.id.bytes,
                    retention_days=self.retention,
                    sensor_ids=np.broadcast_to(self.sensor_ids[index], (m, self.per_device))[keep],
                    ts_ms=ts[keep].astype(np.int64),
                    values=values[keep],
                )
            )
        return out


def _insert_minutes(
    client: Any,
    readings: _Readings,
    start_ms: int,
    end_ms: int,
    token: str,
    advance: Callable[[int], None],
) -> int:
    """The readings of every minute from ``start_ms`` up to ``end_ms`` (excluded), in blocks
    of about ``BLOCK_READINGS``; returns the readings inserted."""
    rng = np.random.default_rng(start_ms)
    total = 0
    devices = len(readings.devices)
    per_hour = 60 * readings.per_device
    group = max(1, BLOCK_READINGS // max(per_hour, 1))
    hour_ms = 3_600_000
    for hour in range(start_ms, end_ms, hour_ms):
        minutes = np.arange(hour, min(hour + hour_ms, end_ms), 60_000, dtype=np.int64)
        for first in range(0, devices, group):
            last = min(devices, first + group)
            run = readings.records(first, last, minutes, rng)
            if run:
                total += flusher.insert_readings(client, run, f"{token}:{hour}:{first}")
            advance(int(len(minutes) * readings.per_device * (last - first)))
    return total


def build(data_dir: Path, scale: float, raw_hours: int) -> dict[str, object]:
    settings = load_settings(
        {"ANJIAN_DATA_DIR": str(data_dir), "ANJIAN_ENV_FILE": str(data_dir / "none.env")}
    )
    client = store.open_client(settings)
    world = plan(scale)
    figures: dict[str, object] = {}
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(hours=raw_hours)
    # The older hours of the month, up to the hour the raw readings begin in, first: the
    # raw readings end at the current minute, and the server starts right after them.
    first_raw_hour = start.replace(minute=0)
    history_start = (end - timedelta(days=HISTORY_DAYS)).replace(minute=0)
    hours = int((first_raw_hour - history_start) / timedelta(hours=1))
    points = [(s.tenant_id, s.id, x.id) for s, d in world.devices for x in d.sensors]
    before = synthetic.table_rows(client, "readings_1h")
    started = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("hourly history", total=len(points) * hours)
        for i in range(0, len(points), HISTORY_CHUNK):
            chunk = points[i : i + HISTORY_CHUNK]
            synthetic.write_hourly_history(
                client,
                chunk,
                start=history_start,
                hours=hours,
                gap_permille=HISTORY_GAP_PERMILLE,
                retention_days=RETENTION_DAYS,
            )
            progress.advance(task, len(chunk) * hours)
    figures["history_s"] = round(time.perf_counter() - started, 1)
    figures["history_rows"] = synthetic.table_rows(client, "readings_1h") - before
    figures["history_hours"] = hours
    readings = _Readings(world, end)
    planned = raw_hours * 60 * world.sensors
    started = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("raw readings", total=planned)
        inserted = _insert_minutes(
            client,
            readings,
            int(start.timestamp() * 1000),
            int(end.timestamp() * 1000),
            "bench:raw",
            lambda n: progress.advance(task, n),
        )
    figures["raw_s"] = round(time.perf_counter() - started, 1)
    # The world kept reporting while it was written: the minutes since, until caught up.
    top_up_started = time.perf_counter()
    caught_up = end
    while (now := datetime.now(UTC).replace(second=0, microsecond=0)) > caught_up:
        inserted += _insert_minutes(
            client,
            readings,
            int(caught_up.timestamp() * 1000),
            int(now.timestamp() * 1000),
            f"bench:top-up:{caught_up.isoformat()}",
            lambda n: None,
        )
        caught_up = now
    figures["top_up_s"] = round(time.perf_counter() - top_up_started, 1)
    figures["raw_readings"] = inserted
    figures["reported_until"] = caught_up.isoformat()
    figures["readings_rows"] = synthetic.table_rows(client, "readings")
    store.close_clients()
    return figures


def _timed(call: Callable[[], object], repeat: int) -> float:
    """The median milliseconds of ``repeat`` calls, after one unmeasured."""
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - started))
    return round(median(times), 2)


def measure(data_dir: Path, scale: float, repeat: int) -> dict[str, dict[str, float]]:
    """Per level, the median milliseconds of the ClickHouse queries behind each GraphQL
    field, as the server would send them for that regulator."""
    settings = load_settings(
        {"ANJIAN_DATA_DIR": str(data_dir), "ANJIAN_ENV_FILE": str(data_dir / "none.env")}
    )
    client = store.open_client(settings)
    world = plan(scale)
    now = datetime.now(UTC)
    out: dict[str, dict[str, float]] = {}
    for level, code in LEVELS:
        sites = world.inside(code)
        site_ids = {s.id for s in sites}
        scope = Scope(
            jurisdictions=frozenset({code}),
            jurisdiction_tenant_ids=frozenset(s.tenant_id for s in sites),
        )
        first_day = now.astimezone(CHINA_TIME).date() - timedelta(days=HISTORY_DAYS - 1)

        def online(scope: Scope = scope) -> object:
            return status.online_sensors_by_site(
                client, scope, now=now, offline_after_seconds=OFFLINE_AFTER_SECONDS
            )

        def quality(scope: Scope = scope, site_ids: set[Any] = site_ids) -> object:
            telemetry_quality.devices_last_seen_in(client, scope, site_ids)
            telemetry_quality.latest_in(client, scope, site_ids)
            return telemetry_quality.flatlines(
                client,
                scope,
                site_ids,
                now=now,
                window_seconds=FLATLINE_WINDOW_SECONDS,
                min_readings=FLATLINE_MIN_READINGS,
            )

        def history(
            scope: Scope = scope, site_ids: set[Any] = site_ids, first_day: date = first_day
        ) -> object:
            return status.reported_hours_by_day(
                client, scope, site_ids=site_ids, first_day=first_day
            )

        out[level] = {
            "online": _timed(online, repeat),
            "quality": _timed(quality, repeat),
            "history": _timed(history, repeat),
        }
    store.close_clients()
    return out


def main(argv: list[str]) -> None:
    command, data_dir, scale = argv[0], Path(argv[1]), float(argv[2])
    if command == "build":
        result: object = build(data_dir, scale, int(argv[3]) if len(argv) > 3 else RAW_HOURS)
    elif command == "measure":
        result = measure(data_dir, scale, int(argv[3]))
    else:
        raise SystemExit(f"unknown command {command!r}: build or measure")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Data quality (数据质量) of a jurisdiction: the measuring points whose data cannot be trusted,
for regulators to chase until the division's online rate holds (``REQUIRED_ONLINE_RATE``).

The points are the registry's sensors of devices not revoked at the sites inside the division
(as for ``backend.oversight.overview``). Each sensor with a problem is listed once, under the
first of these that holds (the earlier explains the later: a silent device also leaves its
sensors silent):

* ``OFFLINE_DEVICE`` — its device was not heard from (a heartbeat or a batch of data,
  ``device_last_seen``) for more than ``offline_after_seconds``, or never; ``since`` is when it
  was last heard from (null: never);
* ``STALE`` — the device is heard from but the sensor has no reading for more than
  ``offline_after_seconds``, or never reported; ``since`` is its latest reading (null: never);
* ``OUT_OF_RANGE`` — its latest value sits where a healthy transmitter does not: at or above
  the top of the sensor's measuring range (saturated: the true value is unknown), at the bottom
  of a range that does not start at zero (an open circuit reads its floor; a gas detector's
  zero is an ordinary reading), or outside the kind's catalogue range
  (``backend/telemetry/kinds.json``, a sensors file may widen it). Ingest refuses values
  outside the sensor's own range, so nothing stored lies beyond it; ``since`` is that reading;
* ``FLATLINE`` — at least ``FLATLINE_MIN_READINGS`` readings over the last
  ``FLATLINE_WINDOW_SECONDS`` (3 hours), all with one value (a stuck transmitter or a gateway
  repeating its last frame); ``since`` is the start of the first minute of the window holding
  one of them.

The counts are those of the whole division, not of one page: ``stale``, ``flatline`` and
``out_of_range`` count the points so listed, ``offline_devices`` the devices behind the
``OFFLINE_DEVICE`` points. The cost does not grow in queries with the sites: one relational
query for the sensors, three ClickHouse queries (``backend.telemetry.quality``).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth import service as auth_service
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, NotFound
from backend.oversight.overview import regulated_division
from backend.oversight.service import gov_domain
from backend.telemetry import kinds
from backend.telemetry import quality as telemetry_quality
from backend.telemetry.models import Device, Sensor
from backend.telemetry.status import is_online
from tenants.divisions import division_prefix
from tenants.models import Site

FLATLINE_WINDOW_SECONDS = 3 * 3600
FLATLINE_MIN_READINGS = 10
POINTS_MAX = 500


class Problem(enum.Enum):
    OFFLINE_DEVICE = "OFFLINE_DEVICE"
    STALE = "STALE"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    FLATLINE = "FLATLINE"


_ORDER = {p: i for i, p in enumerate(Problem)}


@dataclass(frozen=True)
class _SensorRow:
    id: uuid.UUID
    tenant_id: uuid.UUID
    site_id: uuid.UUID
    device_id: uuid.UUID
    code: str
    kind: str
    gas: str | None
    min_value: float
    max_value: float
    site_name: str


@dataclass(frozen=True)
class Point:
    sensor: Sensor
    site: Site
    problem: Problem
    since: datetime | None
    last_seen: datetime | None
    last_value: float | None


@dataclass(frozen=True)
class DataQuality:
    division_code: str
    sensors: int
    stale: int
    flatline: int
    out_of_range: int
    offline_devices: int
    points: list[Point]


def kind_range(kind: str, gas: str | None) -> tuple[float, float] | None:
    """The catalogue's physical range of a kind (of its gas for toxic gas); None if unknown."""
    spec = kinds.catalog().get(kind)
    if spec is None:
        return None
    if gas is not None and gas in spec.get("gases", {}):
        spec = spec["gases"][gas]
    return float(spec["min"]), float(spec["max"])


def out_of_range(value: float, *, low: float, high: float, kind: str, gas: str | None) -> bool:
    """The rule of ``OUT_OF_RANGE`` for a sensor measuring ``[low, high]``."""
    if value >= high or (low != 0 and value <= low):
        return True
    catalogue = kind_range(kind, gas)
    return catalogue is not None and not catalogue[0] <= value <= catalogue[1]


async def _sensors_inside(*, session: AsyncSession, prefix: str) -> list[_SensorRow]:
    rows = await session.execute(
        select(
            Sensor.id,
            Sensor.tenant_id,
            Sensor.site_id,
            Sensor.device_id,
            Sensor.code,
            Sensor.kind,
            Sensor.gas,
            Sensor.min_value,
            Sensor.max_value,
            Site.name,
        )
        .join(Device, Device.id == Sensor.device_id)
        .join(Site, Site.id == Sensor.site_id)
        .where(Device.revoked_at.is_(None), Site.division_code.startswith(prefix))
    )
    return [_SensorRow(*row) for row in rows]


@dataclass(frozen=True)
class _Found:
    row: _SensorRow
    problem: Problem
    since: datetime | None
    last_seen: datetime | None
    last_value: float | None


def _order(found: _Found) -> tuple[int, str, str, str]:
    return (_ORDER[found.problem], found.row.site_name, found.row.code, str(found.row.id))


async def data_quality(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    client: Any,  # the telemetry store's client, handed to backend.telemetry
    division_code: str | None,
    offline_after_seconds: int,
    first: int = 100,
    after: uuid.UUID | None = None,
    clock: Clock = WALL_CLOCK,
) -> DataQuality:
    """The data quality of a division of the caller's jurisdiction (their own without a
    code): its counts and a page of ``first`` (1 to 500) problem points after the sensor
    ``after``, ordered by problem (as listed above), site name, sensor code. ``NotFound`` for
    a caller who regulates nothing."""
    if not 1 <= first <= POINTS_MAX:
        raise BadInput(f"first must be between 1 and {POINTS_MAX}", field="first")
    code = regulated_division(principal, division_code)
    if code is None:
        raise NotFound("no jurisdiction: you regulate no division")
    auth_service.require(authz, principal, gov_domain(code), "telemetry", "read")
    now = clock.now()
    sensors = await _sensors_inside(session=session, prefix=division_prefix(code))
    site_ids = {s.site_id for s in sensors}
    seen, latest, flat = {}, {}, {}
    if sensors:
        scope = principal.scope
        seen = await anyio.to_thread.run_sync(
            telemetry_quality.devices_last_seen_in, client, scope, site_ids
        )
        latest = await anyio.to_thread.run_sync(
            telemetry_quality.latest_in, client, scope, site_ids
        )
        flat = await anyio.to_thread.run_sync(
            partial(
                telemetry_quality.flatlines,
                now=now,
                window_seconds=FLATLINE_WINDOW_SECONDS,
                min_readings=FLATLINE_MIN_READINGS,
            ),
            client,
            scope,
            site_ids,
        )
    found: list[_Found] = []
    for s in sensors:
        heard = seen.get((s.tenant_id, s.device_id))
        last = latest.get((s.tenant_id, s.id))
        last_ts = None if last is None else last.ts
        last_value = None if last is None else last.value
        flatline = flat.get((s.tenant_id, s.id))
        problem: Problem | None = None
        since: datetime | None = None
        if not is_online(heard, now, offline_after_seconds):
            problem, since = Problem.OFFLINE_DEVICE, heard
        elif not is_online(last_ts, now, offline_after_seconds):
            problem, since = Problem.STALE, last_ts
        elif last is not None and out_of_range(
            last.value, low=s.min_value, high=s.max_value, kind=s.kind, gas=s.gas
        ):
            problem, since = Problem.OUT_OF_RANGE, last_ts
        elif flatline is not None:
            problem, since = Problem.FLATLINE, flatline.since
        if problem is not None:
            found.append(_Found(s, problem, since, last_ts, last_value))
    found.sort(key=_order)
    start = 0
    if after is not None:
        position = next((i for i, f in enumerate(found) if f.row.id == after), None)
        if position is None:
            raise NotFound(f"sensor {after} not found")
        start = position + 1
    page = found[start : start + first]
    points: list[Point] = []
    if page:
        sensor_rows = await session.scalars(
            select(Sensor).where(Sensor.id.in_([f.row.id for f in page]))
        )
        by_sensor = {x.id: x for x in sensor_rows}
        site_rows = await session.scalars(
            select(Site).where(Site.id.in_({f.row.site_id for f in page}))
        )
        by_site = {x.id: x for x in site_rows}
        points = [
            Point(
                sensor=by_sensor[f.row.id],
                site=by_site[f.row.site_id],
                problem=f.problem,
                since=f.since,
                last_seen=f.last_seen,
                last_value=f.last_value,
            )
            for f in page
            if f.row.id in by_sensor and f.row.site_id in by_site
        ]
    counted = {p: 0 for p in Problem}
    for f in found:
        counted[f.problem] += 1
    return DataQuality(
        division_code=code,
        sensors=len(sensors),
        stale=counted[Problem.STALE],
        flatline=counted[Problem.FLATLINE],
        out_of_range=counted[Problem.OUT_OF_RANGE],
        offline_devices=len(
            {
                (f.row.tenant_id, f.row.device_id)
                for f in found
                if f.problem is Problem.OFFLINE_DEVICE
            }
        ),
        points=points,
    )

"""Device and sensor status: online/offline, and each site's sensor online rate (在线率).

* A device is online when it was last heard from (a heartbeat or a batch of data, recorded in
  ``device_last_seen``) at most ``offline_after_seconds`` ago.
* A sensor is online when its latest reading (``sensor_latest``) is at most that old.
* A site's online rate is online sensors / all sensors of the site. The sensors are the
  relational registry's (what the site declared it monitors), not what happened to report, so
  a sensor that never sent anything counts as offline. Sensors of revoked devices are
  decommissioned and count in neither total.

Regulators require a rate of at least 99.5 % (``REQUIRED_ONLINE_RATE``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial

import anyio
from clickhouse_connect.driver.client import Client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.clock import WALL_CLOCK, Clock
from backend.telemetry import readings
from backend.telemetry.models import Device, Sensor
from backend.telemetry.query import select_from
from tenants.models import Site
from tenants.scope import Scope

# The zone sensor_hours_1d cuts days in (migrations/clickhouse/0003): the regulators' days.
DAY_ZONE = "Asia/Shanghai"
REQUIRED_ONLINE_RATE = 0.995


@dataclass(frozen=True)
class DeviceStatus:
    id: uuid.UUID
    name: str
    online: bool
    last_seen: datetime | None


@dataclass(frozen=True)
class SiteStatus:
    site_id: uuid.UUID
    as_of: datetime
    offline_after_seconds: int
    sensors_total: int
    sensors_online: int
    devices: list[DeviceStatus]

    @property
    def devices_total(self) -> int:
        return len(self.devices)

    @property
    def devices_online(self) -> int:
        return sum(1 for d in self.devices if d.online)

    @property
    def online_rate(self) -> float | None:
        """Online sensors / all sensors; None for a site without sensors."""
        if not self.sensors_total:
            return None
        return self.sensors_online / self.sensors_total


def is_online(last: datetime | None, now: datetime, offline_after_seconds: int) -> bool:
    return last is not None and now - last <= timedelta(seconds=offline_after_seconds)


def devices_last_seen(
    client: Client, scope: Scope, site_id: uuid.UUID, *, owner: uuid.UUID
) -> dict[uuid.UUID, datetime]:
    """When each device of a site (owned by tenant ``owner``) was last heard from; devices
    never heard from are absent."""
    rows = (
        select_from(scope, "device_last_seen", "device_id", "max(last_seen)")
        .owned_by(owner)
        .where("site_id = {site_id:UUID}", site_id=str(site_id))
        .grouped("device_id")
        .run(client)
    )
    return dict(rows)


async def device_presence(
    *,
    client: Client,
    scope: Scope,
    site: Site,
    devices: list[Device],
    offline_after_seconds: int,
    clock: Clock = WALL_CLOCK,
) -> dict[uuid.UUID, DeviceStatus]:
    """Each of a site's ``devices``: when it was last heard from and whether it is online, by
    the rule of ``site_status`` and from the same one ClickHouse query. A revoked device is
    never online: its token is refused, whatever it last sent."""
    seen = await anyio.to_thread.run_sync(
        partial(devices_last_seen, owner=site.tenant_id), client, scope, site.id
    )
    at = clock.now().astimezone(UTC)
    return {
        d.id: DeviceStatus(
            id=d.id,
            name=d.name,
            online=d.revoked_at is None and is_online(seen.get(d.id), at, offline_after_seconds),
            last_seen=seen.get(d.id),
        )
        for d in devices
    }


def online_sensors_by_site(
    client: Client,
    scope: Scope,
    *,
    now: datetime,
    offline_after_seconds: int,
    leaving_out: Collection[uuid.UUID] = (),
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """How many sensors of each site of the scope's tenants are online at ``now`` (their
    latest reading at most ``offline_after_seconds`` old, the rule of ``site_status``), keyed
    by (owning tenant, site); sites with none online are absent. One query however many sites:
    ``sensor_latest`` holds a row per sensor (a few before merges, which ``uniqExact`` counts
    once), so this never scans history. It counts what reported; callers compare it with the
    registry's sensors of each site (``site_status`` for one site), which decides the total.
    Sensors in ``leaving_out`` (those of revoked devices) are not counted."""
    cutoff = now.astimezone(UTC) - timedelta(seconds=offline_after_seconds)
    query = select_from(
        scope, "sensor_latest", "tenant_id", "site_id", "uniqExact(sensor_id)"
    ).where("last_ts >= {cutoff:DateTime64(3, 'UTC')}", cutoff=cutoff)
    if leaving_out:
        query = query.where(
            "sensor_id NOT IN {leaving_out:Array(UUID)}", leaving_out=[str(s) for s in leaving_out]
        )
    rows = query.grouped("tenant_id", "site_id").run(client)
    return {(tenant_id, site_id): int(n) for tenant_id, site_id, n in rows}


def reported_hours_by_day(
    client: Client,
    scope: Scope,
    *,
    site_ids: Collection[uuid.UUID],
    first_day: date,
    leaving_out: Collection[uuid.UUID] = (),
) -> dict[date, int]:
    """How many sensor-hours of the given sites had at least one reading, per calendar day in
    China time (``DAY_ZONE``) from ``first_day`` on: the numerator of a day's online rate (the
    caller divides by its sensors times the day's hours). Sensors in ``leaving_out`` (those of
    revoked devices) are not counted.

    From ``sensor_hours_1d``, a 24-bit mask of the hours each sensor reported in per day, fed
    by the hourly rollup: a province's month is a row per sensor and day. A few rows per
    sensor and day exist before merges; OR-ing them sets the same bits."""
    if not site_ids:
        return {}
    query = (
        select_from(scope, "sensor_hours_1d", "day", "groupBitOr(hours) AS hours")
        .where("day >= {first_day:Date}", first_day=first_day)
        .where("site_id IN {sites:Array(UUID)}", sites=[str(s) for s in site_ids])
    )
    if leaving_out:
        query = query.where(
            "sensor_id NOT IN {leaving_out:Array(UUID)}", leaving_out=[str(s) for s in leaving_out]
        )
    query = query.grouped("tenant_id", "sensor_id", "day").regrouped(
        ["day", "sum(bitCount(hours))"], ["day"]
    )
    return {day: int(n) for day, n in query.run(client)}


def _last_seen_and_reported(
    client: Client, scope: Scope, site: Site
) -> tuple[dict[uuid.UUID, datetime], dict[uuid.UUID, datetime]]:
    return (
        devices_last_seen(client, scope, site.id, owner=site.tenant_id),
        readings.latest_of_site(client, scope, site.id, owner=site.tenant_id),
    )


async def site_status(
    *,
    session: AsyncSession,
    client: Client,
    scope: Scope,
    site: Site,
    offline_after_seconds: int,
    clock: Clock = WALL_CLOCK,
) -> SiteStatus:
    """The status of a site the caller already may see (``session`` is scoped to ``scope``),
    as of the clock's now."""
    site_id = site.id
    devices = (
        await session.scalars(
            select(Device)
            .where(Device.site_id == site_id, Device.revoked_at.is_(None))
            .order_by(Device.name, Device.id)
        )
    ).all()
    sensor_ids = set(
        (
            await session.scalars(
                select(Sensor.id).where(
                    Sensor.site_id == site_id, Sensor.device_id.in_([d.id for d in devices])
                )
            )
        ).all()
    )
    seen, reported = await anyio.to_thread.run_sync(_last_seen_and_reported, client, scope, site)
    at = clock.now().astimezone(UTC)
    online_sensors = sum(
        1 for s in sensor_ids if is_online(reported.get(s), at, offline_after_seconds)
    )
    return SiteStatus(
        site_id=site_id,
        as_of=at,
        offline_after_seconds=offline_after_seconds,
        sensors_total=len(sensor_ids),
        sensors_online=online_sensors,
        devices=[
            DeviceStatus(
                id=d.id,
                name=d.name,
                online=is_online(seen.get(d.id), at, offline_after_seconds),
                last_seen=seen.get(d.id),
            )
            for d in devices
        ],
    )

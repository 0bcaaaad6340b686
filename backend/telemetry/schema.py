"""GraphQL: devices, sensors, their latest values, time-series buckets and site status."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio
import strawberry
from strawberry.dataloader import DataLoader

from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.errors import BadInput
from backend.core.ids import parse_id
from backend.telemetry import readings, service, status
from backend.telemetry.kinds import parse_sensors
from backend.telemetry.models import Device, Sensor
from tenants.models import Site, Worker
from tenants.schema import WorkerType

T = TypeVar("T")


@strawberry.type(name="Reading")
class LatestType:
    ts: datetime
    value: float


@strawberry.type(name="TelemetryBucket")
class BucketType:
    ts: datetime = strawberry.field(description="Start of the bucket (epoch-aligned, UTC).")
    min: float
    max: float
    avg: float
    count: int
    last: float = strawberry.field(description="The value with the latest timestamp.")


@strawberry.type(name="DeviceStatus")
class DeviceStatusType:
    id: strawberry.ID
    name: str
    online: bool
    last_seen: datetime | None = strawberry.field(
        description="Last heartbeat or data; null when never heard from."
    )


@strawberry.type(name="SiteStatus")
class SiteStatusType:
    site_id: strawberry.ID
    as_of: datetime = strawberry.field(description="The instant the status was evaluated at.")
    offline_after_seconds: int
    sensors_total: int
    sensors_online: int
    online_rate: float | None = strawberry.field(
        description="Online sensors / all sensors of the site (在线率); null without sensors."
    )
    devices_total: int
    devices_online: int
    devices: list[DeviceStatusType]

    @classmethod
    def of(cls, value: status.SiteStatus) -> SiteStatusType:
        return cls(
            site_id=strawberry.ID(str(value.site_id)),
            as_of=value.as_of,
            offline_after_seconds=value.offline_after_seconds,
            sensors_total=value.sensors_total,
            sensors_online=value.sensors_online,
            online_rate=value.online_rate,
            devices_total=value.devices_total,
            devices_online=value.devices_online,
            devices=[
                DeviceStatusType(
                    id=strawberry.ID(str(d.id)), name=d.name, online=d.online, last_seen=d.last_seen
                )
                for d in value.devices
            ],
        )


def _latest_loader(info: Info) -> DataLoader[uuid.UUID, readings.Latest | None]:
    ctx = info.context

    async def load(keys: list[uuid.UUID]) -> list[readings.Latest | None]:
        found = await anyio.to_thread.run_sync(
            readings.latest, ctx.rt.clickhouse, ctx.principal.scope, keys
        )
        return [found.get(k) for k in keys]

    return ctx.loader("latest", lambda: DataLoader(load_fn=load))


def _zone_loader(info: Info) -> DataLoader[uuid.UUID, str | None]:
    ctx = info.context

    async def load(keys: list[uuid.UUID]) -> list[str | None]:
        names = await service.zone_names(session=ctx.session, zone_ids=keys)
        return [names.get(k) for k in keys]

    return ctx.loader("zone-name", lambda: DataLoader(load_fn=load))


def _wearer_loader(info: Info) -> DataLoader[uuid.UUID, Worker | None]:
    """Device → the worker wearing it (wearables only)."""
    ctx = info.context

    async def load(keys: list[uuid.UUID]) -> list[Worker | None]:
        found = await service.wearers(session=ctx.session, device_ids=keys)
        return [found.get(k) for k in keys]

    return ctx.loader("wearer", lambda: DataLoader(load_fn=load))


@strawberry.type(name="Sensor")
class SensorType:
    id: strawberry.ID
    code: str
    kind: str
    unit: str
    gas: str | None
    min: float
    max: float
    zone_id: strawberry.Private[uuid.UUID | None]
    device_id: strawberry.ID

    @classmethod
    def of(cls, sensor: Sensor) -> SensorType:
        return cls(
            id=strawberry.ID(str(sensor.id)),
            code=sensor.code,
            kind=sensor.kind,
            unit=sensor.unit,
            gas=sensor.gas,
            min=sensor.min_value,
            max=sensor.max_value,
            zone_id=sensor.zone_id,
            device_id=strawberry.ID(str(sensor.device_id)),
        )

    @strawberry.field(description="The zone's name, when the sensor is placed in one.")
    async def zone(self, info: Info) -> str | None:
        return None if self.zone_id is None else await _zone_loader(info).load(self.zone_id)

    @strawberry.field(description="The worker wearing this sensor's device (wearables).")
    async def wearer(self, info: Info) -> WorkerType | None:
        worker = await _wearer_loader(info).load(uuid.UUID(self.device_id))
        return None if worker is None else WorkerType.of(worker)

    @strawberry.field(description="The most recent reading, or null before the first one.")
    async def latest(self, info: Info) -> LatestType | None:
        value = await _latest_loader(info).load(uuid.UUID(self.id))
        return None if value is None else LatestType(ts=value.ts, value=value.value)


@strawberry.type(name="Device")
class DeviceType:
    id: strawberry.ID
    name: str
    revoked: bool
    site_id: strawberry.ID


@strawberry.type
class NewDeviceType:
    device: DeviceType
    token: str = strawberry.field(description="Shown once; only its hash is kept.")
    sensors: list[SensorType]


@strawberry.input
class SensorInput:
    code: str
    kind: str
    unit: str | None = None
    zone: str | None = None
    gas: str | None = None
    min: float | None = None
    max: float | None = None

    def as_entry(self) -> dict[str, object]:
        entry: dict[str, object] = {"code": self.code, "kind": self.kind}
        for key in ("unit", "zone", "gas", "min", "max"):
            if getattr(self, key) is not None:
                entry[key] = getattr(self, key)
        return entry


def device_type(device: Device) -> DeviceType:
    return DeviceType(
        id=strawberry.ID(str(device.id)),
        name=device.name,
        revoked=device.revoked,
        site_id=strawberry.ID(str(device.site_id)),
    )


MAX_BUCKETS = 10_000
# What a root field reading ClickHouse declares for the request cost model (backend/api/limits):
# how many store queries it makes of its own (the sensor or site look-up, a typical plan's
# ClickHouse pieces).
STORE_QUERIES = 3


def telemetry_buckets(arguments: Mapping[str, Any]) -> int:
    """How many buckets a ``telemetry`` field can answer, from its arguments alone: the
    epoch-aligned buckets that ``[from, to)`` touches. Zero when the field refuses its
    arguments (an empty range, a bad or too small bucket) without querying anything."""
    start, end = arguments.get("from"), arguments.get("to")
    if not isinstance(start, datetime) or not isinstance(end, datetime) or end <= start:
        return 0
    step = arguments.get("bucketSeconds")
    if step is None:
        step = readings.default_bucket_seconds(end - start)
    if not isinstance(step, int) or step <= 0 or (end - start).total_seconds() / step > MAX_BUCKETS:
        return 0
    start, end = readings.clip(start, end)
    if end <= start:
        return 0
    first = (start - readings.EPOCH) // timedelta(seconds=step)
    last = (end - readings.EPOCH - timedelta(microseconds=1)) // timedelta(seconds=step)
    return int(last - first + 1)


# Items of a long list handed to GraphQL between two turns of the event loop. Completing a
# bucket takes ~150 µs of this process's CPU (resolving, the privacy pipeline, serialising), so
# a 10,000-bucket chart would hold the loop for seconds in one piece: /healthz and every other
# request would wait for it. In slices of this size the loop turns every ~40 ms.
PACE = 256


async def paced(items: Iterable[T]) -> AsyncIterator[T]:
    """``items`` for GraphQL to complete one slice at a time (graphql-core completes an async
    iterable item by item, and this yields to the event loop between slices)."""
    for index, item in enumerate(items):
        if index and not index % PACE:
            await asyncio.sleep(0)
        yield item


async def _telemetry_site(info: Info, site_id: uuid.UUID) -> Site:
    ctx = info.context
    return await service.telemetry_site(
        session=ctx.session, authz=ctx.rt.authz, principal=ctx.principal, site_id=site_id
    )


def _range(from_: datetime, to: datetime) -> tuple[datetime, datetime]:
    if to <= from_:
        raise BadInput("to must be after from")
    return from_.astimezone(UTC), to.astimezone(UTC)


@strawberry.type
class TelemetryQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Aggregates of one sensor over [from, to), epoch-aligned buckets. Without "
        "bucketSeconds a bucket giving about 300 buckets is chosen. Bucket sizes that are "
        "multiples of a minute or an hour are served from the rollups. Each bucket counts "
        "towards the request's cost budget.",
        metadata={"list_size": telemetry_buckets, "store_queries": STORE_QUERIES},
        graphql_type=list[BucketType],
    )
    async def telemetry(
        self,
        info: Info,
        sensor_id: strawberry.ID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        bucket_seconds: int | None = None,
    ) -> AsyncIterator[BucketType]:
        ctx = info.context
        sid = parse_id(sensor_id, "sensor")
        sensor = await service.get_sensor(session=ctx.session, sensor_id=sid)
        site = await _telemetry_site(info, sensor.site_id)
        start, end = _range(from_, to)
        span = end - start
        step = (
            bucket_seconds if bucket_seconds is not None else readings.default_bucket_seconds(span)
        )
        if step <= 0 or span.total_seconds() / step > MAX_BUCKETS:
            raise BadInput(f"bucketSeconds must be positive and give at most {MAX_BUCKETS} buckets")
        rows = await anyio.to_thread.run_sync(
            partial(readings.buckets, owner=site.tenant_id),
            ctx.rt.clickhouse,
            ctx.principal.scope,
            sid,
            start,
            end,
            step,
        )
        return paced(
            BucketType(ts=b.ts, min=b.min, max=b.max, avg=b.avg, count=b.count, last=b.last)
            for b in rows
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Sensors and devices of a site online now, and its sensor online rate.",
        metadata={"store_queries": STORE_QUERIES},
    )
    async def site_status(self, info: Info, site_id: strawberry.ID) -> SiteStatusType | None:
        ctx = info.context
        site = await _telemetry_site(info, parse_id(site_id, "site"))
        value = await status.site_status(
            session=ctx.session,
            client=ctx.rt.clickhouse,
            scope=ctx.principal.scope,
            site=site,
            offline_after_seconds=ctx.rt.settings.offline_after_seconds,
        )
        return SiteStatusType.of(value)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="How many raw readings of a site are stored with timestamps in [from, to).",
        metadata={"store_queries": STORE_QUERIES},
    )
    async def site_reading_count(
        self,
        info: Info,
        site_id: strawberry.ID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> int:
        ctx = info.context
        site = await _telemetry_site(info, parse_id(site_id, "site"))
        start, end = _range(from_, to)
        return await anyio.to_thread.run_sync(
            partial(readings.reading_count, owner=site.tenant_id),
            ctx.rt.clickhouse,
            ctx.principal.scope,
            site.id,
            start,
            end,
        )


@strawberry.type
class TelemetryMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_device(
        self,
        info: Info,
        site_id: strawberry.ID,
        name: str,
        sensors: list[SensorInput],
        worker_id: strawberry.ID | None = None,
    ) -> NewDeviceType:
        ctx = info.context
        specs = parse_sensors([s.as_entry() for s in sensors])
        async with ctx.write() as session:
            created = await service.create_device(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                site_id=parse_id(site_id, "site"),
                name=name,
                sensors=specs,
                worker_id=None if worker_id is None else parse_id(worker_id, "worker"),
                mqtt=ctx.rt.mqtt_directory,
            )
            rows = await service.sensors_of_device(session=session, device_id=created.device.id)
        return NewDeviceType(
            device=device_type(created.device),
            token=created.token,
            sensors=[SensorType.of(s) for s in rows],
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def add_sensors(
        self, info: Info, device_id: strawberry.ID, sensors: list[SensorInput]
    ) -> list[SensorType]:
        ctx = info.context
        specs = parse_sensors([s.as_entry() for s in sensors])
        async with ctx.write() as session:
            added = await service.add_sensors(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                device_id=parse_id(device_id, "device"),
                sensors=specs,
            )
        return [SensorType.of(s) for s in added]

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def revoke_device(self, info: Info, device_id: strawberry.ID) -> DeviceType:
        ctx = info.context
        async with ctx.write() as session:
            device = await service.revoke_device(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                device_id=parse_id(device_id, "device"),
            )
        await service.remove_from_broker(mqtt=ctx.rt.mqtt_directory, device_id=device.id)
        return device_type(device)


def _sensors_loader(info: Info) -> DataLoader[uuid.UUID, list[Sensor]]:
    ctx = info.context

    async def load(keys: list[uuid.UUID]) -> list[list[Sensor]]:
        grouped = await service.sensors_of_sites(session=ctx.session, site_ids=keys)
        return [grouped.get(k, []) for k in keys]

    return ctx.loader("sensors-by-site", lambda: DataLoader(load_fn=load))


async def sensors_of_site(info: Info, site_id: uuid.UUID) -> list[SensorType]:
    """The site → sensors edge of the Site type."""
    return [SensorType.of(s) for s in await _sensors_loader(info).load(site_id)]

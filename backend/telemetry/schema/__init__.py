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
from backend.telemetry.kinds import catalog, parse_sensors
from backend.telemetry.models import Sensor
from backend.telemetry.schema._types import (
    BucketType,
    DeviceStatusType,
    DeviceType,
    LatestType,
    NewDeviceType,
    SensorGasType,
    SensorInput,
    SensorKindType,
    SensorType,
    SiteDeviceType,
    SiteStatusType,
    device_type,
)
from tenants.models import Site

__all__ = [
    "BucketType",
    "DeviceStatusType",
    "DeviceType",
    "LatestType",
    "NewDeviceType",
    "SensorGasType",
    "SensorInput",
    "SensorKindType",
    "SensorType",
    "SiteDeviceType",
    "SiteStatusType",
    "TelemetryMutation",
    "TelemetryQuery",
    "device_type",
    "sensors_of_site",
    "telemetry_buckets",
]

T = TypeVar("T")


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
        description="One sensor of a site whose telemetry the caller may read.",
    )
    async def sensor(self, info: Info, id: strawberry.ID) -> SensorType:
        ctx = info.context
        sensor = await service.get_sensor(session=ctx.session, sensor_id=parse_id(id, "sensor"))
        await _telemetry_site(info, sensor.site_id)
        return SensorType.of(sensor)

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
        description="A site's devices by name with their sensors, when each was last heard "
        "from and whether it is online now; revoked devices only with includeRevoked.",
        metadata={"store_queries": STORE_QUERIES},
    )
    async def devices(
        self, info: Info, site_id: strawberry.ID, include_revoked: bool = False
    ) -> list[SiteDeviceType]:
        ctx = info.context
        listed = await service.devices_of_site(
            session=ctx.session,
            authz=ctx.rt.authz,
            principal=ctx.principal,
            site_id=parse_id(site_id, "site"),
            include_revoked=include_revoked,
        )
        presence = await status.device_presence(
            client=ctx.rt.clickhouse,
            scope=ctx.principal.scope,
            site=listed.site,
            devices=listed.devices,
            offline_after_seconds=ctx.rt.settings.offline_after_seconds,
        )
        return [SiteDeviceType.of(d, presence[d.id], listed.sensors[d.id]) for d in listed.devices]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The sensor kinds the platform knows, in catalogue order.",
    )
    def sensor_kinds(self) -> list[SensorKindType]:
        return [SensorKindType.of(kind, spec) for kind, spec in catalog().items()]

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
    return ctx.keyed_loader(
        "sensors-by-site",
        lambda keys: service.sensors_of_sites(session=ctx.session, site_ids=keys),
        missing=[],
    )


async def sensors_of_site(info: Info, site_id: uuid.UUID) -> list[SensorType]:
    """The site → sensors edge of the Site type."""
    return [SensorType.of(s) for s in await _sensors_loader(info).load(site_id)]

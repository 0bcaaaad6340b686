"""The GraphQL types of telemetry: sensors (with their zone, wearer and latest reading),
devices, time-series buckets and site status, and the loaders their fields batch through."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import anyio
import strawberry
from strawberry.dataloader import DataLoader

from backend.auth.context import Info
from backend.telemetry import readings, service, status
from backend.telemetry.models import Device, Sensor
from tenants.models import Worker
from tenants.schema import WorkerType


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
    return ctx.keyed_loader(
        "latest",
        lambda keys: anyio.to_thread.run_sync(
            readings.latest, ctx.rt.clickhouse, ctx.principal.scope, keys
        ),
        missing=None,
    )


def _zone_loader(info: Info) -> DataLoader[uuid.UUID, str | None]:
    ctx = info.context
    return ctx.keyed_loader(
        "zone-name",
        lambda keys: service.zone_names(session=ctx.session, zone_ids=keys),
        missing=None,
    )


def _wearer_loader(info: Info) -> DataLoader[uuid.UUID, Worker | None]:
    """Device → the worker wearing it (wearables only)."""
    ctx = info.context
    return ctx.keyed_loader(
        "wearer",
        lambda keys: service.wearers(session=ctx.session, device_ids=keys),
        missing=None,
    )


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
    site_id: strawberry.ID

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
            site_id=strawberry.ID(str(sensor.site_id)),
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


@strawberry.type(
    name="SiteDevice",
    description="A device of a site as its devices page lists it: with its sensors and "
    "whether it is heard from (the rule of siteStatus).",
)
class SiteDeviceType:
    id: strawberry.ID
    name: str
    revoked: bool
    site_id: strawberry.ID
    online: bool = strawberry.field(description="Heard from recently; never when revoked.")
    last_seen: datetime | None = strawberry.field(
        description="Last heartbeat or data; null when never heard from."
    )
    sensors: list[SensorType]

    @classmethod
    def of(
        cls, device: Device, presence: status.DeviceStatus, sensors: list[Sensor]
    ) -> SiteDeviceType:
        return cls(
            id=strawberry.ID(str(device.id)),
            name=device.name,
            revoked=device.revoked,
            site_id=strawberry.ID(str(device.site_id)),
            online=presence.online,
            last_seen=presence.last_seen,
            sensors=[SensorType.of(s) for s in sensors],
        )


@strawberry.type(name="SensorGas", description="A gas a toxic-gas sensor may measure.")
class SensorGasType:
    gas: str
    min: float
    max: float


@strawberry.type(
    name="SensorKind",
    description="A kind of sensor the platform knows: its unit, default physical range and "
    "names (the catalogue createDevice checks sensors against).",
)
class SensorKindType:
    kind: str
    unit: str
    min: float
    max: float
    name_zh: str | None
    name_en: str | None
    requires_gas: bool = strawberry.field(description="A sensor of this kind names its gas.")
    gases: list[SensorGasType]

    @classmethod
    def of(cls, kind: str, spec: dict[str, Any]) -> SensorKindType:
        gases: dict[str, dict[str, Any]] = spec.get("gases") or {}
        return cls(
            kind=kind,
            unit=str(spec["unit"]),
            min=float(spec["min"]),
            max=float(spec["max"]),
            name_zh=spec.get("label_zh"),
            name_en=spec.get("label_en"),
            requires_gas=bool(spec.get("requires_gas")),
            gases=[
                SensorGasType(gas=gas, min=float(r["min"]), max=float(r["max"]))
                for gas, r in gases.items()
            ],
        )


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

"""The device registry's operations: devices, their tokens and sensors."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core import counters
from backend.core.db import utcnow
from backend.core.errors import BadInput, Conflict, NotFound
from backend.telemetry.kinds import SensorSpec
from backend.telemetry.models import Device, Sensor
from backend.telemetry.mqtt import DynsecError, MqttDirectory
from privacy.audit import record_change
from tenants.models import Plan, Site, Subscription, Worker, Zone
from tenants.scope import unscoped_session
from tenants.service import get_site, site_domain

log = logging.getLogger("anjian.devices")


@dataclass(frozen=True)
class NewDevice:
    device: Device
    token: str  # shown once; only its hash is stored
    sensors: dict[str, uuid.UUID]


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def _zone_named(
    session: AsyncSession, site_id: uuid.UUID, tenant_id: uuid.UUID, name: str
) -> Zone:
    zone = await session.scalar(select(Zone).where(Zone.site_id == site_id, Zone.name == name))
    if zone is None:
        zone = Zone(tenant_id=tenant_id, site_id=site_id, name=name)
        session.add(zone)
        await session.flush()
    return zone


async def create_device(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    site_id: uuid.UUID,
    name: str,
    sensors: list[SensorSpec],
    worker_id: uuid.UUID | None = None,
    mqtt: MqttDirectory | None = None,
) -> NewDevice:
    """Register a device and its sensors; zones named by sensors are created as needed."""
    site = await get_site(session=session, site_id=site_id)
    domain = site_domain(principal.scope, site)
    require(authz, principal, domain, "device", "create")
    device_name = name.strip()
    if not device_name or len(device_name) > 200:
        raise BadInput("device name must be 1 to 200 characters")
    if not sensors:
        raise BadInput("a device needs at least one sensor")
    if worker_id is not None:
        worker = await session.scalar(select(Worker).where(Worker.id == worker_id))
        if worker is None or worker.tenant_id != site.tenant_id:
            raise NotFound(f"worker {worker_id} not found")
    await _check_sensor_quota(session, site_id, len(sensors))
    token = secrets.token_urlsafe(32)
    device = Device(
        tenant_id=site.tenant_id,
        site_id=site.id,
        name=device_name,
        token_hash=hash_token(token),
        worker_id=worker_id,
    )
    session.add(device)
    await session.flush()
    created = {s.code: s.id for s in await _add_sensor_rows(session, device, sensors)}
    if mqtt is not None:
        # The broker learns the token now (it keeps only a hash); if it cannot, the device is
        # not created, so a device never exists that could not connect over MQTT.
        await mqtt.ensure_device(device.id, token)
    await record_change(
        session,
        principal.actor(domain),
        "device.create",
        counter=counters.REGISTRY,
        domain=domain,
        object_type="device",
        object_id=device.id,
        detail={"site_id": str(site.id), "sensors": len(created)},
    )
    return NewDevice(device, token, created)


async def _add_sensor_rows(
    session: AsyncSession, device: Device, specs: list[SensorSpec]
) -> list[Sensor]:
    # Codes are unique per site (they name measuring points on the site's drawings); the
    # database constraint backs this check when two registrations race.
    held = await session.execute(
        select(Sensor.code, Sensor.device_id).where(
            Sensor.site_id == device.site_id, Sensor.code.in_([s.code for s in specs])
        )
    )
    clash = sorted(
        f"{code} ({'this device' if owner == device.id else f'device {owner}'})"
        for code, owner in held
    )
    if clash:
        raise Conflict(
            f"传感器编码在本场所已被使用 / sensor code(s) already used on this site: "
            f"{', '.join(clash)}"
        )
    rows: list[Sensor] = []
    for spec in specs:
        zone = (
            None
            if spec.zone is None
            else await _zone_named(session, device.site_id, device.tenant_id, spec.zone)
        )
        sensor = Sensor(
            tenant_id=device.tenant_id,
            site_id=device.site_id,
            device_id=device.id,
            code=spec.code,
            kind=spec.kind,
            unit=spec.unit,
            gas=spec.gas,
            min_value=spec.min_value,
            max_value=spec.max_value,
            zone_id=None if zone is None else zone.id,
        )
        session.add(sensor)
        rows.append(sensor)
    try:
        await session.flush()
    except IntegrityError as exc:
        # Another registration on this site took one of the codes since the check above
        # (PostgreSQL names the constraint, SQLite its columns); anything else is a fault.
        text = str(exc.orig)
        if "uq_sensors_site_id_code" not in text and "sensors.site_id, sensors.code" not in text:
            raise
        raise Conflict(
            "传感器编码在本场所已被使用 / sensor code(s) already used on this site: "
            f"{', '.join(sorted(s.code for s in specs))}"
        ) from None
    return rows


async def add_sensors(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    device_id: uuid.UUID,
    sensors: list[SensorSpec],
) -> list[Sensor]:
    device = await get_device(session=session, device_id=device_id)
    domain = site_domain(principal.scope, await get_site(session=session, site_id=device.site_id))
    require(authz, principal, domain, "sensor", "create")
    if device.revoked:
        raise Conflict(f"device {device_id} is revoked")
    await _check_sensor_quota(session, device.site_id, len(sensors))
    added = await _add_sensor_rows(session, device, sensors)
    await record_change(
        session,
        principal.actor(domain),
        "sensor.create",
        counter=counters.REGISTRY,
        domain=domain,
        object_type="device",
        object_id=device.id,
        detail={"codes": [s.code for s in added]},
    )
    return added


async def _check_sensor_quota(session: AsyncSession, site_id: uuid.UUID, adding: int) -> None:
    plan = await session.scalar(
        select(Plan)
        .join(Subscription, Subscription.plan_code == Plan.code)
        .where(Subscription.site_id == site_id)
    )
    if plan is None:
        raise NotFound(f"site {site_id} has no subscription")
    have = (
        await session.scalar(
            select(func.count()).select_from(Sensor).where(Sensor.site_id == site_id)
        )
        or 0
    )
    if have + adding > plan.max_sensors:
        raise Conflict(
            f"the {plan.code} plan allows {plan.max_sensors} sensors per site; the site has "
            f"{have} and this device adds {adding}"
        )


async def get_device(*, session: AsyncSession, device_id: uuid.UUID) -> Device:
    """A device in the session's scope (missing and out of scope look the same)."""
    device = await session.scalar(select(Device).where(Device.id == device_id))
    if device is None:
        raise NotFound(f"device {device_id} not found")
    return device


async def revoke_device(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, device_id: uuid.UUID
) -> Device:
    device = await get_device(session=session, device_id=device_id)
    domain = site_domain(principal.scope, await get_site(session=session, site_id=device.site_id))
    require(authz, principal, domain, "device", "update")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        await record_change(
            session,
            principal.actor(domain),
            "device.revoke",
            counter=counters.REGISTRY,
            domain=domain,
            object_type="device",
            object_id=device.id,
        )
    return device


async def sensors_of_sites(
    *, session: AsyncSession, site_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Sensor]]:
    """Each site's sensors, by code."""
    rows = await session.scalars(
        select(Sensor).where(Sensor.site_id.in_(site_ids)).order_by(Sensor.code, Sensor.id)
    )
    grouped: dict[uuid.UUID, list[Sensor]] = {site_id: [] for site_id in site_ids}
    for sensor in rows:
        grouped[sensor.site_id].append(sensor)
    return grouped


@dataclass(frozen=True)
class SiteDevices:
    site: Site
    devices: list[Device]
    sensors: dict[uuid.UUID, list[Sensor]]  # device id -> its sensors, by code


async def devices_of_site(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    site_id: uuid.UUID,
    include_revoked: bool = False,
) -> SiteDevices:
    """A site's devices by name with their sensors, in two statements: NOT_FOUND outside the
    scope, FORBIDDEN for a role without ``device read`` there. Revoked devices only when
    asked for: they are decommissioned, kept for their history."""
    site = await get_site(session=session, site_id=site_id)
    require(authz, principal, site_domain(principal.scope, site), "device", "read")
    query = select(Device).where(Device.site_id == site.id).order_by(Device.name, Device.id)
    if not include_revoked:
        query = query.where(Device.revoked_at.is_(None))
    devices = list(await session.scalars(query))
    grouped: dict[uuid.UUID, list[Sensor]] = {d.id: [] for d in devices}
    for sensor in await session.scalars(
        select(Sensor)
        .where(Sensor.site_id == site.id, Sensor.device_id.in_(list(grouped)))
        .order_by(Sensor.code, Sensor.id)
    ):
        grouped[sensor.device_id].append(sensor)
    return SiteDevices(site=site, devices=devices, sensors=grouped)


async def sensors_of_device(*, session: AsyncSession, device_id: uuid.UUID) -> list[Sensor]:
    """A device's sensors, by code."""
    rows = await session.scalars(
        select(Sensor).where(Sensor.device_id == device_id).order_by(Sensor.code)
    )
    return list(rows)


async def get_sensor(*, session: AsyncSession, sensor_id: uuid.UUID) -> Sensor:
    """A sensor in the session's scope (missing and out of scope look the same)."""
    sensor = await session.scalar(select(Sensor).where(Sensor.id == sensor_id))
    if sensor is None:
        raise NotFound(f"sensor {sensor_id} not found")
    return sensor


async def telemetry_site(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, site_id: uuid.UUID
) -> Site:
    """A site whose telemetry the caller may read: NOT_FOUND outside the scope, FORBIDDEN for
    a role without ``telemetry read`` there."""
    site = await get_site(session=session, site_id=site_id)
    require(authz, principal, site_domain(principal.scope, site), "telemetry", "read")
    return site


async def zone_names(*, session: AsyncSession, zone_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names of the zones in the session's scope among ``zone_ids``."""
    rows = await session.execute(select(Zone.id, Zone.name).where(Zone.id.in_(zone_ids)))
    return {zone_id: name for zone_id, name in rows}


async def wearers(*, session: AsyncSession, device_ids: list[uuid.UUID]) -> dict[uuid.UUID, Worker]:
    """Device → the worker wearing it, for the wearables among ``device_ids``."""
    rows = await session.execute(
        select(Device.id, Worker)
        .join(Worker, Worker.id == Device.worker_id)
        .where(Device.id.in_(device_ids))
    )
    return {device_id: worker for device_id, worker in rows}


async def unscoped_device_tenant(
    *, sessions: async_sessionmaker[AsyncSession], device_id: uuid.UUID
) -> uuid.UUID:
    """The tenant owning a device, for the operator's CLI."""
    async with unscoped_session(sessions) as session:
        tenant_id = await session.scalar(select(Device.tenant_id).where(Device.id == device_id))
    if tenant_id is None:
        raise NotFound(f"device {device_id} not found")
    return tenant_id


async def remove_from_broker(*, mqtt: MqttDirectory | None, device_id: uuid.UUID) -> None:
    """After a revocation commits: disconnect the device from the broker now. If the broker
    cannot be reached, ingest refuses the device anyway and the next sync removes it."""
    if mqtt is None:
        return
    try:
        await mqtt.remove_device(device_id)
    except DynsecError as exc:
        log.warning("MQTT broker did not remove revoked device %s: %s", device_id, exc)


async def unscoped_device_list(
    *, sessions: async_sessionmaker[AsyncSession], site_id: uuid.UUID
) -> list[tuple[Device, list[Sensor]]]:
    """A site's devices (revoked ones too, marked) with their sensors, by name: the
    operator's CLI. A site that does not exist is NotFound."""
    async with unscoped_session(sessions) as session:
        if await session.get(Site, site_id) is None:
            raise NotFound(f"site {site_id} not found")
        devices = list(
            await session.scalars(
                select(Device).where(Device.site_id == site_id).order_by(Device.name, Device.id)
            )
        )
        grouped: dict[uuid.UUID, list[Sensor]] = {d.id: [] for d in devices}
        for sensor in await session.scalars(
            select(Sensor).where(Sensor.site_id == site_id).order_by(Sensor.code)
        ):
            grouped.setdefault(sensor.device_id, []).append(sensor)
    return [(device, grouped[device.id]) for device in devices]

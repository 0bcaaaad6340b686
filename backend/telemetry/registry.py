"""What ingest needs to know about a device, cached in memory and kept fresh.

A request must not cost a database round trip: devices are looked up by token hash (or by id,
for MQTT) in a cache that is dropped whenever the ``registry`` change counter moves, which
every device, sensor and subscription change bumps in its own transaction. The counter is read
at most every ``check_interval`` seconds, so a revocation takes effect within that time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core import counters
from backend.telemetry.models import Device, Sensor
from privacy.retention import telemetry_retention_days
from tenants.models import Plan, Site, Subscription, SubscriptionStatus
from tenants.scope import unscoped_session


@dataclass(frozen=True)
class SensorInfo:
    id: uuid.UUID
    id_bytes: bytes
    min_value: float
    max_value: float


@dataclass(frozen=True)
class DeviceInfo:
    id: uuid.UUID
    tenant_id: uuid.UUID
    site_id: uuid.UUID
    revoked: bool
    site_active: bool
    readings_per_minute: int
    retention_days: int
    sensors: dict[str, SensorInfo]


class DeviceRegistry:
    """Devices by token hash or id, cached until the registry's change counter moves. Read
    without the tenant scope: authenticating a device precedes any scope."""

    def __init__(
        self, maker: async_sessionmaker[AsyncSession], check_interval: float = 0.5
    ) -> None:
        self._maker = maker
        self._check_interval = check_interval
        self._by_token: dict[bytes, DeviceInfo] = {}
        self._by_id: dict[uuid.UUID, DeviceInfo] = {}
        self._version = -1
        self._checked_at = 0.0
        self._lock = asyncio.Lock()

    async def _unscoped_refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < self._check_interval:
            return
        async with self._lock:
            if now - self._checked_at < self._check_interval:
                return
            async with unscoped_session(self._maker) as session:
                version = await counters.read(session, counters.REGISTRY)
            if version != self._version:
                self._by_token.clear()
                self._by_id.clear()
                self._version = version
            self._checked_at = time.monotonic()

    async def unscoped_by_token_hash(self, token_hash: bytes) -> DeviceInfo | None:
        await self._unscoped_refresh()
        if token_hash in self._by_token:
            return self._by_token[token_hash]
        info = await self._unscoped_load(Device.token_hash == token_hash)
        if info is not None:  # unknown tokens are not cached: guessing must not fill memory
            self._by_token[token_hash] = info
        return info

    async def unscoped_by_id(self, device_id: uuid.UUID) -> DeviceInfo | None:
        await self._unscoped_refresh()
        if device_id in self._by_id:
            return self._by_id[device_id]
        info = await self._unscoped_load(Device.id == device_id)
        if info is not None:
            self._by_id[device_id] = info
        return info

    async def _unscoped_load(self, criterion: object) -> DeviceInfo | None:
        # Authenticating a device precedes any scope: the device is what yields it.
        async with unscoped_session(self._maker) as session:
            device = await session.scalar(select(Device).where(criterion))  # type: ignore[arg-type]
            if device is None:
                return None
            row = (
                await session.execute(
                    select(
                        Subscription.status,
                        Subscription.retention_days,
                        Plan.max_readings_per_minute,
                        Site.major_hazard_grade,
                    )
                    .join(Plan, Plan.code == Subscription.plan_code)
                    .join(Site, Site.id == Subscription.site_id)
                    .where(Subscription.site_id == device.site_id)
                )
            ).one()
            sensors = (
                await session.scalars(select(Sensor).where(Sensor.device_id == device.id))
            ).all()
        status, plan_days, per_minute, grade = row
        retention_days = telemetry_retention_days(plan_days, major_hazard=grade is not None)
        return DeviceInfo(
            id=device.id,
            tenant_id=device.tenant_id,
            site_id=device.site_id,
            revoked=device.revoked,
            site_active=status == SubscriptionStatus.ACTIVE,
            readings_per_minute=per_minute,
            retention_days=retention_days,
            sensors={
                s.code: SensorInfo(s.id, s.id.bytes, s.min_value, s.max_value) for s in sensors
            },
        )

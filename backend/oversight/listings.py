"""The platform operator's overview across tenants: every site with its plan and equipment.

It counts telemetry's devices and sensors beside tenants' sites, so it lives above both.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core.errors import NotFound
from backend.telemetry.models import Device, Sensor
from tenants.models import Site, Subscription, SubscriptionStatus, Tenant
from tenants.scope import unscoped_session


@dataclass(frozen=True)
class SiteListing:
    site: Site
    plan_code: str | None
    subscription: SubscriptionStatus | None
    devices: int
    sensors: int


async def unscoped_site_list(
    *, sessions: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID | None = None
) -> list[SiteListing]:
    """Every site (of one tenant, when given) with its plan and how many devices and sensors
    it has, by name. A tenant that does not exist is NotFound rather than an empty list, as
    the operator named it."""
    devices = select(Device.site_id, func.count().label("n")).group_by(Device.site_id).subquery()
    sensors = select(Sensor.site_id, func.count().label("n")).group_by(Sensor.site_id).subquery()
    async with unscoped_session(sessions) as session:
        if tenant_id is not None and await session.get(Tenant, tenant_id) is None:
            raise NotFound(f"tenant {tenant_id} not found")
        query = (
            select(
                Site,
                Subscription.plan_code,
                Subscription.status,
                func.coalesce(devices.c.n, 0),
                func.coalesce(sensors.c.n, 0),
            )
            .outerjoin(Subscription, Subscription.site_id == Site.id)
            .outerjoin(devices, devices.c.site_id == Site.id)
            .outerjoin(sensors, sensors.c.site_id == Site.id)
            .order_by(Site.name, Site.id)
        )
        if tenant_id is not None:
            query = query.where(Site.tenant_id == tenant_id)
        rows = await session.execute(query)
        return [
            SiteListing(site, plan, status, int(n_devices), int(n_sensors))
            for site, plan, status, n_devices, n_sensors in rows
        ]

"""The demo's simulator inside the server (``anjian demo``): a system process that reads the
demo sensors once at start-up and every minute after (an unscoped read; it works for no user)
and ticks the ``Simulator`` on schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable

from litestar import Litestar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.demo.simulator import DEMO_LEAK_SENSOR, REFRESH_SECONDS, TICK_SECONDS, Simulator
from backend.demo.walks import SimSensor
from backend.demo.world import build_plan
from backend.telemetry.ingest import Ingest
from backend.telemetry.models import Device, Sensor
from tenants.models import Subscription, SubscriptionStatus, Tenant, Zone
from tenants.scope import unscoped_session

log = logging.getLogger("anjian.simulator")


def demo_tenant_names() -> list[str]:
    return [tenant.name for tenant in build_plan().tenants]


async def unscoped_demo_sensors(*, sessions: async_sessionmaker[AsyncSession]) -> list[SimSensor]:
    """Every sensor of the demo tenants on a live device of an active site (all tenants)."""
    query = (
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
            Tenant.industry,
            Zone.kind,
        )
        .join(Device, Device.id == Sensor.device_id)
        .join(Subscription, Subscription.site_id == Sensor.site_id)
        .join(Tenant, Tenant.id == Sensor.tenant_id)
        .outerjoin(Zone, Zone.id == Sensor.zone_id)
        .where(
            Device.revoked_at.is_(None),
            Subscription.status == SubscriptionStatus.ACTIVE,
            Tenant.name.in_(demo_tenant_names()),
        )
        .order_by(Sensor.site_id, Sensor.code, Sensor.id)
    )
    async with unscoped_session(sessions) as session, session.begin():
        rows = (await session.execute(query)).all()
    return [
        SimSensor(
            *row[:-2],
            industry=row[-2].value,
            zone_kind=None if row[-1] is None else row[-1].value,
        )
        for row in rows
    ]


async def run_simulator(
    *,
    sessions: async_sessionmaker[AsyncSession],
    ingest: Ingest,
    simulator: Simulator,
    interval: float = TICK_SECONDS,
    refresh: float = REFRESH_SECONDS,
) -> None:
    """Tick forever; a failed tick is logged and the next one runs on schedule."""
    sensors: list[SimSensor] = []
    loaded_at = -math.inf
    while True:
        started = time.monotonic()
        try:
            if started - loaded_at >= refresh:
                sensors = await unscoped_demo_sensors(sessions=sessions)
                loaded_at = started
                log.info("simulating %d demo sensors every %.0f s", len(sensors), interval)
            await simulator.tick(ingest, sensors)
        except Exception:
            log.exception("simulator tick failed; the next tick will try again")
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


def attach_simulator(
    app: Litestar,
    *,
    sessions: Callable[[], async_sessionmaker[AsyncSession]],
    ingest: Callable[[], Ingest],
) -> None:
    """Run the simulator while ``app`` runs: started after the app's own start-up (so this
    process already owns the ClickHouse engine), cancelled on shutdown. The running task is
    ``app.state.simulator``. ``sessions`` and ``ingest`` give the server's, asked for only
    once the app has started: its start-up opens the stores in their order."""

    async def start(app: Litestar) -> None:
        simulator = Simulator(leak_sensor_code=DEMO_LEAK_SENSOR)
        running = run_simulator(sessions=sessions(), ingest=ingest(), simulator=simulator)
        task = asyncio.create_task(running, name="anjian-simulator")
        app.state.simulator = task

    async def stop(app: Litestar) -> None:
        task: asyncio.Task[None] | None = app.state.get("simulator")
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.on_startup.append(start)
    app.on_shutdown.append(stop)

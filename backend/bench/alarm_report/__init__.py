"""``anjian alarm-report``: the demo world's alarm load over simulated hours, in ISA-18.2 figures.

ISA-18.2 (and EEMUA 191) judge an alarm system by what its operators receive: about one alarm
per ten minutes is manageable, more than ten in ten minutes is a flood, an alarm raised and
cleared again and again (chattering) or one that stays active for a day (standing) is a defect.
This report measures the demo world against that, with the production code end to end: the
demo is seeded into a fresh store in a temporary directory (``anjian alarm-report`` makes
it), the real ``AlarmPipeline`` gives
every sensor its indicator-library defaults and runs the real rule engine and alarm lifecycle
(alarms, transitions, incidents, flapping marks, escalation and reminders, all in the
database), and the demo's ``Simulator`` produces every sensor's readings, its scripted hazards
included. Only time is simulated: readings carry simulated timestamps (the engine is timed by
them), and the pipeline's timers read a ``SimulatedClock`` that the report moves forward one
simulator tick at a time, so 24 hours take a few minutes. Nothing is sent (no relay, no mail);
no server is needed.

Per site: alarms raised, their average per hour, the peak per 10-minute period, the share of
10-minute periods in flood (> 10 alarms), chattering alarms (one rule × sensor raised ≥ 3 times
within a minute), standing alarms (active for more than 24 h, or still active at the end), the
escalation steps and reminders the unacknowledged alarms caused, and the scripted hazards
caught: each raised within its expected delay and reaching its expected severity in time.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.alarms.models import Alarm
from backend.bench.alarm_report._figures import (
    CHATTER_RAISES,
    CHATTER_WINDOW,
    FLOOD_ABOVE,
    PERIOD,
    STANDING_AFTER,
    TARGET_PER_HOUR,
    AlarmReport,
    HazardOutcome,
    SiteFigures,
    unscoped_figures,
)
from backend.bench.alarm_report._table import table
from backend.core.clock import SimulatedClock
from backend.core.settings import Settings, load_settings
from backend.demo.live import unscoped_demo_sensors
from backend.demo.simulator import DEMO_LEAK_SENSOR, TICK_SECONDS, Simulator
from backend.demo.walks import SimSensor
from backend.demo.world import SEED
from backend.jobs.alarm_pipeline import AlarmPipeline
from backend.telemetry.ingest import Ingest
from backend.telemetry.registry import DeviceInfo
from tenants.scope import unscoped_session

__all__ = [
    "CHATTER_RAISES",
    "CHATTER_WINDOW",
    "DEFAULT_START",
    "FLOOD_ABOVE",
    "PERIOD",
    "STANDING_AFTER",
    "TARGET_PER_HOUR",
    "AlarmReport",
    "HazardOutcome",
    "Progress",
    "SiteFigures",
    "scratch_settings",
    "simulate",
    "table",
]

# A fixed start, so the same seed gives the same figures on every run.
DEFAULT_START = datetime(2026, 3, 2, tzinfo=UTC)

Progress = Callable[[float], None]  # simulated seconds done so far


def scratch_settings(data_dir: Path) -> Settings:
    """A store of its own in ``data_dir``: SQLite and files only, nothing of the caller's."""
    return load_settings(
        {
            "ANJIAN_DATA_DIR": str(data_dir),
            "ANJIAN_ENV_FILE": str(data_dir / "absent.env"),
            # Demo accounts nobody signs in to: the cheapest password hashing allowed.
            "ANJIAN_PASSWORD_SCRYPT_LOG2N": "10",
        }
    )


async def simulate(
    *,
    sessions: async_sessionmaker[AsyncSession],
    ingest: Ingest,
    hours: float,
    seed: int = SEED,
    start: datetime = DEFAULT_START,
    progress: Progress | None = None,
) -> AlarmReport:
    """Run the demo sensors of a seeded store (``sessions``, and ``ingest`` for its device
    registry) through the alarm pipeline for ``hours``."""
    began = time.perf_counter()
    clock = SimulatedClock(start)
    sensors = await unscoped_demo_sensors(sessions=sessions)
    devices = await _devices(ingest, sensors)
    simulator = Simulator(random.Random(seed), leak_sensor_code=DEMO_LEAK_SENSOR)
    pipeline = AlarmPipeline(sessions, clock=clock)
    # Gives every sensor its defaults and loads them into the engine; the timers are run here,
    # on the simulated clock, instead of on wall-time intervals.
    await pipeline.start(timers=False)
    steps = math.ceil(hours * 3600 / TICK_SECONDS)
    readings = 0
    signals = pipeline.engine.stats.signals
    due: datetime | None = None  # the earliest escalation or reminder deadline
    # Each device's sensors, in the order the simulator produces their values.
    batches: dict[uuid.UUID, list[int]] = defaultdict(list)
    for i, sensor in enumerate(sensors):
        batches[sensor.device_id].append(i)
    feeds = [
        (devices[device_id], [sensors[i].id.bytes for i in indices], indices)
        for device_id, indices in batches.items()
    ]
    try:
        for step in range(1, steps + 1):
            now = clock.advance(TICK_SECONDS)
            values = simulator.generate(sensors, now)[4]
            stamp = round(now.timestamp() * 1000)
            # As ingest hands a device's accepted batch to its subscribers.
            for device, ids, indices in feeds:
                pipeline.readings_accepted(
                    device, ids, [stamp] * len(ids), [values[i] for i in indices]
                )
            readings += len(sensors)
            pipeline.run_timers()
            await pipeline.drain()
            # The deadlines live in the alarm rows: read the next one when alarms changed,
            # rather than asking the database every tick whether one is due.
            if pipeline.engine.stats.signals != signals:
                signals = pipeline.engine.stats.signals
                due = await unscoped_next_deadline(sessions)
            if due is not None and due <= now:
                await pipeline.run_escalations()
                due = await unscoped_next_deadline(sessions)
            if progress is not None:
                progress(step * TICK_SECONDS)
        await pipeline.drain()
        await pipeline.run_escalations()
    finally:
        await pipeline.stop()
    end = clock.now()
    hazards = simulator.hazards(sensors, start, end)
    sites, outcomes = await unscoped_figures(sessions, start, end, hazards)
    return AlarmReport(
        hours=hours,
        start=start.isoformat(),
        seed=seed,
        sensors=len(sensors),
        readings=readings,
        wall_seconds=round(time.perf_counter() - began, 1),
        sites=sites,
        hazards=outcomes,
    )


async def unscoped_next_deadline(sessions: async_sessionmaker[AsyncSession]) -> datetime | None:
    """The earliest escalation or reminder deadline of an alarm still unanswered (any
    tenant's)."""
    unanswered = Alarm.acknowledged.is_(False) & Alarm.cleared_at.is_(None)
    async with unscoped_session(sessions) as session:
        row = (
            await session.execute(
                select(func.min(Alarm.escalate_at), func.min(Alarm.remind_at)).where(unanswered)
            )
        ).one()
    deadlines = [at for at in row if at is not None]
    return min(deadlines) if deadlines else None


async def _devices(ingest: Ingest, sensors: list[SimSensor]) -> dict[uuid.UUID, DeviceInfo]:
    """The registry's view of each simulated device, as ingest passes it to the pipeline."""
    return {
        device_id: await ingest.device(device_id) for device_id in {s.device_id for s in sensors}
    }

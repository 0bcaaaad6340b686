"""The demo's sensor simulator: the next value of every demo sensor, every few seconds.

Values follow each sensor's walk (``walks.py``) between ticks; the only alarms of the demo are
its scripted hazards (``Simulator.hazards``): a gas leak on the chemical sites' GT-101 every
quarter of an hour. On each tick one batch per device goes to ingest, exactly as a device's
accepted batch would, so the readings, rollups, latest values and device status all come from
the real path (``live.py`` runs the ticks inside the server).

One tick is ``await Simulator.tick(ingest, sensors)``, which tests call directly.
"""

from __future__ import annotations

import logging
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.demo.walks import (
    SKAB_COLUMNS,
    SimSensor,
    Walk,
    profile_for,
    resolution,
    skab_rows,
    walk_for,
)
from backend.telemetry.ingest import Ingest, IngestError

log = logging.getLogger("anjian.simulator")
TICK_SECONDS = 5.0
REFRESH_SECONDS = 60.0
REVERSION = 0.3  # share of the distance to the baseline recovered per tick


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


@dataclass(slots=True)
class _State:
    """One sensor's walk between ticks, and how its values are made."""

    walk: Walk
    baseline: float
    value: float
    decimals: int
    replays: bool  # a SKAB pump sensor
    leaks: bool  # the scripted leak's sensor


# The demo's scripted leak (%LEL by minute of the episode): it rises through the 1st level
# (25, ORANGE) to the 2nd (50, RED), holds, and falls back below the deadband, so the alarm
# console shows a RED alarm raise, upgrade and clear every LEAK_PERIOD_S.
LEAK_PROFILE = (8.0, 18.0, 31.0, 44.0, 57.0, 62.0, 55.0, 36.0, 14.0, 4.0)
LEAK_PERIOD_S = 900
LEAK_STEP_S = 30
DEMO_LEAK_SENSOR = "GT-101"  # see the demo data: the chemical sites' first gas detector
# What the alarms must show of each leak: an alarm within 90 s of its start (the 1st level is
# reached at 60 s) and RED within 150 s (the 2nd at 120 s), a reading interval to spare.
LEAK_RAISE_WITHIN_S = 90.0
LEAK_RED_WITHIN_S = 150.0


@dataclass(frozen=True)
class ScriptedHazard:
    """A hazard the simulator plays, and what the alarm system must make of it: an alarm of
    the sensor raised within ``raise_within_s`` of the start, at ``severity`` within
    ``severity_within_s``."""

    name: str
    sensor_id: uuid.UUID
    site_id: uuid.UUID
    starts_at: datetime
    raise_within_s: float
    severity: str
    severity_within_s: float


class Simulator:
    """Generates the next value of every sensor; keeps each sensor's walk between ticks.

    With ``leak_sensor_code``, the combustible-gas sensors with that code (one per chemical
    site in the demo) leak for a few minutes every quarter of an hour (the demo turns this on;
    tests do not).
    """

    def __init__(
        self, rng: random.Random | None = None, leak_sensor_code: str | None = None
    ) -> None:
        self.rng = rng or random.Random()
        self.leak_sensor_code = leak_sensor_code
        self._states: dict[int, _State] = {}  # by the sensor id as an int (a cheap hash)

    def hazards(
        self, sensors: Sequence[SimSensor], start: datetime, end: datetime
    ) -> list[ScriptedHazard]:
        """The scripted hazards that start in [start, end) and play out before ``end``."""
        if self.leak_sensor_code is None:
            return []
        first = math.ceil(start.timestamp() / LEAK_PERIOD_S) * LEAK_PERIOD_S
        last = end.timestamp() - len(LEAK_PROFILE) * LEAK_STEP_S
        return [
            ScriptedHazard(
                f"{sensor.code} 泄漏 leak",
                sensor.id,
                sensor.site_id,
                datetime.fromtimestamp(at, UTC),
                LEAK_RAISE_WITHIN_S,
                "RED",
                LEAK_RED_WITHIN_S,
            )
            for at in range(first, math.floor(last) + 1, LEAK_PERIOD_S)
            for sensor in sensors
            if sensor.code == self.leak_sensor_code and sensor.kind == "combustible_gas"
        ]

    def _leak_value(self, sensor: SimSensor, now: datetime) -> float | None:
        if sensor.code != self.leak_sensor_code or sensor.kind != "combustible_gas":
            return None
        step = int(now.timestamp()) % LEAK_PERIOD_S // LEAK_STEP_S
        return LEAK_PROFILE[step] if step < len(LEAK_PROFILE) else None

    def value(self, sensor: SimSensor, now: datetime) -> float:
        state = self._states.get(sensor.id.int)
        if state is None:
            state = self._states[sensor.id.int] = self._start(sensor)
        if state.leaks:
            leak = self._leak_value(sensor, now)
            if leak is not None:
                return _clamp(leak, sensor.min_value, sensor.max_value)
        if state.replays:
            value = self._replayed(sensor, now)
        else:
            walk, value = state.walk, state.value
            value += REVERSION * (state.baseline - value) + self.rng.gauss(0.0, walk.noise)
            value = state.value = min(max(value, walk.floor), walk.ceiling)
        # A transmitter reports a few significant decimals, not a float's full precision.
        return min(max(round(value, state.decimals), sensor.min_value), sensor.max_value)

    def _start(self, sensor: SimSensor) -> _State:
        walk = walk_for(sensor)
        baseline = self.rng.uniform(walk.low, walk.high)
        return _State(
            walk,
            baseline,
            baseline,
            resolution(profile_for(sensor)),
            sensor.code in SKAB_COLUMNS and bool(skab_rows()),
            sensor.code == self.leak_sensor_code and sensor.kind == "combustible_gas",
        )

    def _replayed(self, sensor: SimSensor, now: datetime) -> float:
        # One row per second of wall time, each site at its own place in the run.
        rows = skab_rows()
        row = rows[(int(now.timestamp()) + sensor.site_id.int) % len(rows)]
        column, convert = SKAB_COLUMNS[sensor.code]
        return convert(row[column])

    def generate(
        self, sensors: Sequence[SimSensor], now: datetime | None = None
    ) -> tuple[list[uuid.UUID], list[uuid.UUID], list[uuid.UUID], list[datetime], list[float]]:
        """One reading per sensor at ``now`` (UTC), as the columns of the readings table."""
        ts = now or datetime.now(UTC)
        values = [self.value(s, ts) for s in sensors]
        return (
            [s.tenant_id for s in sensors],
            [s.site_id for s in sensors],
            [s.id for s in sensors],
            [ts] * len(sensors),
            values,
        )

    async def tick(
        self, ingest: Ingest, sensors: Sequence[SimSensor], now: datetime | None = None
    ) -> int:
        """One reading per sensor, appended to the spool as one batch per device."""
        if not sensors:
            return 0
        columns = self.generate(sensors, now)
        stamp = round(columns[3][0].timestamp() * 1000)
        by_device: dict[uuid.UUID, list[tuple[SimSensor, float]]] = {}
        for sensor, value in zip(sensors, columns[4], strict=True):
            by_device.setdefault(sensor.device_id, []).append((sensor, value))
        for device_id, batch in by_device.items():
            # Through ingest, as a device's batch would go: spooled, then seen by the rules.
            try:
                device = await ingest.device(device_id)
            except IngestError as exc:  # revoked or suspended since the last refresh
                log.info("simulator skips device %s: %s", device_id, exc)
                continue
            await ingest.store_readings(
                device,
                uuid.uuid4(),
                [sensor.id.bytes for sensor, _ in batch],
                [stamp] * len(batch),
                [value for _, value in batch],
            )
        return len(sensors)

"""The demo's sensor simulator: live readings for every demo sensor, every few seconds.

A system process inside the server (``anjian demo``): it reads the demo sensors once at
start-up and every minute after (an unscoped read; it works for no user), and on each tick
hands one batch per device to the ingest spool, exactly as a device's accepted batch would
be, so the readings, rollups, latest values and device status all come from the real path.
Values wander around a plausible baseline per kind (a mean-reverting random walk), always
inside the sensor's physical range and inside the normal band of the alarm rules the sensor
gets (its industry's and zone kind's levels in the indicator library, with a margin), so
normal operation raises no alarm; the circulating-water pumps of the chemical sites replay
real measurements from the SKAB test bed (``data/skab_valve1_excerpt.csv``, see
``data/PROVENANCE.md``). The only alarms of the demo are its scripted hazards
(``Simulator.hazards``): a gas leak on the chemical sites' GT-101 every quarter of an hour.

One tick is ``await Simulator.tick(runtime, sensors)``, which tests call directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources

from litestar import Litestar
from sqlalchemy import select

from backend._demo_data import SKAB_PUMP_CODES, build_plan
from backend.alarms import library
from backend.alarms.rules import Direction, RuleKind
from backend.runtime import Runtime
from backend.telemetry.ingest import IngestError
from backend.telemetry.models import Device, Sensor
from tenants.models import Subscription, SubscriptionStatus, Tenant, Zone
from tenants.scope import unscoped_session

log = logging.getLogger("anjian.simulator")
TICK_SECONDS = 5.0
REFRESH_SECONDS = 60.0
REVERSION = 0.3  # share of the distance to the baseline recovered per tick


@dataclass(frozen=True)
class SimSensor:
    id: uuid.UUID
    tenant_id: uuid.UUID
    site_id: uuid.UUID
    device_id: uuid.UUID
    code: str
    kind: str
    gas: str | None
    min_value: float
    max_value: float
    industry: str | None = None  # the tenant's; None: no alarm rules known
    zone_kind: str | None = None


@dataclass(frozen=True)
class Profile:
    """Where a kind's values plausibly sit: a baseline drawn in [low, high] per sensor, noise
    per tick (absolute, or relative to the baseline), and the band values stay inside."""

    low: float
    high: float
    noise: float
    floor: float
    ceiling: float
    relative: bool = False


PROFILES: dict[str, Profile] = {
    "combustible_gas": Profile(0.5, 2.5, 0.3, 0.0, 5.0),  # %LEL
    "oxygen": Profile(20.8, 20.95, 0.03, 20.5, 21.2),  # %VOL
    "methane": Profile(0.12, 0.35, 0.02, 0.1, 0.4),  # %VOL
    "carbon_monoxide": Profile(2.0, 8.0, 0.6, 0.0, 15.0),  # ppm
    "temperature": Profile(22.0, 45.0, 0.3, 20.0, 55.0),  # °C
    "pressure": Profile(150.0, 1200.0, 0.01, 100.0, 1350.0, relative=True),  # kPa
    "level": Profile(30.0, 75.0, 0.4, 20.0, 80.0),  # %
    "flow": Profile(20.0, 120.0, 0.02, 0.0, 200.0, relative=True),  # m3/h
    "vibration": Profile(0.8, 2.2, 0.1, 0.3, 2.6),  # mm/s, GB/T 6075.3 zone A/B
    "wind_speed": Profile(1.0, 6.0, 0.4, 0.0, 12.0),  # m/s
    "load_ratio": Profile(15.0, 70.0, 3.0, 0.0, 90.0),  # %
    "moment_ratio": Profile(15.0, 70.0, 3.0, 0.0, 88.0),  # %
    "displacement": Profile(-6.0, 6.0, 0.1, -15.0, 15.0),  # mm
    "tilt": Profile(-0.5, 0.5, 0.02, -1.0, 1.0),  # °
    "heart_rate": Profile(68.0, 95.0, 2.0, 55.0, 120.0),  # bpm
}
GAS_PROFILES: dict[str, Profile] = {  # toxic_gas, ppm
    "H2S": Profile(0.2, 1.5, 0.15, 0.0, 3.0),
    "CO": Profile(1.0, 6.0, 0.5, 0.0, 15.0),
    "NH3": Profile(1.0, 5.0, 0.4, 0.0, 10.0),
    "Cl2": Profile(0.02, 0.15, 0.02, 0.0, 0.5),
}

# SKAB column and its conversion to the sensor's unit, per pump sensor code.
_SHAFT_HZ = 48.3  # 2,900 rpm
SKAB_COLUMNS: dict[str, tuple[str, Callable[[float], float]]] = {
    "PT-901": ("Pressure", lambda bar: 300.0 + 100.0 * bar),  # relative bar → kPa
    "TT-901": ("Thermocouple", lambda celsius: celsius),
    "FT-901": ("Volume Flow RateRMS", lambda l_min: l_min * 0.06),  # L/min → m3/h
    "VT-901": ("Accelerometer1RMS", lambda g: g * 9806.65 / (2 * math.pi * _SHAFT_HZ)),
}
if set(SKAB_COLUMNS) != set(SKAB_PUMP_CODES):  # the demo's pump and the replay must agree
    raise RuntimeError("SKAB_COLUMNS must cover exactly the demo's SKAB_PUMP_CODES")


@cache
def skab_rows() -> tuple[dict[str, float], ...]:
    """The SKAB excerpt shipped with the package (never the shared dataset directory); empty,
    with one warning, when an installation lacks it: the pumps then get random walks too."""
    columns = {column for column, _ in SKAB_COLUMNS.values()}
    try:
        data = resources.files("backend.telemetry").joinpath("data/skab_valve1_excerpt.csv")
        reader = csv.DictReader(io.StringIO(data.read_text(encoding="ascii")), delimiter=";")
        return tuple({c: float(row[c]) for c in columns} for row in reader)
    except (OSError, KeyError, ValueError) as exc:
        log.warning("SKAB excerpt unavailable (%s); pump sensors get simulated values", exc)
        return ()


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def profile_for(sensor: SimSensor) -> Profile:
    if sensor.kind == "toxic_gas" and sensor.gas in GAS_PROFILES:
        return GAS_PROFILES[sensor.gas]
    known = PROFILES.get(sensor.kind) if sensor.kind != "toxic_gas" else None
    if known is not None:
        return known
    span = sensor.max_value - sensor.min_value  # unknown: the low end of the sensor's range
    low = sensor.min_value
    return Profile(low + 0.05 * span, low + 0.2 * span, 0.01 * span, low, low + 0.3 * span)


def resolution(profile: Profile) -> int:
    """Decimals reported: finer for narrow bands (CH4 %VOL, tilt), coarser for wide ones."""
    band = profile.ceiling - profile.floor
    return 3 if band <= 2 else 2 if band <= 200 else 1


# Share of the normal band kept clear next to each alarm level: the walk never comes closer.
BAND_MARGIN = 0.1


@cache
def normal_band(
    industry: str | None, kind: str, gas: str | None, zone_kind: str | None
) -> tuple[float, float]:
    """The values no default rule of such a sensor alarms at: above its highest low setpoint
    and below its lowest high setpoint (threshold levels, and the zone's composite conditions
    on the kind); infinite where no level bounds it."""
    if industry is None:
        return -math.inf, math.inf
    low, high = -math.inf, math.inf
    for spec in library.default_rules(industry, kind, gas=gas, zone_kind=zone_kind):
        if spec.kind is not RuleKind.THRESHOLD:
            continue
        for level in spec.levels:
            if level.direction is Direction.HIGH:
                high = min(high, level.setpoint)
            else:
                low = max(low, level.setpoint)
    for spec in library.zone_rules().values():
        for condition in spec.params.get("conditions", ()):
            if condition.get("sensor_kind") != kind:
                continue
            if "above" in condition:
                high = min(high, float(condition["above"]))
            else:
                low = max(low, float(condition["below"]))
    return low, high


@dataclass(frozen=True)
class Walk:
    """One sensor's random walk: baselines drawn in [low, high], values kept in
    [floor, ceiling], noise (absolute) per tick."""

    low: float
    high: float
    floor: float
    ceiling: float
    noise: float


def walk_for(sensor: SimSensor) -> Walk:
    """The plausible profile of the kind, narrowed to the sensor's range and to its normal
    band less ``BAND_MARGIN``; where the plausible values lie outside the normal band (a
    working face is cooler than a process vessel), the band wins."""
    p = profile_for(sensor)
    band_low, band_high = normal_band(sensor.industry, sensor.kind, sensor.gas, sensor.zone_kind)
    phys_low = max(p.floor, sensor.min_value)
    phys_high = min(p.ceiling, sensor.max_value)
    if phys_low > phys_high:  # a sensor range outside the plausible band: use the sensor's own
        phys_low, phys_high = sensor.min_value, sensor.max_value
    edge_low = band_low if math.isfinite(band_low) else phys_low
    edge_high = band_high if math.isfinite(band_high) else phys_high
    margin = BAND_MARGIN * max(edge_high - edge_low, 0.0)
    floor = max(phys_low, band_low + margin)
    ceiling = min(phys_high, band_high - margin)
    if floor >= ceiling:
        floor = max(edge_low + margin, sensor.min_value)
        ceiling = min(edge_high - margin, sensor.max_value)
    inner = 0.2 * (ceiling - floor)  # baselines keep away from the edges
    low, high = max(p.low, floor + inner), min(p.high, ceiling - inner)
    if low > high:
        low, high = floor + inner, ceiling - inner
    middle = (low + high) / 2
    noise = p.noise * abs(middle) if p.relative else p.noise
    # Noise small against the room left, so values seldom sit at the clamp.
    return Walk(low, high, floor, ceiling, min(noise, (ceiling - floor) / 12))


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
        self, runtime: Runtime, sensors: Sequence[SimSensor], now: datetime | None = None
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
                device = await runtime.ingest.device(device_id)
            except IngestError as exc:  # revoked or suspended since the last refresh
                log.info("simulator skips device %s: %s", device_id, exc)
                continue
            await runtime.ingest.store_readings(
                device,
                uuid.uuid4(),
                [sensor.id.bytes for sensor, _ in batch],
                [stamp] * len(batch),
                [value for _, value in batch],
            )
        return len(sensors)


def demo_tenant_names() -> list[str]:
    return [tenant.name for tenant in build_plan().tenants]


async def unscoped_demo_sensors(runtime: Runtime) -> list[SimSensor]:
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
    async with unscoped_session(runtime.sessions) as session, session.begin():
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
    runtime: Runtime,
    simulator: Simulator,
    *,
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
                sensors = await unscoped_demo_sensors(runtime)
                loaded_at = started
                log.info("simulating %d demo sensors every %.0f s", len(sensors), interval)
            await simulator.tick(runtime, sensors)
        except Exception:
            log.exception("simulator tick failed; the next tick will try again")
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


def attach_simulator(app: Litestar, runtime: Runtime) -> None:
    """Run the simulator while ``app`` runs: started after the app's own start-up (so this
    process already owns the ClickHouse engine), cancelled on shutdown. The running task is
    ``app.state.simulator``."""

    async def start(app: Litestar) -> None:
        simulator = Simulator(leak_sensor_code=DEMO_LEAK_SENSOR)
        task = asyncio.create_task(run_simulator(runtime, simulator), name="anjian-simulator")
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

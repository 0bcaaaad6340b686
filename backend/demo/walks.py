"""What the demo's simulated sensors report in normal operation: a plausible baseline per kind
(a mean-reverting random walk around it), always inside the sensor's physical range and inside
the normal band of the alarm rules the sensor gets (its industry's and zone kind's levels in
the indicator library, with a margin), so normal operation raises no alarm. The
circulating-water pumps of the chemical sites replay real measurements from the SKAB test bed
(``backend/telemetry/data/skab_valve1_excerpt.csv``, see ``data/PROVENANCE.md`` there).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from backend.alarms import library
from backend.alarms.rules import Direction, RuleKind
from backend.core.errors import ConfigurationError
from backend.demo.world import SKAB_PUMP_CODES

log = logging.getLogger("anjian.simulator")


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
    raise ConfigurationError("SKAB_COLUMNS must cover exactly the demo's SKAB_PUMP_CODES")


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

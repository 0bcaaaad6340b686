"""The simulator's normal operation raises no alarm; its scripted hazards do.

Every sensor's values stay inside the normal band of the default rules it gets (its industry's
and zone kind's levels in the indicator library), so the demo's only alarms are the scripted
ones. No database: sensors are built from the demo plan and fed to the rule engine directly.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from backend.alarms import library
from backend.alarms.engine import RuleEngine
from backend.alarms.rules import Direction, RuleKind, RuleSpec
from backend.demo.simulator import LEAK_PERIOD_S, TICK_SECONDS, Simulator
from backend.demo.walks import SimSensor, normal_band, walk_for
from backend.demo.world import build_plan
from backend.telemetry.kinds import catalog
from tenants.models import ZoneKind

START = datetime(2026, 3, 2, tzinfo=UTC)


def _sensor(industry: str, kind: str, gas: str | None, zone_kind: str | None, code: str = "X-1"):
    spec = catalog()[kind]
    span = spec["gases"][gas] if gas else spec
    return SimSensor(
        uuid.uuid4(),
        uuid.uuid4(),
        uuid.uuid4(),
        uuid.uuid4(),
        code,
        kind,
        gas,
        float(span["min"]),
        float(span["max"]),
        industry,
        zone_kind,
    )


def demo_sensors() -> list[SimSensor]:
    """One sensor per distinct (industry, kind, gas, zone kind, pump replay) of the demo."""
    seen: dict[tuple[object, ...], SimSensor] = {}
    for tenant in build_plan().tenants:
        for site in tenant.sites:
            zone_kinds = dict(site.zones)
            for device in site.devices:
                for entry in device.sensors:
                    zone_kind = zone_kinds.get(entry.get("zone"))
                    gas = entry.get("gas")
                    key = (tenant.industry, entry["kind"], gas, zone_kind, entry["code"][:2])
                    seen.setdefault(
                        key, _sensor(tenant.industry, entry["kind"], gas, zone_kind, entry["code"])
                    )
    return list(seen.values())


def every_combination() -> Iterator[SimSensor]:
    for industry in ("chemical", "mining", "construction"):
        for kind, spec in catalog().items():
            for gas in spec.get("gases") or [None]:
                for zone_kind in [None, *(z.value for z in ZoneKind)]:
                    yield _sensor(industry, kind, gas, zone_kind)


def test_every_kind_walks_strictly_inside_its_normal_band() -> None:
    """For every industry, kind, gas and zone kind: the walk's bounds keep a margin from the
    nearest alarm level, inside the sensor's range."""
    for sensor in every_combination():
        low, high = normal_band(sensor.industry, sensor.kind, sensor.gas, sensor.zone_kind)
        walk = walk_for(sensor)
        assert low < walk.floor <= walk.low <= walk.high <= walk.ceiling < high, sensor
        assert sensor.min_value <= walk.floor and walk.ceiling <= sensor.max_value, sensor
        assert walk.noise > 0, sensor


def test_the_band_is_the_innermost_setpoints_of_the_sensors_rules() -> None:
    # A coal working face: 26 °C (煤矿安全规程 第六百五十五条), airflow 0.25–4 m/s.
    assert normal_band("mining", "temperature", None, "working_face") == (float("-inf"), 26.0)
    assert normal_band("mining", "temperature", None, "hoisting") == (float("-inf"), 30.0)
    assert normal_band("mining", "wind_speed", None, "working_face") == (0.25, 4.0)
    # Combustible gas: the hot-work composite rule's 10 %LEL is nearer than the 25 %LEL level.
    assert normal_band("chemical", "combustible_gas", None, "hot_work")[1] == 10.0
    assert normal_band(None, "temperature", None, None) == (float("-inf"), float("inf"))


def _rules(sensor: SimSensor) -> list[tuple[uuid.UUID, RuleSpec]]:
    specs = library.default_rules(
        sensor.industry or "chemical", sensor.kind, gas=sensor.gas, zone_kind=sensor.zone_kind
    )
    # Value rules only: stale and offline rules are about silence, not values.
    kinds = (RuleKind.THRESHOLD, RuleKind.RATE_OF_CHANGE)
    return [(uuid.uuid4(), spec) for spec in specs if spec.kind in kinds]


def test_a_simulated_day_of_normal_operation_reaches_no_level(seed: int = 2026) -> None:
    """A day of readings every 5 s for every kind of demo sensor: no value reaches a level of
    its rules, and the rule engine (thresholds with their on-delays, the 24 h displacement
    rate) raises nothing."""
    sensors = demo_sensors()
    engine = RuleEngine()
    for sensor in sensors:
        engine.set_rules(sensor.id, _rules(sensor), device_id=sensor.device_id)
    simulator = Simulator(random.Random(seed))  # no scripted leak
    ids = [s.id for s in sensors]
    signals = []
    ticks = []
    for step in range(round(86400 / TICK_SECONDS)):
        now = START + timedelta(seconds=step * TICK_SECONDS)
        values = simulator.generate(sensors, now)[4]
        signals += engine.on_readings(ids, [round(now.timestamp() * 1000)] * len(ids), values)
        ticks.append(values)
    assert signals == []
    for sensor, series in zip(sensors, zip(*ticks, strict=True), strict=True):
        low, high = min(series), max(series)
        for _, spec in _rules(sensor):
            for level in spec.levels if spec.kind is RuleKind.THRESHOLD else ():
                if level.direction is Direction.HIGH:
                    assert high < level.setpoint, (sensor.code, sensor.kind, level)
                else:
                    assert low > level.setpoint, (sensor.code, sensor.kind, level)


def test_the_scripted_leak_still_happens_and_is_listed() -> None:
    leak = _sensor("chemical", "combustible_gas", None, "tank_farm", code="GT-101")
    quiet = _sensor("chemical", "combustible_gas", None, "tank_farm", code="GT-102")
    simulator = Simulator(random.Random(1), leak_sensor_code="GT-101")
    end = START + timedelta(hours=1)
    hazards = simulator.hazards([leak, quiet], START, end)
    assert len(hazards) == 3600 // LEAK_PERIOD_S
    assert {h.sensor_id for h in hazards} == {leak.id}
    assert all(h.severity == "RED" for h in hazards)
    first = hazards[0].starts_at
    episode = [simulator.value(leak, first + timedelta(seconds=s)) for s in range(0, 300, 5)]
    assert max(episode) >= 50  # the 2nd level of GB/T 50493: RED
    assert simulator.value(quiet, first + timedelta(seconds=120)) < 10

"""The indicator libraries: every kind has defaults, the values match the standards, broken
files fail loudly. No database: the library is data plus a loader."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from backend.alarms import library
from backend.alarms.engine import RuleEngine
from backend.alarms.library import IndicatorLibraryError, load_library
from backend.alarms.rules import Direction, Level, RuleKind, RuleSpec, Severity
from backend.core.errors import BadInput
from backend.telemetry.kinds import catalog
from tenants.models import Industry, ZoneKind

RED, ORANGE, YELLOW, BLUE = Severity.RED, Severity.ORANGE, Severity.YELLOW, Severity.BLUE
INDUSTRIES = [i.value for i in Industry]
FILES = [*INDUSTRIES, "wearables", "generic"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def package_dir() -> Path:
    return Path(str(resources.files("backend.alarms.indicators")))


def sensor_cases() -> Iterator[tuple[str, str, str | None, str | None]]:
    """Every (industry, kind, gas, zone kind) a sensor can have."""
    for industry in INDUSTRIES:
        for kind, spec in catalog().items():
            for gas in spec.get("gases") or [None]:
                for zone_kind in [None, *(z.value for z in ZoneKind)]:
                    yield industry, kind, gas, zone_kind


def all_specs() -> Iterator[tuple[str, RuleSpec]]:
    for industry, kind, gas, zone_kind in sensor_cases():
        for spec in library.default_rules(industry, kind, gas=gas, zone_kind=zone_kind):
            yield f"{industry}/{kind}/{gas}/{zone_kind}", spec
    for event_type, spec in library.event_rules().items():
        yield f"event {event_type}", spec


def reached(industry: str, kind: str, value: float, **where: str | None) -> Level | None:
    """The most severe threshold level a reading reaches (the more extreme one on a tie)."""
    levels = [
        lv
        for spec in library.default_rules(industry, kind, **where)
        if spec.kind is RuleKind.THRESHOLD
        for lv in spec.levels
        if lv.reached(value)
    ]
    if not levels:
        return None
    return max(levels, key=lambda lv: (lv.severity.rank, abs(lv.setpoint)))


def level(industry: str, kind: str, name: str, **where: str | None) -> Level:
    for spec in library.default_rules(industry, kind, **where):
        for lv in spec.levels:
            if lv.name == name:
                return lv
    raise AssertionError(f"no level {name!r} for {industry}/{kind} {where}")


# -- coverage --------------------------------------------------------------------------------


@pytest.mark.parametrize("industry", INDUSTRIES)
def test_every_kind_and_gas_has_threshold_and_stale_defaults(industry: str) -> None:
    for kind, spec in catalog().items():
        for gas in spec.get("gases") or [None]:
            specs = library.default_rules(industry, kind, gas=gas)
            kinds = [s.kind for s in specs]
            assert RuleKind.THRESHOLD in kinds, f"{industry}: {kind} {gas or ''} has no threshold"
            stale = [s for s in specs if s.kind is RuleKind.STALE]
            assert len(stale) == 1, f"{industry}: {kind} needs exactly one stale rule"
            assert stale[0].levels[0].severity is BLUE
            assert stale[0].params["seconds"] > 0
            assert all(s.kind is not RuleKind.EVENT for s in specs)


def test_industry_entries_replace_generic_ones_and_inherit_the_rest() -> None:
    mining = {r.name: r for r in library.library().indicator_rules("mining", "temperature")}
    chemical = {r.name: r for r in library.library().indicator_rules("chemical", "temperature")}
    assert mining["limits"].source == "mining.json"
    assert chemical["limits"].source == "chemical.json"
    assert mining["limits"].spec != chemical["limits"].spec
    assert mining["stale"].source == chemical["stale"].source == "generic.json"
    heart = {r.name: r for r in library.library().indicator_rules("construction", "heart_rate")}
    assert heart["band"].source == "wearables.json"
    assert heart["stale"].source == "generic.json"


# -- the table of readings per industry -------------------------------------------------------

# industry (* = every one) · kind · gas=… or zone=… (zone kind) or - · value:severity …
READINGS = """
# 煤矿安全规程 第四百九十八条: CH4 at a working face alarm 1.0 %, power-off 1.5 %, restore < 1.0 %;
# in a return airway alarm and power-off at 1.0 %. Other zones as the working face.
mining       methane         zone=working_face  0.99:- 1.0:ORANGE 1.49:ORANGE 1.5:RED 3.0:RED
mining       methane         -                  0.99:- 1.0:ORANGE 1.49:ORANGE 1.5:RED
mining       methane         zone=general       0.99:- 1.0:ORANGE 1.5:RED
mining       methane         zone=return_airway 0.99:- 1.0:RED
# GB/T 50493-2019: combustible gas 1st level 25 %LEL, 2nd level 50 %LEL.
*            combustible_gas -                  24.9:- 25:ORANGE 49.9:ORANGE 50:RED
# Tower crane load and moment (GB 5144 / JGJ 332): warning 90 %, cut-off 100 %.
construction load_ratio      -                  89.9:- 90:YELLOW 99.9:YELLOW 100:RED 110:RED
construction moment_ratio    -                  89.9:- 90:YELLOW 99.9:YELLOW 100:RED 110:RED
# Oxygen: deficiency 19.5 and enrichment 23.5 %VOL (GB/T 50493), < 18 % 缺氧 (GBZ/T 205);
# mining: intake air at least 20 % (煤矿安全规程 第一百三十五条).
chemical     oxygen          -                  20.9:- 19.6:- 19.5:ORANGE 18.1:ORANGE 18:RED
chemical     oxygen          -                  23.4:- 23.5:RED
mining       oxygen          -                  20.9:- 20.1:- 20:ORANGE 18:RED 23.5:RED
# Mining CO 24 ppm (第一百三十五条), as its own kind and as a toxic gas; twice that RED.
mining       carbon_monoxide -                  23.9:- 24:ORANGE 48:RED
mining       toxic_gas       gas=CO             23.9:- 24:ORANGE 48:RED
# Heart rate out of band (wearables, every industry).
*            heart_rate      -                  70:- 149:- 150:ORANGE 180:RED
*            heart_rate      -                  46:- 45:ORANGE 35:RED
# Building-site wind: force 6, stop lifting, crane out of service.
construction wind_speed      -                  10.7:- 10.8:YELLOW 12:ORANGE 19.9:ORANGE 20:RED
# Foundation pit: 70/85/100 % of a 30 mm control value, either direction.
construction displacement    -                  0:- 20.9:- 21:YELLOW 25.5:ORANGE 30:RED
construction displacement    -                  -20.9:- -21:YELLOW -30:RED
# 煤矿安全规程 第六百五十五条: at working faces above 26 °C shorten hours, above 30 °C stop
# work; machine chambers (substations, hoist chambers: every other zone) 30 and 34 °C.
mining       temperature     zone=working_face  25.9:- 26:ORANGE 30:RED
mining       temperature     zone=hoisting      29.9:- 30:ORANGE 33.9:ORANGE 34:RED
mining       temperature     zone=general       29.9:- 30:ORANGE 34:RED
mining       temperature     zone=return_airway 29.9:- 30:ORANGE 34:RED
mining       temperature     -                  29.9:- 30:ORANGE 34:RED
# 煤矿安全规程 第一百三十六条: airflow at a working face 0.25–4 m/s.
mining       wind_speed      zone=working_face  0.3:- 0.25:RED 3.9:- 4:RED
"""


def _table() -> list[tuple[str, str, dict[str, str], float, Severity | None]]:
    rows = []
    for line in READINGS.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        industry, kind, where, *points = line.split()
        key, _, name = where.partition("=")
        given = {"zone_kind" if key == "zone" else key: name} if name else {}
        for industry_ in INDUSTRIES if industry == "*" else [industry]:
            for point in points:
                value, severity = point.split(":")
                expected = None if severity == "-" else Severity(severity)
                rows.append((industry_, kind, given, float(value), expected))
    return rows


TABLE = _table()


@pytest.mark.parametrize(
    ("industry", "kind", "where", "value", "expected"),
    TABLE,
    ids=[f"{i}-{k}-{'-'.join(filter(None, w.values()))}-{v}" for i, k, w, v, _ in TABLE],
)
def test_reading_reaches_the_expected_level(
    industry: str,
    kind: str,
    where: dict[str, str | None],
    value: float,
    expected: Severity | None,
) -> None:
    hit = reached(industry, kind, value, **where)
    assert (hit.severity if hit else None) is expected


def test_the_working_face_temperature_rule_applies_only_at_working_faces() -> None:
    """煤矿安全规程 第六百五十五条 sets 26/30 °C for working faces and 30/34 °C for machine
    chambers: a hoist room or a substation at 28 °C is within its limit."""
    face = reached("mining", "temperature", 28.0, zone_kind="working_face")
    assert face is not None and face.severity is ORANGE
    for zone_kind in ("hoisting", "general", None):
        assert reached("mining", "temperature", 28.0, zone_kind=zone_kind) is None, zone_kind
        chamber = reached("mining", "temperature", 36.0, zone_kind=zone_kind)
        assert chamber is not None and chamber.severity is RED
    rules = library.library().indicator_rules("mining", "temperature", zone_kind="working_face")
    assert "第六百五十五条" in next(r for r in rules if r.name == "limits").spec.standard


def test_methane_levels_are_named_as_in_the_regulation() -> None:
    assert reached("mining", "methane", 1.0, zone_kind="working_face").name == "alarm"
    assert reached("mining", "methane", 1.5, zone_kind="working_face").name == "power-off"
    return_airway = reached("mining", "methane", 1.0, zone_kind="return_airway")
    assert return_airway.name == "alarm & power-off"


def test_deadbands_hold_alarms_until_the_value_is_back() -> None:
    first = level("chemical", "combustible_gas", "1st level")
    assert first.reached(25.0) and not first.cleared(24.0) and first.cleared(22.9)
    # Methane: power restored only below 1.0 % (煤矿安全规程 复电浓度 < 1.0 %).
    power_off = level("mining", "methane", "power-off", zone_kind="working_face")
    assert not power_off.cleared(1.2) and not power_off.cleared(1.0) and power_off.cleared(0.99)
    low = level("chemical", "oxygen", "low")
    assert low.reached(19.5) and not low.cleared(19.7) and low.cleared(19.9)
    for kind, name in (("construction", "cut-off"), ("construction", "warning")):
        lv = level(kind, "moment_ratio", name)
        assert lv.clear_at < lv.setpoint
    heart = [s for s in library.default_rules("mining", "heart_rate") if s.levels]
    assert next(s for s in heart if s.kind is RuleKind.THRESHOLD).on_delay_s == 30


# GBZ 2.1-2019 OELs (mg/m³): the MAC where one is set, else the PC-TWA; molar masses g/mol.
GBZ_OEL = {
    "H2S": (10, 34.08),
    "CO": (20, 28.01),
    "NH3": (20, 17.03),
    "Cl2": (1, 70.90),
    "SO2": (5, 64.07),
    "NO2": (5, 46.01),
    "HCN": (1, 27.03),
    "PH3": (0.3, 34.00),
    "C6H6": (6, 78.11),
}
# 煤矿安全规程 第一百三十五条: maximum allowed concentrations underground, % by volume.
MINE_MAX_PCT = {"CO": 0.0024, "H2S": 0.00066, "NH3": 0.004, "SO2": 0.0005, "NO2": 0.00025}


@pytest.mark.parametrize("gas", sorted(catalog()["toxic_gas"]["gases"]))
def test_toxic_gas_levels_are_100_and_200_percent_of_the_oel(gas: str) -> None:
    mg, molar_mass = GBZ_OEL[gas]
    oel_ppm = mg * 24.055 / molar_mass  # 20 °C, 101.3 kPa
    for industry in ("chemical", "construction"):
        first = level(industry, "toxic_gas", "1st level", gas=gas)
        second = level(industry, "toxic_gas", "2nd level", gas=gas)
        assert 0.9 * oel_ppm <= first.setpoint <= oel_ppm
        assert 1.8 * oel_ppm <= second.setpoint <= 2 * oel_ppm
        assert (first.severity, second.severity) == (ORANGE, RED)
    limit = MINE_MAX_PCT.get(gas)
    mine_first = level("mining", "toxic_gas", "1st level", gas=gas)
    if limit is None:  # not in the regulation's table: the chemical (GB/T 50493) default
        assert mine_first == level("chemical", "toxic_gas", "1st level", gas=gas)
    else:
        assert mine_first.setpoint == pytest.approx(limit * 10_000)


# -- shape and sanity -----------------------------------------------------------------------


def test_threshold_levels_are_ordered_and_the_most_extreme_is_red() -> None:
    for where, spec in all_specs():
        if spec.kind is not RuleKind.THRESHOLD:
            assert len(spec.levels) == 1, where
            continue
        for direction in Direction:
            side = [lv for lv in spec.levels if lv.direction is direction]
            if not side:
                continue
            sign = 1 if direction is Direction.HIGH else -1
            assert [sign * lv.setpoint for lv in side] == sorted(
                {sign * lv.setpoint for lv in side}
            )
            assert [lv.severity.rank for lv in side] == sorted(lv.severity.rank for lv in side)
            assert side[-1].severity is RED, where
            for lv in side:
                assert sign * lv.clear_at <= sign * lv.setpoint, (where, lv)


def test_every_rule_names_its_standard_and_round_trips_through_json() -> None:
    count = 0
    for where, spec in all_specs():
        assert spec.standard and spec.standard.strip(), where
        assert spec.ack_deadline_s > 0 and spec.on_delay_s >= 0
        assert RuleSpec.from_json(json.loads(json.dumps(spec.as_json()))) == spec, where
        count += 1
    assert count > 100


def test_callers_get_their_own_params() -> None:
    spec = next(s for s in library.default_rules("chemical", "oxygen") if s.params)
    spec.params["seconds"] = -1
    again = next(s for s in library.default_rules("chemical", "oxygen") if s.params)
    assert again.params["seconds"] > 0


def test_every_file_is_versioned_and_library_version_follows_the_files(tmp_path: Path) -> None:
    for name in FILES:
        data = json.loads((package_dir() / f"{name}.json").read_text("utf-8"))
        assert isinstance(data["version"], int) and data["version"] >= 1, name
        assert data["industry"] == (name if name in INDUSTRIES else "all")
        assert library.library().versions()[name] == data["version"]
    versions = library.library().versions()
    expected = f"{versions['mining']}.{versions['wearables']}.{versions['generic']}"
    assert library.library_version(Industry.MINING) == expected
    directory = copy_library(tmp_path)
    edit(directory, "mining", lambda d: d.update(version=d["version"] + 6))
    edit(directory, "generic", lambda d: d.update(version=d["version"] + 2))
    copy = load_library(directory)
    assert copy.library_version("mining") == (
        f"{versions['mining'] + 6}.{versions['wearables']}.{versions['generic'] + 2}"
    )
    assert copy.library_version("chemical").endswith(f".{versions['generic'] + 2}")


# -- events ----------------------------------------------------------------------------------


def test_event_rules_cover_every_alarm_event_type() -> None:
    rules = library.event_rules()
    text = resources.files("backend.telemetry").joinpath("event_types.json").read_text("utf-8")
    types = set(json.loads(text)["types"]) - {"zone.enter", "zone.exit", "wearable.position"}
    assert set(rules) == types | {"presence"}
    expected = {
        "wearable.sos": RED,
        "wearable.man_down": RED,
        "wearable.fall": ORANGE,
        "ppe.no_helmet": YELLOW,
        "ppe.no_vest": YELLOW,
        "zone.intrusion": ORANGE,
        "fire.smoke": ORANGE,
        "fire.flame": RED,
    }
    for event_type, severity in expected.items():
        spec = rules[event_type]
        assert spec.kind is RuleKind.EVENT
        assert spec.params["event_type"] == event_type
        assert spec.levels[0].severity is severity
    for life_safety in ("wearable.sos", "wearable.man_down", "fire.flame"):
        assert "clear_after_s" not in rules[life_safety].params  # cleared by people only
    presence = rules["presence"]
    assert presence.params["zone_kind"] == ZoneKind.CONFINED_SPACE.value
    assert presence.params["max_seconds"] == 30 * 60


def test_library_rules_run_in_the_rule_engine() -> None:
    engine = RuleEngine()
    sensor, device, t0 = uuid.uuid4(), uuid.uuid4(), 1_700_000_000_000
    specs = library.default_rules("mining", "methane", zone_kind="working_face")
    engine.set_rules(sensor, [(uuid.uuid4(), s) for s in specs], device_id=device, now_ms=t0)
    signals = []
    for i, value in enumerate((0.99, 1.0, 1.5, 1.2, 0.99)):
        signals += engine.on_readings([sensor], [t0 + i * 1000], [value])
    assert [(s.kind, s.level, s.severity) for s in signals] == [
        ("raise", "alarm", ORANGE),
        ("upgrade", "power-off", RED),
        ("clear", None, None),
    ]
    # Every other default (stale, rate of change, events, presence) builds without error.
    for industry, kind, gas, zone_kind in sensor_cases():
        specs = library.default_rules(industry, kind, gas=gas, zone_kind=zone_kind)
        engine.set_rules(uuid.uuid4(), [(uuid.uuid4(), s) for s in specs], now_ms=t0)
    engine.set_event_rules(device, [(uuid.uuid4(), s) for s in library.event_rules().values()])


# -- the API ---------------------------------------------------------------------------------


def test_industry_as_enum_or_string_and_bad_input() -> None:
    assert library.default_rules(Industry.CHEMICAL, "level") == library.default_rules(
        "chemical", "level"
    )
    bad: list[Callable[[], object]] = [
        lambda: library.default_rules("retail", "level"),
        lambda: library.default_rules("chemical", "radiation"),
        lambda: library.default_rules("chemical", "toxic_gas"),
        lambda: library.default_rules("chemical", "toxic_gas", gas="Xe"),
        lambda: library.default_rules("chemical", "oxygen", gas="H2S"),
        lambda: library.default_rules("mining", "methane", zone_kind="moon_base"),
        lambda: library.describe_event("zone.enter"),
    ]
    for call in bad:
        with pytest.raises(BadInput):
            call()


def test_describe_gives_labels_in_both_languages() -> None:
    for industry, kind, gas, zone_kind in sensor_cases():
        if zone_kind not in (None, "working_face"):
            continue
        info = library.describe(industry, kind, gas=gas, zone_kind=zone_kind)
        assert info["unit"] == catalog()[kind]["unit"]
        assert CJK.search(info["label_zh"]) and info["label_en"]
        for rule in info["rules"]:
            assert CJK.search(rule["label_zh"]) and rule["label_en"] and rule["standard"]
            for lv in rule["levels"]:
                assert CJK.search(lv["label_zh"]) and lv["label_en"], (industry, kind, lv)
    pressure = library.describe("chemical", "pressure")
    assert next(r for r in pressure["rules"] if r["name"] == "limits")["placeholder"] is True
    gas = library.describe("chemical", "combustible_gas")
    assert gas["rules"][0]["placeholder"] is False and "50493" in gas["rules"][0]["standard"]
    sos = library.describe_event("wearable.sos")
    assert sos["levels"][0]["severity"] == "RED" and CJK.search(sos["levels"][0]["label_zh"])


# -- broken files ----------------------------------------------------------------------------


def copy_library(tmp_path: Path) -> Path:
    directory = tmp_path / "indicators"
    directory.mkdir()
    for name in FILES:
        shutil.copy(package_dir() / f"{name}.json", directory / f"{name}.json")
    return directory


def edit(directory: Path, name: str, change: Callable[[dict[str, Any]], object]) -> None:
    path = directory / f"{name}.json"
    data = json.loads(path.read_text("utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")


DELETE = object()
GAS = "indicators.combustible_gas.rules.0.levels"


def set_path(data: dict[str, Any], path: str, value: object) -> None:
    """Set (or with DELETE remove) the value at a dotted path; list indexes are numbers."""
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is DELETE:
        node.pop(last)
    else:
        node[last] = value


def _swap_gas_levels(d: dict[str, Any]) -> None:
    levels = d["indicators"]["combustible_gas"]["rules"][0]["levels"]
    levels[0], levels[1] = levels[1], levels[0]


# (id, file, dotted path, new value, or a function changing the file, expected message part)
HOT = "zones.gas_during_hot_work"


def _zone_rule_elsewhere(d: dict[str, Any]) -> None:
    d["zones"] = {"x": {}}


BROKEN: list[tuple[str, str, str | Callable[[dict[str, Any]], object], object, str]] = [
    ("composite-op", "generic", f"{HOT}.params.op", "XOR", "must be AND or OR"),
    (
        "composite-kind",
        "generic",
        f"{HOT}.params.conditions.0.sensor_kind",
        "lava",
        "unknown sensor kind 'lava'",
    ),
    ("composite-permit", "generic", f"{HOT}.params.conditions.1.permit", "picnic", "permit kind"),
    (
        "composite-clear",
        "generic",
        f"{HOT}.params.conditions.0.clear_below",
        12,
        "safe side of the setpoint",
    ),
    ("composite-empty", "generic", f"{HOT}.params.conditions", [], "non-empty list"),
    ("offline-seconds", "generic", "device.offline.params.seconds", 30, "differs from the level"),
    ("offline-kind", "generic", "device.offline.kind", "composite", 'belong in "zones"'),
    ("zones-elsewhere", "chemical", _zone_rule_elsewhere, None, "belong in generic.json"),
    ("no-version", "construction", "version", DELETE, "missing version"),
    ("version-text", "chemical", "version", "1", "positive integer"),
    ("wrong-industry", "mining", "industry", "chemical", "industry"),
    ("unordered", "chemical", _swap_gas_levels, None, "out of order"),
    ("top-not-red", "chemical", f"{GAS}.1.severity", "ORANGE", "must be RED"),
    ("bad-severity", "chemical", f"{GAS}.0.severity", "PURPLE", "unknown severity"),
    ("typo", "chemical", f"{GAS}.0.setpiont", 1, "unknown key(s) setpiont"),
    ("clear-wrong-side", "chemical", f"{GAS}.0.clear_at", 26, "clear_at 26 must be at or below"),
    (
        "no-standard",
        "wearables",
        "indicators.heart_rate.rules.0.standard",
        DELETE,
        "missing standard",
    ),
    ("blank-standard", "construction", "indicators.tilt.rules.0.standard", " ", "non-empty string"),
    ("wrong-unit", "mining", "indicators.methane.unit", "ppm", "measured in %VOL"),
    (
        "above-oel",
        "chemical",
        "indicators.toxic_gas.by_gas.H2S.rules.0.levels.0.setpoint",
        8.0,
        "90–100 % of 100 % of the limit",
    ),
    ("unknown-kind", "generic", "indicators.radiation", {"unit": "Sv", "rules": []}, "'radiation'"),
    ("uncovered-kind", "generic", "indicators.vibration", DELETE, "vibration needs a threshold"),
    ("dangling-same-as", "generic", "indicators.flow.same_as", "mining", "no entry of its own"),
    ("stale-mismatch", "generic", "indicators.tilt.rules.0.params.seconds", 5, "differs from"),
    ("missing-event", "wearables", lambda d: d["events"].pop("ppe.no_vest"), None, "ppe.no_vest"),
    ("events-elsewhere", "mining", "events", {}, "event rules belong in wearables.json"),
    (
        "rate-span-too-long",
        "construction",
        "indicators.displacement.rules.1.params.min_span_s",
        86400,
        "must be shorter than window_s",
    ),
    (
        "rate-no-readings",
        "construction",
        "indicators.displacement.rules.1.params.min_readings",
        0,
        "must be above 0",
    ),
]


@pytest.mark.parametrize(
    ("file", "path", "value", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_a_broken_file_fails_naming_the_file_and_the_problem(
    tmp_path: Path,
    file: str,
    path: str | Callable[[dict[str, Any]], object],
    value: object,
    message: str,
) -> None:
    directory = copy_library(tmp_path)
    load_library(directory)  # the untouched copy loads
    edit(directory, file, path if callable(path) else lambda d: set_path(d, path, value))
    with pytest.raises(IndicatorLibraryError) as caught:
        load_library(directory)
    text = str(caught.value)
    assert str(directory / f"{file}.json") in text
    assert message in text
    assert caught.value.code == "CONFIGURATION_ERROR"


def test_invalid_json_missing_and_stray_files_fail(tmp_path: Path) -> None:
    directory = copy_library(tmp_path)
    (directory / "mining.json").write_text('{"version": 1,', "utf-8")
    with pytest.raises(IndicatorLibraryError, match=r"mining\.json: not valid JSON"):
        load_library(directory)
    shutil.copy(package_dir() / "mining.json", directory / "mining.json")
    (directory / "construction.json").unlink()
    with pytest.raises(IndicatorLibraryError, match=r"construction\.json: missing"):
        load_library(directory)
    shutil.copy(package_dir() / "construction.json", directory / "construction.json")
    (directory / "retail.json").write_text("{}", "utf-8")
    with pytest.raises(IndicatorLibraryError, match=r"retail\.json: unknown library file"):
        load_library(directory)


def test_every_device_gets_an_offline_rule_and_gas_zones_a_hot_work_rule() -> None:
    (offline,) = library.device_rules().values()
    assert (offline.kind, offline.levels[0].severity, offline.params["seconds"]) == (
        RuleKind.OFFLINE,
        Severity.BLUE,
        300,
    )
    hot = library.zone_rules()["gas_during_hot_work"]
    assert hot.kind is RuleKind.COMPOSITE and hot.levels[0].severity is Severity.RED
    assert hot.params["conditions"] == [
        {"sensor_kind": "combustible_gas", "above": 10, "clear_below": 8},
        {"permit": "hot_work"},
    ]
    assert "GB 30871" in (hot.standard or "")


# -- default rules as rows -------------------------------------------------------------------


def test_a_default_rule_row_carries_its_spec_its_owner_and_the_library_versions() -> None:
    tenant, site, sensor, device = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    spec = next(s for s in library.default_rules("chemical", "oxygen") if s.kind is RuleKind.STALE)
    row = library.default_rule_row(
        spec=spec,
        industry=Industry.CHEMICAL,
        slot="stale:1",
        tenant_id=tenant,
        site_id=site,
        sensor_id=sensor,
        device_id=device,
    )
    assert (row.tenant_id, row.site_id, row.sensor_id, row.device_id, row.zone_id) == (
        tenant,
        site,
        sensor,
        device,
        None,
    )
    assert (row.kind, row.default_slot) == ("stale", "stale:1")
    assert RuleSpec.from_json(row.definition) == spec
    assert row.source == f"library:chemical@{library.library_version('chemical')}"


def test_a_major_hazard_site_raises_only_its_data_quality_defaults_from_blue() -> None:
    def row(spec: RuleSpec, *, major: bool) -> RuleSpec:
        built = library.default_rule_row(
            spec=spec,
            industry=Industry.MINING,
            slot="x",
            tenant_id=uuid.uuid4(),
            site_id=uuid.uuid4(),
            device_id=uuid.uuid4(),
            major_hazard_site=major,
        )
        return RuleSpec.from_json(built.definition)

    (offline,) = library.device_rules().values()
    assert row(offline, major=False).levels[0].severity is BLUE
    raised = row(offline, major=True)
    assert raised.levels[0].severity is YELLOW
    assert raised == library.raised_from_blue(offline)
    stale = next(s for s in library.default_rules("mining", "oxygen") if s.kind is RuleKind.STALE)
    assert row(stale, major=True).levels[0].severity is YELLOW
    rules = library.default_rules("mining", "oxygen")
    limits = next(s for s in rules if s.kind is RuleKind.THRESHOLD)
    assert row(limits, major=True) == limits

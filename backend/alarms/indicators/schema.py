"""The indicator library file format: parse and check one file (see backend.alarms.library).

A file is ``{"version": int, "industry": "<industry>" | "all", "description"?, "indicators":
{kind: entry}, "events"?}``. An entry is ``{"unit", "rules": [rule], "note"?, "limit"?,
"same_as"?, "by_gas"?: {gas: {"rules", "limit"?}}, "by_zone_kind"?: {zone kind: {"rules"}}}``.
A rule is ``{"name", "kind", "label_zh", "label_en", "standard", "basis"?, "placeholder"?,
"on_delay_s"?, "ack_deadline_s"?, "params"?, "levels": [level]}`` and a level ``{"name",
"label_zh", "label_en", "severity", "direction", "setpoint", "clear_at", "limit_pct"?}``.

Checks: known keys only; kinds, units, gases and zone kinds as in kinds.json and ZoneKind;
setpoints inside the kind's range; per direction the levels of a threshold rule move outward,
their severities never fall and the most extreme one is RED; ``clear_at`` lies on the safe
side of its setpoint; a level with ``limit_pct`` sits within 90–100 % of that share of the
exposure ``limit``; stale, rate and event rules have one level matching their params.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any, NoReturn

from backend.alarms.rules import Direction, Level, PermitKind, RuleKind, RuleSpec, Severity
from backend.core.errors import ConfigurationError
from backend.telemetry.kinds import catalog
from tenants.models import Industry, ZoneKind

MOLAR_VOLUME_L = 24.055  # L/mol at 20 °C and 101.325 kPa (GBZ 159): ppm = mg/m³ × 24.055 / M
INDUSTRIES = tuple(i.value for i in Industry)
CROSS_INDUSTRY = ("wearables", "generic")  # the layers after the industry's own file, in order
FILES = (*INDUSTRIES, *CROSS_INDUSTRY)
PRESENCE = "presence"
# Event types that feed the presence rule and raise no alarm of their own.
PRESENCE_INPUTS = frozenset({"zone.enter", "zone.exit", "wearable.position"})
ZONE_KINDS = frozenset(z.value for z in ZoneKind)


class IndicatorLibraryError(ConfigurationError):
    """A broken indicator library file; the message names the file and the place in it."""


@dataclass(frozen=True)
class IndicatorRule:
    """One library rule: the ``RuleSpec`` the engine runs, with what the UI shows of it."""

    name: str  # unique per sensor: "limits", "stale", "rate", …
    label_zh: str
    label_en: str
    spec: RuleSpec
    level_labels: Mapping[str, tuple[str, str]]  # level name → (zh-CN, English)
    basis: str | None  # how the values follow from the standard
    placeholder: bool  # plant-specific: the tenant is expected to override it
    source: str  # the file it was read from

    def rule_spec(self) -> RuleSpec:
        """The spec with its own copy of ``params`` (callers may change theirs)."""
        return replace(self.spec, params=copy.deepcopy(self.spec.params))


@dataclass
class Entry:
    unit: str
    rules: dict[str, IndicatorRule]
    by_gas: dict[str, dict[str, IndicatorRule]] = field(default_factory=dict)
    by_zone_kind: dict[str, dict[str, IndicatorRule]] = field(default_factory=dict)
    same_as: str | None = None

    def resolve(self, gas: str | None, zone_kind: str | None) -> dict[str, IndicatorRule]:
        rules = dict(self.rules)
        rules.update(self.by_zone_kind.get(zone_kind or "", {}))
        rules.update(self.by_gas.get(gas or "", {}))
        return rules


@dataclass
class LibraryFile:
    name: str
    path: str
    version: int
    indicators: dict[str, Entry]
    events: dict[str, IndicatorRule]
    device: dict[str, IndicatorRule] = field(default_factory=dict)
    zones: dict[str, IndicatorRule] = field(default_factory=dict)


class Ctx:
    """Reads one file, failing with its path and the place in it."""

    def __init__(self, path: str) -> None:
        self.path, self.source = path, Path(path).name

    def fail(self, where: str, problem: str) -> NoReturn:
        raise IndicatorLibraryError(
            f"{self.path}: {where}: {problem}" if where else f"{self.path}: {problem}"
        )

    def obj(
        self, where: str, value: object, required: Sequence[str], optional: Sequence[str] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {type(value).__name__}")
        missing = [key for key in required if key not in value]
        if missing:
            self.fail(where, f"missing {', '.join(missing)}")
        unknown = sorted(set(value) - set(required) - set(optional))
        if unknown:
            self.fail(where, f"unknown key(s) {', '.join(unknown)}")
        return value

    def mapping(self, where: str, value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {type(value).__name__}")
        return value

    def text(self, where: str, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"must be a non-empty string, got {value!r}")
        return value

    def number(self, where: str, value: object, *, positive: bool = False) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.fail(where, f"must be a finite number, got {value!r}")
        if positive and value <= 0:
            self.fail(where, f"must be above 0, got {value!r}")
        return float(value)

    def choice(self, where: str, value: object, allowed: Any, what: str) -> Any:
        try:
            return allowed(value)
        except ValueError:
            self.fail(where, f"unknown {what} {value!r}")


_RULE_KEYS = ("name", "kind", "label_zh", "label_en", "standard", "levels")
_RULE_OPTIONAL = ("basis", "placeholder", "on_delay_s", "ack_deadline_s", "params")
_LEVEL_KEYS = ("name", "label_zh", "label_en", "severity", "direction", "setpoint", "clear_at")


def _level(ctx: Ctx, where: str, raw: object, limit: float | None) -> tuple[Level, str, str]:
    d = ctx.obj(where, raw, _LEVEL_KEYS, ("limit_pct",))
    level = Level(
        ctx.text(f"{where}.name", d["name"]),
        ctx.choice(f"{where}.severity", d["severity"], Severity, "severity"),
        ctx.choice(f"{where}.direction", d["direction"], Direction, "direction"),
        ctx.number(f"{where}.setpoint", d["setpoint"]),
        ctx.number(f"{where}.clear_at", d["clear_at"]),
    )
    high = level.direction is Direction.HIGH
    if (level.clear_at > level.setpoint) if high else (level.clear_at < level.setpoint):
        side = "at or below" if high else "at or above"
        ctx.fail(
            where, f"clear_at {level.clear_at:g} must be {side} the setpoint {level.setpoint:g}"
        )
    if "limit_pct" in d:
        pct = ctx.number(f"{where}.limit_pct", d["limit_pct"], positive=True)
        if limit is None:
            ctx.fail(where, 'limit_pct needs a "limit" on the entry or gas')
        allowed = limit * pct / 100
        if not 0.9 * allowed - 1e-9 <= level.setpoint <= allowed + 1e-9:
            ctx.fail(
                where,
                f"setpoint {level.setpoint:g} must be within 90–100 % of {pct:g} % of the "
                f"limit ({allowed:.4g})",
            )
    labels = (
        ctx.text(f"{where}.label_zh", d["label_zh"]),
        ctx.text(f"{where}.label_en", d["label_en"]),
    )
    return level, *labels


def _check_threshold(ctx: Ctx, where: str, levels: Sequence[Level]) -> None:
    """Per direction, from the least to the most extreme level: setpoints move outward,
    severities never fall, and the most extreme level is RED. Highs lie above lows."""
    for direction in Direction:
        side = [lv for lv in levels if lv.direction is direction]
        for before, after in pairwise(side):
            outward = (
                after.setpoint > before.setpoint
                if direction is Direction.HIGH
                else (after.setpoint < before.setpoint)
            )
            if not outward:
                ctx.fail(
                    where,
                    f"{direction.value} levels out of order: {after.name!r} must be "
                    f"more extreme than {before.name!r}",
                )
            if after.severity.rank < before.severity.rank:
                ctx.fail(where, f"{after.name!r} is less severe than {before.name!r} before it")
        if side and side[-1].severity is not Severity.RED:
            ctx.fail(
                where, f"the most extreme {direction.value} level {side[-1].name!r} must be RED"
            )
    highs = [lv for lv in levels if lv.direction is Direction.HIGH]
    lows = [lv for lv in levels if lv.direction is Direction.LOW]
    if highs and lows:
        floor, ceiling = max(lv.setpoint for lv in lows), min(lv.setpoint for lv in highs)
        if any(lv.clear_at <= floor for lv in highs) or any(lv.clear_at >= ceiling for lv in lows):
            ctx.fail(where, "high and low levels (with their clear_at) overlap")


def _check_single(
    ctx: Ctx, where: str, kind: RuleKind, levels: Sequence[Level], params: dict[str, Any]
) -> None:
    if len(levels) != 1 or levels[0].direction is not Direction.HIGH:
        ctx.fail(where, f"a {kind.value} rule has exactly one level, direction high")
    level = levels[0]

    def param(key: str, *, equals: float | None = None, required: bool = True) -> None:
        if key not in params:
            if required:
                ctx.fail(f"{where}.params", f"missing {key}")
            return
        value = ctx.number(f"{where}.params.{key}", params[key], positive=True)
        if equals is not None and not math.isclose(value, equals, rel_tol=1e-9):
            ctx.fail(f"{where}.params.{key}", f"{value:g} differs from the level's {equals:g}")

    if kind is RuleKind.STALE:
        if level.severity is not Severity.BLUE or level.clear_at != level.setpoint:
            ctx.fail(where, "a stale level is BLUE with clear_at equal to its setpoint")
        param("seconds", equals=level.setpoint)
    elif kind is RuleKind.RATE_OF_CHANGE:
        param("max_per_minute", equals=level.setpoint)
        param("clear_below", equals=level.clear_at, required=False)
        param("window_s")
        param("min_span_s", required=False)
        param("min_readings", required=False)
        if float(params.get("min_span_s", 0)) >= float(params["window_s"]):
            # The estimate runs over the window's closed slots: they never span all of it.
            ctx.fail(f"{where}.params.min_span_s", "must be shorter than window_s")
    elif kind is RuleKind.OFFLINE:
        if level.severity is not Severity.BLUE or level.clear_at != level.setpoint:
            ctx.fail(where, "an offline level is BLUE with clear_at equal to its setpoint")
        param("seconds", equals=level.setpoint)
    elif kind is RuleKind.COMPOSITE:
        if level.setpoint != 1 or level.clear_at != 1:
            ctx.fail(where, "a composite level counts the combination: setpoint and clear_at 1")
        _check_conditions(ctx, f"{where}.params", params)
    else:  # EVENT
        event_type = ctx.text(f"{where}.params.event_type", params.get("event_type"))
        param("clear_after_s", required=False)
        if event_type == PRESENCE:
            param("max_seconds", equals=level.setpoint)
            ctx.choice(f"{where}.params.zone_kind", params.get("zone_kind"), ZoneKind, "zone kind")
        elif level.setpoint != 1 or level.clear_at != 1:
            ctx.fail(where, "an event level counts one occurrence: setpoint and clear_at 1")


def _check_conditions(ctx: Ctx, where: str, params: dict[str, Any]) -> None:
    if params.get("op") not in ("AND", "OR"):
        ctx.fail(f"{where}.op", f"must be AND or OR, got {params.get('op')!r}")
    conditions = params.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        ctx.fail(f"{where}.conditions", "must be a non-empty list")
    for i, cond in enumerate(conditions):
        at = f"{where}.conditions[{i}]"
        if not isinstance(cond, dict):
            ctx.fail(at, "must be an object")
        if "permit" in cond:
            ctx.obj(at, cond, ("permit",), ())
            ctx.choice(f"{at}.permit", cond["permit"], PermitKind, "permit kind")
            continue
        high = "above" in cond
        keys = ("sensor_kind", "above") if high else ("sensor_kind", "below")
        ctx.obj(at, cond, keys, ("clear_below",) if high else ("clear_above",))
        if cond["sensor_kind"] not in catalog():
            ctx.fail(f"{at}.sensor_kind", f"unknown sensor kind {cond['sensor_kind']!r}")
        edge = float(ctx.number(f"{at}.{keys[1]}", cond[keys[1]]))
        clear_key = "clear_below" if high else "clear_above"
        clear = float(ctx.number(f"{at}.{clear_key}", cond.get(clear_key, edge)))
        if (clear > edge) if high else (clear < edge):
            ctx.fail(f"{at}.{clear_key}", "must lie on the safe side of the setpoint")


# Which rule kinds each section of a file holds.
_SECTION_KINDS = {
    "indicators": (RuleKind.THRESHOLD, RuleKind.RATE_OF_CHANGE, RuleKind.STALE),
    "events": (RuleKind.EVENT,),
    "device": (RuleKind.OFFLINE,),
    "zones": (RuleKind.COMPOSITE,),
}


def _rule(
    ctx: Ctx,
    where: str,
    raw: object,
    span: tuple[float, float] | None,
    limit: float | None,
    section: str = "indicators",
) -> IndicatorRule:
    d = ctx.obj(where, raw, _RULE_KEYS, _RULE_OPTIONAL)
    name = ctx.text(f"{where}.name", d["name"])
    kind = ctx.choice(f"{where}.kind", d["kind"], RuleKind, "rule kind")
    params = d.get("params", {})
    if not isinstance(params, dict):
        ctx.fail(f"{where}.params", "must be an object")
    raw_levels = d["levels"]
    if not isinstance(raw_levels, list) or not raw_levels:
        ctx.fail(f"{where}.levels", "must be a non-empty list")
    parsed = [_level(ctx, f"{where}.levels[{i}]", lv, limit) for i, lv in enumerate(raw_levels)]
    levels = [lv for lv, _, _ in parsed]
    if len({lv.name for lv in levels}) != len(levels):
        ctx.fail(f"{where}.levels", "level names must be unique")
    if kind not in _SECTION_KINDS[section]:
        home = next(name for name, kinds in _SECTION_KINDS.items() if kind in kinds)
        ctx.fail(where, f'{kind.value} rules belong in "{home}", not "{section}"')
    if kind is RuleKind.THRESHOLD:
        _check_threshold(ctx, f"{where}.levels", levels)
        low, high = span or (-math.inf, math.inf)
        for i, lv in enumerate(levels):
            if not (low <= lv.setpoint <= high and low <= lv.clear_at <= high):
                ctx.fail(f"{where}.levels[{i}]", f"outside the kind's range {low:g}…{high:g}")
    else:
        _check_single(ctx, where, kind, levels, params)
    placeholder = d.get("placeholder", False)
    if not isinstance(placeholder, bool):
        ctx.fail(f"{where}.placeholder", "must be true or false")
    spec = RuleSpec(
        kind=kind,
        levels=tuple(levels),
        on_delay_s=ctx.number(f"{where}.on_delay_s", d.get("on_delay_s", 0)),
        ack_deadline_s=ctx.number(
            f"{where}.ack_deadline_s", d.get("ack_deadline_s", 600), positive=True
        ),
        standard=ctx.text(f"{where}.standard", d["standard"]),
        params=params,
    )
    if spec.on_delay_s < 0:
        ctx.fail(f"{where}.on_delay_s", "must not be negative")
    basis = ctx.text(f"{where}.basis", d["basis"]) if "basis" in d else None
    labels = {lv.name: (zh, en) for lv, zh, en in parsed}
    return IndicatorRule(
        name,
        ctx.text(f"{where}.label_zh", d["label_zh"]),
        ctx.text(f"{where}.label_en", d["label_en"]),
        spec,
        labels,
        basis,
        placeholder,
        ctx.source,
    )


def _rules(
    ctx: Ctx, where: str, raw: object, span: tuple[float, float], limit: float | None
) -> dict[str, IndicatorRule]:
    if not isinstance(raw, list):
        ctx.fail(where, "must be a list")
    out: dict[str, IndicatorRule] = {}
    for i, item in enumerate(raw):
        rule = _rule(ctx, f"{where}[{i}]", item, span, limit)
        if rule.name in out:
            ctx.fail(f"{where}[{i}]", f"rule name {rule.name!r} used twice")
        out[rule.name] = rule
    return out


def _limit(ctx: Ctx, where: str, raw: object) -> float | None:
    """An exposure limit in ppm: given, or from mg/m³ and the molar mass."""
    if raw is None:
        return None
    d = ctx.obj(where, raw, ("basis",), ("ppm", "mg_m3", "molar_mass"))
    ctx.text(f"{where}.basis", d["basis"])
    if "ppm" in d:
        return ctx.number(f"{where}.ppm", d["ppm"], positive=True)
    if "mg_m3" not in d or "molar_mass" not in d:
        ctx.fail(where, "give ppm, or mg_m3 and molar_mass")
    mass = ctx.number(f"{where}.molar_mass", d["molar_mass"], positive=True)
    return ctx.number(f"{where}.mg_m3", d["mg_m3"], positive=True) * MOLAR_VOLUME_L / mass


def _entry(ctx: Ctx, where: str, kind: str, raw: object) -> Entry:
    spec = catalog().get(kind)
    if spec is None:
        ctx.fail(where, f"unknown sensor kind {kind!r} (not in backend/telemetry/kinds.json)")
    d = ctx.obj(
        where, raw, ("unit", "rules"), ("note", "same_as", "by_gas", "by_zone_kind", "limit")
    )
    if d["unit"] != spec["unit"]:
        ctx.fail(f"{where}.unit", f"{kind} is measured in {spec['unit']}, not {d['unit']!r}")
    span = (float(spec["min"]), float(spec["max"]))
    limit = _limit(ctx, f"{where}.limit", d.get("limit"))
    entry = Entry(d["unit"], _rules(ctx, f"{where}.rules", d["rules"], span, limit))
    if "same_as" in d:
        entry.same_as = ctx.choice(f"{where}.same_as", d["same_as"], _library_file, "library file")
    gases = d.get("by_gas", {})
    if gases and not spec.get("requires_gas"):
        ctx.fail(f"{where}.by_gas", f"{kind} has no gases")
    for gas, variant in ctx.mapping(f"{where}.by_gas", gases).items():
        at = f"{where}.by_gas.{gas}"
        if gas not in spec.get("gases", {}):
            ctx.fail(at, f"unknown gas {gas!r} for {kind}")
        v = ctx.obj(at, variant, ("rules",), ("limit", "note"))
        gas_span = (float(spec["gases"][gas]["min"]), float(spec["gases"][gas]["max"]))
        gas_limit = _limit(ctx, f"{at}.limit", v.get("limit"))
        entry.by_gas[gas] = _rules(ctx, f"{at}.rules", v["rules"], gas_span, gas_limit)
    for zone_kind, variant in ctx.mapping(
        f"{where}.by_zone_kind", d.get("by_zone_kind", {})
    ).items():
        at = f"{where}.by_zone_kind.{zone_kind}"
        ctx.choice(at, zone_kind, ZoneKind, "zone kind")
        v = ctx.obj(at, variant, ("rules",), ("note",))
        entry.by_zone_kind[zone_kind] = _rules(ctx, f"{at}.rules", v["rules"], span, limit)
    return entry


def _library_file(name: object) -> str:
    if name not in FILES:
        raise ValueError(name)
    return str(name)


def parse_file(name: str, path: str, text: str) -> LibraryFile:
    ctx = Ctx(path)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        ctx.fail("", f"not valid JSON: {exc}")
    d = ctx.obj(
        "", raw, ("version", "industry", "indicators"), ("description", "events", "device", "zones")
    )
    version = d["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        ctx.fail("version", f"must be a positive integer, got {version!r}")
    expected = name if name in INDUSTRIES else "all"
    if d["industry"] != expected:
        ctx.fail("industry", f"must be {expected!r} in {name}.json, got {d['industry']!r}")
    indicators = {
        kind: _entry(ctx, f"indicators.{kind}", kind, entry)
        for kind, entry in ctx.mapping("indicators", d["indicators"]).items()
    }
    events: dict[str, IndicatorRule] = {}
    if "events" in d and name != "wearables":
        ctx.fail("events", "event rules belong in wearables.json")
    known = event_types()
    for event_type, raw_rule in ctx.mapping("events", d.get("events", {})).items():
        where = f"events.{event_type}"
        if event_type != PRESENCE and (event_type not in known or event_type in PRESENCE_INPUTS):
            ctx.fail(where, f"{event_type!r} is not an alarm event type of event_types.json")
        rule = _rule(ctx, where, raw_rule, None, None, "events")
        if rule.spec.params.get("event_type") != event_type:
            ctx.fail(f"{where}.params.event_type", f"must be {event_type!r}")
        events[event_type] = rule
    # Device-level (offline) and zone-level (composite) defaults hold for every industry.
    sections: dict[str, dict[str, IndicatorRule]] = {"device": {}, "zones": {}}
    for section, rules in sections.items():
        if section in d and name != "generic":
            ctx.fail(section, f"{section} rules belong in generic.json")
        for rule_name, raw_rule in ctx.mapping(section, d.get(section, {})).items():
            rules[rule_name] = _rule(ctx, f"{section}.{rule_name}", raw_rule, None, None, section)
    return LibraryFile(
        name, path, version, indicators, events, sections["device"], sections["zones"]
    )


@cache
def event_types() -> frozenset[str]:
    text = resources.files("backend.telemetry").joinpath("event_types.json").read_text("utf-8")
    return frozenset(json.loads(text)["types"])

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

What every check shares (the file names, the vocabulary, the error, the ``Ctx`` reader) is in
``_context``; the checks of a rule's levels are in ``_levels``; this module reads the rest.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

from backend.alarms.indicators._context import (
    CROSS_INDUSTRY,
    FILES,
    INDUSTRIES,
    PRESENCE,
    PRESENCE_INPUTS,
    ZONE_KINDS,
    Ctx,
    IndicatorLibraryError,
)
from backend.alarms.indicators._levels import (
    check_conditions,
    check_single,
    check_threshold,
    parse_level,
)
from backend.alarms.rules import RuleKind, RuleSpec
from backend.telemetry.kinds import catalog
from tenants.models import ZoneKind

__all__ = [
    "CROSS_INDUSTRY",
    "FILES",
    "INDUSTRIES",
    "PRESENCE",
    "PRESENCE_INPUTS",
    "ZONE_KINDS",
    "Ctx",
    "Entry",
    "IndicatorLibraryError",
    "IndicatorRule",
    "LibraryFile",
    "check_conditions",
    "check_single",
    "check_threshold",
    "event_types",
    "parse_file",
    "parse_level",
]

MOLAR_VOLUME_L = 24.055  # L/mol at 20 °C and 101.325 kPa (GBZ 159): ppm = mg/m³ × 24.055 / M


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


_RULE_KEYS = ("name", "kind", "label_zh", "label_en", "standard", "levels")
_RULE_OPTIONAL = ("basis", "placeholder", "on_delay_s", "ack_deadline_s", "params")

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
    parsed = [
        parse_level(ctx, f"{where}.levels[{i}]", lv, limit) for i, lv in enumerate(raw_levels)
    ]
    levels = [lv for lv, _, _ in parsed]
    if len({lv.name for lv in levels}) != len(levels):
        ctx.fail(f"{where}.levels", "level names must be unique")
    if kind not in _SECTION_KINDS[section]:
        home = next(name for name, kinds in _SECTION_KINDS.items() if kind in kinds)
        ctx.fail(where, f'{kind.value} rules belong in "{home}", not "{section}"')
    if kind is RuleKind.THRESHOLD:
        check_threshold(ctx, f"{where}.levels", levels)
        low, high = span or (-math.inf, math.inf)
        for i, lv in enumerate(levels):
            if not (low <= lv.setpoint <= high and low <= lv.clear_at <= high):
                ctx.fail(f"{where}.levels[{i}]", f"outside the kind's range {low:g}…{high:g}")
    else:
        check_single(ctx, where, kind, levels, params)
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

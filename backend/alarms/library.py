"""Indicator libraries: the default alarm rules of each sensor kind, per industry, from data.

``backend/alarms/indicators/`` holds one versioned JSON file per industry plus two that apply
to every industry, ``wearables.json`` and ``generic.json``. Each has ``version``, ``industry``
and ``indicators``: sensor kind → ``unit`` and ``rules``. An entry may add ``by_gas`` (toxic
gas: the rules of one gas, with the exposure ``limit`` its levels derive from), ``by_zone_kind``
(rules for sensors in zones of that kind, e.g. methane at a working face) and ``same_as``
(another file's entry as the base, so a value lives in one place). ``wearables.json`` also
holds ``events``: the rule of each camera/wearable event type, and ``presence`` (the
confined-space timeout).

The rules of a sensor come from three layers: the tenant's industry file, ``wearables.json``,
``generic.json``. Within one entry the base rules are overlaid by the zone-kind variant, then
by the gas variant (same name replaces); across layers the first layer naming a rule wins. So
an industry replaces the generic ``limits`` and inherits the generic ``stale`` rule.

``params`` are the engine's (backend.alarms.engine): stale ``seconds``; rate_of_change
``max_per_minute``, ``clear_below``, ``window_s`` and the data the estimate needs first,
``min_span_s`` (default half the window) and ``min_readings`` (default 5); event ``event_type``
and ``clear_after_s`` (absent: cleared by people); presence ``max_seconds`` and ``zone_kind``.
Files are checked once, at load: a broken one raises ``IndicatorLibraryError`` naming the
file and the place in it.

A rule applies where its standard applies it: a value the standard sets for one kind of place
(the 26/30 °C of a coal working face, the 4 m/s of its airflow) lives in that zone kind's
``by_zone_kind`` variant, and the entry's base rules hold what applies to every other zone.

``default_rule_row`` turns one of these rules into the ``AlarmRule`` row a sensor, device or
zone gets by default, with the ``source`` naming the file versions it came from.
"""

from __future__ import annotations

import dataclasses
import uuid
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from backend.alarms.indicators.schema import (
    CROSS_INDUSTRY,
    FILES,
    INDUSTRIES,
    PRESENCE,
    PRESENCE_INPUTS,
    ZONE_KINDS,
    Ctx,
    IndicatorLibraryError,
    IndicatorRule,
    LibraryFile,
    event_types,
    parse_file,
)
from backend.alarms.models import AlarmRule
from backend.alarms.rules import Level, RuleKind, RuleSpec, Severity
from backend.core.errors import BadInput
from backend.telemetry.kinds import catalog
from tenants.models import Industry

__all__ = [
    "IndicatorLibraryError",
    "IndicatorRule",
    "Library",
    "default_rule_row",
    "default_rules",
    "describe",
    "describe_event",
    "device_rules",
    "event_rules",
    "library",
    "library_source",
    "library_version",
    "load_library",
    "raised_from_blue",
    "zone_rules",
]


def _link(files: dict[str, LibraryFile]) -> None:
    """Resolve ``same_as`` and check that every kind, gas and alarm event type is covered."""
    for file in files.values():
        ctx = Ctx(file.path)
        for kind, entry in file.indicators.items():
            if entry.same_as is None:
                continue
            target = files[entry.same_as].indicators.get(kind)
            if entry.same_as == file.name or target is None or target.same_as is not None:
                ctx.fail(
                    f"indicators.{kind}.same_as",
                    f"{entry.same_as}.json has no entry of its own for {kind}",
                )
            entry.rules = {**target.rules, **entry.rules}
            for mine, theirs in (
                (entry.by_gas, target.by_gas),
                (entry.by_zone_kind, target.by_zone_kind),
            ):
                for key, rules in theirs.items():
                    mine[key] = {**rules, **mine.get(key, {})}
    lib, generic = Library(files), Ctx(files["generic"].path)
    for industry in INDUSTRIES:
        for kind, spec in catalog().items():
            for gas in spec.get("gases") or [None]:
                kinds = {r.spec.kind for r in lib.indicator_rules(industry, kind, gas=gas)}
                if RuleKind.THRESHOLD not in kinds or RuleKind.STALE not in kinds:
                    generic.fail(
                        f"indicators.{kind}",
                        f"{kind}{f' ({gas})' if gas else ''} needs a threshold and a stale "
                        f"rule for the {industry} industry (from here if not from its own file)",
                    )
    wanted = (event_types() - PRESENCE_INPUTS) | {PRESENCE}
    missing = sorted(wanted - set(files["wearables"].events))
    if missing:
        Ctx(files["wearables"].path).fail("events", f"no rule for {', '.join(missing)}")


def load_library(directory: Path | Traversable | None = None) -> Library:
    """Read and check every file (the package's own unless ``directory`` is given)."""
    root = directory if directory is not None else resources.files("backend.alarms.indicators")
    for item in root.iterdir():
        if item.name.endswith(".json") and item.name.removesuffix(".json") not in FILES:
            raise IndicatorLibraryError(
                f"{item}: unknown library file (expected {', '.join(FILES)})"
            )
    files: dict[str, LibraryFile] = {}
    for name in FILES:
        path = root.joinpath(f"{name}.json")
        if not path.is_file():
            raise IndicatorLibraryError(f"{path}: missing indicator library file")
        files[name] = parse_file(name, str(path), path.read_text(encoding="utf-8"))
    _link(files)
    return Library(files)


class Library:
    """The checked library. Use the module functions for the package's own files."""

    def __init__(self, files: dict[str, LibraryFile]) -> None:
        self._files = files

    def versions(self) -> dict[str, int]:
        return {name: file.version for name, file in self._files.items()}

    def library_version(self, industry: Industry | str) -> str:
        """``<industry file>.<wearables.json>.<generic.json>`` versions, e.g. "1.1.1": the
        three files a sensor's defaults come from."""
        name = _industry(industry)
        return ".".join(str(self._files[f].version) for f in (name, *CROSS_INDUSTRY))

    def indicator_rules(
        self,
        industry: Industry | str,
        kind: str,
        *,
        gas: str | None = None,
        zone_kind: str | None = None,
    ) -> list[IndicatorRule]:
        name = _industry(industry)
        spec = catalog().get(kind)
        if spec is None:
            raise BadInput(f"unknown sensor kind {kind!r}")
        if spec.get("requires_gas") and gas not in spec["gases"]:
            raise BadInput(f'kind {kind} needs "gas", one of {", ".join(spec["gases"])}')
        if gas is not None and not spec.get("requires_gas"):
            raise BadInput(f'"gas" applies only to toxic_gas sensors, not {kind}')
        if zone_kind is not None and zone_kind not in ZONE_KINDS:
            raise BadInput(f"unknown zone kind {zone_kind!r}")
        merged: dict[str, IndicatorRule] = {}
        for layer in (name, *CROSS_INDUSTRY):
            entry = self._files[layer].indicators.get(kind)
            for rule_name, rule in (entry.resolve(gas, zone_kind) if entry else {}).items():
                merged.setdefault(rule_name, rule)
        return list(merged.values())

    def default_rules(
        self,
        industry: Industry | str,
        kind: str,
        *,
        gas: str | None = None,
        zone_kind: str | None = None,
    ) -> list[RuleSpec]:
        rules = self.indicator_rules(industry, kind, gas=gas, zone_kind=zone_kind)
        return [rule.rule_spec() for rule in rules]

    def event_rules(self) -> dict[str, RuleSpec]:
        """Event type (and "presence") → its rule, for every industry."""
        return {name: rule.rule_spec() for name, rule in self._files["wearables"].events.items()}

    def device_rules(self) -> dict[str, RuleSpec]:
        """Every device's own rules (offline), for every industry."""
        return {name: rule.rule_spec() for name, rule in self._files["generic"].device.items()}

    def zone_rules(self) -> dict[str, RuleSpec]:
        """Every zone's composite rules, for every industry; a zone gets one only when it has
        sensors of every kind the rule's AND conditions name."""
        return {name: rule.rule_spec() for name, rule in self._files["generic"].zones.items()}

    def describe(
        self,
        industry: Industry | str,
        kind: str,
        *,
        gas: str | None = None,
        zone_kind: str | None = None,
    ) -> dict[str, Any]:
        """What the UI shows of a sensor kind's defaults: zh-CN and English labels, values,
        standards."""
        rules = self.indicator_rules(industry, kind, gas=gas, zone_kind=zone_kind)
        spec = catalog()[kind]
        return {
            "industry": _industry(industry),
            "kind": kind,
            "gas": gas,
            "zone_kind": zone_kind,
            "unit": spec["unit"],
            "label_zh": spec["label_zh"],
            "label_en": spec["label_en"],
            "library_version": self.library_version(industry),
            "rules": [_describe_rule(rule) for rule in rules],
        }

    def describe_event(self, event_type: str) -> dict[str, Any]:
        rule = self._files["wearables"].events.get(event_type)
        if rule is None:
            raise BadInput(f"no alarm rule for event type {event_type!r}")
        return {"event_type": event_type, **_describe_rule(rule)}


def _industry(industry: Industry | str) -> str:
    value = industry.value if isinstance(industry, Industry) else industry
    if value not in INDUSTRIES:
        raise BadInput(f"unknown industry {industry!r}; known: {', '.join(INDUSTRIES)}")
    return value


def _describe_rule(rule: IndicatorRule) -> dict[str, Any]:
    spec = rule.spec
    return {
        "name": rule.name,
        "kind": spec.kind.value,
        "label_zh": rule.label_zh,
        "label_en": rule.label_en,
        "standard": spec.standard,
        "basis": rule.basis,
        "placeholder": rule.placeholder,
        "source": rule.source,
        "on_delay_s": spec.on_delay_s,
        "ack_deadline_s": spec.ack_deadline_s,
        "levels": [
            {
                "name": lv.name,
                "label_zh": rule.level_labels[lv.name][0],
                "label_en": rule.level_labels[lv.name][1],
                "severity": lv.severity.value,
                "direction": lv.direction.value,
                "setpoint": lv.setpoint,
                "clear_at": lv.clear_at,
            }
            for lv in spec.levels
        ],
    }


@cache
def library() -> Library:
    """The package's library, loaded and checked once."""
    return load_library()


def default_rules(
    industry: Industry | str, kind: str, *, gas: str | None = None, zone_kind: str | None = None
) -> list[RuleSpec]:
    """A new sensor's rules: its industry's entry for the kind, falling back to generic."""
    return library().default_rules(industry, kind, gas=gas, zone_kind=zone_kind)


def device_rules() -> dict[str, RuleSpec]:
    return library().device_rules()


def zone_rules() -> dict[str, RuleSpec]:
    return library().zone_rules()


def event_rules() -> dict[str, RuleSpec]:
    return library().event_rules()


def library_version(industry: Industry | str) -> str:
    return library().library_version(industry)


def describe(
    industry: Industry | str, kind: str, *, gas: str | None = None, zone_kind: str | None = None
) -> dict[str, Any]:
    return library().describe(industry, kind, gas=gas, zone_kind=zone_kind)


def describe_event(event_type: str) -> dict[str, Any]:
    return library().describe_event(event_type)


# -- default rules as rows ---------------------------------------------------------------


def library_source(industry: Industry) -> str:
    """Where a default rule came from: ``library:<industry>@<file versions>``."""
    return f"library:{industry.value}@{library_version(industry)}"


def raised_from_blue(spec: RuleSpec) -> RuleSpec:
    """Data-quality alarms are BLUE unless the site is a major hazard source (DESIGN.md):
    there a sensor gone quiet is itself a hazard, so its stale rule raises YELLOW."""
    levels = tuple(
        Level(lv.name, Severity.YELLOW, lv.direction, lv.setpoint, lv.clear_at)
        if lv.severity is Severity.BLUE
        else lv
        for lv in spec.levels
    )
    params = dict(spec.params)
    if params.get("severity") == Severity.BLUE.value:
        params["severity"] = Severity.YELLOW.value
    return dataclasses.replace(spec, levels=levels, params=params)


# The data-quality rules ``major_hazard_site`` raises from BLUE.
_DATA_QUALITY = (RuleKind.STALE, RuleKind.OFFLINE)


def default_rule_row(
    *,
    spec: RuleSpec,
    industry: Industry,
    slot: str,
    tenant_id: uuid.UUID,
    site_id: uuid.UUID,
    sensor_id: uuid.UUID | None = None,
    device_id: uuid.UUID | None = None,
    zone_id: uuid.UUID | None = None,
    major_hazard_site: bool = False,
) -> AlarmRule:
    """The library's rule ``spec`` as the default in ``slot`` (e.g. "threshold:0",
    "offline:offline", "composite:gas_during_hot_work") of a sensor (``sensor_id`` and its
    ``device_id``), a device (``device_id`` alone) or a zone (``zone_id``), not yet added to a
    session. On a major hazard site (``major_hazard_site``) a stale or offline rule raises
    YELLOW instead of BLUE (``raised_from_blue``)."""
    if major_hazard_site and spec.kind in _DATA_QUALITY:
        spec = raised_from_blue(spec)
    return AlarmRule(
        tenant_id=tenant_id,
        site_id=site_id,
        sensor_id=sensor_id,
        device_id=device_id,
        zone_id=zone_id,
        kind=spec.kind.value,
        definition=spec.as_json(),
        source=library_source(industry),
        default_slot=slot,
    )

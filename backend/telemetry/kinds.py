"""The sensor kind catalog: which kinds exist, their unit and default physical range."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from backend.core.errors import BadInput


@dataclass(frozen=True)
class SensorSpec:
    """A sensor as declared in a sensors file, checked against the catalog."""

    code: str
    kind: str
    unit: str
    min_value: float
    max_value: float
    zone: str | None = None
    gas: str | None = None


@cache
def catalog() -> dict[str, dict[str, Any]]:
    text = resources.files("backend.telemetry").joinpath("kinds.json").read_text(encoding="utf-8")
    return json.loads(text)["kinds"]


def _number(value: object, field: str, index: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadInput(f"sensor {index}: {field} must be a finite number, got {value!r}")
    return float(value)


_ALLOWED_FIELDS = {"code", "kind", "unit", "zone", "min", "max", "gas"}


def parse_sensor(entry: object, index: int) -> SensorSpec:
    """Check one sensors-file entry; refuse unknown kinds, wrong units and bad ranges."""
    if not isinstance(entry, dict):
        raise BadInput(f"sensor {index}: expected an object, got {type(entry).__name__}")
    unknown = set(entry) - _ALLOWED_FIELDS
    if unknown:
        raise BadInput(f"sensor {index}: unknown field(s) {', '.join(sorted(unknown))}")
    code = entry.get("code")
    if not isinstance(code, str) or not code.strip() or len(code) > 64:
        raise BadInput(f"sensor {index}: code must be a non-empty string of at most 64 characters")
    kind = entry.get("kind")
    kinds = catalog()
    if kind not in kinds:
        raise BadInput(
            f"sensor {code}: unknown kind {kind!r}; known kinds: {', '.join(sorted(kinds))}"
        )
    spec = kinds[kind]
    unit = entry.get("unit", spec["unit"])
    if unit != spec["unit"]:
        raise BadInput(f"sensor {code}: kind {kind} is measured in {spec['unit']}, not {unit!r}")
    low, high = float(spec["min"]), float(spec["max"])
    gas = entry.get("gas")
    if spec.get("requires_gas"):
        gases = spec["gases"]
        if gas not in gases:
            raise BadInput(f'sensor {code}: kind {kind} needs "gas", one of {", ".join(gases)}')
        low, high = float(gases[gas]["min"]), float(gases[gas]["max"])
    elif gas is not None:
        raise BadInput(f'sensor {code}: "gas" applies only to toxic_gas sensors')
    if "min" in entry:
        low = _number(entry["min"], "min", index)
    if "max" in entry:
        high = _number(entry["max"], "max", index)
    if low >= high:
        raise BadInput(f"sensor {code}: min ({low}) must be below max ({high})")
    zone = entry.get("zone")
    if zone is not None and (not isinstance(zone, str) or not zone.strip()):
        raise BadInput(f"sensor {code}: zone must be a non-empty string")
    return SensorSpec(
        code=code.strip(), kind=kind, unit=unit, min_value=low, max_value=high, zone=zone, gas=gas
    )


def parse_sensors(entries: object) -> list[SensorSpec]:
    if not isinstance(entries, list) or not entries:
        raise BadInput("the sensors file must hold a non-empty JSON list of sensors")
    specs = [parse_sensor(entry, i) for i, entry in enumerate(entries)]
    seen: set[str] = set()
    for spec in specs:
        if spec.code in seen:
            raise BadInput(f"duplicate sensor code {spec.code!r} in one device")
        seen.add(spec.code)
    return specs

"""Rules as data: the shapes the indicator libraries, the database and the engine share.

A threshold rule has one or more levels. A level *fires* when a reading reaches its setpoint
(``>=`` for a high level, ``<=`` for a low one) and has held for ``on_delay_s`` seconds of
reading time; it *clears* only once the value is back past ``clear_at`` (the deadband, or
hysteresis), so a value hovering at the setpoint does not flap. Severity follows DESIGN.md:
an indicator's highest level is RED, the one below ORANGE (construction warnings YELLOW),
data-quality alarms BLUE.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.StrEnum):
    RED = "RED"
    ORANGE = "ORANGE"
    YELLOW = "YELLOW"
    BLUE = "BLUE"

    @property
    def rank(self) -> int:
        """Higher is more severe: RED 4 … BLUE 1."""
        return {"RED": 4, "ORANGE": 3, "YELLOW": 2, "BLUE": 1}[self.value]


class Direction(enum.StrEnum):
    HIGH = "high"  # fires at value >= setpoint, clears below clear_at
    LOW = "low"  # fires at value <= setpoint, clears above clear_at


@dataclass(frozen=True)
class Level:
    name: str  # e.g. "1st level", "power-off", "high-high"
    severity: Severity
    direction: Direction
    setpoint: float
    clear_at: float  # the deadband edge: HIGH clears below it, LOW above it

    def reached(self, value: float) -> bool:
        if self.direction is Direction.HIGH:
            return value >= self.setpoint
        return value <= self.setpoint

    def cleared(self, value: float) -> bool:
        if self.direction is Direction.HIGH:
            return value < self.clear_at
        return value > self.clear_at


class RuleKind(enum.StrEnum):
    THRESHOLD = "threshold"
    RATE_OF_CHANGE = "rate_of_change"  # |slope| over a window (robust: Theil–Sen)
    STALE = "stale"  # no reading for N seconds
    EVENT = "event"  # camera / wearable event types
    OFFLINE = "offline"  # a device silent (no reading, event or heartbeat) for N seconds
    COMPOSITE = "composite"  # zone-level AND/OR over sensor kinds and open work permits


class PermitKind(enum.StrEnum):
    """Special-work permits (GB 30871-2022) a composite rule can depend on."""

    HOT_WORK = "hot_work"  # 动火作业
    CONFINED_SPACE = "confined_space"  # 受限空间作业
    WORK_AT_HEIGHT = "work_at_height"  # 高处作业
    LIFTING = "lifting"  # 吊装作业
    TEMPORARY_POWER = "temporary_power"  # 临时用电


@dataclass(frozen=True)
class RuleSpec:
    """One rule for one sensor, as evaluated. ``params`` holds the kind's own settings."""

    kind: RuleKind
    levels: tuple[Level, ...] = ()
    on_delay_s: float = 0.0
    ack_deadline_s: float = 600.0  # escalate if not acknowledged within this
    standard: str | None = None  # e.g. "GB/T 50493-2019"
    params: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "levels": [
                {
                    "name": lv.name,
                    "severity": lv.severity.value,
                    "direction": lv.direction.value,
                    "setpoint": lv.setpoint,
                    "clear_at": lv.clear_at,
                }
                for lv in self.levels
            ],
            "on_delay_s": self.on_delay_s,
            "ack_deadline_s": self.ack_deadline_s,
            "standard": self.standard,
            "params": self.params,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuleSpec:
        return cls(
            kind=RuleKind(data["kind"]),
            levels=tuple(
                Level(
                    lv["name"],
                    Severity(lv["severity"]),
                    Direction(lv["direction"]),
                    float(lv["setpoint"]),
                    float(lv["clear_at"]),
                )
                for lv in data.get("levels", ())
            ),
            on_delay_s=float(data.get("on_delay_s", 0)),
            ack_deadline_s=float(data.get("ack_deadline_s", 600)),
            standard=data.get("standard"),
            params=dict(data.get("params") or {}),
        )

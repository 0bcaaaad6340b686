"""What every rule shares: the signals it emits, its identity and the open-alarm state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Literal

from backend.alarms.rules import RuleSpec, Severity
from backend.core.errors import ConfigurationError

SignalKind = Literal["raise", "upgrade", "clear"]
NEVER = -(1 << 62)  # "no reading yet": older than any timestamp


class RuleSpecError(ConfigurationError, ValueError):
    """A rule the engine cannot run (no levels, a bad operator, given twice...).

    Also a ``ValueError``, as the spec's own values raise when they do not parse (``float()``,
    ``Severity()``), so one handler skips a broken rule whichever way it is broken.
    """


@dataclass(frozen=True, slots=True)
class Signal:
    rule_id: uuid.UUID
    sensor_id: uuid.UUID | None  # None for device-level event rules
    device_id: uuid.UUID | None
    kind: SignalKind
    level: str | None  # level name (None for clear)
    severity: Severity | None
    value: float | None  # the reading; the rate per minute; seconds stale or inside
    ts_ms: int  # the reading / event time that caused it (tick time for time-driven ones)
    # A threshold's clear: the most extreme reading since the raise (or since a restart).
    peak: float | None = None
    # An event rule's raise: the camera snapshot the event referenced (its object key).
    snapshot: str | None = None


@dataclass(slots=True)
class EngineStats:
    readings: int = 0  # readings of sensors with rules, evaluated
    out_of_order: int = 0  # readings older than the sensor's last one: ignored for state
    signals: int = 0


class Rule:
    """One rule of one sensor (or device, or zone): its spec and its state.

    Subclasses say whether the rule's alarm is open (``active``): a field for most, derived
    from the active level for a threshold.
    """

    __slots__ = ("device_id", "rule_id", "sensor_id", "spec")

    def __init__(
        self,
        rule_id: uuid.UUID,
        spec: RuleSpec,
        sensor_id: uuid.UUID | None,
        device_id: uuid.UUID | None,
    ) -> None:
        self.rule_id = rule_id
        self.spec = spec
        self.sensor_id = sensor_id
        self.device_id = device_id

    @property
    def active(self) -> bool:
        """Whether the rule's alarm is open, as far as the engine knows."""
        raise NotImplementedError

    def _signal(
        self,
        kind: SignalKind,
        level: str | None,
        severity: Severity | None,
        value: float | None,
        ts: int,
    ) -> Signal:
        return Signal(
            self.rule_id, self.sensor_id, self.device_id, kind, level, severity, value, ts
        )

    def restore(self, level_name: str) -> None:
        """An alarm open before a restart: active at that level, without a signal."""
        raise NotImplementedError

    def release(self) -> None:
        """People cleared the alarm by hand: inactive, without a signal."""
        raise NotImplementedError

    def level_name(self) -> str | None:
        """The open alarm's level (None when inactive)."""
        raise NotImplementedError

    def tick(self, now: int) -> Signal | None:
        return None


class SingleLevelRule(Rule):
    """A rule with one level: the spec's first level, else ``params["severity"]`` (and
    ``params["level"]`` for its name)."""

    __slots__ = ("active", "name", "severity")
    DEFAULT: tuple[str, Severity] = ("alarm", Severity.ORANGE)

    def __init__(
        self,
        rule_id: uuid.UUID,
        spec: RuleSpec,
        sensor_id: uuid.UUID | None,
        device_id: uuid.UUID | None,
    ) -> None:
        super().__init__(rule_id, spec, sensor_id, device_id)
        self.active = False
        name, severity = self.DEFAULT
        if spec.levels:
            self.name, self.severity = spec.levels[0].name, spec.levels[0].severity
        else:
            self.name = str(spec.params.get("level", spec.params.get("event_type", name)))
            self.severity = Severity(spec.params.get("severity", severity))

    def _raise(self, value: float | None, ts: int, snapshot: str | None = None) -> Signal:
        self.active = True
        signal = self._signal("raise", self.name, self.severity, value, ts)
        return signal if snapshot is None else replace(signal, snapshot=snapshot)

    def _clear(self, value: float | None, ts: int) -> Signal:
        self.active = False
        return self._signal("clear", None, None, value, ts)

    def restore(self, level_name: str) -> None:
        self.active = True

    def release(self) -> None:
        self.active = False

    def level_name(self) -> str | None:
        return self.name if self.active else None

"""Zone-level rules: sensor conditions and open work permits combined by AND / OR."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from backend.alarms.engine._state import Rule, RuleSpecError, Signal
from backend.alarms.rules import RuleSpec, Severity

if TYPE_CHECKING:
    from backend.alarms.engine._owner import Owner


class CompositeRule(Rule):
    """A zone-level rule: ``params["conditions"]`` combined by ``params["op"]`` (AND / OR).

    A sensor condition (``{"sensor_kind": k, "above": x, "clear_below": y}``, or ``below`` /
    ``clear_above`` for low values) holds while any sensor of that kind in the zone holds it,
    each sensor with its own deadband; a permit condition (``{"permit": "hot_work"}``) holds
    while a permit of that kind is open in the zone. The rule raises when the combination
    becomes true and clears when it becomes false.
    """

    __slots__ = (
        "active",
        "awaiting_data",
        "conditions",
        "holding",
        "name",
        "op_all",
        "permits",
        "severity",
        "value",
    )

    def __init__(
        self,
        rule_id: uuid.UUID,
        spec: RuleSpec,
        sensor_id: uuid.UUID | None,
        device_id: uuid.UUID | None,
    ) -> None:
        super().__init__(rule_id, spec, sensor_id, device_id)
        self.active = False
        params, levels = spec.params, spec.levels
        self.name = levels[0].name if levels else str(params.get("level", "composite"))
        self.severity = levels[0].severity if levels else Severity(params.get("severity", "ORANGE"))
        op = str(params.get("op", "AND")).upper()
        if op not in ("AND", "OR"):
            raise RuleSpecError(f"composite rule {rule_id}: op must be AND or OR, not {op}")
        self.op_all = op == "AND"
        self.conditions: tuple[dict[str, Any], ...] = tuple(params["conditions"])
        if not self.conditions:
            raise RuleSpecError(f"composite rule {rule_id} has no conditions")
        # Per sensor condition: the sensors currently holding it.
        self.holding: list[set[Owner]] = [set() for _ in self.conditions]
        self.permits: list[tuple[str, int, int]] = []  # (kind, open from, open until) ms
        self.value: float | None = None
        # Restored after a restart: which sensors hold is unknown until readings arrive, so
        # the alarm is not cleared for want of data.
        self.awaiting_data = False

    def sensor_condition(self, kind: str) -> list[int]:
        return [i for i, c in enumerate(self.conditions) if c.get("sensor_kind") == kind]

    def _holds(self, i: int, now: int) -> bool:
        cond = self.conditions[i]
        permit = cond.get("permit")
        if permit is not None:
            return any(k == permit and start <= now < end for k, start, end in self.permits)
        return bool(self.holding[i])

    def evaluate(self, ts: int) -> Signal | None:
        results = (self._holds(i, ts) for i in range(len(self.conditions)))
        firing = all(results) if self.op_all else any(results)
        if not firing and self.awaiting_data:
            return None
        if firing and not self.active:
            self.active = True
            return self._signal("raise", self.name, self.severity, self.value, ts)
        if not firing and self.active:
            self.active = False
            return self._signal("clear", None, None, self.value, ts)
        return None

    def feed_sensor(self, i: int, sensor: Owner, ts: int, v: float) -> Signal | None:
        if v != v:
            return None
        self.awaiting_data = False
        cond, holders = self.conditions[i], self.holding[i]
        if "above" in cond:
            on, off = v >= cond["above"], v < cond.get("clear_below", cond["above"])
        else:
            on, off = v <= cond["below"], v > cond.get("clear_above", cond["below"])
        was = bool(holders)
        if on:
            holders.add(sensor)
            self.value = v
        elif off:
            holders.discard(sensor)
        if bool(holders) == was:
            return None
        return self.evaluate(ts)

    def tick(self, now: int) -> Signal | None:
        return self.evaluate(now)  # a permit may have expired

    def restore(self, level_name: str) -> None:
        self.active = True
        self.awaiting_data = True

    def release(self) -> None:
        self.active = self.awaiting_data = False

    def level_name(self) -> str | None:
        return self.name if self.active else None

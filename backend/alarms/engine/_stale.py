"""Rules on silence, driven by ``tick``: a sensor gone stale, a device gone offline."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from backend.alarms.engine._state import NEVER, Signal, SingleLevelRule
from backend.alarms.rules import RuleSpec, Severity

if TYPE_CHECKING:
    from backend.alarms.engine._owner import Owner


class StaleRule(SingleLevelRule):
    """No reading for ``params["seconds"]``: raised by tick, cleared by the next fresh reading."""

    __slots__ = ("limit", "owner", "started")
    DEFAULT = ("stale", Severity.BLUE)

    def __init__(
        self,
        rule_id: uuid.UUID,
        spec: RuleSpec,
        sensor_id: uuid.UUID | None,
        device_id: uuid.UUID | None,
    ) -> None:
        super().__init__(rule_id, spec, sensor_id, device_id)
        self.limit = round(float(spec.params["seconds"]) * 1000)
        self.owner: Owner | None = None  # the sensor or device whose readings it watches
        self.started: int | None = None  # when counting began for a sensor never heard from

    def tick(self, now: int) -> Signal | None:
        if self.active or self.owner is None:
            return None
        last = self.owner.last_ts
        if last == NEVER:
            if self.started is None:
                self.started = now
            last = self.started
        if now - last > self.limit:
            self.owner.stale_on = True
            return self._raise((now - last) / 1000, now)
        return None

    def fresh(self, ts: int, clock: int) -> Signal | None:
        # A reading that is itself older than the limit (a gateway's backlog) does not clear:
        # the next tick would raise again at once.
        if self.active and clock - ts <= self.limit:
            return self._clear(None, ts)
        return None

    def restore(self, level_name: str) -> None:
        self.active = True
        if self.owner is not None:
            self.owner.stale_on = True


class OfflineRule(StaleRule):
    """A device that sent nothing (reading, event or heartbeat) for ``params["seconds"]``."""

    __slots__ = ()
    DEFAULT = ("device offline", Severity.BLUE)

"""Rules on a device's events: one event type raises, and the confined-space presence timeout."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping
from typing import Any

from backend.alarms.engine._state import Signal, SingleLevelRule
from backend.alarms.rules import RuleSpec, Severity

ZONE_ENTER, ZONE_EXIT, PRESENCE = "zone.enter", "zone.exit", "presence"


def _zone_ok(params: Mapping[str, Any], zone: object, zone_kind: str | None) -> bool:
    """Whether the rule (``params["zones"]``, ``params["zone_kind"]``) covers the zone."""
    zones, kind = params.get("zones"), params.get("zone_kind")
    if zones is not None and zone not in zones:
        return False
    return kind is None or kind == zone_kind


class EventRule(SingleLevelRule):
    """Raised by a matching event; cleared after ``clear_after_s`` without one (via tick),
    otherwise left for people to clear (``release``). The raise carries the event's snapshot
    (a camera's frame), which the alarm keeps."""

    __slots__ = ("clear_after", "event_type", "last")

    def __init__(
        self,
        rule_id: uuid.UUID,
        spec: RuleSpec,
        sensor_id: uuid.UUID | None,
        device_id: uuid.UUID | None,
    ) -> None:
        super().__init__(rule_id, spec, sensor_id, device_id)
        params = spec.params
        self.event_type = str(params["event_type"])
        after = params.get("clear_after_s")
        self.clear_after = None if after is None else round(float(after) * 1000)
        self.last: int | None = None  # latest matching event

    def on_event(
        self,
        event_type: str,
        ts: int,
        attributes: Mapping[str, Any],
        zone_kind: str | None,
        snapshot: str | None = None,
    ) -> Signal | None:
        if event_type != self.event_type or not _zone_ok(
            self.spec.params, attributes.get("zone"), zone_kind
        ):
            return None
        if self.last is None or ts > self.last:
            self.last = ts
        if self.active:
            return None  # a repeat refreshes the open alarm
        value = attributes.get("value")
        return self._raise(float(value) if isinstance(value, int | float) else None, ts, snapshot)

    def tick(self, now: int) -> Signal | None:
        if not self.active or self.clear_after is None:
            return None
        if self.last is None:  # restored after a restart: count from now
            self.last = now
        if now - self.last >= self.clear_after:
            return self._clear(None, now)
        return None


class PresenceRule(SingleLevelRule):
    """A worker (device) inside a zone of ``zone_kind`` longer than ``max_seconds``."""

    __slots__ = ("inside", "limit", "zone")
    DEFAULT = ("presence timeout", Severity.ORANGE)

    def __init__(
        self,
        rule_id: uuid.UUID,
        spec: RuleSpec,
        sensor_id: uuid.UUID | None,
        device_id: uuid.UUID | None,
    ) -> None:
        super().__init__(rule_id, spec, sensor_id, device_id)
        self.limit = round(float(spec.params["max_seconds"]) * 1000)
        # Zones as events name them (``attributes["zone"]``).
        self.inside: dict[Hashable, int] = {}  # zone → entered at
        self.zone: Hashable | None = None  # the zone the open alarm is about (None after restore)

    def on_event(
        self,
        event_type: str,
        ts: int,
        attributes: Mapping[str, Any],
        zone_kind: str | None,
        snapshot: str | None = None,
    ) -> Signal | None:
        zone = attributes.get("zone")
        if event_type == ZONE_ENTER and _zone_ok(self.spec.params, zone, zone_kind):
            self.inside.setdefault(zone, ts)
        elif event_type == ZONE_EXIT:
            entered = self.inside.get(zone)
            if entered is not None and ts < entered:
                return None  # an exit older than the entry it would end
            self.inside.pop(zone, None)
            if self.active and (
                self.zone == zone
                or (self.zone is None and _zone_ok(self.spec.params, zone, zone_kind))
            ):
                self.zone = None
                return self._clear(None, ts)
        return None

    def tick(self, now: int) -> Signal | None:
        if self.active:
            return None
        for zone, entered in self.inside.items():
            if now - entered > self.limit:
                self.zone = zone
                return self._raise((now - entered) / 1000, now)
        return None

    def release(self) -> None:
        self.active, self.zone = False, None

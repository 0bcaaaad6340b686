"""A sensor's (or a device's) rules, built from their specs and split by what drives them."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from backend.alarms.engine._composite import CompositeRule
from backend.alarms.engine._events import PRESENCE, EventRule, PresenceRule
from backend.alarms.engine._stale import OfflineRule, StaleRule
from backend.alarms.engine._state import NEVER, Rule, Signal
from backend.alarms.engine._threshold import RateRule, ThresholdRule
from backend.alarms.rules import RuleKind, RuleSpec


def build_rule(
    rule_id: uuid.UUID, spec: RuleSpec, sensor_id: uuid.UUID | None, device_id: uuid.UUID | None
) -> Rule:
    """The rule state that runs ``spec`` (a new one, with no alarm open)."""
    if spec.kind is RuleKind.OFFLINE:
        return OfflineRule(rule_id, spec, sensor_id, device_id)
    if spec.kind is RuleKind.COMPOSITE:
        return CompositeRule(rule_id, spec, sensor_id, device_id)
    if spec.kind is RuleKind.THRESHOLD:
        return ThresholdRule(rule_id, spec, sensor_id, device_id)
    if spec.kind is RuleKind.RATE_OF_CHANGE:
        return RateRule(rule_id, spec, sensor_id, device_id)
    if spec.kind is RuleKind.STALE:
        return StaleRule(rule_id, spec, sensor_id, device_id)
    if spec.params.get("event_type") == PRESENCE:
        return PresenceRule(rule_id, spec, sensor_id, device_id)
    return EventRule(rule_id, spec, sensor_id, device_id)


class Owner:
    """A sensor's (or a device's) rules, split by what drives them."""

    __slots__ = (
        "composites",
        "device_id",
        "events",
        "feeds",
        "last_ts",
        "rules",
        "stale",
        "stale_on",
    )

    def __init__(self, device_id: uuid.UUID | None) -> None:
        self.device_id = device_id
        self.last_ts = NEVER
        self.rules: dict[uuid.UUID, Rule] = {}
        self.feeds: tuple[Callable[[int, float], Signal | None], ...] = ()
        self.stale: tuple[StaleRule, ...] = ()
        self.events: tuple[EventRule | PresenceRule, ...] = ()
        self.stale_on = False  # some stale rule is active: readings must be shown to it
        # Zone-level composite rules this sensor takes part in: (rule, condition index).
        self.composites: tuple[tuple[CompositeRule, int], ...] = ()

    def install(self, rules: dict[uuid.UUID, Rule]) -> None:
        self.rules = rules
        self.feeds = tuple(
            r.feed for r in rules.values() if isinstance(r, ThresholdRule | RateRule)
        )
        self.stale = tuple(r for r in rules.values() if isinstance(r, StaleRule))
        self.events = tuple(r for r in rules.values() if isinstance(r, EventRule | PresenceRule))
        for r in self.stale:
            r.owner = self
        self.refresh()

    def refresh(self) -> None:
        self.stale_on = any(r.active for r in self.stale)

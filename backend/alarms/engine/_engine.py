"""The engine façade: rules set per sensor, device and zone; readings, events and ticks fed."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from backend.alarms.engine._composite import CompositeRule
from backend.alarms.engine._events import EventRule, PresenceRule
from backend.alarms.engine._owner import Owner, build_rule
from backend.alarms.engine._stale import StaleRule
from backend.alarms.engine._state import NEVER, EngineStats, Rule, RuleSpecError, Signal
from backend.alarms.rules import RuleKind, RuleSpec

_BY_TS = itemgetter(1)


class RuleEngine:
    """Fed accepted readings and events; returns the signals they cause.

    Sensor ids may be given to ``on_readings`` as ``uuid.UUID`` or as their 16 raw bytes (as
    ingest hands them), so the hot path need not build UUID objects.
    """

    def __init__(self) -> None:
        self._sensors: dict[uuid.UUID | bytes, Owner] = {}  # by UUID and by its raw bytes
        self._devices: dict[uuid.UUID, Owner] = {}  # device-level event rules
        self._timed: dict[Rule, None] = {}  # rules tick() looks at (insertion-ordered set)
        self._restores: dict[tuple[uuid.UUID, uuid.UUID | None], str] = {}
        self._zone_kinds: dict[Any, str] = {}
        self._zones: dict[uuid.UUID, list[CompositeRule]] = {}  # zone-level composite rules
        self._clock = NEVER  # latest tick time
        self.stats = EngineStats()

    # -- rules ---------------------------------------------------------------------------

    def set_rules(
        self,
        sensor_id: uuid.UUID,
        rules: Sequence[tuple[uuid.UUID, RuleSpec]],
        *,
        device_id: uuid.UUID | None = None,
        now_ms: int | None = None,
    ) -> None:
        """Replace a sensor's rules; a rule whose id and spec are unchanged keeps its state (an
        id kept with a new spec stays active at its level, by name). ``now_ms`` starts the
        stale count of a sensor never heard from (else the next tick does)."""
        old = self._sensors.get(sensor_id)
        if not rules:
            self.remove_sensor(sensor_id)
            return
        entry = old if old is not None else Owner(device_id)
        if device_id is not None:
            entry.device_id = device_id
        entry.install(self._merge(entry, rules, sensor_id, sensor_id, now_ms))
        self._sensors[sensor_id] = self._sensors[sensor_id.bytes] = entry

    def set_event_rules(
        self,
        device_id: uuid.UUID,
        rules: Sequence[tuple[uuid.UUID, RuleSpec]],
        *,
        now_ms: int | None = None,
    ) -> None:
        """Replace a device's rules: event rules (``spec.params["event_type"]``; "presence"
        for confined-space timeouts) and its offline rule. Their signals carry
        ``sensor_id=None``."""
        for rule_id, spec in rules:
            if spec.kind not in (RuleKind.EVENT, RuleKind.OFFLINE):
                raise RuleSpecError(f"rule {rule_id} is {spec.kind.value}, not a device rule")
        if not rules:
            self.remove_device(device_id)
            return
        entry = self._devices.get(device_id) or Owner(device_id)
        entry.install(self._merge(entry, rules, None, device_id, now_ms))
        self._devices[device_id] = entry

    def _merge(
        self,
        entry: Owner,
        rules: Sequence[tuple[uuid.UUID, RuleSpec]],
        sensor_id: uuid.UUID | None,
        owner_id: uuid.UUID,
        now_ms: int | None,
    ) -> dict[uuid.UUID, Rule]:
        new: dict[uuid.UUID, Rule] = {}
        for rule_id, spec in rules:
            if rule_id in new:
                raise RuleSpecError(f"rule {rule_id} given twice for {owner_id}")
            prev = entry.rules.get(rule_id)
            if prev is not None and prev.spec == spec:
                rule = prev
                rule.device_id = entry.device_id
            else:
                rule = build_rule(rule_id, spec, sensor_id, entry.device_id)
                if prev is not None and prev.active:
                    rule.restore(prev.level_name() or "")
            name = self._restores.pop((rule_id, owner_id), None)
            if name is None and sensor_id is None:
                name = self._restores.pop((rule_id, None), None)
            if name is not None:
                rule.restore(name)
            if isinstance(rule, StaleRule) and rule.started is None:
                rule.started = now_ms
            new[rule_id] = rule
        for rule_id, rule in entry.rules.items():
            if new.get(rule_id) is not rule:
                self._timed.pop(rule, None)
        for rule in new.values():
            if isinstance(rule, StaleRule | EventRule | PresenceRule):
                self._timed[rule] = None
        return new

    def set_zone_rules(
        self,
        zone_id: uuid.UUID,
        rules: Sequence[tuple[uuid.UUID, RuleSpec]],
        sensors: Sequence[tuple[uuid.UUID, str]],
    ) -> None:
        """Replace a zone's composite rules; ``sensors`` are the zone's (id, kind). A rule
        whose id and spec are unchanged keeps its state."""
        old = {rule.rule_id: rule for rule in self._zones.pop(zone_id, [])}
        for rule in old.values():
            self._timed.pop(rule, None)
        for owner in self._sensors.values():
            if owner.composites:
                owner.composites = tuple(
                    (c, i) for c, i in owner.composites if c.rule_id not in old
                )
        new: list[CompositeRule] = []
        for rule_id, spec in rules:
            if spec.kind is not RuleKind.COMPOSITE:
                raise RuleSpecError(f"rule {rule_id} is {spec.kind.value}, not a composite rule")
            prev = old.get(rule_id)
            if prev is not None and prev.spec == spec:
                rule = prev  # keeps which sensors hold; sensors no longer linked drop out below
            else:
                rule = CompositeRule(rule_id, spec, None, None)
                if prev is not None and prev.active:
                    rule.restore(prev.name)
            name = self._restores.pop((rule_id, None), None)
            if name is not None:
                rule.restore(name)
            new.append(rule)
            self._timed[rule] = None
        linked: dict[tuple[CompositeRule, int], set[Owner]] = defaultdict(set)
        for sensor_id, kind in sensors:
            links = [(rule, i) for rule in new for i in rule.sensor_condition(kind)]
            if not links:
                continue
            owner = self._sensors.get(sensor_id)
            if owner is None:
                owner = Owner(None)
                self._sensors[sensor_id] = self._sensors[sensor_id.bytes] = owner
            owner.composites = (*owner.composites, *links)
            for rule, i in links:
                linked[(rule, i)].add(owner)
        for rule in new:
            rule.holding = [held & linked[(rule, i)] for i, held in enumerate(rule.holding)]
        if new:
            self._zones[zone_id] = new

    def set_permits(
        self, zone_id: uuid.UUID, permits: Sequence[tuple[str, int, int]], now_ms: int
    ) -> list[Signal]:
        """The zone's work permits as (kind, open from ms, open until ms); re-evaluates the
        zone's composite rules at ``now_ms``."""
        out: list[Signal] = []
        for rule in self._zones.get(zone_id, ()):
            rule.permits = list(permits)
            signal = rule.evaluate(now_ms)
            if signal is not None:
                out.append(signal)
        self.stats.signals += len(out)
        return out

    def device_seen(self, device_id: uuid.UUID, ts_ms: int) -> list[Signal]:
        """The device sent something (reading, event, heartbeat) stamped ``ts_ms``."""
        owner = self._devices.get(device_id)
        if owner is None or ts_ms <= owner.last_ts:
            return []
        owner.last_ts = ts_ms
        if not owner.stale_on:
            return []
        out = [s for r in owner.stale if (s := r.fresh(ts_ms, self._clock)) is not None]
        owner.refresh()
        self.stats.signals += len(out)
        return out

    def remove_sensor(self, sensor_id: uuid.UUID) -> None:
        """Forget a sensor and its rules' state (no signals: its alarms are the service's)."""
        entry = self._sensors.pop(sensor_id, None)
        self._sensors.pop(sensor_id.bytes, None)
        if entry is not None:
            for rule in entry.rules.values():
                self._timed.pop(rule, None)

    def remove_device(self, device_id: uuid.UUID) -> None:
        entry = self._devices.pop(device_id, None)
        if entry is not None:
            for rule in entry.rules.values():
                self._timed.pop(rule, None)

    def has_rules(self, sensor_id: uuid.UUID) -> bool:
        return sensor_id in self._sensors

    def has_device_rules(self, device_id: uuid.UUID) -> bool:
        return device_id in self._devices

    def set_zone_kinds(self, kinds: Mapping[Any, str]) -> None:
        """Zone (as events name it in ``attributes["zone"]``) → kind, e.g. "confined_space"."""
        self._zone_kinds.update(kinds)

    def restore(
        self,
        rule_id: uuid.UUID,
        sensor_id: uuid.UUID | None,
        level_name: str,
        *,
        device_id: uuid.UUID | None = None,
    ) -> None:
        """An alarm open in the database before a restart: mark the rule active at that level
        (no signal). For a rule not loaded yet, applied when it is. Device-level event rules
        are found by ``device_id`` (or, without it, by rule id alone)."""
        rule, owner = self._find(rule_id, sensor_id, device_id)
        if rule is None:
            self._restores[(rule_id, sensor_id if sensor_id is not None else device_id)] = (
                level_name
            )
            return
        rule.restore(level_name)
        if owner is not None:
            owner.refresh()

    def release(
        self, rule_id: uuid.UUID, sensor_id: uuid.UUID | None, *, device_id: uuid.UUID | None = None
    ) -> None:
        """People cleared the alarm by hand: forget it (no signal). If the condition still
        holds, the next reading (or tick) raises again."""
        rule, owner = self._find(rule_id, sensor_id, device_id)
        if rule is not None:
            rule.release()
            if owner is not None:
                owner.refresh()

    def _find(
        self, rule_id: uuid.UUID, sensor_id: uuid.UUID | None, device_id: uuid.UUID | None
    ) -> tuple[Rule, Owner | None] | tuple[None, None]:
        """The rule and the sensor or device owning it (none for a zone rule)."""
        if sensor_id is not None:
            owners: Iterable[Owner | None] = (self._sensors.get(sensor_id),)
        elif device_id is not None:
            owners = (self._devices.get(device_id),)
        else:
            owners = self._devices.values()
        for owner in owners:
            if owner is not None and rule_id in owner.rules:
                return owner.rules[rule_id], owner
        if sensor_id is None and device_id is None:
            for rules in self._zones.values():
                for rule in rules:
                    if rule.rule_id == rule_id:
                        return rule, None
        return None, None

    # -- evaluation ----------------------------------------------------------------------

    def on_readings(
        self, sensor_ids: Sequence[uuid.UUID | bytes], ts_ms: Sequence[int], values: Sequence[float]
    ) -> list[Signal]:
        """One accepted batch, in any order: each sensor's readings are evaluated in timestamp
        order; one older than the sensor's last evaluated reading is ignored (and counted)."""
        get = self._sensors.get
        hits = [
            (e, t, v)
            for s, t, v in zip(sensor_ids, ts_ms, values, strict=True)
            if (e := get(s)) is not None
        ]
        if not hits:
            return []
        if len(hits) > 1:
            hits.sort(key=_BY_TS)  # stable, and linear for the usual already-sorted batch
        out: list[Signal] = []
        late = 0
        for e, t, v in hits:
            if t < e.last_ts:
                late += 1
                continue
            e.last_ts = t
            for feed in e.feeds:
                signal = feed(t, v)
                if signal is not None:
                    out.append(signal)
            if e.composites:
                for composite, i in e.composites:
                    signal = composite.feed_sensor(i, e, t, v)
                    if signal is not None:
                        out.append(signal)
            if e.stale_on:
                for rule in e.stale:
                    signal = rule.fresh(t, self._clock)
                    if signal is not None:
                        out.append(signal)
                e.refresh()
        stats = self.stats
        stats.readings += len(hits) - late
        stats.out_of_order += late
        stats.signals += len(out)
        return out

    def on_event(
        self,
        device_id: uuid.UUID,
        sensor_id: uuid.UUID | None,
        event_type: str,
        ts_ms: int,
        attributes: Mapping[str, Any],
        snapshot: str | None = None,
    ) -> list[Signal]:
        """A wearable or camera event: device-level rules, then the sensor's own event rules.
        ``snapshot`` is the key of the frame the event referenced, carried by a raise."""
        device = self._devices.get(device_id)
        sensor = self._sensors.get(sensor_id) if sensor_id is not None else None
        if device is None and sensor is None:
            return []
        zone = attributes.get("zone")
        zone_kind = self._zone_kinds.get(zone) if isinstance(zone, str | int) else None
        out: list[Signal] = []
        for owner in (device, sensor):
            if owner is not None:
                for rule in owner.events:
                    signal = rule.on_event(event_type, ts_ms, attributes, zone_kind, snapshot)
                    if signal is not None:
                        out.append(signal)
        self.stats.signals += len(out)
        return out

    def tick(self, now_ms: int) -> list[Signal]:
        """Time-driven rules at ``now_ms``: stale sensors, presence timeouts, event clears."""
        if now_ms > self._clock:
            self._clock = now_ms
        out: list[Signal] = []
        for rule in self._timed:
            signal = rule.tick(now_ms)
            if signal is not None:
                out.append(signal)
        self.stats.signals += len(out)
        return out

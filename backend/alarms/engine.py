"""The rule engine: readings and events in, signals out; pure, in memory, no I/O.

It runs inline on the ingest path, so a sensor without rules costs one dict miss and a
threshold evaluation a handful of comparisons. Everything is timed by reading and event
timestamps, except ``tick(now_ms)`` (stale data, presence timeouts, event auto-clear). The
alarm service turns each ``Signal`` into an alarm transition: ``raise`` opens one per rule ×
sensor, ``upgrade`` is SEVERITY_CHANGED in place, ``clear`` clears it.

State per rule: a threshold remembers its active level, the levels reached during the open
episode (it clears only once the value is past the ``clear_at`` of all of them: back out of
the deadband of the lowest one) and when each level started to be reached (on-delay). After a
restart ``restore()`` marks the alarms still open in the database as active, so they neither
vanish nor double; ``release()`` forgets one that people cleared by hand.
"""

from __future__ import annotations

import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal

from backend.alarms.rules import Direction, RuleKind, RuleSpec, Severity

SignalKind = Literal["raise", "upgrade", "clear"]
ZONE_ENTER, ZONE_EXIT, PRESENCE = "zone.enter", "zone.exit", "presence"
_NEVER = -(1 << 62)  # "no reading yet": older than any timestamp
_BY_TS = itemgetter(1)


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


@dataclass(slots=True)
class EngineStats:
    readings: int = 0  # readings of sensors with rules, evaluated
    out_of_order: int = 0  # readings older than the sensor's last one: ignored for state
    signals: int = 0


class _Rule:
    """One rule of one sensor (or device): its spec and its state."""

    __slots__ = ("active", "device_id", "rule_id", "sensor_id", "spec")

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
        self.active = False

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

    def _clear(self, value: float | None, ts: int) -> Signal:
        self.active = False
        return self._signal("clear", None, None, value, ts)

    def restore(self, level_name: str) -> None:
        self.active = True

    def release(self) -> None:
        self.active = False

    def level_name(self) -> str | None:
        return None

    def tick(self, now: int) -> Signal | None:
        return None


class _Single(_Rule):
    """A rule with one level: the spec's first level, else ``params["severity"]`` (and
    ``params["level"]`` for its name)."""

    __slots__ = ("name", "severity")
    DEFAULT: tuple[str, Severity] = ("alarm", Severity.ORANGE)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        spec, (name, severity) = self.spec, self.DEFAULT
        if spec.levels:
            self.name, self.severity = spec.levels[0].name, spec.levels[0].severity
        else:
            self.name = str(spec.params.get("level", spec.params.get("event_type", name)))
            self.severity = Severity(spec.params.get("severity", severity))

    def _raise(self, value: float | None, ts: int) -> Signal:
        self.active = True
        return self._signal("raise", self.name, self.severity, value, ts)

    def level_name(self) -> str | None:
        return self.name if self.active else None


class _Threshold(_Rule):
    __slots__ = (
        "clear_ats",
        "cur",
        "delay",
        "engaged",
        "hi_min",
        "highs",
        "keys",
        "lo_max",
        "n",
        "pending",
        "ranks",
        "setpoints",
        "timing",
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        levels = self.spec.levels
        if not levels:
            raise ValueError(f"threshold rule {self.rule_id} has no levels")
        self.n = len(levels)
        self.highs = tuple(lv.direction is Direction.HIGH for lv in levels)
        self.setpoints = tuple(lv.setpoint for lv in levels)
        self.clear_ats = tuple(lv.clear_at for lv in levels)
        self.ranks = tuple(lv.severity.rank for lv in levels)
        # Among reached levels the most severe wins; at equal severity the more extreme one.
        self.keys = tuple(
            (lv.severity.rank, lv.setpoint if h else -lv.setpoint)
            for lv, h in zip(levels, self.highs, strict=True)
        )
        self.hi_min = min(
            (s for s, h in zip(self.setpoints, self.highs, strict=True) if h), default=float("inf")
        )
        self.lo_max = max(
            (s for s, h in zip(self.setpoints, self.highs, strict=True) if not h),
            default=float("-inf"),
        )
        self.delay = round(self.spec.on_delay_s * 1000)
        self.pending: list[int | None] = [None] * self.n  # since when each level is reached
        self.timing = False  # some level's on-delay is running
        self.cur = -1  # active level index
        self.engaged = 0  # bit mask of the levels reached during the open episode

    def feed(self, ts: int, v: float) -> Signal | None:
        if self.cur < 0 and not self.timing and self.lo_max < v < self.hi_min:
            return None  # the common case: quiet, no on-delay running
        if v != v:
            return None  # NaN: neither reaches nor clears anything
        delay, pending, highs, setpoints = self.delay, self.pending, self.highs, self.setpoints
        reached = 0
        best = -1
        for i in range(self.n):
            if v >= setpoints[i] if highs[i] else v <= setpoints[i]:
                reached |= 1 << i
                if delay:
                    since = pending[i]
                    if since is None:
                        pending[i] = since = ts
                    if ts - since < delay:
                        continue  # on-delay still running
                if best < 0 or self.keys[i] > self.keys[best]:
                    best = i
            else:
                pending[i] = None  # a reading short of the level interrupts its on-delay
        self.timing = bool(delay and reached)
        cur = self.cur
        if cur < 0:
            if best < 0:
                return None
            self.cur, self.engaged, self.active = best, reached | 1 << best, True
            return self._level_signal("raise", best, v, ts)
        self.engaged |= reached
        if best >= 0 and self.ranks[best] > self.ranks[cur]:
            self.cur = best
            return self._level_signal("upgrade", best, v, ts)
        if reached:
            return None  # no downgrade, no clear while any level is reached
        engaged, clear_ats = self.engaged, self.clear_ats
        for i in range(self.n):
            if engaged >> i & 1 and (v >= clear_ats[i] if highs[i] else v <= clear_ats[i]):
                return None  # inside a deadband
        self.cur, self.engaged = -1, 0
        return self._clear(v, ts)

    def _level_signal(self, kind: SignalKind, i: int, v: float, ts: int) -> Signal:
        level = self.spec.levels[i]
        return self._signal(kind, level.name, level.severity, v, ts)

    def restore(self, level_name: str) -> None:
        names = [lv.name for lv in self.spec.levels]
        # A level renamed by an override since: the least severe level, so it can still clear.
        i = names.index(level_name) if level_name in names else self.ranks.index(min(self.ranks))
        # The value passed every milder level of that direction on its way: their deadbands
        # hold the alarm too, as they would have without the restart.
        high, edge = self.highs[i], self.setpoints[i]
        engaged = 0
        for j in range(self.n):
            if self.highs[j] is high and (
                self.setpoints[j] <= edge if high else self.setpoints[j] >= edge
            ):
                engaged |= 1 << j
        self.cur, self.engaged, self.active = i, engaged, True

    def release(self) -> None:
        self.cur, self.engaged, self.active = -1, 0, False

    def level_name(self) -> str | None:
        return self.spec.levels[self.cur].name if self.cur >= 0 else None


class _Rate(_Single):
    """The rate of change over ``window_s``, per minute, estimated robustly.

    Two readings are no estimate: a sensor's noise between consecutive readings, divided by a
    few seconds, is a rate many times any limit (3 mm/d of a foundation pit is 0.002 mm/min;
    0.1 mm of noise over 5 s is 1.2 mm/min). The window is cut into ``SLOTS`` slots; each
    closed slot contributes the mean of its readings, and the rate is the Theil–Sen slope
    through those points: the median of their pairwise slopes, which a few wild readings or
    slots cannot move (breakdown point 29 %), while averaging inside a slot tames the noise.
    It is estimated when a slot closes (so at most ``window_s / SLOTS`` late, one hour for a
    24 h window), and only once the window holds ``min_readings`` readings spanning at least
    ``min_span_s`` (default: half the window): before that, or across a gap that leaves less,
    there is no rate, and an open alarm neither clears nor repeats.
    """

    __slots__ = (
        "clear_below",
        "delay",
        "limit",
        "min_count",
        "min_span",
        "open_at",
        "open_n",
        "open_sum_dt",
        "open_sum_v",
        "since",
        "slot",
        "slots",
        "window",
    )
    DEFAULT = ("rate of change", Severity.YELLOW)
    SLOTS = 24

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        params = self.spec.params
        self.limit = float(params["max_per_minute"])
        self.clear_below = float(params.get("clear_below", self.limit))
        window_s = float(params.get("window_s", 60))
        self.window = max(round(window_s * 1000), self.SLOTS)
        self.min_span = round(float(params.get("min_span_s", window_s / 2)) * 1000)
        self.min_count = max(int(params.get("min_readings", 5)), 2)
        self.delay = round(self.spec.on_delay_s * 1000)
        self.slot = self.window // self.SLOTS  # slot width, ms
        # Closed slots in the window: (slot index, mean time ms, mean value, readings).
        self.slots: deque[tuple[int, float, float, int]] = deque()
        self.open_at: int | None = None  # index of the slot being filled (None: no reading yet)
        self.open_n = 0
        self.open_sum_dt = 0.0  # ms after the slot's start, summed
        self.open_sum_v = 0.0
        self.since: int | None = None

    def feed(self, ts: int, v: float) -> Signal | None:
        if v != v:  # NaN: no rate
            return None
        index = ts // self.slot
        offset = float(ts - index * self.slot)
        if self.open_at == index:
            self.open_n += 1
            self.open_sum_dt += offset
            self.open_sum_v += v
            return None
        previous, n = self.open_at, self.open_n
        if previous is not None:
            mean_ts = previous * self.slot + self.open_sum_dt / n
            self.slots.append((previous, mean_ts, self.open_sum_v / n, n))
        self.open_at, self.open_n, self.open_sum_dt, self.open_sum_v = index, 1, offset, v
        slots = self.slots
        while slots and slots[0][0] < index - self.SLOTS:
            slots.popleft()
        if previous is None:
            return None
        rate = self.rate()
        if rate is None:
            return None  # too little data for a rate: hold whatever state there is
        if rate > self.limit:
            if self.active:
                return None
            if self.delay:
                if self.since is None:
                    self.since = ts
                if ts - self.since < self.delay:
                    return None
            return self._raise(rate, ts)
        self.since = None
        if self.active and rate < self.clear_below:
            return self._clear(rate, ts)
        return None

    def rate(self) -> float | None:
        """|Theil–Sen slope| per minute through the closed slots, if there is enough data."""
        slots = self.slots
        if len(slots) < 2 or slots[-1][1] - slots[0][1] < self.min_span:
            return None
        if sum(s[3] for s in slots) < self.min_count:
            return None
        points = [(t, v) for _, t, v, _ in slots]
        slopes = sorted(
            (vj - vi) / (tj - ti)
            for i, (ti, vi) in enumerate(points)
            for tj, vj in points[i + 1 :]
            if tj > ti
        )
        if not slopes:
            return None
        mid = len(slopes) // 2
        slope = slopes[mid] if len(slopes) % 2 else (slopes[mid - 1] + slopes[mid]) / 2
        # Nine significant digits: a rise at exactly the limit is not over it by float error.
        return float(f"{abs(slope) * 60000.0:.9g}")


class _Stale(_Single):
    """No reading for ``params["seconds"]``: raised by tick, cleared by the next fresh reading."""

    __slots__ = ("limit", "owner", "started")
    DEFAULT = ("stale", Severity.BLUE)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.limit = round(float(self.spec.params["seconds"]) * 1000)
        self.owner: _Owner | None = None
        self.started: int | None = None  # when counting began for a sensor never heard from

    def tick(self, now: int) -> Signal | None:
        if self.active or self.owner is None:
            return None
        last = self.owner.last_ts
        if last == _NEVER:
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


def _zone_ok(params: Mapping[str, Any], zone: Any, zone_kind: str | None) -> bool:
    zones, kind = params.get("zones"), params.get("zone_kind")
    if zones is not None and zone not in zones:
        return False
    return kind is None or kind == zone_kind


class _Event(_Single):
    """Raised by a matching event; cleared after ``clear_after_s`` without one (via tick),
    otherwise left for people to clear (``release``)."""

    __slots__ = ("clear_after", "event_type", "last")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        params = self.spec.params
        self.event_type = str(params["event_type"])
        after = params.get("clear_after_s")
        self.clear_after = None if after is None else round(float(after) * 1000)
        self.last: int | None = None  # latest matching event

    def on_event(
        self, event_type: str, ts: int, attributes: Mapping[str, Any], zone_kind: str | None
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
        return self._raise(float(value) if isinstance(value, int | float) else None, ts)

    def tick(self, now: int) -> Signal | None:
        if not self.active or self.clear_after is None:
            return None
        if self.last is None:  # restored after a restart: count from now
            self.last = now
        if now - self.last >= self.clear_after:
            return self._clear(None, now)
        return None


class _Presence(_Single):
    """A worker (device) inside a zone of ``zone_kind`` longer than ``max_seconds``."""

    __slots__ = ("inside", "limit", "zone")
    DEFAULT = ("presence timeout", Severity.ORANGE)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.limit = round(float(self.spec.params["max_seconds"]) * 1000)
        self.inside: dict[Any, int] = {}  # zone → entered at
        self.zone: Any = None  # the zone the open alarm is about (None after a restore)

    def on_event(
        self, event_type: str, ts: int, attributes: Mapping[str, Any], zone_kind: str | None
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


class _Offline(_Stale):
    """A device that sent nothing (reading, event or heartbeat) for ``params["seconds"]``."""

    __slots__ = ()
    DEFAULT = ("device offline", Severity.BLUE)


class _Composite(_Rule):
    """A zone-level rule: ``params["conditions"]`` combined by ``params["op"]`` (AND / OR).

    A sensor condition (``{"sensor_kind": k, "above": x, "clear_below": y}``, or ``below`` /
    ``clear_above`` for low values) holds while any sensor of that kind in the zone holds it,
    each sensor with its own deadband; a permit condition (``{"permit": "hot_work"}``) holds
    while a permit of that kind is open in the zone. The rule raises when the combination
    becomes true and clears when it becomes false.
    """

    __slots__ = (
        "awaiting_data",
        "conditions",
        "holding",
        "name",
        "op_all",
        "permits",
        "severity",
        "value",
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        params, levels = self.spec.params, self.spec.levels
        self.name = levels[0].name if levels else str(params.get("level", "composite"))
        self.severity = levels[0].severity if levels else Severity(params.get("severity", "ORANGE"))
        op = str(params.get("op", "AND")).upper()
        if op not in ("AND", "OR"):
            raise ValueError(f"composite rule {self.rule_id}: op must be AND or OR, not {op}")
        self.op_all = op == "AND"
        self.conditions: tuple[dict[str, Any], ...] = tuple(params["conditions"])
        if not self.conditions:
            raise ValueError(f"composite rule {self.rule_id} has no conditions")
        # Per sensor condition: the sensors (their _Owner) currently holding it.
        self.holding: list[set[Any]] = [set() for _ in self.conditions]
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
            return self._clear(self.value, ts)
        return None

    def feed_sensor(self, i: int, sensor: Any, ts: int, v: float) -> Signal | None:
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


def _build(
    rule_id: uuid.UUID, spec: RuleSpec, sensor_id: uuid.UUID | None, device_id: uuid.UUID | None
) -> _Rule:
    if spec.kind is RuleKind.OFFLINE:
        return _Offline(rule_id, spec, sensor_id, device_id)
    if spec.kind is RuleKind.COMPOSITE:
        return _Composite(rule_id, spec, sensor_id, device_id)
    if spec.kind is RuleKind.THRESHOLD:
        return _Threshold(rule_id, spec, sensor_id, device_id)
    if spec.kind is RuleKind.RATE_OF_CHANGE:
        return _Rate(rule_id, spec, sensor_id, device_id)
    if spec.kind is RuleKind.STALE:
        return _Stale(rule_id, spec, sensor_id, device_id)
    if spec.params.get("event_type") == PRESENCE:
        return _Presence(rule_id, spec, sensor_id, device_id)
    return _Event(rule_id, spec, sensor_id, device_id)


class _Owner:
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
        self.last_ts = _NEVER
        self.rules: dict[uuid.UUID, _Rule] = {}
        self.feeds: tuple[Callable[[int, float], Signal | None], ...] = ()
        self.stale: tuple[_Stale, ...] = ()
        self.events: tuple[_Event | _Presence, ...] = ()
        self.stale_on = False  # some stale rule is active: readings must be shown to it
        # Zone-level composite rules this sensor takes part in: (rule, condition index).
        self.composites: tuple[tuple[_Composite, int], ...] = ()

    def install(self, rules: dict[uuid.UUID, _Rule]) -> None:
        self.rules = rules
        self.feeds = tuple(r.feed for r in rules.values() if isinstance(r, _Threshold | _Rate))
        self.stale = tuple(r for r in rules.values() if isinstance(r, _Stale))
        self.events = tuple(r for r in rules.values() if isinstance(r, _Event | _Presence))
        for r in self.stale:
            r.owner = self
        self.refresh()

    def refresh(self) -> None:
        self.stale_on = any(r.active for r in self.stale)


class RuleEngine:
    """Fed accepted readings and events; returns the signals they cause.

    Sensor ids may be given to ``on_readings`` as ``uuid.UUID`` or as their 16 raw bytes (as
    ingest hands them), so the hot path need not build UUID objects.
    """

    def __init__(self) -> None:
        self._sensors: dict[uuid.UUID | bytes, _Owner] = {}  # by UUID and by its raw bytes
        self._devices: dict[uuid.UUID, _Owner] = {}  # device-level event rules
        self._timed: dict[_Rule, None] = {}  # rules tick() looks at (insertion-ordered set)
        self._restores: dict[tuple[uuid.UUID, uuid.UUID | None], str] = {}
        self._zone_kinds: dict[Any, str] = {}
        self._zones: dict[uuid.UUID, list[_Composite]] = {}  # zone-level composite rules
        self._clock = _NEVER  # latest tick time
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
        entry = old if old is not None else _Owner(device_id)
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
                raise ValueError(f"rule {rule_id} is {spec.kind.value}, not a device rule")
        if not rules:
            self.remove_device(device_id)
            return
        entry = self._devices.get(device_id) or _Owner(device_id)
        entry.install(self._merge(entry, rules, None, device_id, now_ms))
        self._devices[device_id] = entry

    def _merge(
        self,
        entry: _Owner,
        rules: Sequence[tuple[uuid.UUID, RuleSpec]],
        sensor_id: uuid.UUID | None,
        owner_id: uuid.UUID,
        now_ms: int | None,
    ) -> dict[uuid.UUID, _Rule]:
        new: dict[uuid.UUID, _Rule] = {}
        for rule_id, spec in rules:
            if rule_id in new:
                raise ValueError(f"rule {rule_id} given twice for {owner_id}")
            prev = entry.rules.get(rule_id)
            if prev is not None and prev.spec == spec:
                rule = prev
                rule.device_id = entry.device_id
            else:
                rule = _build(rule_id, spec, sensor_id, entry.device_id)
                if prev is not None and prev.active:
                    rule.restore(prev.level_name() or "")
            name = self._restores.pop((rule_id, owner_id), None)
            if name is None and sensor_id is None:
                name = self._restores.pop((rule_id, None), None)
            if name is not None:
                rule.restore(name)
            if isinstance(rule, _Stale) and rule.started is None:
                rule.started = now_ms
            new[rule_id] = rule
        for rule_id, rule in entry.rules.items():
            if new.get(rule_id) is not rule:
                self._timed.pop(rule, None)
        for rule in new.values():
            if isinstance(rule, _Stale | _Event | _Presence):
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
        new: list[_Composite] = []
        for rule_id, spec in rules:
            if spec.kind is not RuleKind.COMPOSITE:
                raise ValueError(f"rule {rule_id} is {spec.kind.value}, not a composite rule")
            prev = old.get(rule_id)
            if prev is not None and prev.spec == spec:
                rule = prev  # keeps which sensors hold; sensors no longer linked drop out below
            else:
                rule = _Composite(rule_id, spec, None, None)
                if prev is not None and prev.active:
                    rule.restore(prev.name)
            name = self._restores.pop((rule_id, None), None)
            if name is not None:
                rule.restore(name)
            new.append(rule)
            self._timed[rule] = None
        linked: dict[tuple[_Composite, int], set[_Owner]] = defaultdict(set)
        for sensor_id, kind in sensors:
            links = [(rule, i) for rule in new for i in rule.sensor_condition(kind)]
            if not links:
                continue
            owner = self._sensors.get(sensor_id)
            if owner is None:
                owner = _Owner(None)
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
    ) -> tuple[_Rule, _Owner | None] | tuple[None, None]:
        """The rule and the sensor or device owning it (none for a zone rule)."""
        if sensor_id is not None:
            owners: Iterable[_Owner | None] = (self._sensors.get(sensor_id),)
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
    ) -> list[Signal]:
        """A wearable or camera event: device-level rules, then the sensor's own event rules."""
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
                    signal = rule.on_event(event_type, ts_ms, attributes, zone_kind)
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

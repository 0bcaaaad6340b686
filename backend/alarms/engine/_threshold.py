"""Rules on a sensor's values: threshold levels (on-delay, hysteresis) and rate of change."""

from __future__ import annotations

import uuid
from collections import deque

from backend.alarms.engine._state import Rule, RuleSpecError, Signal, SignalKind, SingleLevelRule
from backend.alarms.rules import Direction, RuleSpec, Severity


class ThresholdRule(Rule):
    """Levels reached by the value. It remembers its active level, the levels reached during
    the open episode (it clears only once the value is past the ``clear_at`` of all of them:
    back out of the deadband of the lowest one) and since when each level is reached (the
    on-delay)."""

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
        "peak",
        "pending",
        "ranks",
        "setpoints",
        "timing",
    )

    def __init__(
        self,
        rule_id: uuid.UUID,
        spec: RuleSpec,
        sensor_id: uuid.UUID | None,
        device_id: uuid.UUID | None,
    ) -> None:
        super().__init__(rule_id, spec, sensor_id, device_id)
        levels = spec.levels
        if not levels:
            raise RuleSpecError(f"threshold rule {rule_id} has no levels")
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
        self.delay = round(spec.on_delay_s * 1000)
        self.pending: list[int | None] = [None] * self.n  # since when each level is reached
        self.timing = False  # some level's on-delay is running
        self.cur = -1  # active level index (-1: no open alarm)
        self.engaged = 0  # bit mask of the levels reached during the open episode
        self.peak: float | None = None  # the most extreme reading of the open episode

    @property
    def active(self) -> bool:
        return self.cur >= 0

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
            self.cur, self.engaged, self.peak = best, reached | 1 << best, v
            return self._level_signal("raise", best, v, ts)
        peak = self.peak
        if peak is None or (v > peak if highs[cur] else v < peak):
            self.peak = v
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
        return Signal(
            self.rule_id, self.sensor_id, self.device_id, "clear", None, None, v, ts, self.peak
        )

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
        self.cur, self.engaged, self.peak = i, engaged, None

    def release(self) -> None:
        self.cur, self.engaged, self.peak = -1, 0, None

    def level_name(self) -> str | None:
        return self.spec.levels[self.cur].name if self.cur >= 0 else None


class RateRule(SingleLevelRule):
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

    def __init__(
        self,
        rule_id: uuid.UUID,
        spec: RuleSpec,
        sensor_id: uuid.UUID | None,
        device_id: uuid.UUID | None,
    ) -> None:
        super().__init__(rule_id, spec, sensor_id, device_id)
        params = spec.params
        self.limit = float(params["max_per_minute"])
        self.clear_below = float(params.get("clear_below", self.limit))
        window_s = float(params.get("window_s", 60))
        self.window = max(round(window_s * 1000), self.SLOTS)
        self.min_span = round(float(params.get("min_span_s", window_s / 2)) * 1000)
        self.min_count = max(int(params.get("min_readings", 5)), 2)
        self.delay = round(spec.on_delay_s * 1000)
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

"""The rule engine on its own: readings and events in, signals out (no database, no clock)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.alarms.engine import RuleEngine, RuleSpecError, Signal
from backend.alarms.rules import Direction, Level, RuleKind, RuleSpec, Severity
from backend.core.errors import ConfigurationError

T0 = 1_700_000_000_000  # ms
HIGH, LOW = Direction.HIGH, Direction.LOW

# GB/T 50493-2019 combustible gas: 1st level 25 %LEL (ORANGE), 2nd level 50 %LEL (RED).
GAS_LEVELS = (
    Level("1st level", Severity.ORANGE, HIGH, 25.0, 22.0),
    Level("2nd level", Severity.RED, HIGH, 50.0, 45.0),
)
# Oxygen %VOL: low 19.5, high 23.5.
O2_LEVELS = (
    Level("low", Severity.ORANGE, LOW, 19.5, 19.8),
    Level("high", Severity.ORANGE, HIGH, 23.5, 23.2),
)


def at(seconds: float) -> int:
    return T0 + round(seconds * 1000)


def threshold(levels: tuple[Level, ...] = GAS_LEVELS, on_delay_s: float = 0.0) -> RuleSpec:
    return RuleSpec(RuleKind.THRESHOLD, levels, on_delay_s=on_delay_s)


class Rig:
    """One engine, one sensor, one rule."""

    def __init__(self, spec: RuleSpec | None = None) -> None:
        self.engine = RuleEngine()
        self.sensor = uuid.uuid4()
        self.device = uuid.uuid4()
        self.rule = uuid.uuid4()
        if spec is not None:
            self.engine.set_rules(self.sensor, [(self.rule, spec)], device_id=self.device)

    def read(self, *points: tuple[float, float]) -> list[Signal]:
        """Feed (seconds, value) readings one batch each; return every signal."""
        out: list[Signal] = []
        for seconds, value in points:
            out += self.engine.on_readings([self.sensor], [at(seconds)], [value])
        return out

    def batch(self, points: Sequence[tuple[float, float]]) -> list[Signal]:
        return self.engine.on_readings(
            [self.sensor] * len(points), [at(s) for s, _ in points], [v for _, v in points]
        )


def strip(signal: Signal) -> tuple[object, ...]:
    """A signal without its ids, to compare runs of different rigs."""
    return (signal.kind, signal.level, signal.severity, signal.value, signal.ts_ms)


def kinds(signals: list[Signal]) -> list[str]:
    return [s.kind for s in signals]


# -- thresholds ------------------------------------------------------------------------------


def test_exactly_at_the_setpoint_raises_and_just_below_does_not() -> None:
    rig = Rig(threshold())
    assert rig.read((0, 24.99)) == []
    [signal] = rig.read((1, 25.0))
    assert signal == Signal(
        rig.rule, rig.sensor, rig.device, "raise", "1st level", Severity.ORANGE, 25.0, at(1)
    )


def test_a_sustained_leak_raises_exactly_once() -> None:
    rig = Rig(threshold())
    signals = rig.read(*[(s, 30.0 + s % 7) for s in range(200)])
    assert kinds(signals) == ["raise"]


def test_hysteresis_band_neither_clears_nor_re_raises() -> None:
    rig = Rig(threshold())
    assert kinds(rig.read((0, 26.0))) == ["raise"]
    # Hovering around the setpoint inside the deadband [22, 25): no clear, no flapping.
    assert rig.read((1, 24.0), (2, 25.0), (3, 23.0), (4, 25.5), (5, 22.0)) == []
    [clear] = rig.read((6, 21.9))
    assert (clear.kind, clear.level, clear.severity, clear.value) == ("clear", None, None, 21.9)
    # After a clear a new excursion raises again.
    assert kinds(rig.read((7, 23.0), (8, 25.0))) == ["raise"]


def test_a_higher_level_upgrades_in_place_and_never_downgrades() -> None:
    rig = Rig(threshold())
    signals = rig.read((0, 30.0), (1, 55.0), (2, 60.0), (3, 30.0), (4, 48.0), (5, 23.0))
    assert [(s.kind, s.level, s.severity) for s in signals] == [
        ("raise", "1st level", Severity.ORANGE),
        ("upgrade", "2nd level", Severity.RED),
    ]
    # 23 is still inside the 1st level's deadband: the alarm stays; below 22 it clears.
    assert kinds(rig.read((6, 21.0))) == ["clear"]


def test_jumping_straight_to_the_second_level_is_one_red_raise() -> None:
    rig = Rig(threshold())
    [signal] = rig.read((0, 70.0))
    assert (signal.kind, signal.level, signal.severity) == ("raise", "2nd level", Severity.RED)
    # Back below the 2nd level's clear_at but still in the 1st level's deadband: no clear.
    assert rig.read((1, 40.0), (2, 23.0)) == []
    assert kinds(rig.read((3, 10.0))) == ["clear"]


def test_on_delay_completed_fires_at_the_reading_that_completes_it() -> None:
    rig = Rig(threshold(on_delay_s=10))
    assert rig.read((0, 30.0), (5, 31.0), (9.999, 29.0)) == []
    [signal] = rig.read((10, 30.0))
    assert (signal.kind, signal.ts_ms) == ("raise", at(10))


def test_on_delay_interrupted_by_a_reading_below_the_setpoint_restarts() -> None:
    rig = Rig(threshold(on_delay_s=10))
    assert rig.read((0, 30.0), (5, 24.0), (8, 30.0), (15, 30.0)) == []
    [signal] = rig.read((18, 30.0))
    assert signal.ts_ms == at(18)


def test_on_delay_applies_to_an_upgrade_too() -> None:
    rig = Rig(threshold(on_delay_s=10))
    assert kinds(rig.read((0, 30.0), (10, 30.0))) == ["raise"]
    assert rig.read((11, 60.0), (15, 60.0), (16, 40.0), (17, 60.0)) == []
    [signal] = rig.read((27, 60.0))
    assert (signal.kind, signal.level) == ("upgrade", "2nd level")


def test_low_direction_oxygen() -> None:
    rig = Rig(threshold(O2_LEVELS))
    assert rig.read((0, 20.9), (1, 19.51)) == []
    [low] = rig.read((2, 19.5))
    assert (low.kind, low.level) == ("raise", "low")
    assert rig.read((3, 19.7), (4, 19.8)) == []  # deadband up to 19.8 inclusive
    assert kinds(rig.read((5, 19.81))) == ["clear"]
    [high] = rig.read((6, 23.5))
    assert (high.kind, high.level) == ("raise", "high")


def test_out_of_order_within_a_batch_is_evaluated_in_timestamp_order() -> None:
    rig = Rig(threshold())
    # Sent as t=3 (10), t=1 (30), t=2 (10): in time order that is raise then clear.
    signals = rig.batch([(3, 10.0), (1, 30.0), (2, 10.0)])
    assert [(s.kind, s.ts_ms) for s in signals] == [("raise", at(1)), ("clear", at(2))]
    assert rig.engine.stats.out_of_order == 0


def test_a_reading_older_than_the_last_evaluated_one_is_ignored_and_counted() -> None:
    rig = Rig(threshold())
    assert kinds(rig.read((10, 30.0))) == ["raise"]
    assert rig.read((5, 10.0)) == []  # late and low: must not clear
    assert rig.read((6, 70.0)) == []  # late and high: must not upgrade
    assert rig.engine.stats.out_of_order == 2
    assert kinds(rig.read((11, 10.0))) == ["clear"]


def test_sensors_without_rules_cost_nothing_and_raw_byte_ids_work() -> None:
    rig = Rig(threshold())
    stranger = uuid.uuid4()
    assert not rig.engine.has_rules(stranger)
    assert rig.engine.has_rules(rig.sensor)
    assert rig.engine.on_readings([stranger, stranger.bytes], [at(0), at(1)], [99.0, 99.0]) == []
    [signal] = rig.engine.on_readings([rig.sensor.bytes], [at(2)], [30.0])
    assert signal.sensor_id == rig.sensor
    assert rig.engine.stats.readings == 1


def test_restore_keeps_an_open_alarm_without_a_second_raise() -> None:
    rig = Rig(threshold())
    rig.engine.restore(rig.rule, rig.sensor, "1st level")
    assert rig.read((0, 30.0), (1, 24.0)) == []
    [upgrade] = rig.read((2, 55.0))
    assert (upgrade.kind, upgrade.level) == ("upgrade", "2nd level")
    assert kinds(rig.read((3, 5.0))) == ["clear"]


def test_restore_then_value_drops_clears() -> None:
    rig = Rig(threshold())
    rig.engine.restore(rig.rule, rig.sensor, "2nd level")
    # On its way to the 2nd level the value passed the 1st: its deadband holds the alarm too.
    assert rig.read((0, 23.0)) == []
    [clear] = rig.read((1, 20.0))
    assert (clear.kind, clear.rule_id, clear.sensor_id) == ("clear", rig.rule, rig.sensor)


def test_a_clear_carries_the_most_extreme_reading_of_the_episode() -> None:
    """The alarm's peak: the highest reading of a high alarm, the lowest of a low one, not
    just the values at which it raised or changed level."""
    rig = Rig(threshold())
    assert kinds(rig.read((0, 30.0), (1, 44.0), (2, 38.0))) == ["raise"]
    [clear] = rig.read((3, 10.0))
    assert (clear.kind, clear.value, clear.peak) == ("clear", 10.0, 44.0)
    # The next episode starts its own peak.
    rig.read((4, 26.0))
    [clear] = rig.read((5, 0.0))
    assert clear.peak == 26.0

    low = Rig(threshold(O2_LEVELS))
    low.read((0, 19.0), (1, 17.2), (2, 18.9))
    [clear] = low.read((3, 20.9))
    assert clear.peak == 17.2


def test_after_a_restore_the_peak_counts_from_the_first_reading() -> None:
    rig = Rig(threshold())
    rig.engine.restore(rig.rule, rig.sensor, "1st level")
    rig.read((0, 24.0), (1, 23.0))
    [clear] = rig.read((2, 5.0))
    assert clear.peak == 24.0


def test_restore_before_the_rules_are_loaded_is_applied_when_they_are() -> None:
    rig = Rig()
    rig.engine.restore(rig.rule, rig.sensor, "1st level")
    rig.engine.set_rules(rig.sensor, [(rig.rule, threshold())])
    assert rig.read((0, 30.0)) == []
    assert kinds(rig.read((1, 0.0))) == ["clear"]


def test_restore_of_an_unknown_level_name_still_lets_the_alarm_clear() -> None:
    rig = Rig(threshold())
    rig.engine.restore(rig.rule, rig.sensor, "renamed since")
    assert rig.read((0, 30.0)) == []
    assert kinds(rig.read((1, 55.0), (2, 0.0))) == ["upgrade", "clear"]


def test_reloading_the_same_rules_keeps_state_and_a_new_rule_id_starts_afresh() -> None:
    rig = Rig(threshold())
    assert kinds(rig.read((0, 30.0))) == ["raise"]
    rig.engine.set_rules(rig.sensor, [(rig.rule, threshold())])
    assert rig.read((1, 30.0)) == []
    # An override with new levels under the same id: still open, judged by the new levels.
    tighter = (
        Level("1st level", Severity.ORANGE, HIGH, 20.0, 18.0),
        Level("2nd level", Severity.RED, HIGH, 40.0, 35.0),
    )
    rig.engine.set_rules(rig.sensor, [(rig.rule, threshold(tighter))])
    assert kinds(rig.read((2, 19.0), (3, 45.0), (4, 17.0))) == ["upgrade", "clear"]
    other = uuid.uuid4()
    rig.engine.set_rules(rig.sensor, [(other, threshold())])
    [signal] = rig.read((5, 30.0))
    assert (signal.kind, signal.rule_id) == ("raise", other)


def test_reloading_the_same_rules_does_not_restart_a_running_on_delay() -> None:
    rig = Rig(threshold(on_delay_s=10))
    assert rig.read((0, 30.0)) == []
    rig.engine.set_rules(rig.sensor, [(rig.rule, threshold(on_delay_s=10))])
    assert kinds(rig.read((10, 30.0))) == ["raise"]


def test_a_nan_reading_neither_raises_nor_clears() -> None:
    rig = Rig(threshold())
    assert rig.read((0, float("nan"))) == []
    assert kinds(rig.read((1, 30.0))) == ["raise"]
    assert rig.read((2, float("nan"))) == []
    assert kinds(rig.read((3, 0.0))) == ["clear"]


def test_removed_sensor_no_longer_evaluates() -> None:
    rig = Rig(threshold())
    rig.engine.remove_sensor(rig.sensor)
    assert not rig.engine.has_rules(rig.sensor)
    assert rig.read((0, 99.0)) == []
    assert rig.engine.on_readings([rig.sensor.bytes], [at(1)], [99.0]) == []


def test_manual_release_lets_a_persisting_condition_raise_again() -> None:
    rig = Rig(threshold())
    assert kinds(rig.read((0, 30.0))) == ["raise"]
    rig.engine.release(rig.rule, rig.sensor)
    assert kinds(rig.read((1, 30.0))) == ["raise"]


# -- rate of change --------------------------------------------------------------------------


def test_rate_of_change_fires_on_a_steady_rise_and_clears_when_it_levels_off() -> None:
    spec = RuleSpec(
        RuleKind.RATE_OF_CHANGE,
        params={"max_per_minute": 10.0, "window_s": 60, "severity": "YELLOW"},
    )
    rig = Rig(spec)
    assert rig.read(*((t, 5.0) for t in range(0, 60))) == []  # flat for a minute
    # Rising at 20 per minute from t=60: the window's slope passes 10/min within it.
    signals = rig.read(*((60 + t, 5.0 + t / 3) for t in range(1, 61)))
    [signal] = signals
    assert (signal.kind, signal.severity) == ("raise", Severity.YELLOW)
    assert at(60) < signal.ts_ms <= at(120)
    assert 10.0 < signal.value <= 20.5
    # Level again at the top: once the window is mostly flat, it clears.
    [clear] = rig.read(*((120 + t, 25.0) for t in range(1, 61)))
    assert clear.kind == "clear" and clear.ts_ms <= at(180)


def test_rate_of_change_at_exactly_the_limit_does_not_fire() -> None:
    spec = RuleSpec(RuleKind.RATE_OF_CHANGE, params={"max_per_minute": 10.0, "window_s": 60})
    rig = Rig(spec)
    assert rig.read(*((t, t / 6) for t in range(0, 180))) == []  # exactly 10 per minute
    assert kinds(rig.read(*((180 + t, 30.0 + t / 2) for t in range(1, 61)))) == ["raise"]


def test_two_noisy_readings_are_no_rate() -> None:
    """A jump between two readings a few seconds apart is noise until the window has data:
    the old two-point estimate made 0.1 mm over 5 s a 1.2 mm/min "rate"."""
    spec = RuleSpec(RuleKind.RATE_OF_CHANGE, params={"max_per_minute": 1.0, "window_s": 600})
    rig = Rig(spec)
    assert rig.read((0, 0.0), (5, 3.0), (10, 0.0), (15, 3.0)) == []
    # Only once readings span half the window (the default minimum) is there a rate.
    assert rig.read(*((20 + 5 * i, 0.0) for i in range(50))) == []
    assert kinds(rig.read(*((270 + 5 * i, 2.0 * i) for i in range(1, 60)))) == ["raise"]


def displacement_rate() -> RuleSpec:
    """The library's foundation-pit rate rule: 3 mm/d over 24 h (GB 50497-2019)."""
    from backend.alarms.library import default_rules

    specs = default_rules("construction", "displacement", zone_kind="foundation_pit")
    return next(s for s in specs if s.kind is RuleKind.RATE_OF_CHANGE)


def pit_signal(days: float, seed: int, ramp_mm_per_day: float = 0.0, ramp_from_day: float = 0.0):
    """Displacement every 5 s: the demo's noise (a mean-reverting walk, σ 0.1 mm a reading,
    the occasional wild reading) around 2 mm, plus a ramp from ``ramp_from_day``."""
    import random

    rng = random.Random(seed)
    value = 2.0
    for i in range(round(days * 86400 / 5)):
        t = 5 * i
        value += 0.3 * (2.0 - value) + rng.gauss(0.0, 0.1)
        ramp = max(0.0, t / 86400 - ramp_from_day) * ramp_mm_per_day
        wild = rng.random() < 1e-4  # a glitch: a reading 10 mm off
        yield t, value + ramp + (10.0 if wild else 0.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_noisy_displacement_inside_its_band_never_fires(seed: int) -> None:
    rig = Rig(displacement_rate())
    points = list(pit_signal(3.0, seed))
    assert max(abs(v) for _, v in points) < 21  # inside the band of the threshold levels
    assert rig.batch(points) == []


def test_a_real_displacement_ramp_fires_within_the_window() -> None:
    rig = Rig(displacement_rate())
    # Quiet for a day, then the wall moves 6 mm/d (twice the rate alarm).
    signals = rig.batch(list(pit_signal(2.5, seed=4, ramp_mm_per_day=6.0, ramp_from_day=1.0)))
    [signal] = signals
    assert signal.kind == "raise" and signal.severity is Severity.ORANGE
    assert at(86400) < signal.ts_ms <= at(2 * 86400)  # within the 24 h window of the start
    assert 0.00208333 < signal.value < 6.0 / 1440  # mm/min, no more than the ramp itself


def test_a_slow_creep_below_the_rate_limit_does_not_fire() -> None:
    rig = Rig(displacement_rate())
    assert rig.batch(list(pit_signal(3.0, seed=5, ramp_mm_per_day=2.0))) == []


def test_a_wild_reading_does_not_make_a_rate() -> None:
    """Hourly readings, one of them 50 mm off: a least-squares slope through them would be
    12 mm/d; the median of the pairwise slopes ignores it."""
    rig = Rig(displacement_rate())
    points = [(3600 * h, 2.0 + (50.0 if h == 30 else 0.0)) for h in range(48)]
    assert rig.batch(points) == []


def test_a_gap_leaves_no_rate_until_the_window_fills_again() -> None:
    spec = RuleSpec(RuleKind.RATE_OF_CHANGE, params={"max_per_minute": 1.0, "window_s": 600})
    rig = Rig(spec)
    assert rig.read(*((5 * i, 0.0) for i in range(120))) == []
    # Back after an hour 30 units higher: no rate across the gap, and none from a few points.
    assert rig.read(*((4200 + 5 * i, 30.0) for i in range(10))) == []


# -- stale -----------------------------------------------------------------------------------


def stale(seconds: float = 60) -> RuleSpec:
    return RuleSpec(RuleKind.STALE, params={"seconds": seconds, "severity": "BLUE"})


def test_stale_raises_after_the_silence_and_the_next_reading_clears() -> None:
    rig = Rig(stale())
    assert rig.read((0, 1.0)) == []
    assert rig.engine.tick(at(60)) == []  # exactly 60 s old: not older than 60 s
    [signal] = rig.engine.tick(at(61))
    assert (signal.kind, signal.severity, signal.ts_ms) == ("raise", Severity.BLUE, at(61))
    assert signal.sensor_id == rig.sensor
    assert rig.engine.tick(at(90)) == []  # no repeat
    [clear] = rig.read((91, 1.0))
    assert (clear.kind, clear.ts_ms) == ("clear", at(91))
    assert rig.engine.tick(at(150)) == []
    assert kinds(rig.engine.tick(at(152))) == ["raise"]


def test_stale_counts_from_when_rules_are_set_for_a_sensor_never_heard_from() -> None:
    engine = RuleEngine()
    sensor, rule = uuid.uuid4(), uuid.uuid4()
    engine.set_rules(sensor, [(rule, stale())], now_ms=at(0))
    assert engine.tick(at(30)) == []
    assert kinds(engine.tick(at(61))) == ["raise"]
    # Without now_ms the first tick starts the count.
    other = uuid.uuid4()
    engine.set_rules(other, [(rule, stale())])
    assert engine.tick(at(100)) == []
    assert [s.sensor_id for s in engine.tick(at(161))] == [other]


def test_a_backlog_reading_that_is_itself_stale_does_not_clear() -> None:
    rig = Rig(stale())
    rig.read((0, 1.0))
    assert kinds(rig.engine.tick(at(300))) == ["raise"]
    assert rig.read((100, 1.0)) == []  # 200 s old at the last tick: would re-raise at once
    assert kinds(rig.read((290, 1.0))) == ["clear"]


def test_stale_alarm_restored_after_restart_clears_on_the_next_reading() -> None:
    rig = Rig(stale())
    rig.engine.restore(rig.rule, rig.sensor, "stale")
    assert rig.engine.tick(at(0)) == []
    assert kinds(rig.read((1, 5.0))) == ["clear"]


# -- events ----------------------------------------------------------------------------------


def event_rule(event_type: str, **params: object) -> RuleSpec:
    return RuleSpec(RuleKind.EVENT, params={"event_type": event_type, **params})


def test_event_rule_raises_once_and_stays_until_released() -> None:
    engine, device, rule = RuleEngine(), uuid.uuid4(), uuid.uuid4()
    engine.set_event_rules(device, [(rule, event_rule("wearable.sos", severity="RED"))])
    assert engine.on_event(device, None, "wearable.fall", at(0), {}) == []
    [signal] = engine.on_event(device, None, "wearable.sos", at(1), {"zone": "Z1"})
    assert signal == Signal(rule, None, device, "raise", "wearable.sos", Severity.RED, None, at(1))
    assert engine.on_event(device, None, "wearable.sos", at(2), {}) == []  # refreshes only
    assert engine.tick(at(10_000)) == []  # no automatic clear
    assert engine.on_event(uuid.uuid4(), None, "wearable.sos", at(3), {}) == []  # other device
    engine.release(rule, None, device_id=device)
    assert kinds(engine.on_event(device, None, "wearable.sos", at(4), {})) == ["raise"]


def test_restored_event_alarm_is_not_raised_twice_and_clears_after_the_quiet_spell() -> None:
    engine, device, rule = RuleEngine(), uuid.uuid4(), uuid.uuid4()
    engine.restore(rule, None, "wearable.man_down", device_id=device)  # before rules load
    spec = event_rule("wearable.man_down", severity="RED", clear_after_s=60)
    engine.set_event_rules(device, [(rule, spec)])
    assert engine.on_event(device, None, "wearable.man_down", at(0), {}) == []
    assert engine.tick(at(59)) == []
    assert kinds(engine.tick(at(60))) == ["clear"]


def test_restored_presence_alarm_clears_when_the_worker_leaves() -> None:
    engine, worker, rule = presence_rig()
    engine.restore(rule, None, "presence")  # found by rule id alone
    assert engine.tick(at(10_000)) == []
    assert engine.on_event(worker, None, "zone.exit", at(10_001), {"zone": "OFFICE"}) == []
    [clear] = engine.on_event(worker, None, "zone.exit", at(10_002), {"zone": "TANK-3"})
    assert (clear.kind, clear.rule_id) == ("clear", rule)


def test_event_rule_with_clear_after_clears_after_a_quiet_spell() -> None:
    engine, device, rule = RuleEngine(), uuid.uuid4(), uuid.uuid4()
    spec = RuleSpec(
        RuleKind.EVENT,
        levels=(Level("no helmet", Severity.YELLOW, HIGH, 1.0, 1.0),),
        params={"event_type": "ppe.no_helmet", "clear_after_s": 30},
    )
    engine.set_event_rules(device, [(rule, spec)])
    [signal] = engine.on_event(device, None, "ppe.no_helmet", at(0), {"confidence": 0.9})
    assert (signal.level, signal.severity) == ("no helmet", Severity.YELLOW)
    assert engine.on_event(device, None, "ppe.no_helmet", at(20), {}) == []
    assert engine.tick(at(49)) == []  # 29 s after the last one
    [clear] = engine.tick(at(50))
    assert (clear.kind, clear.rule_id, clear.ts_ms) == ("clear", rule, at(50))
    assert kinds(engine.on_event(device, None, "ppe.no_helmet", at(60), {})) == ["raise"]


def test_an_event_raise_carries_the_events_snapshot_and_a_clear_none() -> None:
    engine, device, rule = RuleEngine(), uuid.uuid4(), uuid.uuid4()
    engine.set_event_rules(device, [(rule, event_rule("fire.smoke", clear_after_s=30))])
    key = f"snapshots/{uuid.uuid4()}/{uuid.uuid4()}/{uuid.uuid4()}.jpg"
    [signal] = engine.on_event(device, None, "fire.smoke", at(0), {}, key)
    assert (signal.kind, signal.snapshot) == ("raise", key)
    [clear] = engine.tick(at(30))
    assert (clear.kind, clear.snapshot) == ("clear", None)
    [again] = engine.on_event(device, None, "fire.smoke", at(40), {})
    assert (again.kind, again.snapshot) == ("raise", None)


def test_event_rule_restricted_to_a_zone_kind() -> None:
    engine, device, rule = RuleEngine(), uuid.uuid4(), uuid.uuid4()
    engine.set_zone_kinds({"TANK-3": "confined_space", "YARD": "outdoor"})
    engine.set_event_rules(device, [(rule, event_rule("zone.intrusion", zone_kind="outdoor"))])
    assert engine.on_event(device, None, "zone.intrusion", at(0), {"zone": "TANK-3"}) == []
    assert kinds(engine.on_event(device, None, "zone.intrusion", at(1), {"zone": "YARD"})) == [
        "raise"
    ]


def test_sensor_level_event_rule_carries_the_sensor() -> None:
    engine, device, sensor, rule = RuleEngine(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    engine.set_rules(sensor, [(rule, event_rule("fire.smoke"))], device_id=device)
    assert engine.on_event(device, None, "fire.smoke", at(0), {}) == []
    [signal] = engine.on_event(device, sensor, "fire.smoke", at(1), {})
    assert (signal.sensor_id, signal.device_id, signal.severity) == (
        sensor,
        device,
        Severity.ORANGE,
    )


def test_device_rules_must_be_event_or_offline_rules() -> None:
    with pytest.raises(RuleSpecError, match="not a device rule"):
        RuleEngine().set_event_rules(uuid.uuid4(), [(uuid.uuid4(), threshold())])


# -- presence timeout ------------------------------------------------------------------------


def presence_rig() -> tuple[RuleEngine, uuid.UUID, uuid.UUID]:
    engine, worker, rule = RuleEngine(), uuid.uuid4(), uuid.uuid4()
    engine.set_zone_kinds({"TANK-3": "confined_space", "OFFICE": "office"})
    spec = event_rule("presence", zone_kind="confined_space", max_seconds=1800, severity="RED")
    engine.set_event_rules(worker, [(rule, spec)])
    return engine, worker, rule


def test_presence_timeout_raises_when_inside_too_long_and_exit_clears() -> None:
    engine, worker, rule = presence_rig()
    assert engine.on_event(worker, None, "zone.enter", at(0), {"zone": "TANK-3"}) == []
    assert engine.tick(at(1800)) == []  # exactly the allowed time
    [signal] = engine.tick(at(1801))
    assert (signal.kind, signal.rule_id, signal.device_id, signal.sensor_id) == (
        "raise",
        rule,
        worker,
        None,
    )
    assert (signal.severity, signal.value) == (Severity.RED, 1801.0)
    assert engine.tick(at(1900)) == []
    [clear] = engine.on_event(worker, None, "zone.exit", at(1950), {"zone": "TANK-3"})
    assert (clear.kind, clear.ts_ms) == ("clear", at(1950))
    assert engine.tick(at(9000)) == []


def test_presence_in_other_zones_or_left_in_time_never_raises() -> None:
    engine, worker, _ = presence_rig()
    engine.on_event(worker, None, "zone.enter", at(0), {"zone": "OFFICE"})
    engine.on_event(worker, None, "zone.enter", at(10), {"zone": "TANK-3"})
    assert engine.on_event(worker, None, "zone.exit", at(1000), {"zone": "TANK-3"}) == []
    assert engine.tick(at(5000)) == []
    # Entering twice keeps the first entry time.
    engine.on_event(worker, None, "zone.enter", at(6000), {"zone": "TANK-3"})
    engine.on_event(worker, None, "zone.enter", at(7000), {"zone": "TANK-3"})
    assert kinds(engine.tick(at(7801))) == ["raise"]


# -- properties ------------------------------------------------------------------------------

levels_strategy = st.sampled_from([GAS_LEVELS, O2_LEVELS, GAS_LEVELS + O2_LEVELS[:1]])
values_strategy = st.one_of(
    st.floats(min_value=0, max_value=80, allow_nan=False),
    st.sampled_from([19.5, 19.8, 22.0, 23.2, 23.5, 25.0, 45.0, 50.0]),
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    levels=levels_strategy,
    on_delay=st.sampled_from([0.0, 2.0, 10.0]),
    batches=st.lists(
        st.lists(st.tuples(st.integers(0, 600), values_strategy), min_size=1, max_size=8),
        max_size=30,
    ),
)
def test_raises_and_clears_alternate_and_upgrades_only_while_open(
    levels: tuple[Level, ...],
    on_delay: float,
    batches: list[list[tuple[int, float]]],
) -> None:
    rig = Rig(threshold(levels, on_delay))
    signals = [signal for batch in batches for signal in rig.batch(batch)]
    severity: Severity | None = None
    for signal in signals:
        assert signal.rule_id == rig.rule and signal.sensor_id == rig.sensor
        if signal.kind == "raise":
            assert severity is None, "raise while an alarm is open"
            severity = signal.severity
        elif signal.kind == "upgrade":
            assert severity is not None, "upgrade without an open alarm"
            assert signal.severity is not None and signal.severity.rank > severity.rank
            severity = signal.severity
        else:
            assert severity is not None, "clear without an open alarm"
            assert signal.value is not None
            assert not any(lv.reached(signal.value) for lv in levels)
            severity = None


def open_level(signals: list[Signal]) -> str | None:
    """The level of the alarm these signals leave open, as the alarm table would hold it."""
    level: str | None = None
    for signal in signals:
        level = signal.level if signal.kind != "clear" else None
    return level


@settings(max_examples=300, deadline=None, database=None)
@given(
    steps=st.lists(st.tuples(st.integers(0, 30), values_strategy), min_size=1, max_size=40),
    data=st.data(),
)
def test_a_restart_restored_from_open_alarms_neither_loses_nor_doubles_one(
    steps: list[tuple[int, float]], data: st.DataObject
) -> None:
    restart_at = data.draw(st.integers(0, len(steps)), label="restart_at")
    seconds, readings = 0, []
    for gap, value in steps:
        seconds += gap
        readings.append((seconds, value))
    before, after = readings[:restart_at], readings[restart_at:]
    uninterrupted = Rig(threshold())
    expected = uninterrupted.read(*readings)
    first = Rig(threshold())
    signals = first.read(*before)
    second = Rig()  # the new process: same ids, rules loaded, open alarms restored
    second.sensor, second.rule = first.sensor, first.rule
    second.engine.set_rules(second.sensor, [(second.rule, threshold())])
    level = open_level(signals)
    if level is not None:
        second.engine.restore(second.rule, second.sensor, level)
    signals += second.read(*after)
    assert [strip(s) for s in signals] == [strip(s) for s in expected]


@settings(max_examples=200, deadline=None, database=None)
@given(
    readings=st.lists(
        st.tuples(st.integers(0, 10_000), values_strategy),
        unique_by=lambda r: r[0],
        max_size=40,
    ),
    on_delay=st.sampled_from([0.0, 5.0]),
    data=st.data(),
)
def test_a_shuffled_batch_gives_the_signals_of_the_readings_in_time_order(
    readings: list[tuple[int, float]], on_delay: float, data: st.DataObject
) -> None:
    one_by_one = Rig(threshold(GAS_LEVELS, on_delay))
    as_batch = Rig(threshold(GAS_LEVELS, on_delay))
    expected = one_by_one.read(*sorted(readings))
    shuffled = data.draw(st.permutations(readings))
    got = as_batch.batch(shuffled)
    assert [strip(s) for s in got] == [strip(s) for s in expected]
    assert as_batch.engine.stats.out_of_order == 0


# --- device offline ------------------------------------------------------------------------

OFFLINE = RuleSpec(
    RuleKind.OFFLINE,
    (Level("offline", Severity.BLUE, Direction.HIGH, 300, 300),),
    params={"seconds": 300},
)


def test_a_device_silent_past_its_limit_goes_offline_and_any_sign_of_life_clears_it() -> None:
    engine, device, rule = RuleEngine(), uuid.uuid4(), uuid.uuid4()
    engine.set_event_rules(device, [(rule, OFFLINE)])
    t0 = 1_000_000
    assert engine.device_seen(device, t0) == []
    assert engine.tick(t0 + 300_000) == []  # exactly at the limit: not yet
    (down,) = engine.tick(t0 + 300_001)
    assert (down.kind, down.severity, down.sensor_id, down.device_id) == (
        "raise",
        Severity.BLUE,
        None,
        device,
    )
    assert engine.tick(t0 + 400_000) == []  # one alarm, not one per tick
    assert engine.device_seen(device, t0 + 100) == []  # an old backlog reading: still down
    (up,) = engine.device_seen(device, t0 + 400_000)  # a heartbeat
    assert up.kind == "clear"
    assert engine.device_seen(device, t0 + 400_001) == []


def test_an_offline_alarm_restored_after_a_restart_clears_on_the_next_heartbeat() -> None:
    engine, device, rule = RuleEngine(), uuid.uuid4(), uuid.uuid4()
    engine.restore(rule, None, "offline", device_id=device)
    engine.set_event_rules(device, [(rule, OFFLINE)], now_ms=5_000)
    engine.tick(5_000)
    (up,) = engine.device_seen(device, 6_000)
    assert up.kind == "clear"


# --- composite rules -------------------------------------------------------------------------


def composite(op: str = "AND") -> RuleSpec:
    return RuleSpec(
        RuleKind.COMPOSITE,
        (Level("gas during hot work", Severity.RED, Direction.HIGH, 1, 1),),
        params={
            "op": op,
            "conditions": [
                {"sensor_kind": "combustible_gas", "above": 10, "clear_below": 8},
                {"permit": "hot_work"},
            ],
        },
    )


def zone_engine(op: str = "AND") -> tuple[RuleEngine, uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    engine, zone, rule = RuleEngine(), uuid.uuid4(), uuid.uuid4()
    gas = [uuid.uuid4(), uuid.uuid4()]
    other = uuid.uuid4()
    engine.set_zone_rules(
        zone,
        [(rule, composite(op))],
        [(gas[0], "combustible_gas"), (gas[1], "combustible_gas"), (other, "temperature")],
    )
    return engine, zone, rule, gas


def test_gas_alone_or_a_permit_alone_raises_nothing_both_together_raise_red() -> None:
    engine, zone, rule, (g1, _) = zone_engine()
    assert engine.on_readings([g1], [1_000], [12.0]) == []  # gas above 10 %LEL, no permit
    (raised,) = engine.set_permits(zone, [("hot_work", 0, 10_000)], 2_000)
    assert (raised.kind, raised.rule_id, raised.severity, raised.level, raised.sensor_id) == (
        "raise",
        rule,
        Severity.RED,
        "gas during hot work",
        None,
    )
    assert raised.value == 12.0
    assert engine.on_readings([g1], [3_000], [13.0]) == []  # still on: no second alarm


def test_a_composite_clears_below_the_deadband_of_every_sensor() -> None:
    engine, zone, _, (g1, g2) = zone_engine()
    engine.set_permits(zone, [("hot_work", 0, 100_000)], 0)
    (raised,) = engine.on_readings([g1, g2], [1_000, 1_001], [11.0, 10.0])
    assert raised.kind == "raise"
    assert engine.on_readings([g1], [2_000], [9.0]) == []  # inside the deadband
    assert engine.on_readings([g1], [3_000], [7.0]) == []  # g1 off, but g2 still holds
    (cleared,) = engine.on_readings([g2], [4_000], [7.5])
    assert cleared.kind == "clear"


def test_a_composite_clears_when_the_permit_closes_or_expires() -> None:
    engine, zone, _, (g1, _) = zone_engine()
    engine.on_readings([g1], [1_000], [20.0])
    engine.set_permits(zone, [("hot_work", 0, 60_000)], 2_000)
    assert engine.tick(59_999) == []
    (expired,) = engine.tick(60_000)  # the half-open window has ended
    assert expired.kind == "clear"
    (again,) = engine.set_permits(zone, [("hot_work", 60_000, 120_000)], 61_000)
    assert again.kind == "raise"
    (closed,) = engine.set_permits(zone, [], 62_000)
    assert closed.kind == "clear"


def test_another_kind_of_permit_does_not_count_and_or_needs_either() -> None:
    engine, zone, _, (g1, _) = zone_engine()
    engine.on_readings([g1], [1_000], [20.0])
    assert engine.set_permits(zone, [("confined_space", 0, 10_000)], 2_000) == []
    either, zone2, _, _ = zone_engine("OR")
    (raised,) = either.set_permits(zone2, [("hot_work", 0, 10_000)], 1_000)
    assert raised.kind == "raise"


def test_a_composite_rule_refuses_a_bad_operator() -> None:
    spec = composite("XOR")
    with pytest.raises(RuleSpecError, match="AND or OR"):
        RuleEngine().set_zone_rules(uuid.uuid4(), [(uuid.uuid4(), spec)], [])


def test_a_rule_the_engine_cannot_run_is_a_configuration_error_the_loader_can_skip() -> None:
    no_levels = RuleSpec(RuleKind.THRESHOLD)
    with pytest.raises(RuleSpecError, match="no levels") as caught:
        RuleEngine().set_rules(uuid.uuid4(), [(uuid.uuid4(), no_levels)])
    assert isinstance(caught.value, ConfigurationError)
    assert isinstance(caught.value, ValueError)  # as a spec value that does not parse


def test_reloading_a_zone_keeps_its_active_composite_alarm() -> None:
    engine, zone, rule, (g1, g2) = zone_engine()
    engine.set_permits(zone, [("hot_work", 0, 100_000)], 0)
    (raised,) = engine.on_readings([g1], [1_000], [20.0])
    assert raised.kind == "raise"
    # Another device somewhere: the pipeline reloads every zone's rules, unchanged.
    engine.set_zone_rules(
        zone,
        [(rule, composite())],
        [(g1, "combustible_gas"), (g2, "combustible_gas")],
    )
    assert engine.tick(2_000) == []  # still holding: no clear, no second raise
    (cleared,) = engine.on_readings([g1], [3_000], [1.0])
    assert cleared.kind == "clear"


def test_a_restored_composite_alarm_waits_for_readings_before_clearing() -> None:
    engine, zone, rule, g1 = RuleEngine(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    engine.restore(rule, None, "gas during hot work")
    engine.set_zone_rules(zone, [(rule, composite())], [(g1, "combustible_gas")])
    # After a restart the permit is loaded before any reading: which sensor holds is unknown.
    assert engine.set_permits(zone, [("hot_work", 0, 100_000)], 1_000) == []
    assert engine.tick(2_000) == []
    assert engine.on_readings([g1], [3_000], [20.0]) == []  # still high: the same alarm
    (cleared,) = engine.on_readings([g1], [4_000], [1.0])
    assert cleared.kind == "clear"

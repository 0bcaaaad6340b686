"""The time that timers read: the wall clock in production, a simulated one in reports.

Rules are timed by the timestamps of readings and events; what is timed by *now* instead —
stale sensors and offline devices (the engine's tick), escalation and reminder deadlines,
permit and silence expiry — reads a ``Clock`` handed to it. Production code passes nothing
and gets ``WALL_CLOCK``; ``anjian alarm-report`` passes a ``SimulatedClock`` it moves forward
itself, so a simulated day runs in minutes and every timer fires when it would have; a served
process under test (``ANJIAN_ENV=test`` with ``ANJIAN_TEST_CLOCK=1``) runs on an
``AdjustableClock`` that ``POST /api/v1/test/clock`` moves ahead of the wall clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from backend.core.errors import BadInput


class ClockError(BadInput, ValueError):
    """A clock asked to run backwards or to start at a naive time (also a ``ValueError``, as
    its callers have always caught)."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


WALL_CLOCK: Clock = WallClock()


def now_ms(clock: Clock) -> int:
    """The clock's time in epoch milliseconds, as the rule engine counts."""
    return round(clock.now().timestamp() * 1000)


class SimulatedClock:
    """A clock that only moves when told to (never backwards)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ClockError("a simulated clock starts at an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ClockError("a clock does not run backwards")
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, at: datetime) -> None:
        if at < self._now:
            raise ClockError("a clock does not run backwards")
        self._now = at.astimezone(UTC)


class AdjustableClock:
    """The wall clock plus an offset that only grows: a served process under test
    (``ANJIAN_TEST_CLOCK``) moves its deadlines forward without waiting for them.

    Time keeps running between advances, so the loops that sleep on wall-time intervals still
    see it move; an advance only adds to how far ahead of the wall clock it runs."""

    def __init__(self, base: Clock = WALL_CLOCK) -> None:
        self._base = base
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return self._base.now() + self._offset

    @property
    def offset(self) -> timedelta:
        return self._offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ClockError("a clock does not run backwards")
        self._offset += timedelta(seconds=seconds)
        return self.now()

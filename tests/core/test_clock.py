"""The adjustable clock of test processes: the wall clock plus an offset that only grows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.core.clock import AdjustableClock, SimulatedClock
from backend.core.errors import BadInput


def test_an_adjustable_clock_runs_with_the_wall_clock_and_moves_only_forward() -> None:
    base = SimulatedClock(datetime(2026, 3, 2, tzinfo=UTC))
    clock = AdjustableClock(base)
    assert clock.now() == base.now()
    base.advance(10)  # the wall clock runs on: so does this one
    assert clock.now() == datetime(2026, 3, 2, 0, 0, 10, tzinfo=UTC)
    assert clock.advance(3600) == datetime(2026, 3, 2, 1, 0, 10, tzinfo=UTC)
    assert clock.offset == timedelta(hours=1)
    with pytest.raises(BadInput, match="backwards"):
        clock.advance(-1)
    assert clock.offset == timedelta(hours=1)


def test_the_default_adjustable_clock_follows_the_wall_clock() -> None:
    clock = AdjustableClock()
    clock.advance(60)
    ahead = clock.now() - datetime.now(UTC)
    assert timedelta(seconds=59) < ahead <= timedelta(seconds=60)

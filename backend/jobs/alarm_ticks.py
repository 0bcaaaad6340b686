"""The engine's tick: time-driven rules (stale data, offline devices, presence timeouts)
evaluated at the clock's now every few seconds; their signals go to the alarm writer.

What is timed by readings' own timestamps needs no tick; only what fires because nothing
arrived does. The clock is the runtime's (``backend/core/clock.py``), so a test clock moved
ahead makes a device offline without waiting."""

from __future__ import annotations

import logging

from backend.alarms.pipeline import AlarmEvaluator
from backend.core.clock import Clock, now_ms
from backend.jobs.periodic import Periodic

log = logging.getLogger("anjian.alarms")

TICK_SECONDS = 5.0


class EngineTicks:
    def __init__(
        self, evaluator: AlarmEvaluator, clock: Clock, *, every: float = TICK_SECONDS
    ) -> None:
        self.evaluator = evaluator
        self.clock = clock
        self.loop = Periodic(
            "alarm-clock", self._run, every=every, failed="alarm clock tick failed", logger=log
        )

    def run(self) -> None:
        """One tick at the clock's now."""
        self.evaluator.tick(now_ms(self.clock))

    async def _run(self) -> None:
        self.run()

"""The rules watch: new devices and sensors, changed rules and work permits reach the engine
within about a second.

Each change bumps a counter in the same transaction (the registry's, the permits'), so the
watch reads two integers a second and reloads only when one moved. A pipeline that could not
load at start (the database was down) is loaded from here once it can be."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.alarms.pipeline import AlarmEvaluator, unscoped_change_counters
from backend.core.clock import Clock
from backend.jobs.periodic import Periodic

log = logging.getLogger("anjian.alarms")


class RuleWatch:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        evaluator: AlarmEvaluator,
        clock: Clock,
        *,
        loaded: Callable[[], bool],
        load: Callable[[], Awaitable[None]],
        every: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.evaluator = evaluator
        self.clock = clock
        self._loaded = loaded
        self._load = load  # the pipeline's first load: rules, open alarms, feed position
        self.loop = Periodic(
            "alarm-rules-watch",
            self.run,
            every=every,
            failed="reloading alarm rules failed; will retry",
            logger=log,
        )

    async def run(self) -> None:
        if not self._loaded():
            await self._load()
            return
        registry, permits = await unscoped_change_counters(sessions=self.sessions)
        if registry != self.evaluator.registry_version:
            await self.evaluator.reload(self.clock.now())
        elif permits != self.evaluator.permits_version:
            await self.evaluator.load_permits(self.clock.now())

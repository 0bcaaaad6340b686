"""The escalation job: unacknowledged alarms escalate and remind when their deadlines (kept in
the alarm rows) fall due at the clock's now; what a step is, is the alarm domain's
(``backend/alarms/escalation.py``). Checked every second, so a deadline is met to the second
and a restart or a test clock moved ahead finds what fell due meanwhile."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.alarms import escalation
from backend.core.clock import Clock
from backend.jobs.periodic import Periodic

log = logging.getLogger("anjian.alarms")


class Escalations:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        stepped: Callable[[], None],
        every: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self._stepped = stepped  # steps were committed: the relay and the feed are woken
        self.loop = Periodic(
            "alarm-escalation",
            self.run,
            every=every,
            failed="alarm escalation failed; will retry",
            logger=log,
        )

    async def run(self) -> int:
        """Escalate and remind the alarms due at the clock's now; returns the steps taken."""
        steps = await escalation.run_due(sessions=self.sessions, now=self.clock.now())
        if steps:
            self._stepped()
        return steps

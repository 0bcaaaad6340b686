"""The escalation of overdue hazard reports: every five minutes, a received report past its
acceptance deadline moves to the nearest division above its handling one with regulators who
handle reports, with an entry on its public timeline; then the directors of each report still
overdue (acceptance with nowhere to move, closing, feedback) are mailed, once per missed
deadline (``backend.reports.handling``). Reads the clock it is given, so a test clock moved
ahead finds what fell due meanwhile."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core.clock import Clock
from backend.jobs.periodic import Periodic
from backend.reports.handling import escalate_unaccepted, notify_overdue

log = logging.getLogger("anjian.reports")


class ReportEscalation:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        queued_mail: Callable[[], None] = lambda: None,
        every: float = 300.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self._queued_mail = queued_mail  # mail was committed: the mail relay is woken
        self.loop = Periodic(
            "report-escalation",
            self.run,
            every=every,
            failed="unaccepted hazard reports: escalating failed; will retry",
            logger=log,
        )

    async def run(self) -> int:
        """Escalate what is unaccepted at the clock's now, then tell the directors about what
        is still overdue; returns how many reports moved."""
        now = self.clock.now()
        moved = await escalate_unaccepted(sessions=self.sessions, now=now)
        if moved:
            log.info("moved %d unaccepted hazard report(s) to a higher division", moved)
        if await notify_overdue(sessions=self.sessions, now=now):
            self._queued_mail()
        return moved

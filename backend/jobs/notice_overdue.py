"""The overdue-notice job: every minute, rectification notices whose deadline passed while
they wait for the enterprise are found, and the directors of each one's issuing division are
mailed once (``backend.oversight.notices.service``). Reads the clock it is given, so a test
clock moved ahead finds what fell due meanwhile."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core.clock import Clock
from backend.jobs.periodic import Periodic
from backend.oversight.notices.service import unscoped_notify_overdue_in_own_transaction

log = logging.getLogger("anjian.notices")


class OverdueNotices:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        queued_mail: Callable[[], None],
        every: float = 60.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self._queued_mail = queued_mail  # mail was committed: the mail relay is woken
        self.loop = Periodic(
            "notice-overdue",
            self.run,
            every=every,
            failed="overdue rectification notices: notifying failed; will retry",
            logger=log,
        )

    async def run(self) -> int:
        """Notify about the notices overdue at the clock's now; returns how many."""
        told = await unscoped_notify_overdue_in_own_transaction(
            sessions=self.sessions, now=self.clock.now()
        )
        if told:
            self._queued_mail()
        return told

"""The unclaimed-photo job: every five minutes, photos of public hazard reports that no report
references an hour after their upload are deleted, with the spent challenges past their
expiry (``backend.reports.service``). Reads the clock it is given."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core.clock import Clock
from backend.core.objects import ObjectStore
from backend.jobs.periodic import Periodic
from backend.reports.service import delete_unclaimed_photos

log = logging.getLogger("anjian.reports")

UNCLAIMED_FOR = timedelta(hours=1)


class UnclaimedReportPhotos:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        objects: ObjectStore,
        clock: Clock,
        *,
        every: float = 300.0,
    ) -> None:
        self.sessions = sessions
        self.objects = objects
        self.clock = clock
        self.loop = Periodic(
            "report-photos",
            self.run,
            every=every,
            failed="unclaimed report photos: deleting failed; will retry",
            logger=log,
        )

    async def run(self) -> int:
        """Delete what was unclaimed for an hour at the clock's now; returns how many photos."""
        deleted = await delete_unclaimed_photos(
            sessions=self.sessions, objects=self.objects, before=self.clock.now() - UNCLAIMED_FOR
        )
        if deleted:
            log.info("deleted %d unclaimed report photo(s)", deleted)
        return deleted

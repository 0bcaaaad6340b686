"""The outbox relay: each committed alarm change handed to the job broker once.

Rows are read in sequence order, handed to the sinks (e.g. enqueue a notification job) and only
then marked sent; a crash or a broker outage leaves them unsent, so the relay resumes where it
stopped and nothing committed is lost. With several servers each runs a relay; on PostgreSQL a
row is claimed by one of them (``FOR UPDATE SKIP LOCKED``), so one job is enqueued per change.
Showing the changes to this process's listeners is the feed's (``backend/jobs/outbox_feed.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.alarms.models import OutboxMessage
from backend.core.db import utcnow
from backend.jobs.outbox_feed import Listener, outbox_event
from backend.jobs.periodic import run_when_woken
from tenants.scope import unscoped_session

log = logging.getLogger("anjian.relay")


async def unscoped_relay_batch(
    *, sessions: async_sessionmaker[AsyncSession], sinks: list[Listener], batch: int
) -> int:
    """Hand one batch of unsent messages to ``sinks`` and mark them sent; returns how many."""
    # The outbox belongs to no tenant: the relay is a system process.
    async with unscoped_session(sessions) as session, session.begin():
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
                .order_by(OutboxMessage.seq)
                .limit(batch)
                # Another server's relay skips what this one holds (SQLite has one writer).
                .with_for_update(skip_locked=True)
            )
        ).all()
        sent: list[int] = []
        for row in rows:
            event = outbox_event(row)
            try:
                for sink in sinks:
                    sink(event)
            except Exception:  # the broker is down: this row and the rest stay unsent
                log.exception("outbox relay could not hand on message %d", row.seq)
                break
            sent.append(row.seq)
        if sent:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.seq.in_(sent)).values(sent_at=utcnow())
            )
    return len(sent)


class OutboxRelay:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        wakeup: asyncio.Event,
        *,
        sinks: list[Listener] | None = None,
        poll_seconds: float = 0.5,
        batch: int = 500,
    ) -> None:
        self.sessions = sessions
        self.wakeup = wakeup
        self.sinks = sinks or []  # e.g. enqueue a notification job; may raise (broker down)
        self.poll_seconds = poll_seconds
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            try:
                await self.relay_once()  # what committed just before shutdown goes out now
            except Exception:
                log.exception("final outbox relay failed; the rows stay for the next start")
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        await run_when_woken(
            self.wakeup,
            self._relay_all,
            poll_seconds=self.poll_seconds,
            max_backoff=10.0,
            failed="outbox relay failed; retrying",
            logger=log,
        )

    async def _relay_all(self) -> None:
        while await self.relay_once() == self.batch:
            pass

    async def relay_once(self) -> int:
        """Relay one batch of unsent messages; returns how many were sent."""
        return await unscoped_relay_batch(
            sessions=self.sessions, sinks=self.sinks, batch=self.batch
        )

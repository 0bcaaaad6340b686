"""The outbox relay: committed alarm changes, in order, to everyone who listens.

Rows are read in sequence order, handed to the in-process broadcaster (GraphQL subscriptions)
and to the job broker, and only then marked sent; a crash or a broker outage leaves them
unsent, so the relay resumes where it stopped and nothing committed is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update

from backend.alarms.broadcast import AlarmBroadcaster
from backend.alarms.models import OutboxMessage
from backend.core.db import utcnow
from backend.runtime import Runtime
from tenants.scope import unscoped_session

log = logging.getLogger("anjian.relay")


class OutboxRelay:
    def __init__(
        self,
        runtime: Runtime,
        broadcaster: AlarmBroadcaster,
        wakeup: asyncio.Event,
        *,
        sinks: list[Callable[[dict[str, Any]], None]] | None = None,
        poll_seconds: float = 0.5,
        batch: int = 500,
    ) -> None:
        self.runtime = runtime
        self.broadcaster = broadcaster
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
        backoff = self.poll_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=backoff)
            self.wakeup.clear()
            try:
                while await self.relay_once() == self.batch:
                    pass
                backoff = self.poll_seconds
            except Exception:
                log.exception("outbox relay failed; retrying")
                backoff = min(backoff * 2, 10.0)

    async def relay_once(self) -> int:
        """Relay one batch of unsent messages; returns how many were sent."""
        # The outbox belongs to no tenant: the relay is a system process.
        async with unscoped_session(self.runtime.sessions) as session, session.begin():
            rows = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.sent_at.is_(None))
                    .order_by(OutboxMessage.seq)
                    .limit(self.batch)
                )
            ).all()
            sent: list[int] = []
            for row in rows:
                event = {"seq": row.seq, "tenant_id": str(row.tenant_id), **row.payload}
                try:
                    for sink in self.sinks:
                        sink(event)
                except Exception:  # the broker is down: this row and the rest stay unsent
                    log.exception("outbox relay could not hand on message %d", row.seq)
                    break
                if row.topic == "alarm":  # reminders are notifications, not state changes
                    self.broadcaster.publish(event)
                sent.append(row.seq)
            if sent:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.seq.in_(sent))
                    .values(sent_at=utcnow())
                )
        return len(sent)

"""The outbox's two readers: the relay, which hands each committed alarm change to the job
broker once, and the feed, which shows every committed change to every server process.

``OutboxRelay`` (delivery): rows are read in sequence order, handed to the job broker and only
then marked sent; a crash or a broker outage leaves them unsent, so the relay resumes where it
stopped and nothing committed is lost. With several servers each runs a relay; on PostgreSQL a
row is claimed by one of them (``FOR UPDATE SKIP LOCKED``), so one job is enqueued per change.

``OutboxFeed`` (fan-out): every process reads the outbox with a cursor of its own, whoever wrote
the row (this server, another one, the CLI, a job) and whichever relay delivers it. Its
listeners are this process's GraphQL subscriptions and its rule engine, which must learn of a
manual clear made anywhere. The outbox is the channel because it is what committed: an event
is seen if and only if its change happened, and a process that was down resumes from the store
instead of from a message bus that may have dropped it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import OutboxMessage
from backend.core.db import utcnow
from backend.runtime import Runtime
from tenants.scope import unscoped_session

log = logging.getLogger("anjian.relay")

# Topics that are state changes of an alarm; reminders ("alarm.reminder") are notifications.
STATE_TOPIC = "alarm"
# On PostgreSQL a sequence number is taken at insert and the row is visible at commit, so a
# transaction still open when a later one commits leaves a hole below the cursor. The feed keeps
# looking for such holes this long (far longer than any alarm write transaction lasts); a hole
# still empty by then was a rolled-back transaction, whose number is never used.
GAP_PATIENCE_S = 60.0
MAX_GAPS = 1_000  # a storm of rollbacks must not grow the feed's query without bound
# At start, this many of the newest numbers are checked for holes (transactions in flight).
START_LOOKBACK = 200

Listener = Callable[[dict[str, Any]], None]


def _event(row: Any) -> dict[str, Any]:
    return {"seq": row.seq, "tenant_id": str(row.tenant_id), **row.payload}


class OutboxRelay:
    def __init__(
        self,
        runtime: Runtime,
        wakeup: asyncio.Event,
        *,
        sinks: list[Listener] | None = None,
        poll_seconds: float = 0.5,
        batch: int = 500,
    ) -> None:
        self.runtime = runtime
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
                    # Another server's relay skips what this one holds (SQLite has one writer).
                    .with_for_update(skip_locked=True)
                )
            ).all()
            sent: list[int] = []
            for row in rows:
                event = _event(row)
                try:
                    for sink in self.sinks:
                        sink(event)
                except Exception:  # the broker is down: this row and the rest stay unsent
                    log.exception("outbox relay could not hand on message %d", row.seq)
                    break
                sent.append(row.seq)
            if sent:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.seq.in_(sent))
                    .values(sent_at=utcnow())
                )
        return len(sent)


class OutboxFeed:
    """Every committed alarm state change, in sequence order, to this process's listeners."""

    def __init__(
        self,
        sessions: Callable[[], AsyncSession],
        listeners: list[Listener],
        *,
        poll_seconds: float = 0.5,
        batch: int = 500,
    ) -> None:
        self.sessions = sessions
        self.listeners = listeners
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.wakeup = asyncio.Event()  # set when this process committed something
        self._last: int | None = None  # the highest sequence number read; None: not positioned
        self._gaps: dict[int, float] = {}  # numbers below ``_last`` not seen yet → since when
        self._lock = asyncio.Lock()  # the loop and callers catching up take turns
        self._task: asyncio.Task[None] | None = None

    @property
    def positioned(self) -> bool:
        return self._last is not None

    async def position_at_end(self) -> None:
        """Follow from the newest row on: what committed before is already in the state the
        listeners load from the store (the engine restores the alarms still open)."""
        async with self._lock:
            async with unscoped_session(self.sessions) as session:
                top = int(await session.scalar(select(func.max(OutboxMessage.seq))) or 0)
                # A transaction still open now may hold a lower number and commit after the
                # listeners loaded their state: the recent numbers not present are holes.
                recent = set(
                    (
                        await session.scalars(
                            select(OutboxMessage.seq).where(
                                OutboxMessage.seq > top - START_LOOKBACK
                            )
                        )
                    ).all()
                )
            now = time.monotonic()
            holes = set(range(max(1, top - START_LOOKBACK + 1), top + 1)) - recent
            self._last, self._gaps = top, dict.fromkeys(holes, now)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="outbox-feed")

    async def stop(self) -> None:
        if self._task is not None:
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
                await self.catch_up()
                backoff = self.poll_seconds
            except Exception:
                log.exception("reading the outbox failed; retrying")
                backoff = min(backoff * 2, 10.0)

    async def catch_up(self) -> int:
        """Hand every row committed since the last read to the listeners; returns how many."""
        async with self._lock:
            if self._last is None:
                return 0
            total = 0
            while True:
                n = await self._read_once()
                total += n
                if n < self.batch:
                    return total

    async def _read_once(self) -> int:
        last = self._last
        assert last is not None
        now = time.monotonic()
        for seq in [s for s, since in self._gaps.items() if now - since > GAP_PATIENCE_S]:
            del self._gaps[seq]
        wanted = OutboxMessage.seq > last
        if self._gaps:
            wanted = or_(wanted, OutboxMessage.seq.in_(list(self._gaps)))
        async with unscoped_session(self.sessions) as session:
            rows = (
                await session.execute(
                    select(
                        OutboxMessage.seq,
                        OutboxMessage.tenant_id,
                        OutboxMessage.topic,
                        OutboxMessage.payload,
                    )
                    .where(wanted)
                    .order_by(OutboxMessage.seq)
                    .limit(self.batch)
                )
            ).all()
            if not rows:
                return 0
        for row in rows:
            if row.seq in self._gaps:
                del self._gaps[row.seq]
            elif row.seq > last + 1:
                holes = range(max(last + 1, row.seq - MAX_GAPS), row.seq)
                self._gaps.update(dict.fromkeys(holes, now))
            last = max(last, row.seq)
            self._last = last
            if row.topic == STATE_TOPIC:
                self._hand_on(_event(row))
        if len(self._gaps) > MAX_GAPS:
            for seq in sorted(self._gaps)[: len(self._gaps) - MAX_GAPS]:
                del self._gaps[seq]
        return len(rows)

    def _hand_on(self, event: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # one listener's fault must not keep the others from the event
                log.exception("an outbox listener failed on message %d", event["seq"])

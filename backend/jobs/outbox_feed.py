"""The outbox feed: every committed alarm state change, shown to every server process.

Every process reads the outbox with a cursor of its own, whoever wrote the row (this server,
another one, the CLI, a job) and whichever relay delivers it. Its listeners are this process's
GraphQL subscriptions and its rule engine, which must learn of a manual clear made anywhere.
The outbox is the channel because it is what committed: an event is seen if and only if its
change happened, and a process that was down resumes from the store instead of from a message
bus that may have dropped it. Delivery to the job broker is the relay's
(``backend/jobs/outbox_relay.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.alarms.models import OutboxMessage
from backend.jobs.periodic import run_when_woken
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


def outbox_event(row: Any) -> dict[str, Any]:
    """An outbox row as its listeners and sinks receive it."""
    return {"seq": row.seq, "tenant_id": str(row.tenant_id), **row.payload}


async def unscoped_outbox_top(
    *,
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[int, set[int]]:
    """The newest outbox number and which of the ``START_LOOKBACK`` below it exist."""
    # The outbox belongs to no tenant: the feed is a system process.
    async with unscoped_session(sessions) as session:
        top = int(await session.scalar(select(func.max(OutboxMessage.seq))) or 0)
        recent = set(
            (
                await session.scalars(
                    select(OutboxMessage.seq).where(OutboxMessage.seq > top - START_LOOKBACK)
                )
            ).all()
        )
    return top, recent


async def unscoped_outbox_rows(
    *, sessions: async_sessionmaker[AsyncSession], wanted: ColumnElement[bool], batch: int
) -> Sequence[Any]:
    """Up to ``batch`` outbox rows matching ``wanted``, in sequence order."""
    async with unscoped_session(sessions) as session:
        return (
            await session.execute(
                select(
                    OutboxMessage.seq,
                    OutboxMessage.tenant_id,
                    OutboxMessage.topic,
                    OutboxMessage.payload,
                )
                .where(wanted)
                .order_by(OutboxMessage.seq)
                .limit(batch)
            )
        ).all()


class OutboxFeed:
    """Every committed alarm state change, in sequence order, to this process's listeners."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
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
            # A transaction still open now may hold a lower number and commit after the
            # listeners loaded their state: the recent numbers not present are holes.
            top, recent = await unscoped_outbox_top(sessions=self.sessions)
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
        await run_when_woken(
            self.wakeup,
            self.catch_up,
            poll_seconds=self.poll_seconds,
            max_backoff=10.0,
            failed="reading the outbox failed; retrying",
            logger=log,
        )

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
        rows = await unscoped_outbox_rows(sessions=self.sessions, wanted=wanted, batch=self.batch)
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
                self._hand_on(outbox_event(row))
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

"""The alarm writer: the engine's signals applied through the alarm service.

Signals are queued by the evaluator (inline, on ingest's request path) and written here, one
scoped transaction per tenant; a tenant whose write failed is retried alone, with the signals
queued since appended in order, while the tenants that committed are done: applying a signal
twice would count a repeat twice or announce an upgrade twice. One tenant's failure neither
re-applies nor holds up another's alarms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.alarms.engine import Signal
from backend.alarms.models import Alarm
from backend.alarms.service import SignalContext, apply_signal
from tenants.scope import Scope, scoped_session

log = logging.getLogger("anjian.alarms")

Item = tuple[Signal, SignalContext]
Pending = dict[uuid.UUID, list[Item]]  # by tenant, in queue order


class AlarmWriter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        hold: Callable[[Signal, Alarm | None], None],
        committed: Callable[[], None],
    ) -> None:
        self.sessions = sessions
        self._hold = hold  # the evaluator notes which alarm each signal's rule now counts
        self._committed = committed  # the relay and the feed are woken
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def put(self, signal: Signal, where: SignalContext) -> None:
        self._queue.put_nowait((signal, where))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="alarm-writer")

    async def drain(self) -> None:
        """Wait until every queued signal is written (tests, shutdown)."""
        await self._queue.join()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        pending: Pending = defaultdict(list)
        backoff = 0.2
        while True:
            if not pending:
                _take(pending, await self._queue.get())
            while not self._queue.empty():
                _take(pending, self._queue.get_nowait())
            failed = committed = 0
            for tenant_id in list(pending):
                items = pending[tenant_id]
                try:
                    await self._apply(tenant_id, items)
                except Exception:
                    failed += len(items)
                    log.exception(
                        "writing %d alarm signal(s) of tenant %s failed; retrying in %.1f s",
                        len(items),
                        tenant_id,
                        backoff,
                    )
                    continue
                del pending[tenant_id]
                committed += len(items)
                for _ in items:
                    self._queue.task_done()
            if committed:
                self._committed()
            if failed:
                # The engine already counts these alarms: they must reach the database.
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = 0.2

    async def _apply(self, tenant_id: uuid.UUID, items: list[Item]) -> None:
        """One tenant's signals in one transaction: all of them commit, or none."""
        scope = Scope.for_tenant(tenant_id)
        try:
            async with scoped_session(self.sessions, scope) as session, session.begin():
                for signal, where in items:
                    self._hold(
                        signal, await apply_signal(session=session, signal=signal, where=where)
                    )
        except IntegrityError:
            # Their sensor or site is gone (deleted, or its tenant erased) before the next
            # rules reload: no retry can store them, and retrying would stall every alarm.
            log.error("dropped %d alarm signal(s) of vanished objects", len(items))


def _take(pending: Pending, item: Item) -> None:
    pending[item[1].tenant_id].append(item)

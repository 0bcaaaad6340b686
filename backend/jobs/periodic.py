"""The two shapes of the server's loops: ``Periodic``, a job run every few seconds (the
engine's tick, escalation, the rules watch), and ``run_when_woken``, a relay run when this
process committed something and polling as a fallback (the outbox feed and relay, the mail
relay). Either way a failed run is logged and the next one still comes: what each job does is
idempotent, so a retry is a rerun."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("anjian.jobs")


class Periodic:
    def __init__(
        self,
        name: str,
        run: Callable[[], Awaitable[object]],
        *,
        every: float,
        failed: str,
        logger: logging.Logger = log,
    ) -> None:
        self.name = name
        self.run = run
        self.every = every
        self.failed = failed  # what the log says when a run raises
        self.log = logger
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.run()
            except Exception:
                self.log.exception(self.failed)


async def run_when_woken(
    wakeup: asyncio.Event,
    run: Callable[[], Awaitable[object]],
    *,
    poll_seconds: float,
    max_backoff: float,
    failed: str,
    logger: logging.Logger = log,
) -> None:
    """Run ``run`` whenever ``wakeup`` is set (this process committed something), and every
    ``poll_seconds`` as a fallback (another process did, or an outage left work behind); after
    a failure the wait doubles, up to ``max_backoff``, so a store that is down is not hammered."""
    backoff = poll_seconds
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=backoff)
        wakeup.clear()
        try:
            await run()
            backoff = poll_seconds
        except Exception:
            logger.exception(failed)
            backoff = min(backoff * 2, max_backoff)

"""A job run every few seconds for as long as the server runs; a failed run is logged and the
next one comes at its usual time (what each job does is idempotent, so a retry is a rerun)."""

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

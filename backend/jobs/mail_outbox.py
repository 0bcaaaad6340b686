"""The server's mail relay loop over the transactional outbox (``backend.auth.mail_outbox``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.mail_outbox import unscoped_relay_mail
from backend.jobs.periodic import run_when_woken

log = logging.getLogger("anjian.mail")


class MailRelay:
    """The server's relay loop: woken after a request queued mail, and polling as a fallback
    (a message committed by another process, or left by a broker outage)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        deliver_mail: Any,
        *,
        poll_seconds: float = 2.0,
    ) -> None:
        self.sessions = sessions
        self.deliver_mail = deliver_mail
        self.poll_seconds = poll_seconds
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mail-relay")

    def wake(self) -> None:
        self._wakeup.set()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        try:
            await self._relay()  # what committed just before
        except Exception:
            log.exception("final mail relay failed; the messages wait for the next start")

    async def _loop(self) -> None:
        await run_when_woken(
            self._wakeup,
            self._relay,
            poll_seconds=self.poll_seconds,
            max_backoff=30.0,
            failed="mail relay failed; retrying",
            logger=log,
        )

    async def _relay(self) -> int:
        return await unscoped_relay_mail(sessions=self.sessions, deliver_mail=self.deliver_mail)

"""The transactional mail outbox: a message commits with the change that sends it, or not at all.

An invitation (or a sign-in lock notice) writes its message here in the transaction that
writes the invitation, so a failure anywhere rolls both back and a commit keeps both: no
invitation without its mail, no mail for an invitation that does not exist. Enqueueing to the
job broker straight after commit instead would lose the mail on a crash or a broker outage
between the two, and enqueueing before commit would mail a token that may never exist.

The relay (driven by the server's loop, ``backend.jobs.mail_outbox``) hands each message to the
``deliver_mail`` actor and then deletes it: the body holds a live secret (an invitation token)
and is sealed at rest, and no copy is kept once the broker has it. A relay that crashes after
handing on and before deleting hands the message on again; delivery is idempotent by key, so
the invitee still gets one mail.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import LargeBinary, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, IdMixin
from privacy.crypto import Sealed, SealedRecord
from tenants.scope import unscoped_session

log = logging.getLogger("anjian.mail")


class MailOutboxMessage(SealedRecord, IdMixin, Base):
    """One message waiting for the broker; recipient and body sealed under the platform key."""

    __tablename__ = "mail_outbox"

    recipient_enc: Mapped[bytes] = mapped_column(LargeBinary)
    subject: Mapped[str] = mapped_column(String(200))
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)

    recipient = Sealed[str]("recipient_enc")
    body = Sealed[str]("body_enc")


async def enqueue_mail(
    *, session: AsyncSession, to: str, subject: str, body: str, idempotency_key: str
) -> None:
    """Add a message to the caller's transaction; it leaves only if that transaction commits."""
    message = MailOutboxMessage(subject=subject, idempotency_key=idempotency_key)
    message.recipient = to
    message.body = body
    session.add(message)
    await session.flush()


async def unscoped_relay_mail(
    *, sessions: async_sessionmaker[AsyncSession], deliver_mail: Any, batch: int = 100
) -> int:
    """Hand waiting messages to ``deliver_mail`` (a Dramatiq actor) in order; returns how many.

    A broker that refuses stops the batch with the rest left waiting for the next round.
    """
    handed = 0
    while True:
        # The outbox belongs to no tenant: the relay is a system process.
        async with unscoped_session(sessions) as session, session.begin():
            rows = (
                await session.scalars(
                    select(MailOutboxMessage)
                    .order_by(MailOutboxMessage.created_at, MailOutboxMessage.id)
                    .limit(batch)
                    # Two relays (a request's eager one and the loop) never take the same row.
                    .with_for_update(skip_locked=True)
                )
            ).all()
            done = []
            for row in rows:
                try:
                    deliver_mail.send(row.recipient, row.subject, row.body, row.idempotency_key)
                except Exception:  # the broker is down: this row and the rest wait
                    log.warning("mail relay: the broker refused a message; it stays queued")
                    break
                done.append(row.id)
            if done:
                await session.execute(
                    delete(MailOutboxMessage).where(MailOutboxMessage.id.in_(done))
                )
        handed += len(done)
        if len(done) < batch or len(done) < len(rows):
            return handed

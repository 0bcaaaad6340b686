"""Appending to the trail, in the caller's transaction: changes, and reads of sensitive data."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.core import counters
from backend.core.db import utcnow
from backend.core.errors import BadInput
from privacy.audit._entries import GENESIS, Actor, AuditEntry, AuditHead, entry_hash

READ_ACTION = "data.read"


def record_sync(
    session: Session,
    actor: Actor,
    action: str,
    *,
    domain: str | None = None,
    object_type: str | None = None,
    object_id: uuid.UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry on a synchronous session (backups, purges); ``record`` for async."""
    # Claiming the next number is the first write, so the lock is taken before the head is read.
    claimed = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    )
    row = claimed.one_or_none()
    if row is None:
        session.add(AuditHead(id=1, seq=1, hash=GENESIS))
        session.flush()
        seq, prev = 1, GENESIS
    else:
        seq, prev = row
    entry = AuditEntry(
        seq=seq,
        at=utcnow(),
        actor_kind=actor.kind,
        actor_id=actor.id,
        role=actor.role,
        domain=domain,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        detail=detail or {},
        prev_hash=prev,
        hash=b"",
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=entry.hash))
    return entry


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    domain: str | None = None,
    object_type: str | None = None,
    object_id: uuid.UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction: it commits or rolls back with the change."""
    return await session.run_sync(
        record_sync,
        actor,
        action,
        domain=domain,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )


async def record_change(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    added: object | None = None,
    counter: str | None = None,
    domain: str | None = None,
    object_type: str | None = None,
    object_id: uuid.UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """The epilogue of every audited write, in the caller's transaction: add the new object
    (if any) and flush so it has its id, bump the change counter that tells caches to reload
    (if any), and append the audit entry. ``object_id`` defaults to the added object's id."""
    if added is not None:
        session.add(added)
    await session.flush()
    if counter is not None:
        await counters.bump(session, counter)
    if object_id is None and added is not None:
        object_id = getattr(added, "id", None)
    return await record(
        session,
        actor,
        action,
        domain=domain,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )


async def record_read(
    session: AsyncSession,
    actor: Actor,
    *,
    purpose: str,
    object_type: str,
    object_id: uuid.UUID | str | None,
    fields: Iterable[str],
    domain: str | None,
    count: int | None = None,
) -> AuditEntry:
    """Record a read of sensitive data: who (``actor`` with its role), in which ``domain``,
    which ``fields`` of what object, for what ``purpose`` (for example ``"enterprise.roster"``,
    ``"regulator.inspection"``); the entry's time is when.

    Cost: one UPDATE of the head row and one INSERT, like ``record``. The head row then stays
    locked until the caller's transaction ends and every other append waits for it, so call
    this once per resolver (not per row or field), as the last statement of a short
    transaction. For a list, pass the scope that was listed (``object_type="site"``, the site
    id) and ``count``, the number of records returned.
    """
    if not purpose.strip():
        raise BadInput("a sensitive read needs a purpose")
    names = sorted(set(fields))
    if not names:
        raise BadInput("a sensitive read names the fields it read")
    detail: dict[str, Any] = {"purpose": purpose, "fields": names}
    if count is not None:
        detail["count"] = count
    return await record(
        session,
        actor,
        READ_ACTION,
        domain=domain,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )

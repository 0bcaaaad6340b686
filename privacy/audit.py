"""The append-only, hash-chained audit trail.

Each entry's hash covers its content and the previous entry's hash, so altering, removing or
reordering any entry breaks every hash after it. A single head row serialises appends (a row
lock on PostgreSQL, the write lock on SQLite), so concurrent writers cannot fork the chain.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, utcnow

GENESIS = b"\x00" * 32


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))  # user, device, system
    actor_id: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(32))
    domain: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), default=GENESIS)


@dataclass(frozen=True)
class Actor:
    """Who did it, for the trail: a user or device id, or the system itself."""

    kind: str
    id: str | None = None
    role: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls("system")


def _digest(entry: AuditEntry) -> bytes:
    body = json.dumps(
        {
            "seq": entry.seq,
            "at": entry.at.isoformat(),
            "actor_kind": entry.actor_kind,
            "actor_id": entry.actor_id,
            "role": entry.role,
            "domain": entry.domain,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "detail": entry.detail,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return hashlib.sha256(entry.prev_hash + body).digest()


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
    # Claiming the next number is the first write, so the lock is taken before the head is read.
    claimed = await session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    )
    row = claimed.one_or_none()
    if row is None:
        session.add(AuditHead(id=1, seq=1, hash=GENESIS))
        await session.flush()
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
    entry.hash = _digest(entry)
    session.add(entry)
    await session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=entry.hash))
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_broken_seq: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


async def verify_chain(session: AsyncSession, batch: int = 5000) -> ChainReport:
    """Walk the chain from the first entry; name the first whose link or content does not hold.

    The chain starts at entry 1 from the genesis hash, and the head row records the last entry,
    so removing entries at the start, in the middle or at the end is detected as well as edits.
    """
    prev, expected_seq, count = GENESIS, 1, 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.seq >= expected_seq)
                .order_by(AuditEntry.seq)
                .limit(batch)
            )
        ).all()
        if not rows:
            break
        for entry in rows:
            if entry.seq != expected_seq:
                return ChainReport(count, expected_seq, f"entry {expected_seq} is missing")
            if entry.prev_hash != prev:
                return ChainReport(count, entry.seq, "link to the previous entry does not match")
            if _digest(entry) != entry.hash:
                return ChainReport(count, entry.seq, "content does not match its hash")
            prev, expected_seq, count = entry.hash, entry.seq + 1, count + 1
    head = await session.get(AuditHead, 1)
    head_seq, head_hash = (0, GENESIS) if head is None else (head.seq, head.hash)
    if head_seq != count or head_hash != prev:
        return ChainReport(count, count + 1, "entries after the last one were removed")
    return ChainReport(count, None, None)

"""The audit trail's rows, who acted, and the hash that chains each entry to the one before."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, utcnow
from backend.core.errors import AnjianError

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


class AuditChainBroken(AnjianError):
    code = "AUDIT_CHAIN_BROKEN"


@dataclass(frozen=True)
class Actor:
    """Who did it, for the trail: a user or device id, or the system itself."""

    kind: str
    id: str | None = None
    role: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls("system")


class _EntryFields(Protocol):
    seq: int
    at: datetime
    actor_kind: str
    actor_id: str | None
    role: str | None
    domain: str | None
    action: str
    object_type: str | None
    object_id: str | None
    detail: dict[str, Any]
    prev_hash: bytes


def entry_content(entry: _EntryFields) -> dict[str, Any]:
    """What an entry says: everything its hash covers."""
    return {
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
    }


def entry_hash(entry: _EntryFields) -> bytes:
    """SHA-256 of the previous hash followed by the entry's canonical JSON (sorted keys, no
    spaces, UTF-8): what an entry's ``hash`` must be. Works on rows read back from an export."""
    body = json.dumps(
        entry_content(entry),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return hashlib.sha256(entry.prev_hash + body).digest()

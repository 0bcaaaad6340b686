"""The API keys of Open311 clients, issued and revoked by the platform administrator
(``anjian open311 keys``, GraphQL ``createOpen311Key`` …). Every change is audited; the key
itself is shown once and never stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.core.db import utcnow
from backend.core.errors import BadInput, Forbidden, NotFound
from backend.reports.intake import public_session
from backend.reports.open311.models import MAX_KEY_NAME, Open311Key
from privacy.audit import Actor, record

# ``aj311_`` and 43 URL-safe characters: 256 random bits.
KEY_PREFIX = "aj311_"
_SHOWN = len(KEY_PREFIX) + 6
_MAX_KEY_LENGTH = 100
BAD_KEY = "api_key 无效或已吊销 / the api_key is unknown or revoked"


@dataclass(frozen=True)
class KeyInfo:
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: Open311Key) -> KeyInfo:
        return cls(row.id, row.name, row.prefix, row.created_at, row.revoked_at)


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def _checked_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_KEY_NAME or "\x00" in cleaned:
        raise BadInput(
            f"名称须为 1–{MAX_KEY_NAME} 个字符 / the name must be 1 to {MAX_KEY_NAME} characters"
        )
    return cleaned


def require_admin(authz: Authorizer, principal: Principal) -> None:
    """The platform administrator's (or the command line's) alone."""
    authz.require(principal, "platform", "open311_key", "*", operation="manage Open311 API keys")


async def create_key(session: AsyncSession, *, name: str, actor: Actor) -> tuple[KeyInfo, str]:
    """A new key: its record and the key itself, which is shown this once."""
    cleaned = _checked_name(name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = Open311Key(id=uuid.uuid4(), name=cleaned, key_hash=key_hash(key), prefix=key[:_SHOWN])
    session.add(row)
    await session.flush()
    await record(
        session,
        actor,
        "open311_key.create",
        domain="platform",
        object_type="open311_key",
        object_id=row.id,
        detail={"name": cleaned, "prefix": row.prefix},
    )
    return KeyInfo.of(row), key


async def list_keys(session: AsyncSession) -> list[KeyInfo]:
    rows = await session.scalars(select(Open311Key).order_by(Open311Key.created_at))
    return [KeyInfo.of(r) for r in rows]


async def revoke_key(session: AsyncSession, *, key_id: uuid.UUID, actor: Actor) -> KeyInfo:
    """Revoke a key: its client is refused from now on (revoking twice changes nothing)."""
    row = await session.get(Open311Key, key_id, with_for_update=True)
    if row is None:
        raise NotFound("没有这个 Open311 密钥 / no such Open311 API key")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
        await record(
            session,
            actor,
            "open311_key.revoke",
            domain="platform",
            object_type="open311_key",
            object_id=row.id,
            detail={"name": row.name, "prefix": row.prefix},
        )
    return KeyInfo.of(row)


async def authenticate(session: AsyncSession, key: str) -> Open311Key:
    """The live key ``key`` is, or ``Forbidden``."""
    if not key.startswith(KEY_PREFIX) or len(key) > _MAX_KEY_LENGTH:
        raise Forbidden(BAD_KEY)
    row = await session.scalar(select(Open311Key).where(Open311Key.key_hash == key_hash(key)))
    if row is None or row.revoked_at is not None:
        raise Forbidden(BAD_KEY)
    return row


# --- the administrator's operations, each in a transaction of its own ---------------------------


async def issue_key_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    name: str,
) -> tuple[KeyInfo, str]:
    require_admin(authz, principal)
    async with public_session(sessions) as session, session.begin():
        return await create_key(session, name=name, actor=principal.actor("platform"))


async def keys_in_own_session(
    *, sessions: async_sessionmaker[AsyncSession], authz: Authorizer, principal: Principal
) -> list[KeyInfo]:
    require_admin(authz, principal)
    async with public_session(sessions) as session:
        return await list_keys(session)


async def revoke_key_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    key_id: uuid.UUID,
) -> KeyInfo:
    require_admin(authz, principal)
    async with public_session(sessions) as session, session.begin():
        return await revoke_key(session, key_id=key_id, actor=principal.actor("platform"))


__all__ = [
    "BAD_KEY",
    "KeyInfo",
    "authenticate",
    "create_key",
    "issue_key_in_own_transaction",
    "keys_in_own_session",
    "list_keys",
    "revoke_key",
    "revoke_key_in_own_transaction",
]

"""Operations on data keys: re-wrapping under a new master version, crypto-shredding a
tenant, and the status report (no key material)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.core.db import utcnow
from backend.core.errors import Conflict
from privacy.audit import Actor, record
from privacy.crypto._binding import key_store_of, transaction_keys
from privacy.crypto._errors import Owner
from privacy.crypto._tables import (
    PLATFORM_KEYS,
    TENANT_KEYS,
    all_key_rows,
    insert_key,
    key_rows,
)


@dataclass(frozen=True)
class RotationReport:
    master_version: int
    rewrapped: int  # live data-key versions now wrapped under master_version
    issued: int  # new data-key versions, one per owner, that new writes use
    destroyed_tenants: int  # tenants whose keys were shredded: nothing left to wrap


async def rotate_data_keys(*, session: AsyncSession, issue: bool = True) -> RotationReport:
    """Re-wrap every live data key under the newest master version (add the version to the
    keyring first: ``privacy.keyring.add_version``). Needs a session that sees every tenant's
    keys (unscoped). With ``issue`` every owner also gets a new data-key version."""
    return await session.run_sync(_rotate, issue)


def _rotate(session: Session, issue: bool) -> RotationReport:
    keys = transaction_keys(session)
    store = keys.store
    conn = session.connection()
    master = store.reload_keyring().current.version
    keys.changing_all()
    rewrapped = 0
    newest: dict[Owner, int] = {}
    shredded: set[Owner] = set()
    for row in all_key_rows(conn, for_update=True):
        if row.destroyed:
            shredded.add(row.owner)
            continue
        newest[row.owner] = max(newest.get(row.owner, 0), row.version)
        if row.master_version == master:
            continue
        data_key = store.unwrap(row)
        wrapped, _ = store.wrap(row.owner, row.version, data_key)
        if row.owner is None:
            target = PLATFORM_KEYS.c.version == row.version
            table = PLATFORM_KEYS
        else:
            table = TENANT_KEYS
            target = (table.c.tenant_id == row.owner) & (table.c.version == row.version)
        conn.execute(update(table).where(target).values(wrapped_key=wrapped, master_version=master))
        rewrapped += 1
    issued = 0
    if issue:
        for owner, version in sorted(newest.items(), key=lambda item: str(item[0])):
            if owner in shredded:
                continue
            if not keys.create(conn, owner, version + 1):
                raise Conflict("another key rotation is running; try again when it has finished")
            issued += 1
    keys.forget_current_versions()
    return RotationReport(master, rewrapped, issued, len({o for o in shredded if o is not None}))


async def destroy_tenant_key(*, session: AsyncSession, tenant_id: uuid.UUID, actor: Actor) -> int:
    """Crypto-shred a tenant: erase every version of its data key (leaving tombstones, so no
    new key is made for it) and audit it. Returns how many live versions were erased."""
    erased = await session.run_sync(_destroy, tenant_id)
    await record(
        session,
        actor,
        "tenant.data_key_destroyed",
        domain=f"tenant:{tenant_id}",
        object_type="tenant",
        object_id=tenant_id,
        detail={"versions": erased},
    )
    return erased


def _destroy(session: Session, tenant_id: uuid.UUID) -> int:
    keys = transaction_keys(session)
    conn = session.connection()
    keys.changing(tenant_id)
    t = TENANT_KEYS
    erased = conn.execute(
        update(t)
        .where(t.c.tenant_id == tenant_id, t.c.destroyed_at.is_(None))
        .values(wrapped_key=None, master_version=None, destroyed_at=utcnow())
        .returning(t.c.version)
    ).all()
    if not key_rows(conn, [tenant_id]):
        insert_key(conn, tenant_id, 1, None, None, destroyed=True)
    keys.reread(conn, tenant_id)
    return len(erased)


async def key_status(*, session: AsyncSession) -> dict[str, Any]:
    """The keyring's versions and the data keys per master version (no key material)."""
    return await session.run_sync(_status)


def _status(session: Session) -> dict[str, Any]:
    keyring = key_store_of(session).reload_keyring()
    conn = session.connection()
    rows = all_key_rows(conn)
    live = [r for r in rows if not r.destroyed]
    by_master: dict[str, int] = {}
    for row in live:
        by_master[str(row.master_version)] = by_master.get(str(row.master_version), 0) + 1
    current = keyring.current.version
    return {
        "master": {
            "current": current,
            "versions": [
                {"version": v.version, "created_at": v.created_at} for v in keyring.versions
            ],
        },
        "data_keys": {
            "tenants": len({r.owner for r in live if r.owner is not None}),
            "tenant_key_versions": sum(1 for r in live if r.owner is not None),
            "platform_key_versions": sum(1 for r in live if r.owner is None),
            "destroyed_tenants": len({r.owner for r in rows if r.destroyed}),
            "by_master_version": dict(sorted(by_master.items())),
            "not_under_current_master": sum(1 for r in live if r.master_version != current),
        },
    }

"""Work permits (作业票): hot work, confined-space entry and the like, open in one zone.

Composite alarm rules read them: combustible gas that is harmless on its own becomes an alarm
while a hot-work permit is open in the same zone (GB 30871-2022). A permit is issued and
closed by safety management (``zone update``); both are audited and bump the ``permits``
change counter, so the running rule engine learns of them within a second.

A permit's note names the people on the job and how to reach them (监护人 and a mobile number),
so it is sealed at rest like workers' details (``privacy/catalog.yaml``: ``at_rest=seal``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import WorkPermit
from backend.alarms.rules import PermitKind
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, NotFound
from privacy.audit import record_change
from tenants.models import Site, Zone
from tenants.service import site_domain

__all__ = [
    "MAX_NOTE",
    "MAX_PERMIT",
    "PERMITS_COUNTER",
    "close_permit",
    "list_permits",
    "open_permit",
]

PERMITS_COUNTER = "permits"
MAX_NOTE = 500
MAX_PERMIT = timedelta(days=7)  # GB 30871: a special-work permit is valid for one shift or day


async def _zone_and_domain(
    session: AsyncSession, principal: Principal, zone_id: uuid.UUID
) -> tuple[Zone, str]:
    zone = await session.scalar(select(Zone).where(Zone.id == zone_id))
    site = (
        None if zone is None else await session.scalar(select(Site).where(Site.id == zone.site_id))
    )
    if zone is None or site is None:
        raise NotFound(f"zone {zone_id} not found")
    return zone, site_domain(principal.scope, site)


async def open_permit(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    zone_id: uuid.UUID,
    kind: PermitKind,
    expires_at: datetime,
    note: str | None = None,
    clock: Clock = WALL_CLOCK,
) -> WorkPermit:
    zone, domain = await _zone_and_domain(session, principal, zone_id)
    require(authz, principal, domain, "zone", "update")
    now = clock.now()
    if expires_at.tzinfo is None:
        raise BadInput("expiresAt needs a time zone")
    if expires_at <= now:
        raise BadInput("the permit's expiry must be in the future")
    if expires_at - now > MAX_PERMIT:
        raise BadInput(f"a permit lasts at most {MAX_PERMIT.days} days")
    if note is not None and len(note) > MAX_NOTE:
        raise BadInput(f"note is at most {MAX_NOTE} characters")
    permit = WorkPermit(
        tenant_id=zone.tenant_id,
        site_id=zone.site_id,
        zone_id=zone.id,
        kind=kind,
        opened_at=now,
        expires_at=expires_at,
        opened_by=principal.id,
        note=note,
    )
    await record_change(
        session,
        principal.actor(domain),
        "permit.open",
        added=permit,
        counter=PERMITS_COUNTER,
        domain=domain,
        object_type="permit",
        detail={"zone_id": str(zone.id), "kind": kind.value, "expires_at": expires_at.isoformat()},
    )
    return permit


async def close_permit(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    permit_id: uuid.UUID,
    clock: Clock = WALL_CLOCK,
) -> WorkPermit:
    permit = await session.scalar(select(WorkPermit).where(WorkPermit.id == permit_id))
    if permit is None:
        raise NotFound(f"permit {permit_id} not found")
    _, domain = await _zone_and_domain(session, principal, permit.zone_id)
    require(authz, principal, domain, "zone", "update")
    now = clock.now()
    if not permit.open_at(now):
        raise BadInput("the permit is not open")
    permit.closed_at = now
    permit.closed_by = principal.id
    await record_change(
        session,
        principal.actor(domain),
        "permit.close",
        counter=PERMITS_COUNTER,
        domain=domain,
        object_type="permit",
        object_id=permit.id,
        detail={"zone_id": str(permit.zone_id), "kind": permit.kind.value},
    )
    return permit


async def list_permits(
    *,
    session: AsyncSession,
    site_id: uuid.UUID | None = None,
    zone_id: uuid.UUID | None = None,
    open_only: bool = True,
    first: int = 100,
    clock: Clock = WALL_CLOCK,
) -> list[WorkPermit]:
    if not 1 <= first <= 1000:
        raise BadInput("first must be between 1 and 1000")
    query = select(WorkPermit)
    if site_id is not None:
        query = query.where(WorkPermit.site_id == site_id)
    if zone_id is not None:
        query = query.where(WorkPermit.zone_id == zone_id)
    if open_only:
        now = clock.now()
        query = query.where(
            WorkPermit.closed_at.is_(None),
            WorkPermit.opened_at <= now,
            WorkPermit.expires_at > now,
        )
    query = query.order_by(WorkPermit.opened_at.desc(), WorkPermit.id.desc()).limit(first)
    return list((await session.scalars(query)).all())

"""Shift handovers (交接班): the outgoing shift signs what it leaves open, the incoming shift
signs that it took it over.

The server, not the caller, writes what was open (alarms not yet closed, permits open now,
work orders not yet verified or cancelled), so the record says what the site really held at
the moment of the handover.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import Alarm, AlarmStatus, WorkPermit
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, NotFound
from backend.response.models import MAX_NOTE, Handover, WorkOrder
from backend.response.service._common import (
    check_page,
    optional_text,
    readable_tenants,
    required_text,
)
from backend.response.service._work_orders import UNFINISHED
from backend.telemetry.models import Sensor
from privacy.audit import record_change
from tenants.models import Site, Zone
from tenants.service import tenant_domain

OBJECT = "handover"
# Items of each kind kept in a snapshot; the totals are always exact.
SNAPSHOT_ITEMS = 500


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


async def _snapshot(session: AsyncSession, site_id: uuid.UUID, clock: Clock) -> dict[str, Any]:
    now = clock.now()
    open_alarm = and_(Alarm.site_id == site_id, Alarm.status != AlarmStatus.CLOSED)
    alarm_total = await session.scalar(select(func.count()).select_from(Alarm).where(open_alarm))
    alarms = await session.execute(
        select(Alarm, Sensor.code)
        .outerjoin(Sensor, Sensor.id == Alarm.sensor_id)
        .where(open_alarm)
        .order_by(Alarm.raised_at.desc(), Alarm.id.desc())
        .limit(SNAPSHOT_ITEMS)
    )
    open_permit = and_(
        WorkPermit.site_id == site_id,
        WorkPermit.closed_at.is_(None),
        WorkPermit.opened_at <= now,
        WorkPermit.expires_at > now,
    )
    permit_total = await session.scalar(
        select(func.count()).select_from(WorkPermit).where(open_permit)
    )
    # The permit's note is sealed (it names people): the snapshot keeps what it is and where.
    permits = await session.execute(
        select(WorkPermit, Zone.name)
        .join(Zone, Zone.id == WorkPermit.zone_id)
        .where(open_permit)
        .order_by(WorkPermit.opened_at.desc(), WorkPermit.id.desc())
        .limit(SNAPSHOT_ITEMS)
    )
    open_order = and_(WorkOrder.site_id == site_id, WorkOrder.status.in_(UNFINISHED))
    order_total = await session.scalar(
        select(func.count()).select_from(WorkOrder).where(open_order)
    )
    orders = await session.scalars(
        select(WorkOrder)
        .where(open_order)
        .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
        .limit(SNAPSHOT_ITEMS)
    )
    return {
        "alarms": {
            "total": alarm_total or 0,
            "items": [
                {
                    "id": str(a.id),
                    "severity": a.severity.value,
                    "status": a.status.value,
                    "raised_at": _iso(a.raised_at),
                    "sensor_code": code,
                }
                for a, code in alarms
            ],
        },
        "permits": {
            "total": permit_total or 0,
            "items": [
                {
                    "id": str(p.id),
                    "kind": p.kind.value,
                    "zone_id": str(p.zone_id),
                    "zone_name": zone_name,
                    "opened_at": _iso(p.opened_at),
                    "expires_at": _iso(p.expires_at),
                }
                for p, zone_name in permits
            ],
        },
        "work_orders": {
            "total": order_total or 0,
            "items": [
                {
                    "id": str(o.id),
                    "title": o.title,
                    "status": o.status.value,
                    "due_at": _iso(o.due_at),
                }
                for o in orders
            ],
        },
    }


def _signer(principal: Principal) -> uuid.UUID:
    if principal.kind != "user" or principal.id is None:
        raise BadInput("a handover is signed by a person: sign in to hand over or accept")
    return principal.id


async def create_handover(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    site_id: uuid.UUID,
    note: str,
    clock: Clock = WALL_CLOCK,
) -> Handover:
    site = await session.scalar(select(Site).where(Site.id == site_id))
    if site is None or site.tenant_id not in principal.scope.tenant_ids:
        raise NotFound(f"site {site_id} not found")
    domain = tenant_domain(site.tenant_id)
    require(authz, principal, domain, OBJECT, "create", operation="hand over a shift")
    signer = _signer(principal)
    clean = required_text(note, "note", MAX_NOTE)
    now = clock.now()
    handover = Handover(
        tenant_id=site.tenant_id,
        site_id=site.id,
        note=clean,
        handed_over_by=signer,
        handed_over_at=now,
        snapshot=await _snapshot(session, site.id, clock),
        created_at=now,
    )
    counts = {k: v["total"] for k, v in handover.snapshot.items()}
    await record_change(
        session,
        principal.actor(domain),
        "handover.create",
        added=handover,
        domain=domain,
        object_type=OBJECT,
        detail={"site_id": str(site.id), "open": counts},
    )
    return handover


async def get_handover(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, handover_id: uuid.UUID
) -> Handover:
    handover = await session.scalar(select(Handover).where(Handover.id == handover_id))
    if handover is None or not authz.may(
        principal, tenant_domain(handover.tenant_id), OBJECT, "read"
    ):
        raise NotFound(f"handover {handover_id} not found")
    return handover


async def accept_handover(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    handover_id: uuid.UUID,
    note: str | None = None,
    clock: Clock = WALL_CLOCK,
) -> Handover:
    handover = await get_handover(
        session=session, authz=authz, principal=principal, handover_id=handover_id
    )
    domain = tenant_domain(handover.tenant_id)
    require(authz, principal, domain, OBJECT, "update", operation="accept a shift handover")
    signer = _signer(principal)
    if handover.accepted_at is not None:
        raise BadInput("the handover was already accepted")
    if handover.handed_over_by == signer:
        raise BadInput("you cannot accept your own handover: the incoming shift accepts it")
    clean = optional_text(note, "note", MAX_NOTE)
    handover.accepted_by = signer
    handover.accepted_at = clock.now()
    handover.accept_note = clean
    await record_change(
        session,
        principal.actor(domain),
        "handover.accept",
        domain=domain,
        object_type=OBJECT,
        object_id=handover.id,
        detail={"site_id": str(handover.site_id)},
    )
    return handover


async def list_handovers(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    site_id: uuid.UUID,
    first: int = 20,
    after: uuid.UUID | None = None,
) -> list[Handover]:
    """A site's handovers, newest first; ``after`` is the last id of the previous page."""
    check_page(first)
    tenants = readable_tenants(authz, principal, OBJECT)
    if not tenants:
        return []
    query = select(Handover).where(Handover.tenant_id.in_(tenants), Handover.site_id == site_id)
    if after is not None:
        cursor = await session.scalar(query.where(Handover.id == after))
        if cursor is None:
            raise NotFound(f"handover {after} not found")
        query = query.where(
            or_(
                Handover.handed_over_at < cursor.handed_over_at,
                and_(Handover.handed_over_at == cursor.handed_over_at, Handover.id < cursor.id),
            )
        )
    query = query.order_by(Handover.handed_over_at.desc(), Handover.id.desc()).limit(first)
    return list((await session.scalars(query)).all())

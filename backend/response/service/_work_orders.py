"""Work orders (工单): created from an alarm, an incident or for a site, assigned, edited and
read. Moving them along, ticking the checklist and commenting are ``_progress``'s.

Every change is audited and written to the order's timeline in the same transaction.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import Alarm, AlarmIncident
from backend.auth.authz import Authorizer
from backend.auth.models import Membership, User
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, NotFound
from backend.response.models import (
    MAX_DESCRIPTION,
    MAX_TITLE,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderStatus,
)
from backend.response.service._common import (
    actor_id,
    check_page,
    optional_text,
    readable_tenants,
    required_text,
)
from privacy.audit import record_change
from tenants.models import Site, Worker
from tenants.service import tenant_domain

MAX_CHECKLIST = 50
MAX_ITEM = 200
MAX_PHOTOS = 5
OBJECT = "work_order"

# Where each status may go; every other move is refused.
TRANSITIONS: dict[WorkOrderStatus, frozenset[WorkOrderStatus]] = {
    WorkOrderStatus.OPEN: frozenset({WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.CANCELLED}),
    WorkOrderStatus.IN_PROGRESS: frozenset({WorkOrderStatus.DONE, WorkOrderStatus.CANCELLED}),
    WorkOrderStatus.DONE: frozenset({WorkOrderStatus.VERIFIED}),
    WorkOrderStatus.VERIFIED: frozenset(),
    WorkOrderStatus.CANCELLED: frozenset(),
}
EDITABLE = frozenset({WorkOrderStatus.OPEN, WorkOrderStatus.IN_PROGRESS})
# Still someone's job: what a shift hands over.
UNFINISHED = (WorkOrderStatus.OPEN, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.DONE)


class Keep(enum.Enum):
    """An update argument left out: the field keeps its value (``None`` clears it)."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class Assignee:
    """Who does the job: a member of the tenant, or one of its workers."""

    user_id: uuid.UUID | None = None
    worker_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.user_id is not None and self.worker_id is not None:
            raise BadInput("assign a work order to a member or to a worker, not both")


def photo_key_pattern(tenant_id: uuid.UUID) -> re.Pattern[str]:
    """The keys ``POST /api/v1/photos`` hands out for this tenant's uploads."""
    return re.compile(
        rf"^photos/{tenant_id}/[0-9a-f]{{8}}(-[0-9a-f]{{4}}){{3}}-[0-9a-f]{{12}}\.(jpg|png)$"
    )


# --- reading --------------------------------------------------------------------------------


async def get_work_order(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, work_order_id: uuid.UUID
) -> WorkOrder:
    """A work order the caller may read; another tenant's (or a regulator's ask) is NotFound."""
    order = await session.scalar(select(WorkOrder).where(WorkOrder.id == work_order_id))
    if order is None or not authz.may(principal, tenant_domain(order.tenant_id), OBJECT, "read"):
        raise NotFound(f"work order {work_order_id} not found")
    return order


async def list_work_orders(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    site_id: uuid.UUID | None = None,
    status: WorkOrderStatus | None = None,
    first: int = 50,
    after: uuid.UUID | None = None,
) -> list[WorkOrder]:
    """Newest first; ``after`` is the last id of the previous page. One statement per page
    (two with ``after``)."""
    check_page(first)
    tenants = readable_tenants(authz, principal, OBJECT)
    if not tenants:
        return []
    query = select(WorkOrder).where(WorkOrder.tenant_id.in_(tenants))
    if site_id is not None:
        query = query.where(WorkOrder.site_id == site_id)
    if status is not None:
        query = query.where(WorkOrder.status == status)
    if after is not None:
        cursor = await session.scalar(
            select(WorkOrder).where(WorkOrder.id == after, WorkOrder.tenant_id.in_(tenants))
        )
        if cursor is None:
            raise NotFound(f"work order {after} not found")
        query = query.where(
            or_(
                WorkOrder.created_at < cursor.created_at,
                and_(WorkOrder.created_at == cursor.created_at, WorkOrder.id < cursor.id),
            )
        )
    query = query.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).limit(first)
    return list((await session.scalars(query)).all())


async def timelines(
    *, session: AsyncSession, work_order_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[WorkOrderEvent]]:
    """The timelines of several orders in one statement, oldest entry first."""
    rows = await session.scalars(
        select(WorkOrderEvent)
        .where(WorkOrderEvent.work_order_id.in_(work_order_ids))
        .order_by(WorkOrderEvent.at, WorkOrderEvent.created_at, WorkOrderEvent.id)
    )
    found: dict[uuid.UUID, list[WorkOrderEvent]] = {}
    for event in rows:
        found.setdefault(event.work_order_id, []).append(event)
    return found


# --- writing --------------------------------------------------------------------------------


async def authorised(
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    work_order_id: uuid.UUID,
    action: str,
) -> tuple[WorkOrder, str]:
    order = await get_work_order(
        session=session, authz=authz, principal=principal, work_order_id=work_order_id
    )
    domain = tenant_domain(order.tenant_id)
    require(authz, principal, domain, OBJECT, action)
    return order, domain


async def _check_assignee(
    session: AsyncSession, tenant_id: uuid.UUID, assignee: Assignee | None
) -> None:
    """The assignee belongs to the order's tenant: a member holding a role there (and not
    disabled), or a worker on its payroll. Anyone else is NotFound, like any unknown id."""
    if assignee is None:
        return
    if assignee.user_id is not None:
        member = await session.scalar(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.user_id == assignee.user_id,
                Membership.domain == tenant_domain(tenant_id),
                User.disabled.is_(False),
            )
        )
        if member is None:
            raise NotFound(f"member {assignee.user_id} not found")
    if assignee.worker_id is not None:
        worker = await session.scalar(
            select(Worker.id).where(Worker.id == assignee.worker_id, Worker.tenant_id == tenant_id)
        )
        if worker is None:
            raise NotFound(f"worker {assignee.worker_id} not found")


def _due(due_at: datetime | None, clock: Clock) -> datetime | None:
    if due_at is None:
        return None
    if due_at.tzinfo is None:
        raise BadInput("dueAt needs a time zone")
    if due_at <= clock.now():
        raise BadInput("the due time must be in the future")
    return due_at


def _checklist(items: list[str] | None) -> list[dict[str, Any]]:
    items = items or []
    if len(items) > MAX_CHECKLIST:
        raise BadInput(f"a checklist has at most {MAX_CHECKLIST} items")
    return [
        {
            "text": required_text(text, f"checklist item {i + 1}", MAX_ITEM),
            "done": False,
            "done_by": None,
            "done_at": None,
        }
        for i, text in enumerate(items)
    ]


def timeline_entry(
    order: WorkOrder,
    principal: Principal,
    kind: str,
    at: datetime,
    *,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
    photos: list[str] | None = None,
) -> WorkOrderEvent:
    return WorkOrderEvent(
        tenant_id=order.tenant_id,
        work_order_id=order.id,
        kind=kind,
        at=at,
        actor=actor_id(principal),
        note=note,
        detail=detail,
        photos=photos,
    )


async def _origin(
    session: AsyncSession,
    site_id: uuid.UUID | None,
    alarm_id: uuid.UUID | None,
    incident_id: uuid.UUID | None,
) -> Site:
    """The site the order is for: the alarm's or the incident's, else the one named."""
    if alarm_id is not None and incident_id is not None:
        raise BadInput("a work order comes from an alarm or from an incident, not both")
    origin_site: uuid.UUID | None = None
    if alarm_id is not None:
        alarm = await session.scalar(select(Alarm).where(Alarm.id == alarm_id))
        if alarm is None:
            raise NotFound(f"alarm {alarm_id} not found")
        origin_site = alarm.site_id
    elif incident_id is not None:
        incident = await session.scalar(
            select(AlarmIncident).where(AlarmIncident.id == incident_id)
        )
        if incident is None:
            raise NotFound(f"incident {incident_id} not found")
        origin_site = incident.site_id
    if origin_site is None and site_id is None:
        raise BadInput("name the site, the alarm or the incident the work order is for")
    if origin_site is not None and site_id is not None and site_id != origin_site:
        raise BadInput("siteId is not the site of that alarm or incident")
    wanted = origin_site or site_id
    site = await session.scalar(select(Site).where(Site.id == wanted))
    if site is None:
        raise NotFound(f"site {wanted} not found")
    return site


async def create_work_order(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    title: str,
    site_id: uuid.UUID | None = None,
    alarm_id: uuid.UUID | None = None,
    incident_id: uuid.UUID | None = None,
    description: str | None = None,
    assignee: Assignee | None = None,
    due_at: datetime | None = None,
    checklist: list[str] | None = None,
    clock: Clock = WALL_CLOCK,
) -> WorkOrder:
    site = await _origin(session, site_id, alarm_id, incident_id)
    if site.tenant_id not in principal.scope.tenant_ids:  # a regulator's jurisdiction
        raise NotFound(f"site {site.id} not found")
    domain = tenant_domain(site.tenant_id)
    require(authz, principal, domain, OBJECT, "create")
    clean_title = required_text(title, "title", MAX_TITLE)
    clean_description = optional_text(description, "description", MAX_DESCRIPTION)
    items = _checklist(checklist)
    due = _due(due_at, clock)
    await _check_assignee(session, site.tenant_id, assignee)
    now = clock.now()
    order = WorkOrder(
        tenant_id=site.tenant_id,
        site_id=site.id,
        alarm_id=alarm_id,
        incident_id=incident_id,
        title=clean_title,
        description=clean_description,
        assignee_user_id=None if assignee is None else assignee.user_id,
        assignee_worker_id=None if assignee is None else assignee.worker_id,
        due_at=due,
        status=WorkOrderStatus.OPEN,
        checklist=items,
        created_by=principal.id,
        created_at=now,
        updated_at=now,
    )
    await record_change(
        session,
        principal.actor(domain),
        "work_order.create",
        added=order,
        domain=domain,
        object_type=OBJECT,
        detail={
            "site_id": str(site.id),
            "alarm_id": None if alarm_id is None else str(alarm_id),
            "incident_id": None if incident_id is None else str(incident_id),
            "checklist_items": len(items),
        },
    )
    session.add(
        timeline_entry(order, principal, "CREATED", now, detail={"status": order.status.value})
    )
    await session.flush()
    return order


async def update_work_order(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    work_order_id: uuid.UUID,
    title: str | Keep = KEEP,
    description: str | Keep | None = KEEP,
    assignee: Assignee | Keep | None = KEEP,
    due_at: datetime | Keep | None = KEEP,
    clock: Clock = WALL_CLOCK,
) -> WorkOrder:
    order, domain = await authorised(session, authz, principal, work_order_id, "update")
    if order.status not in EDITABLE:
        raise BadInput(f"a {order.status.value} work order cannot be changed")
    # Every value is checked before anything is assigned: a refusal changes nothing.
    changes: dict[str, Any] = {}
    if not isinstance(title, Keep):
        changes["title"] = required_text(title, "title", MAX_TITLE)
    if not isinstance(description, Keep):
        changes["description"] = optional_text(description, "description", MAX_DESCRIPTION)
    if not isinstance(due_at, Keep):
        changes["due_at"] = _due(due_at, clock)
    if not isinstance(assignee, Keep):
        await _check_assignee(session, order.tenant_id, assignee)
        changes["assignee_user_id"] = None if assignee is None else assignee.user_id
        changes["assignee_worker_id"] = None if assignee is None else assignee.worker_id
    changed = sorted(k for k, v in changes.items() if getattr(order, k) != v)
    if not changed:
        return order
    detail: dict[str, Any] = {"fields": changed}
    for key in changed:
        setattr(order, key, changes[key])
    for key in ("assignee_user_id", "assignee_worker_id", "due_at"):
        if key in changed:
            value = changes[key]
            detail[key] = None if value is None else str(value)
    now = clock.now()
    order.updated_at = now
    session.add(timeline_entry(order, principal, "UPDATED", now, detail=detail))
    await record_change(
        session,
        principal.actor(domain),
        "work_order.update",
        domain=domain,
        object_type=OBJECT,
        object_id=order.id,
        detail=detail,
    )
    return order

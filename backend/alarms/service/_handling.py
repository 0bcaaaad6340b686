"""People handle alarms: acknowledge, dispatch someone, clear by hand, close with a verdict;
and what the console shows of that handling: an alarm's timeline and whom it may dispatch."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import Alarm, AlarmStatus, AlarmTransition, Verdict
from backend.alarms.service._incidents import leave_incident
from backend.alarms.service._outbox import announce, stop_paging
from backend.auth.authz import Authorizer
from backend.auth.models import Membership, User
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.db import utcnow
from backend.core.errors import BadInput, NotFound
from tenants.models import Site, Worker
from tenants.service import get_site, site_domain, tenant_domain

MAX_NOTE = 2000
MAX_ASSIGNEE = 200
# Whom a dispatcher picks from: a tenant's people fit on one list (a large plant's staff);
# beyond that the picker needs a search, not a longer list.
MAX_ASSIGNEES = 1000


async def get_alarm(*, session: AsyncSession, alarm_id: uuid.UUID) -> Alarm:
    alarm = await session.scalar(select(Alarm).where(Alarm.id == alarm_id))
    if alarm is None:
        raise NotFound(f"alarm {alarm_id} not found")
    return alarm


async def _authorised(
    session: AsyncSession, authz: Authorizer, principal: Principal, alarm_id: uuid.UUID, action: str
) -> Alarm:
    alarm = await get_alarm(session=session, alarm_id=alarm_id)
    site = await session.scalar(select(Site).where(Site.id == alarm.site_id))
    if site is None:
        raise NotFound(f"alarm {alarm_id} not found")
    require(authz, principal, site_domain(principal.scope, site), "alarm", action)
    return alarm


def _note(text: str | None, field: str = "note") -> str | None:
    if text is not None and len(text) > MAX_NOTE:
        raise BadInput(f"{field} is at most {MAX_NOTE} characters")
    return text


def _actor(principal: Principal) -> str | None:
    return None if principal.id is None else str(principal.id)


def _record_acknowledgement(alarm: Alarm, principal: Principal) -> None:
    alarm.acknowledged_at = utcnow()
    alarm.acknowledged_by = principal.id


async def acknowledge_alarm(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    alarm_id: uuid.UUID,
    note: str | None = None,
) -> Alarm:
    alarm = await _authorised(session, authz, principal, alarm_id, "update")
    if alarm.status is AlarmStatus.CLOSED:
        raise BadInput("a closed alarm cannot be acknowledged")
    if alarm.acknowledged:
        return alarm
    _record_acknowledgement(alarm, principal)
    stop_paging(alarm)
    if alarm.status is AlarmStatus.ACTIVE_UNACKNOWLEDGED:
        alarm.status = AlarmStatus.ACKNOWLEDGED
    await announce(
        session=session,
        alarm=alarm,
        kind="ACKNOWLEDGED",
        actor=_actor(principal),
        note=_note(note),
    )
    return alarm


async def dispatch_alarm(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    alarm_id: uuid.UUID,
    assignee: str | None = None,
    note: str | None = None,
    assignee_user_id: uuid.UUID | None = None,
    assignee_worker_id: uuid.UUID | None = None,
) -> Alarm:
    """Send someone to the alarm: a name as typed (``assignee``, the contract's argument), or a
    member or worker of the alarm's tenant picked from ``list_assignees``, whose name is then
    what the alarm records and whose id the DISPATCHED transition keeps. Anyone of another
    tenant is not found."""
    named = [v for v in (assignee, assignee_user_id, assignee_worker_id) if v is not None]
    if len(named) != 1:
        raise BadInput(
            "name the assignee by exactly one of assignee, assigneeUserId and assigneeWorkerId"
        )
    alarm = await _authorised(session, authz, principal, alarm_id, "update")
    if alarm.cleared_at is not None:
        raise BadInput("only an active alarm can be dispatched")
    if assignee_user_id is not None:
        name = await _member_name(session, alarm.tenant_id, assignee_user_id)
    elif assignee_worker_id is not None:
        name = await _worker_name(session, alarm.tenant_id, assignee_worker_id)
    else:
        assert assignee is not None
        name = assignee.strip()
    if not name:
        raise BadInput("assignee is required")
    if not alarm.acknowledged:  # dispatching someone is an acknowledgement too
        _record_acknowledgement(alarm, principal)
        stop_paging(alarm)
    alarm.status = AlarmStatus.DISPATCHED
    alarm.dispatched_at = utcnow()
    alarm.assignee = name[:MAX_ASSIGNEE]
    await announce(
        session=session,
        alarm=alarm,
        kind="DISPATCHED",
        actor=_actor(principal),
        note=_note(note),
        assignee_user_id=assignee_user_id,
        assignee_worker_id=assignee_worker_id,
    )
    return alarm


async def clear_alarm(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    alarm_id: uuid.UUID,
    reason: str,
) -> Alarm:
    alarm = await _authorised(session, authz, principal, alarm_id, "update")
    if alarm.cleared_at is not None:
        raise BadInput("the alarm is already cleared")
    if not reason.strip():
        raise BadInput("a manual clear needs a reason")
    reason = _note(reason, "reason") or ""
    alarm.cleared_at = utcnow()
    alarm.status = AlarmStatus.CLEARED
    stop_paging(alarm)
    await leave_incident(session, alarm, alarm.cleared_at)
    await announce(
        session=session, alarm=alarm, kind="CLEARED", actor=_actor(principal), note=reason
    )
    return alarm


async def close_alarm(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    alarm_id: uuid.UUID,
    verdict: Verdict,
    cause: str,
) -> Alarm:
    alarm = await _authorised(session, authz, principal, alarm_id, "update")
    if alarm.status is not AlarmStatus.CLEARED:
        raise BadInput("only a cleared alarm can be closed")
    if not cause.strip():
        raise BadInput("closing an alarm needs a cause")
    if not alarm.acknowledged:  # reviewing it is acknowledging it: MTTA stays measurable
        _record_acknowledgement(alarm, principal)
        await announce(session=session, alarm=alarm, kind="ACKNOWLEDGED", actor=_actor(principal))
    alarm.status = AlarmStatus.CLOSED
    alarm.closed_at = utcnow()
    alarm.verdict = verdict
    alarm.cause = _note(cause, "cause")
    await announce(
        session=session,
        alarm=alarm,
        kind="CLOSED",
        actor=_actor(principal),
        note=f"{verdict.value}: {cause}",
    )
    return alarm


# --- what the console shows -------------------------------------------------------------------


async def transitions_of(
    *, session: AsyncSession, alarm_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[AlarmTransition]]:
    """Each alarm's transitions, oldest first, in one statement for the whole list (the
    scoped session keeps another tenant's rows out)."""
    found: dict[uuid.UUID, list[AlarmTransition]] = defaultdict(list)
    if not alarm_ids:
        return found
    rows = await session.scalars(
        select(AlarmTransition)
        .where(AlarmTransition.alarm_id.in_(alarm_ids))
        # Two transitions of one request (a close that also acknowledges) can share a
        # timestamp on a coarse clock; the insert order breaks the tie.
        .order_by(AlarmTransition.alarm_id, AlarmTransition.at, AlarmTransition.created_at)
    )
    for row in rows:
        found[row.alarm_id].append(row)
    return found


def _display_name(user: User) -> str:
    return user.display_name or user.email


async def _member_name(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
    row = await session.execute(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            User.id == user_id,
            User.disabled.is_(False),
            Membership.domain == tenant_domain(tenant_id),
        )
    )
    user = row.scalar_one_or_none()
    if user is None:
        raise NotFound(f"member {user_id} not found")
    return _display_name(user)


async def _worker_name(session: AsyncSession, tenant_id: uuid.UUID, worker_id: uuid.UUID) -> str:
    # A query in the scoped session: another tenant's worker is not even read.
    worker = await session.scalar(
        select(Worker).where(Worker.id == worker_id, Worker.tenant_id == tenant_id)
    )
    if worker is None:
        raise NotFound(f"worker {worker_id} not found")
    return worker.name


@dataclass(frozen=True)
class AssigneeMember:
    user_id: uuid.UUID
    display_name: str | None
    email: str
    role: str


@dataclass(frozen=True)
class Assignees:
    """Whom a dispatcher may send to an alarm of a site: the tenant's members and workers."""

    tenant_id: uuid.UUID
    members: list[AssigneeMember]
    workers: list[Worker]


async def list_assignees(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, site_id: uuid.UUID
) -> Assignees:
    """The people an alarm of ``site_id`` can be dispatched to, for a caller who may dispatch
    there: the tenant's enabled members (by name) and its workers (this site's and those of no
    site, by employee number). Names leave through the privacy pipeline, per role."""
    site = await get_site(session=session, site_id=site_id)
    require(
        authz,
        principal,
        site_domain(principal.scope, site),
        "alarm",
        "update",
        operation="dispatch alarms",
    )
    rows = await session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.domain == tenant_domain(site.tenant_id), User.disabled.is_(False))
        .order_by(Membership.created_at, User.id)
        .limit(MAX_ASSIGNEES)
    )
    members = [AssigneeMember(u.id, u.display_name, u.email, role) for u, role in rows]
    workers = await session.scalars(
        select(Worker)
        .where(
            Worker.tenant_id == site.tenant_id,
            (Worker.site_id == site.id) | Worker.site_id.is_(None),
        )
        .order_by(Worker.employee_number)
        .limit(MAX_ASSIGNEES)
    )
    return Assignees(site.tenant_id, members, list(workers.all()))

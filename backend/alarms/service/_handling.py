"""People handle alarms: acknowledge, dispatch someone, clear by hand, close with a verdict."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import Alarm, AlarmStatus, Verdict
from backend.alarms.service._incidents import leave_incident
from backend.alarms.service._outbox import announce, stop_paging
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.db import utcnow
from backend.core.errors import BadInput, NotFound
from tenants.models import Site
from tenants.service import site_domain

MAX_NOTE = 2000


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
    assignee: str,
    note: str | None = None,
) -> Alarm:
    alarm = await _authorised(session, authz, principal, alarm_id, "update")
    if alarm.cleared_at is not None:
        raise BadInput("only an active alarm can be dispatched")
    if not assignee.strip():
        raise BadInput("assignee is required")
    if not alarm.acknowledged:  # dispatching someone is an acknowledgement too
        _record_acknowledgement(alarm, principal)
        stop_paging(alarm)
    alarm.status = AlarmStatus.DISPATCHED
    alarm.dispatched_at = utcnow()
    alarm.assignee = assignee.strip()[:200]
    await announce(
        session=session, alarm=alarm, kind="DISPATCHED", actor=_actor(principal), note=_note(note)
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

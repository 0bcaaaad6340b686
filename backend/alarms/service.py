"""The alarm lifecycle: the only writer of alarms, their transitions and the outbox.

Engine signals raise, upgrade and clear alarms; people acknowledge, dispatch, clear and close
them. Every change commits together with a transition row (who, when) and an outbox row, so
notifications and subscriptions see exactly the changes that happened — no more, no fewer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import Alarm, AlarmStatus, AlarmTransition, OutboxMessage, Verdict
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.db import utcnow
from backend.core.errors import BadInput, NotFound
from tenants.models import Site
from tenants.service import site_domain

ENGINE_ACTOR = "engine"
MAX_NOTE = 2000


@dataclass(frozen=True)
class SignalContext:
    """Where a signal's sensor lives, resolved by the caller from the device registry."""

    tenant_id: uuid.UUID
    site_id: uuid.UUID
    device_id: uuid.UUID | None
    zone_id: uuid.UUID | None


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def alarm_payload(alarm: Alarm, division_code: str | None) -> dict[str, Any]:
    return {
        "id": str(alarm.id),
        "tenant_id": str(alarm.tenant_id),
        "site_id": str(alarm.site_id),
        "division_code": division_code,
        "rule_id": str(alarm.rule_id),
        "device_id": None if alarm.device_id is None else str(alarm.device_id),
        "sensor_id": None if alarm.sensor_id is None else str(alarm.sensor_id),
        "severity": alarm.severity,
        "status": alarm.status.value,
        "level": alarm.level,
        "value": alarm.value,
    }


async def _announce(
    session: AsyncSession,
    alarm: Alarm,
    kind: str,
    actor: str | None,
    note: str | None = None,
    at: datetime | None = None,
) -> None:
    session.add(
        AlarmTransition(
            tenant_id=alarm.tenant_id,
            alarm_id=alarm.id,
            kind=kind,
            at=at or utcnow(),
            actor=actor,
            note=note,
            severity=alarm.severity,
        )
    )
    # The division lets the relay deliver an event to the regulators whose jurisdiction
    # covers the site, without a query per subscriber.
    division = await session.scalar(select(Site.division_code).where(Site.id == alarm.site_id))
    session.add(
        OutboxMessage(
            tenant_id=alarm.tenant_id,
            topic="alarm",
            payload={"kind": kind, "actor": actor, "alarm": alarm_payload(alarm, division)},
        )
    )


async def _active(
    session: AsyncSession, rule_id: uuid.UUID, sensor_id: uuid.UUID | None
) -> Alarm | None:
    # Event rules belong to one device (no sensor): the rule id alone names the alarm.
    same_sensor = Alarm.sensor_id.is_(None) if sensor_id is None else Alarm.sensor_id == sensor_id
    return await session.scalar(
        select(Alarm).where(Alarm.rule_id == rule_id, same_sensor, Alarm.cleared_at.is_(None))
    )


async def apply_signal(session: AsyncSession, signal: Any, where: SignalContext) -> Alarm | None:
    """One engine signal; the session's scope must hold ``where.tenant_id``."""
    alarm = await _active(session, signal.rule_id, signal.sensor_id)
    at = _ts(signal.ts_ms)
    if signal.kind == "raise":
        if alarm is not None:  # a repeat refreshes the open alarm
            alarm.repeats += 1
            alarm.refreshed_at = at
            alarm.value = signal.value
            return alarm
        alarm = Alarm(
            tenant_id=where.tenant_id,
            site_id=where.site_id,
            rule_id=signal.rule_id,
            sensor_id=signal.sensor_id,
            device_id=signal.device_id or where.device_id,
            zone_id=where.zone_id,
            severity=signal.severity.value,
            level=signal.level,
            status=AlarmStatus.ACTIVE_UNACKNOWLEDGED,
            value=signal.value,
            peak_value=signal.value,
            raised_at=at,
            refreshed_at=at,
        )
        session.add(alarm)
        await session.flush()
        await _announce(session, alarm, "RAISED", ENGINE_ACTOR, at=at)
        return alarm
    if alarm is None:
        return None  # nothing open to change (e.g. cleared by hand meanwhile)
    if signal.kind == "upgrade":
        alarm.severity = signal.severity.value
        alarm.level = signal.level
        alarm.value = signal.value
        alarm.peak_value = signal.value
        await _announce(session, alarm, "SEVERITY_CHANGED", ENGINE_ACTOR, at=at)
    elif signal.kind == "clear":
        alarm.cleared_at = at
        alarm.status = AlarmStatus.CLEARED
        alarm.value = signal.value
        await _announce(session, alarm, "CLEARED", ENGINE_ACTOR, at=at)
    return alarm


# -- people ----------------------------------------------------------------------------------


async def get_alarm(session: AsyncSession, alarm_id: uuid.UUID) -> Alarm:
    alarm = await session.scalar(select(Alarm).where(Alarm.id == alarm_id))
    if alarm is None:
        raise NotFound(f"alarm {alarm_id} not found")
    return alarm


async def _authorised(
    session: AsyncSession, authz: Authorizer, principal: Principal, alarm_id: uuid.UUID, action: str
) -> Alarm:
    alarm = await get_alarm(session, alarm_id)
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


async def acknowledge(
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    *,
    alarm_id: uuid.UUID,
    note: str | None = None,
) -> Alarm:
    alarm = await _authorised(session, authz, principal, alarm_id, "update")
    if alarm.status is AlarmStatus.CLOSED:
        raise BadInput("a closed alarm cannot be acknowledged")
    if alarm.acknowledged:
        return alarm
    alarm.acknowledged = True
    alarm.acknowledged_at = utcnow()
    alarm.acknowledged_by = principal.id
    if alarm.status is AlarmStatus.ACTIVE_UNACKNOWLEDGED:
        alarm.status = AlarmStatus.ACKNOWLEDGED
    await _announce(session, alarm, "ACKNOWLEDGED", _actor(principal), _note(note))
    return alarm


async def dispatch(
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    *,
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
        alarm.acknowledged = True
        alarm.acknowledged_at = utcnow()
        alarm.acknowledged_by = principal.id
    alarm.status = AlarmStatus.DISPATCHED
    alarm.dispatched_at = utcnow()
    alarm.assignee = assignee.strip()[:200]
    await _announce(session, alarm, "DISPATCHED", _actor(principal), _note(note))
    return alarm


async def clear(
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    *,
    alarm_id: uuid.UUID,
    reason: str,
) -> Alarm:
    alarm = await _authorised(session, authz, principal, alarm_id, "update")
    if alarm.cleared_at is not None:
        raise BadInput("the alarm is already cleared")
    if not reason.strip():
        raise BadInput("a manual clear needs a reason")
    alarm.cleared_at = utcnow()
    alarm.status = AlarmStatus.CLEARED
    await _announce(session, alarm, "CLEARED", _actor(principal), _note(reason, "reason"))
    return alarm


async def close(
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    *,
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
        alarm.acknowledged = True
        alarm.acknowledged_at = utcnow()
        alarm.acknowledged_by = principal.id
        await _announce(session, alarm, "ACKNOWLEDGED", _actor(principal))
    alarm.status = AlarmStatus.CLOSED
    alarm.closed_at = utcnow()
    alarm.verdict = verdict
    alarm.cause = _note(cause, "cause")
    await _announce(session, alarm, "CLOSED", _actor(principal), f"{verdict.value}: {cause}")
    return alarm


# -- reading ---------------------------------------------------------------------------------

STATUS_FILTERS = ("ACTIVE", "OPEN", "CLOSED", "ALL")


async def list_alarms(
    session: AsyncSession,
    *,
    status: str = "ACTIVE",
    severity: str | None = None,
    site_id: uuid.UUID | None = None,
    sensor_id: uuid.UUID | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    first: int = 100,
    after: uuid.UUID | None = None,
) -> list[Alarm]:
    """Alarms in the session's scope, newest first; ``after`` is the last id of a page."""
    if not 1 <= first <= 1000:
        raise BadInput("first must be between 1 and 1000")
    query = select(Alarm)
    if status == "ACTIVE":
        query = query.where(Alarm.cleared_at.is_(None))
    elif status == "OPEN":
        query = query.where(Alarm.status != AlarmStatus.CLOSED)
    elif status == "CLOSED":
        query = query.where(Alarm.status == AlarmStatus.CLOSED)
    if severity is not None:
        query = query.where(Alarm.severity == severity)
    if site_id is not None:
        query = query.where(Alarm.site_id == site_id)
    if sensor_id is not None:
        query = query.where(Alarm.sensor_id == sensor_id)
    if start is not None:
        query = query.where(Alarm.raised_at >= start)
    if end is not None:
        query = query.where(Alarm.raised_at < end)
    if after is not None:
        cursor = await session.scalar(select(Alarm).where(Alarm.id == after))
        if cursor is None:
            raise NotFound(f"alarm {after} not found")
        query = query.where(
            or_(
                Alarm.raised_at < cursor.raised_at,
                and_(Alarm.raised_at == cursor.raised_at, Alarm.id < cursor.id),
            )
        )
    query = query.order_by(Alarm.raised_at.desc(), Alarm.id.desc()).limit(first)
    return list((await session.scalars(query)).all())


@dataclass(frozen=True)
class AlarmStats:
    """MTTA and MTTR over the alarms raised in a range, from the recorded timestamps."""

    raised: int
    acknowledged: int
    cleared: int
    mean_time_to_acknowledge_s: float | None
    mean_time_to_clear_s: float | None
    by_severity: dict[str, int]


async def alarm_stats(
    session: AsyncSession, *, start: datetime, end: datetime, site_id: uuid.UUID | None = None
) -> AlarmStats:
    if end <= start:
        raise BadInput("to must be after from")
    query = select(Alarm.severity, Alarm.raised_at, Alarm.acknowledged_at, Alarm.cleared_at).where(
        Alarm.raised_at >= start, Alarm.raised_at < end
    )
    if site_id is not None:
        query = query.where(Alarm.site_id == site_id)
    rows = (await session.execute(query)).all()
    to_ack = [(a - r).total_seconds() for _, r, a, _ in rows if a is not None]
    to_clear = [(c - r).total_seconds() for _, r, _, c in rows if c is not None]
    by_severity: dict[str, int] = {}
    for severity, *_ in rows:
        by_severity[severity] = by_severity.get(severity, 0) + 1
    return AlarmStats(
        raised=len(rows),
        acknowledged=len(to_ack),
        cleared=len(to_clear),
        mean_time_to_acknowledge_s=sum(to_ack) / len(to_ack) if to_ack else None,
        mean_time_to_clear_s=sum(to_clear) / len(to_clear) if to_clear else None,
        by_severity=by_severity,
    )

"""The alarm lifecycle: the only writer of alarms, their transitions and the outbox.

Engine signals raise, upgrade and clear alarms; people acknowledge, dispatch, clear and close
them. Every change commits together with a transition row (who, when) and an outbox row, so
notifications and subscriptions see exactly the changes that happened — no more, no fewer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import (
    Alarm,
    AlarmIncident,
    AlarmRule,
    AlarmStatus,
    AlarmTransition,
    OutboxMessage,
    Verdict,
)
from backend.alarms.rules import RuleSpec, Severity
from backend.alarms.silences import Silence, covering
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.db import utcnow
from backend.core.errors import BadInput, NotFound
from tenants.models import Site
from tenants.service import site_domain

ENGINE_ACTOR = "engine"
MAX_NOTE = 2000
# An alarm raised again and again: the 4th raise of one rule × sensor within 10 minutes marks
# it flapping, recorded and shown but no longer paging anyone (hysteresis should prevent it;
# a flapping alarm means a deadband needs tuning).
FLAP_WINDOW = timedelta(minutes=10)
FLAP_RAISES = 4
# Alarms of one zone raised within this span of each other form one incident.
INCIDENT_WINDOW = timedelta(minutes=5)
# Unacknowledged alarms remind the people already paged this often (a rule may say otherwise).
REMIND_EVERY_S = 300.0


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
        "silenced": alarm.silence_id is not None,
        "flapping": bool(alarm.flapping),
        "incident_id": None if alarm.incident_id is None else str(alarm.incident_id),
        "escalation_step": alarm.escalation_step or 0,
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


async def announce(
    session: AsyncSession,
    alarm: Alarm,
    kind: str,
    actor: str | None,
    note: str | None = None,
    at: datetime | None = None,
    extra: dict[str, Any] | None = None,
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
            payload={
                "kind": kind,
                "actor": actor,
                "alarm": alarm_payload(alarm, division),
                **(extra or {}),
            },
        )
    )


def stop_paging(alarm: Alarm) -> None:
    """Someone answered (or the condition is gone): no more escalation, no more reminders."""
    alarm.escalate_at = None
    alarm.remind_at = None


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
            escalation_step=0,
            reminders=0,
        )
        silence = await _covering_silence(session, where, signal.sensor_id, at)
        alarm.silence_id = None if silence is None else silence.id
        alarm.flapping = await _recent_raises(session, signal, at) >= FLAP_RAISES - 1
        if alarm.pages_people:
            await _schedule_paging(session, alarm)
        session.add(alarm)
        await session.flush()
        await _join_incident(session, alarm)
        note = None
        if silence is not None:
            note = f"silenced: {silence.reason}"
        elif alarm.flapping:
            note = f"flapping: raised {FLAP_RAISES} times within {FLAP_WINDOW}"
        await announce(session, alarm, "RAISED", ENGINE_ACTOR, note, at=at)
        return alarm
    if alarm is None:
        return None  # nothing open to change (e.g. cleared by hand meanwhile)
    if signal.kind == "upgrade":
        alarm.severity = signal.severity.value
        alarm.level = signal.level
        alarm.value = signal.value
        alarm.peak_value = signal.value
        await _raise_incident_severity(session, alarm)
        await announce(session, alarm, "SEVERITY_CHANGED", ENGINE_ACTOR, at=at)
    elif signal.kind == "clear":
        alarm.cleared_at = at
        alarm.status = AlarmStatus.CLEARED
        alarm.value = signal.value
        stop_paging(alarm)
        await _leave_incident(session, alarm, at)
        await announce(session, alarm, "CLEARED", ENGINE_ACTOR, at=at)
    return alarm


async def _covering_silence(
    session: AsyncSession, where: SignalContext, sensor_id: uuid.UUID | None, at: datetime
) -> Silence | None:
    silences = await session.scalars(
        select(Silence).where(
            Silence.site_id == where.site_id,
            Silence.starts_at <= at,
            Silence.expires_at > at,
        )
    )
    return covering(silences, where.site_id, where.zone_id, sensor_id, at)


async def _recent_raises(session: AsyncSession, signal: Any, at: datetime) -> int:
    same_sensor = (
        Alarm.sensor_id.is_(None)
        if signal.sensor_id is None
        else Alarm.sensor_id == signal.sensor_id
    )
    count = await session.scalar(
        select(func.count())
        .select_from(Alarm)
        .where(Alarm.rule_id == signal.rule_id, same_sensor, Alarm.raised_at > at - FLAP_WINDOW)
    )
    return int(count or 0)


async def paging_intervals(session: AsyncSession, alarm: Alarm) -> tuple[timedelta, timedelta]:
    """The alarm's rule's acknowledgement deadline and reminder interval."""
    definition = await session.scalar(
        select(AlarmRule.definition).where(AlarmRule.id == alarm.rule_id)
    )
    spec = RuleSpec.from_json(definition or {"kind": "threshold"})
    every = float(spec.params.get("remind_every_s") or REMIND_EVERY_S)
    return timedelta(seconds=spec.ack_deadline_s), timedelta(seconds=every)


async def _schedule_paging(session: AsyncSession, alarm: Alarm) -> None:
    deadline, every = await paging_intervals(session, alarm)
    alarm.escalate_at = alarm.raised_at + deadline
    alarm.remind_at = alarm.raised_at + every


async def _join_incident(session: AsyncSession, alarm: Alarm) -> None:
    """Alarms of one zone raised within ``INCIDENT_WINDOW`` of each other: one incident."""
    if alarm.zone_id is None:
        return
    since = alarm.raised_at - INCIDENT_WINDOW
    incident = await session.scalar(
        select(AlarmIncident)
        .where(
            AlarmIncident.zone_id == alarm.zone_id,
            AlarmIncident.closed_at.is_(None),
            AlarmIncident.last_alarm_at >= since,
        )
        .order_by(AlarmIncident.last_alarm_at.desc())
        .limit(1)
    )
    if incident is None:
        neighbours = list(
            (
                await session.scalars(
                    select(Alarm).where(
                        Alarm.zone_id == alarm.zone_id,
                        Alarm.id != alarm.id,
                        Alarm.cleared_at.is_(None),
                        Alarm.incident_id.is_(None),
                        Alarm.raised_at >= since,
                    )
                )
            ).all()
        )
        if not neighbours:
            return  # a lone alarm is not an incident (yet)
        first = min(a.raised_at for a in neighbours)
        incident = AlarmIncident(
            tenant_id=alarm.tenant_id,
            site_id=alarm.site_id,
            zone_id=alarm.zone_id,
            severity=alarm.severity,
            alarm_count=0,
            opened_at=first,
            last_alarm_at=first,
        )
        session.add(incident)
        await session.flush()
        for neighbour in neighbours:
            _attach(incident, neighbour)
    _attach(incident, alarm)


def _attach(incident: AlarmIncident, alarm: Alarm) -> None:
    alarm.incident_id = incident.id
    incident.alarm_count += 1
    incident.last_alarm_at = max(incident.last_alarm_at, alarm.raised_at)
    if Severity(alarm.severity).rank > Severity(incident.severity).rank:
        incident.severity = alarm.severity


async def _raise_incident_severity(session: AsyncSession, alarm: Alarm) -> None:
    if alarm.incident_id is None:
        return
    incident = await session.get(AlarmIncident, alarm.incident_id)
    if incident is not None and Severity(alarm.severity).rank > Severity(incident.severity).rank:
        incident.severity = alarm.severity


async def _leave_incident(session: AsyncSession, alarm: Alarm, at: datetime) -> None:
    """An incident ends when the last of its alarms clears."""
    if alarm.incident_id is None:
        return
    still_active = await session.scalar(
        select(func.count())
        .select_from(Alarm)
        .where(
            Alarm.incident_id == alarm.incident_id,
            Alarm.id != alarm.id,
            Alarm.cleared_at.is_(None),
        )
    )
    if not still_active:
        incident = await session.get(AlarmIncident, alarm.incident_id)
        if incident is not None and incident.closed_at is None:
            incident.closed_at = at


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
    stop_paging(alarm)
    if alarm.status is AlarmStatus.ACTIVE_UNACKNOWLEDGED:
        alarm.status = AlarmStatus.ACKNOWLEDGED
    await announce(session, alarm, "ACKNOWLEDGED", _actor(principal), _note(note))
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
        stop_paging(alarm)
    alarm.status = AlarmStatus.DISPATCHED
    alarm.dispatched_at = utcnow()
    alarm.assignee = assignee.strip()[:200]
    await announce(session, alarm, "DISPATCHED", _actor(principal), _note(note))
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
    reason = _note(reason, "reason") or ""
    alarm.cleared_at = utcnow()
    alarm.status = AlarmStatus.CLEARED
    stop_paging(alarm)
    await _leave_incident(session, alarm, alarm.cleared_at)
    await announce(session, alarm, "CLEARED", _actor(principal), reason)
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
        await announce(session, alarm, "ACKNOWLEDGED", _actor(principal))
    alarm.status = AlarmStatus.CLOSED
    alarm.closed_at = utcnow()
    alarm.verdict = verdict
    alarm.cause = _note(cause, "cause")
    await announce(session, alarm, "CLOSED", _actor(principal), f"{verdict.value}: {cause}")
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
    incident_id: uuid.UUID | None = None,
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
    if incident_id is not None:
        query = query.where(Alarm.incident_id == incident_id)
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


async def list_incidents(
    session: AsyncSession,
    *,
    site_id: uuid.UUID | None = None,
    open_only: bool = True,
    first: int = 100,
) -> list[AlarmIncident]:
    """Incidents (simultaneous alarms of one zone) in the session's scope, newest first."""
    if not 1 <= first <= 1000:
        raise BadInput("first must be between 1 and 1000")
    query = select(AlarmIncident)
    if site_id is not None:
        query = query.where(AlarmIncident.site_id == site_id)
    if open_only:
        query = query.where(AlarmIncident.closed_at.is_(None))
    query = query.order_by(AlarmIncident.opened_at.desc(), AlarmIncident.id.desc()).limit(first)
    return list((await session.scalars(query)).all())

"""Incidents: alarms of one zone raised close together, one situation for the responders."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import Alarm, AlarmIncident
from backend.core.errors import BadInput

# Alarms of one zone raised within this span of each other form one incident.
INCIDENT_WINDOW = timedelta(minutes=5)


async def join_incident(session: AsyncSession, alarm: Alarm) -> None:
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
    if alarm.severity.rank > incident.severity.rank:
        incident.severity = alarm.severity


async def raise_incident_severity(session: AsyncSession, alarm: Alarm) -> None:
    if alarm.incident_id is None:
        return
    incident = await session.get(AlarmIncident, alarm.incident_id)
    if incident is not None and alarm.severity.rank > incident.severity.rank:
        incident.severity = alarm.severity


async def leave_incident(session: AsyncSession, alarm: Alarm, at: datetime) -> None:
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


async def list_incidents(
    *,
    session: AsyncSession,
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

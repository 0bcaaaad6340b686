"""Reading alarms: the console's lists and the MTTA/MTTR figures, in the session's scope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import Alarm, AlarmStatus
from backend.alarms.rules import Severity
from backend.core.errors import BadInput, NotFound
from tenants.divisions import covers, division_prefix, validate_division
from tenants.models import Site


def alarm_division(jurisdictions: frozenset[str], code: str) -> str:
    """The division an alarm list is narrowed to: a GB/T 2260 code (``BadInput`` otherwise)
    inside one of the caller's jurisdictions, if they regulate any (``NotFound`` outside, as
    the oversight queries answer). A caller who regulates nothing narrows their own scope."""
    code = validate_division(code)
    if jurisdictions and not any(covers(j, code) for j in jurisdictions):
        raise NotFound(f"division {code} is not inside your jurisdiction")
    return code


class _Deadlined(Protocol):
    acknowledged_at: datetime | None
    cleared_at: datetime | None
    escalation_step: int
    escalate_at: datetime | None


def overdue(alarm: _Deadlined, now: datetime) -> bool:
    """Active and acknowledged by nobody within its rule's deadline: it escalated, or its
    first escalation is due (the figure the overview counts as overdue)."""
    if alarm.cleared_at is not None or alarm.acknowledged_at is not None:
        return False
    return alarm.escalation_step > 0 or (alarm.escalate_at is not None and alarm.escalate_at <= now)


async def list_alarms(
    *,
    session: AsyncSession,
    status: str = "ACTIVE",
    severity: str | None = None,
    site_id: uuid.UUID | None = None,
    sensor_id: uuid.UUID | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    first: int = 100,
    after: uuid.UUID | None = None,
    incident_id: uuid.UUID | None = None,
    division_code: str | None = None,
    jurisdictions: frozenset[str] = frozenset(),
) -> list[Alarm]:
    """Alarms in the session's scope, newest first; ``after`` is the last id of a page;
    ``division_code`` keeps those of sites coded in that division or below it (checked
    against ``jurisdictions``, the caller's, by ``alarm_division``)."""
    if not 1 <= first <= 1000:
        raise BadInput("first must be between 1 and 1000")
    query = select(Alarm)
    if division_code is not None:
        prefix = division_prefix(alarm_division(jurisdictions, division_code))
        inside = select(Site.id).where(Site.division_code.startswith(prefix))
        query = query.where(Alarm.site_id.in_(inside))
    if status == "ACTIVE":
        query = query.where(Alarm.cleared_at.is_(None))
    elif status == "OPEN":
        query = query.where(Alarm.status != AlarmStatus.CLOSED)
    elif status == "CLOSED":
        query = query.where(Alarm.status == AlarmStatus.CLOSED)
    if severity is not None:
        try:
            query = query.where(Alarm.severity == Severity(severity))
        except ValueError:
            raise BadInput(f"unknown severity {severity!r}") from None
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
    *,
    session: AsyncSession,
    start: datetime,
    end: datetime,
    site_id: uuid.UUID | None = None,
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
        by_severity[severity.value] = by_severity.get(severity.value, 0) + 1
    return AlarmStats(
        raised=len(rows),
        acknowledged=len(to_ack),
        cleared=len(to_clear),
        mean_time_to_acknowledge_s=sum(to_ack) / len(to_ack) if to_ack else None,
        mean_time_to_clear_s=sum(to_clear) / len(to_clear) if to_clear else None,
        by_severity=by_severity,
    )

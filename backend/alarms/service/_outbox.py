"""How an alarm change is written down: a transition row (who, when) and an outbox row.

Both go into the caller's transaction, so notifications and subscriptions see exactly the
changes that were committed — no more, no fewer.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import Alarm, AlarmTransition, OutboxMessage
from backend.core.db import utcnow
from tenants.models import Site

ENGINE_ACTOR = "engine"


def alarm_payload(alarm: Alarm, division_code: str | None) -> dict[str, Any]:
    """The alarm as an outbox event carries it (plain JSON values)."""
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
        "severity": alarm.severity.value,
        "status": alarm.status.value,
        "level": alarm.level,
        "value": alarm.value,
    }


async def add_outbox_event(
    *,
    session: AsyncSession,
    alarm: Alarm,
    kind: str,
    actor: str | None,
    extra: dict[str, Any] | None = None,
    topic: str = "alarm",
) -> None:
    """The outbox row alone; a reminder (topic ``alarm.reminder``) is only that, being a
    notification and not a state change."""
    # The division lets the relay deliver an event to the regulators whose jurisdiction
    # covers the site, without a query per subscriber.
    division = await session.scalar(select(Site.division_code).where(Site.id == alarm.site_id))
    session.add(
        OutboxMessage(
            tenant_id=alarm.tenant_id,
            topic=topic,
            payload={
                "kind": kind,
                "actor": actor,
                "alarm": alarm_payload(alarm, division),
                **(extra or {}),
            },
        )
    )


async def announce(
    *,
    session: AsyncSession,
    alarm: Alarm,
    kind: str,
    actor: str | None,
    note: str | None = None,
    at: datetime | None = None,
    extra: dict[str, Any] | None = None,
    assignee_user_id: uuid.UUID | None = None,
    assignee_worker_id: uuid.UUID | None = None,
) -> None:
    """A state change of the alarm: its transition row and its outbox event."""
    session.add(
        AlarmTransition(
            tenant_id=alarm.tenant_id,
            alarm_id=alarm.id,
            kind=kind,
            at=at or utcnow(),
            actor=actor,
            note=note,
            severity=alarm.severity,
            assignee_user_id=assignee_user_id,
            assignee_worker_id=assignee_worker_id,
        )
    )
    await add_outbox_event(session=session, alarm=alarm, kind=kind, actor=actor, extra=extra)


def stop_paging(alarm: Alarm) -> None:
    """Someone answered (or the condition is gone): no more escalation, no more reminders."""
    alarm.escalate_at = None
    alarm.remind_at = None

"""What the notify job reads and writes: the event's plan and the receipts of its deliveries.

Each function opens and commits its own short transaction, scoped to the event's tenant.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.alarms.escalation import REGULATOR
from backend.alarms.models import (
    MAX_DELIVERY_ERROR,
    EscalationNotice,
    NotificationChannel,
    NotificationDelivery,
    OutboxMessage,
)
from backend.alarms.notify._messages import Person, Plan, Target
from backend.auth.authz import GOVERNMENT_ROLES
from backend.auth.models import Membership, User
from backend.core.db import utcnow
from backend.telemetry.models import Sensor
from tenants.divisions import covers
from tenants.models import Site
from tenants.scope import Scope, scoped_session
from tenants.service import tenant_domain


async def load_plan_in_own_transaction(
    *, sessions: async_sessionmaker[AsyncSession], seq: int, tenant_id: uuid.UUID
) -> Plan | None:
    """The outbox event ``seq`` and who still needs it; None when the event is gone."""
    scope = Scope.for_tenant(tenant_id)
    async with scoped_session(sessions, scope) as session, session.begin():
        row = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.seq == seq, OutboxMessage.tenant_id == tenant_id
            )
        )
        if row is None:
            return None
        alarm: dict[str, Any] = dict(row.payload.get("alarm") or {})
        done = set(
            await session.scalars(
                select(NotificationDelivery.channel_id).where(
                    NotificationDelivery.outbox_seq == seq
                )
            )
        )
        channels = (
            await session.scalars(
                select(NotificationChannel)
                .where(NotificationChannel.enabled.is_(True))
                .order_by(NotificationChannel.created_at, NotificationChannel.id)
            )
        ).all()
        # Alarms raised inside a silence, or flapping, are recorded but page nobody.
        paging = not alarm.get("silenced") and not alarm.get("flapping")
        targets = tuple(
            Target(c.id, c.kind, c.target, c.secret)
            for c in channels
            if paging
            and c.id not in done
            and c.wants(str(alarm.get("severity")), alarm.get("site_id"))
        )
        people: tuple[Person, ...] = ()
        escalation = row.payload.get("escalation")
        if paging and escalation:
            people = await _escalation_people(session, seq, tenant_id, alarm, escalation)
        sensor_code = site_name = None
        if (targets or people) and alarm.get("sensor_id"):
            sensor_code = await session.scalar(
                select(Sensor.code).where(Sensor.id == uuid.UUID(alarm["sensor_id"]))
            )
        if (targets or people) and alarm.get("site_id"):
            site_name = await session.scalar(
                select(Site.name).where(Site.id == uuid.UUID(alarm["site_id"]))
            )
        return Plan(
            seq=seq,
            tenant_id=str(tenant_id),
            kind=str(row.payload.get("kind")),
            alarm=alarm,
            created_at=row.created_at.isoformat(),
            sensor_code=sensor_code,
            site_name=site_name,
            targets=targets,
            people=people,
            escalated_to=None if not escalation else str(escalation.get("role")),
        )


async def _escalation_people(
    session: AsyncSession,
    seq: int,
    tenant_id: uuid.UUID,
    alarm: dict[str, Any],
    escalation: dict[str, Any],
) -> tuple[Person, ...]:
    """The holders of the escalation's role not yet e-mailed for this event: the tenant's
    safety managers or owners, or the regulators whose jurisdiction covers the site."""
    role = str(escalation.get("role"))
    if role == REGULATOR:
        division = str(alarm.get("division_code") or "")
        rows = (
            await session.execute(
                select(Membership.user_id, Membership.domain, User)
                .join(User, User.id == Membership.user_id)
                .where(
                    Membership.domain.like("gov:%"),
                    Membership.role.in_([r for r in GOVERNMENT_ROLES if r != "analyst"]),
                )
            )
        ).all()
        holders = [(uid, u.email) for uid, domain, u in rows if covers(domain[4:], division)]
    else:
        rows = (
            await session.execute(
                select(Membership.user_id, User)
                .join(User, User.id == Membership.user_id)
                .where(Membership.domain == tenant_domain(tenant_id), Membership.role == role)
            )
        ).all()
        holders = [(uid, user.email) for uid, user in rows]
    done = set(
        await session.scalars(
            select(EscalationNotice.user_id).where(EscalationNotice.outbox_seq == seq)
        )
    )
    return tuple(Person(uid, email) for uid, email in holders if uid not in done)


async def record_notice_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    seq: int,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
) -> None:
    """The escalation of event ``seq`` reached this person."""
    scope = Scope.for_tenant(tenant_id)
    try:
        async with scoped_session(sessions, scope) as session, session.begin():
            session.add(EscalationNotice(tenant_id=tenant_id, outbox_seq=seq, user_id=user_id))
    except IntegrityError:
        pass  # recorded by a concurrent run of the same job: delivered either way


async def record_delivery_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    seq: int,
    tenant_id: uuid.UUID,
    channel_id: uuid.UUID,
) -> None:
    """Event ``seq`` reached this channel."""
    scope = Scope.for_tenant(tenant_id)
    try:
        async with scoped_session(sessions, scope) as session, session.begin():
            session.add(
                NotificationDelivery(tenant_id=tenant_id, outbox_seq=seq, channel_id=channel_id)
            )
    except IntegrityError:
        pass  # recorded by a concurrent run of the same job: delivered either way


async def record_failure_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    seq: int,
    tenant_id: uuid.UUID,
    channel_id: uuid.UUID,
    error: str,
) -> None:
    """The event will never reach this channel: close the pair and tell its managers."""
    reason = error[:MAX_DELIVERY_ERROR]
    scope = Scope.for_tenant(tenant_id)
    try:
        async with scoped_session(sessions, scope) as session, session.begin():
            session.add(
                NotificationDelivery(
                    tenant_id=tenant_id, outbox_seq=seq, channel_id=channel_id, error=reason
                )
            )
            await session.flush()
            await session.execute(
                update(NotificationChannel)
                .where(NotificationChannel.id == channel_id)
                .values(last_error=reason, last_error_at=utcnow())
            )
    except IntegrityError:
        pass  # a concurrent run of the same job closed the pair first

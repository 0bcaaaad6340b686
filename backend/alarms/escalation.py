"""Escalation and reminders for alarms nobody acknowledges.

An alarm pages its tenant's channels when raised (the operators: step 0). If nobody
acknowledges it within its rule's ``ack_deadline_s`` it escalates to the safety manager, one
deadline later to the owner, and, when the site is a major hazard source (重大危险源), one
deadline later to the regulators whose jurisdiction covers the site. Each step is an
``ESCALATED`` transition with an outbox row, so subscribers see it and the notify job e-mails
the people holding that role. Unacknowledged alarms also send a reminder every
``remind_every_s`` to the channels already paged.

Deadlines live in the alarm row (``escalate_at``, ``remind_at``), not in a timer: after a
restart or a broker outage the clock finds them due and escalates on time. A step is taken
with a conditional update on ``escalation_step``, so two servers cannot both take it.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.alarms.models import Alarm
from backend.alarms.service import ENGINE_ACTOR, add_outbox_event, announce, paging_intervals
from tenants.models import Site
from tenants.scope import Scope, scoped_session, unscoped_session

log = logging.getLogger("anjian.escalation")

ENTERPRISE_CHAIN = ("safety_manager", "owner")
REGULATOR = "regulator"
ROLE_TEXT = {
    "safety_manager": ("安全管理员", "safety manager"),
    "owner": ("企业负责人", "owner"),
    REGULATOR: ("属地监管部门", "regulator"),
}


def _pending() -> ColumnElement[bool]:
    """Unacknowledged and not cleared: what still escalates and reminds."""
    return Alarm.acknowledged.is_(False) & Alarm.cleared_at.is_(None)


def chain_for(site: Site) -> tuple[str, ...]:
    """Who an unacknowledged alarm reaches, step by step, after the operators."""
    if site.major_hazard_grade is not None:
        return (*ENTERPRISE_CHAIN, REGULATOR)
    return ENTERPRISE_CHAIN


async def escalate(*, session: AsyncSession, alarm: Alarm, now: datetime) -> bool:
    """Take the alarm's next escalation step if it is due; False if another server took it
    or the chain is exhausted."""
    site = await session.scalar(select(Site).where(Site.id == alarm.site_id))
    if site is None:
        return False
    chain = chain_for(site)
    step = alarm.escalation_step + 1
    deadline, _ = await paging_intervals(session=session, alarm=alarm)
    following = now + deadline if step < len(chain) else None
    taken = await session.execute(
        update(Alarm)
        .where(Alarm.id == alarm.id, Alarm.escalation_step == alarm.escalation_step)
        .values(escalation_step=step, escalate_at=following)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.refresh(alarm)
    if step > len(chain):
        return False
    role = chain[step - 1]
    zh, en = ROLE_TEXT[role]
    await announce(
        session=session,
        alarm=alarm,
        kind="ESCALATED",
        actor=ENGINE_ACTOR,
        note=f"未在时限内确认，升级至{zh} / not acknowledged in time: escalated to the {en}",
        at=now,
        extra={"escalation": {"step": step, "role": role}},
    )
    return True


async def remind(*, session: AsyncSession, alarm: Alarm, now: datetime) -> bool:
    """One reminder to the channels already paged; not a state change, so no transition
    and no subscription event, only a notification."""
    _, every = await paging_intervals(session=session, alarm=alarm)
    taken = await session.execute(
        update(Alarm)
        .where(Alarm.id == alarm.id, Alarm.reminders == alarm.reminders)
        .values(reminders=alarm.reminders + 1, remind_at=now + every)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.refresh(alarm)
    await add_outbox_event(
        session=session,
        alarm=alarm,
        kind="REMINDER",
        actor=ENGINE_ACTOR,
        extra={"reminder": alarm.reminders},
        topic="alarm.reminder",
    )
    return True


async def unscoped_due_alarms(
    *, sessions: async_sessionmaker[AsyncSession], now: datetime
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The alarms whose escalation or reminder is due at ``now``, by tenant (at most 500)."""
    # Finding what is due spans tenants: the clock is a system process.
    async with unscoped_session(sessions) as session:
        rows = (
            await session.execute(
                select(Alarm.id, Alarm.tenant_id)
                .where(_pending(), or_(Alarm.escalate_at <= now, Alarm.remind_at <= now))
                .limit(500)
            )
        ).all()
    by_tenant: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for alarm_id, tenant_id in rows:
        by_tenant[tenant_id].append(alarm_id)
    return by_tenant


async def run_due(*, sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Escalate and remind every alarm that is due at ``now`` (the caller's clock), each
    tenant's in a transaction of its own; returns how many steps were taken."""
    steps = 0
    for tenant_id, ids in (await unscoped_due_alarms(sessions=sessions, now=now)).items():
        async with (
            scoped_session(sessions, Scope.for_tenant(tenant_id)) as session,
            session.begin(),
        ):
            due = select(Alarm).where(Alarm.id.in_(ids), _pending())
            alarms = (await session.scalars(due)).all()
            for alarm in alarms:
                if alarm.escalate_at is not None and alarm.escalate_at <= now:
                    steps += await escalate(session=session, alarm=alarm, now=now)
                if alarm.remind_at is not None and alarm.remind_at <= now:
                    steps += await remind(session=session, alarm=alarm, now=now)
    return steps

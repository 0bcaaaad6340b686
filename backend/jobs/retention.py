"""The retention job: purge what has outlived its retention, erase offboarded tenants, and
sign an audit checkpoint.

``RetentionJob`` runs once a day inside the server (the embedded ClickHouse has one owner, and
erasing a tenant deletes its ClickHouse rows) and on demand as ``anjian retention``, for a
cron job beside a ClickHouse server. Its cutoffs are counted from the clock it is given. Every
step is idempotent, so a run that is interrupted is simply
run again. What is kept how long is privacy/retention.py's; the floors there are never
undercut: closed alarms of major hazard sites outlive the monitoring floor, audit entries are
purged only behind a signed checkpoint and never within six months, and a tenant is erased
only once its major hazard sites' records are past the floor.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.alarms.models import (
    Alarm,
    AlarmStatus,
    EscalationNotice,
    NotificationDelivery,
    OutboxMessage,
)
from backend.auth.models import AuthSession, Invitation, Membership, User, suspended_domain
from backend.core import counters
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.db import Base
from backend.reports.service import erase_client_hashes
from backend.telemetry import erasure
from backend.telemetry.store import ClickHouseClient
from privacy import retention
from privacy.audit import (
    Actor,
    AuditHead,
    create_checkpoint,
    purge_before_in_own_transaction,
    record,
)
from privacy.crypto import TenantDataKey, destroy_tenant_key
from privacy.keyring import Keyring
from tenants.models import Site, Tenant, TenantStatus
from tenants.scope import tenant_owned_classes, unscoped_session

log = logging.getLogger("anjian.retention")


@dataclass
class RetentionReport:
    purged: dict[str, int] = field(default_factory=dict)
    erased_tenants: list[str] = field(default_factory=list)
    clickhouse_rows_erased: int = 0
    checkpoint_seq: int | None = None


async def _purge_relational(session: AsyncSession, now: datetime) -> dict[str, int]:
    keep = retention.KEEP
    counts: dict[str, int] = {}

    async def purge(label: str, statement: object) -> None:
        result = await session.execute(statement)  # type: ignore[call-overload]
        counts[label] = int(result.rowcount or 0)

    # Closed alarms: a year, and at major hazard sites never less than the monitoring floor
    # (the year is longer; the join makes the floor explicit should the year ever shrink).
    alarm_cutoff = now - keep["closed alarms and their transitions"]
    floor_cutoff = now - retention.MAJOR_HAZARD_MONITORING_FLOOR
    major = select(Site.id).where(Site.major_hazard_grade.is_not(None))
    await purge(
        "closed alarms and their transitions",
        delete(Alarm).where(
            Alarm.status == AlarmStatus.CLOSED,
            Alarm.closed_at < alarm_cutoff,
            or_(Alarm.site_id.not_in(major), Alarm.closed_at < floor_cutoff),
        ),
    )
    await purge(
        "relayed outbox messages",
        delete(OutboxMessage).where(OutboxMessage.sent_at < now - keep["relayed outbox messages"]),
    )
    receipts = now - keep["notification and escalation receipts"]
    await purge(
        "notification receipts",
        delete(NotificationDelivery).where(NotificationDelivery.delivered_at < receipts),
    )
    await purge(
        "escalation receipts",
        delete(EscalationNotice).where(EscalationNotice.delivered_at < receipts),
    )
    ended = now - keep["ended sign-in sessions"]
    await purge(
        "ended sign-in sessions",
        delete(AuthSession).where(
            or_(AuthSession.expires_at < ended, AuthSession.revoked_at < ended)
        ),
    )
    await purge(
        "unaccepted expired invitations",
        delete(Invitation).where(
            Invitation.accepted_at.is_(None),
            Invitation.expires_at < now - keep["unaccepted expired invitations"],
        ),
    )
    counts["hazard reporters' client address hashes"] = await erase_client_hashes(
        session, now - keep["hazard reporters' client address hashes"]
    )
    return counts


async def _due_for_erasure(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    rows = (
        await session.execute(
            select(Tenant.id, Tenant.offboarded_at, func.count(Site.id))
            .outerjoin(
                Site,
                (Site.tenant_id == Tenant.id) & Site.major_hazard_grade.is_not(None),
            )
            .where(Tenant.status == TenantStatus.OFFBOARDING, Tenant.offboarded_at.is_not(None))
            .group_by(Tenant.id, Tenant.offboarded_at)
        )
    ).all()
    return [
        tenant_id
        for tenant_id, offboarded_at, major_sites in rows
        if offboarded_at + retention.erasure_delay(major_hazard=major_sites > 0) <= now
    ]


async def unscoped_erase_tenant(
    *,
    sessions: async_sessionmaker[AsyncSession],
    clickhouse: ClickHouseClient,
    tenant_id: uuid.UUID,
) -> int:
    """Crypto-shred and delete one offboarded tenant; returns the ClickHouse rows deleted.
    The tenant row stays (status ``erased``) with its destroyed key's tombstones, so the
    record of what happened, and the refusal to open any copy of its data, both remain."""
    counts = await asyncio.to_thread(erasure.erase_tenant, clickhouse, tenant_id)
    domain = f"tenant:{tenant_id}"
    async with unscoped_session(sessions) as session, session.begin():
        await destroy_tenant_key(session=session, tenant_id=tenant_id, actor=Actor.system())
        # Children before parents; the key's tombstones stay with the tenant row.
        for table in reversed(Base.metadata.sorted_tables):
            owned = {cls.__tablename__ for cls in tenant_owned_classes()}
            if table.name in owned and table.name != TenantDataKey.__tablename__:
                await session.execute(delete(table).where(table.c.tenant_id == tenant_id))
        # Suspended memberships are kept under a domain of their own: they go too.
        held = Membership.domain.in_((domain, suspended_domain(domain)))
        leaving = set(await session.scalars(select(Membership.user_id).where(held)))
        await session.execute(delete(Membership).where(held))
        await session.execute(delete(Invitation).where(Invitation.domain == domain))
        # People whose only role was in this tenant lose their account: its purpose has ended.
        still = set(
            await session.scalars(select(Membership.user_id).where(Membership.user_id.in_(leaving)))
        )
        if leaving - still:
            await session.execute(delete(User).where(User.id.in_(leaving - still)))
        tenant = await session.scalar(select(Tenant).where(Tenant.id == tenant_id))
        assert tenant is not None
        tenant.status = TenantStatus.ERASED
        await counters.bump(session, counters.REGISTRY)  # ingest and alarm rules forget it
        await record(
            session,
            Actor.system(),
            "tenant.erased",
            domain=domain,
            object_type="tenant",
            object_id=tenant_id,
            detail={"clickhouse_rows": counts, "accounts_deleted": len(leaving - still)},
        )
    return sum(counts.values())


async def unscoped_purge_expired(
    *, sessions: async_sessionmaker[AsyncSession], now: datetime
) -> tuple[dict[str, int], list[uuid.UUID]]:
    """Purge the relational rows past their retention; returns the counts and the tenants
    now due for erasure."""
    async with unscoped_session(sessions) as session, session.begin():
        return await _purge_relational(session, now), await _due_for_erasure(session, now)


async def unscoped_sign_checkpoint(
    *, sessions: async_sessionmaker[AsyncSession], keyring: Keyring
) -> int | None:
    """Sign an audit checkpoint at the trail's head; None when the trail is empty."""
    async with unscoped_session(sessions) as session, session.begin():
        if not await session.scalar(select(AuditHead.seq)):  # an empty trail has nothing to sign
            return None
        signed = await create_checkpoint(session=session, keyring=keyring)
        return signed.checkpoint.seq


@dataclass
class RetentionJob:
    """The stores the job purges and erases, and the clock its cutoffs are counted from."""

    sessions: async_sessionmaker[AsyncSession]
    owner_engine: Engine  # the audit trail is purged through the owner's connection
    # Opened only when a tenant is erased: the embedded engine has one owner, and a run from
    # the command line beside a server must not need it otherwise.
    clickhouse: Callable[[], ClickHouseClient]
    keyring: Keyring
    clock: Clock = WALL_CLOCK

    async def run(self) -> RetentionReport:
        now = self.clock.now()
        report = RetentionReport()
        report.purged, due = await unscoped_purge_expired(sessions=self.sessions, now=now)
        for tenant_id in due:
            report.clickhouse_rows_erased += await unscoped_erase_tenant(
                sessions=self.sessions, clickhouse=self.clickhouse(), tenant_id=tenant_id
            )
            report.erased_tenants.append(str(tenant_id))
        report.checkpoint_seq = await unscoped_sign_checkpoint(
            sessions=self.sessions, keyring=self.keyring
        )
        cutoff = now - retention.KEEP["audit entries (behind a signed checkpoint)"]
        purged = await asyncio.to_thread(
            purge_before_in_own_transaction,
            engine=self.owner_engine,
            keyring=self.keyring,
            before=cutoff,
            actor=Actor.system(),
            now=now,
        )
        report.purged["audit entries"] = purged.deleted
        log.info(
            "retention: purged %s, erased %d tenant(s), checkpoint at %s",
            report.purged,
            len(report.erased_tenants),
            report.checkpoint_seq,
        )
        return report

    async def loop(self, every: timedelta = timedelta(days=1)) -> None:
        """The server's daily run; a failure is logged and retried at the next run."""
        while True:
            try:
                await self.run()
            except Exception:
                log.exception("the retention job failed; it runs again in %s", every)
            await asyncio.sleep(every.total_seconds())

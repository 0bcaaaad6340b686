"""Retention and erasure (issue 5, item 8): expired data purged, legal floors kept, and an
offboarded tenant crypto-shredded and deleted once its floors have passed — after which a
copy of its encrypted data (a backup, say) can no longer be opened."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from backend.alarms.models import OutboxMessage
from backend.auth.members import unscoped_set_member_enabled_in_own_transaction
from backend.auth.models import User
from backend.auth.principal import Principal
from backend.core.clock import SimulatedClock
from backend.core.db import utcnow
from backend.core.errors import BadInput
from backend.runtime import Runtime
from backend.telemetry import erasure
from privacy.audit import AuditEntry, verify_chain
from privacy.crypto import DataKeyDestroyed, KeyStore, RowSealer
from privacy.retention import telemetry_retention_days
from tenants.models import Tenant, TenantStatus, Worker
from tenants.scope import Scope, scoped_session, unscoped_session
from tenants.service import create_worker, unscoped_offboard_tenant_in_own_transaction
from tests.alarm_helpers import user_id
from tests.factories import World, build_tenant

# Outbox rows of a topic nobody subscribes to, shaped like alarm events for the tests that
# read the outbox (the relay still hands the unsent one on, harmlessly).
PROBE, PROBE_PAYLOAD = "retention.probe", {"kind": "PROBE", "alarm": {"id": "probe"}}
COLUMNS = ["tenant_id", "site_id", "sensor_id", "ts", "value", "retention_days"]


def test_major_hazard_sites_keep_their_monitoring_records_at_least_30_days() -> None:
    assert telemetry_retention_days(7, major_hazard=True) == 30
    assert telemetry_retention_days(90, major_hazard=True) == 90
    assert telemetry_retention_days(7, major_hazard=False) == 7


def readings_of(rt: Runtime, tenant_id: uuid.UUID, site_id: uuid.UUID, count: int) -> None:
    """Rows of a sensor the registry does not know, two days old: the session's world is
    shared, and a sensor that reported just now would count as online on the site's figures."""
    ending = datetime.now(UTC) - timedelta(days=2)
    sensor = uuid.uuid4()
    rows = [
        [tenant_id, site_id, sensor, ending - timedelta(seconds=i), float(i), 365]
        for i in range(count)
    ]
    rt.clickhouse.insert("readings", rows, column_names=COLUMNS)


async def test_expired_outbox_rows_are_purged_and_recent_ones_kept(
    runtime: Runtime, world: World
) -> None:
    now = utcnow()
    async with unscoped_session(runtime.sessions) as session, session.begin():
        old = OutboxMessage(
            tenant_id=world.a.tenant_id,
            topic=PROBE,
            payload=PROBE_PAYLOAD,
            sent_at=now - timedelta(days=8),
        )
        recent = OutboxMessage(
            tenant_id=world.a.tenant_id,
            topic=PROBE,
            payload=PROBE_PAYLOAD,
            sent_at=now - timedelta(days=1),
        )
        unsent = OutboxMessage(tenant_id=world.a.tenant_id, topic=PROBE, payload=PROBE_PAYLOAD)
        session.add_all([old, recent, unsent])
    report = await replace(runtime.retention, clock=SimulatedClock(now)).run()
    assert report.purged["relayed outbox messages"] >= 1
    assert report.checkpoint_seq is not None
    async with unscoped_session(runtime.sessions) as session:
        kept = set(
            await session.scalars(
                select(OutboxMessage.seq).where(
                    OutboxMessage.seq.in_([old.seq, recent.seq, unsent.seq])
                )
            )
        )
    assert kept == {recent.seq, unsent.seq}


async def test_an_offboarded_tenant_is_erased_only_after_the_floor_and_then_unreadable(
    runtime: Runtime, world: World
) -> None:
    # A tenant of its own (the session's world is shared); its site is a major hazard source.
    a, b = await build_tenant(runtime, "离场", "320100", "320102"), world.b
    scope = Scope.for_tenant(a.tenant_id)
    async with scoped_session(runtime.sessions, scope) as session, session.begin():
        worker = await create_worker(
            session=session,
            authz=runtime.authz,
            principal=Principal.system(scope),
            tenant_id=a.tenant_id,
            name="赵六",
            employee_number=f"E-{uuid.uuid4().hex[:6]}",
            mobile="13812345678",
        )
    with runtime.owner_engine.connect() as connection:
        workers = Worker.__table__
        (blob,) = connection.execute(
            select(workers.c.name_enc).where(workers.c.id == worker.id)
        ).one()
    readings_of(runtime, a.tenant_id, a.site_id, 500)
    readings_of(runtime, b.tenant_id, b.site_id, 300)
    b_before = erasure.tenant_row_counts(runtime.clickhouse, b.tenant_id)
    # A suspended member's account goes with the tenant like every other member's.
    viewer = await user_id(runtime, a.users["viewer"])
    await unscoped_set_member_enabled_in_own_transaction(
        sessions=runtime.sessions,
        authz=runtime.authz,
        principal=Principal.system(),
        domain=f"tenant:{a.tenant_id}",
        user_id=viewer,
        enabled=False,
        reason="on leave",
    )

    with pytest.raises(BadInput):
        await unscoped_offboard_tenant_in_own_transaction(
            sessions=runtime.sessions,
            authz=runtime.authz,
            principal=Principal.system(),
            tenant_id=a.tenant_id,
            reason=" ",
        )
    await unscoped_offboard_tenant_in_own_transaction(
        sessions=runtime.sessions,
        authz=runtime.authz,
        principal=Principal.system(),
        tenant_id=a.tenant_id,
        reason="合同终止 contract ended",
    )
    report = await runtime.retention.run()  # the monitoring floor has not passed: kept
    assert str(a.tenant_id) not in report.erased_tenants
    assert erasure.tenant_row_counts(runtime.clickhouse, a.tenant_id)["readings"] == 500

    # Thirty-one days later (the offboarding moved back, so nothing else ages).
    async with unscoped_session(runtime.sessions) as session, session.begin():
        await session.execute(
            update(Tenant)
            .where(Tenant.id == a.tenant_id)
            .values(offboarded_at=utcnow() - timedelta(days=31))
        )
    report = await runtime.retention.run()
    assert report.erased_tenants == [str(a.tenant_id)]
    assert report.clickhouse_rows_erased >= 500

    counts = erasure.tenant_row_counts(runtime.clickhouse, a.tenant_id)
    assert counts == dict.fromkeys(erasure.TENANT_TABLES, 0)
    assert erasure.tenant_row_counts(runtime.clickhouse, b.tenant_id) == b_before
    async with unscoped_session(runtime.sessions) as session:
        tenant = await session.scalar(select(Tenant).where(Tenant.id == a.tenant_id))
        assert tenant is not None and tenant.status is TenantStatus.ERASED
        assert (
            await session.scalar(select(Worker.id).where(Worker.tenant_id == a.tenant_id)) is None
        )
        assert await session.scalar(select(Worker.id).where(Worker.tenant_id == b.tenant_id))
        assert await session.get(User, viewer) is None
        erased = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "tenant.erased", AuditEntry.object_id == str(a.tenant_id)
            )
        )
        assert erased is not None
        assert (await verify_chain(session=session, keyring=runtime.keyring)).ok

    # A copy of the ciphertext taken before (as a backup holds it) no longer opens.
    with runtime.owner_engine.connect() as connection:
        sealer = RowSealer.for_connection(KeyStore(runtime.keyring), connection)
        with pytest.raises(DataKeyDestroyed):
            sealer.open("workers", "name", a.tenant_id, worker.id, blob)
    # Running again changes nothing.
    again = await runtime.retention.run()
    assert again.erased_tenants == []

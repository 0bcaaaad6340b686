"""The reporter's client address is kept only as a keyed hash, and for 30 days."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select, update

from backend.jobs.retention import unscoped_purge_expired
from backend.reports import receipts
from backend.reports.models import HazardReport
from backend.runtime import Runtime
from privacy.retention import KEEP
from tenants.scope import unscoped_session
from tests.graphql import GraphQLClient
from tests.reports.helpers import report_body, solved, submit


async def test_the_client_hash_is_keyed_and_forgotten_after_30_days(
    api: GraphQLClient, runtime: Runtime
) -> None:
    assert KEEP["hazard reporters' client address hashes"] == timedelta(days=30)
    status, body = await submit(api, report_body(await solved(api)))
    assert status == 201
    symbols = receipts.canonical(body["receipt"])
    assert symbols is not None
    where = HazardReport.receipt_hash == receipts.receipt_hash(symbols)
    async with unscoped_session(runtime.sessions) as session:
        report = await session.scalar(select(HazardReport).where(where))
        assert report is not None
    # Keyed: not the plain hash of the address the test client comes from.
    assert report.client_hash == runtime.report_intake.client_hash("testclient")
    assert report.client_hash != hashlib.sha256(b"testclient").digest()
    now = runtime.clock.now()
    purged, _ = await unscoped_purge_expired(sessions=runtime.sessions, now=now)
    async with unscoped_session(runtime.sessions) as session:
        assert await session.scalar(select(HazardReport.client_hash).where(where)) is not None
    async with unscoped_session(runtime.sessions) as session, session.begin():
        await session.execute(
            update(HazardReport)
            .where(where)
            .values(received_at=report.received_at - timedelta(days=30, minutes=1))
        )
    purged, _ = await unscoped_purge_expired(sessions=runtime.sessions, now=now)
    assert purged["hazard reporters' client address hashes"] >= 1
    async with unscoped_session(runtime.sessions) as session:
        assert await session.scalar(select(HazardReport.client_hash).where(where)) is None

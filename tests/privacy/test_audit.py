"""The hash-chained audit trail: what it records, and that tampering is detected."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from backend.migrate import upgrade_relational
from backend.runtime import Runtime
from privacy.audit import Actor, AuditEntry, record, verify_chain
from tests.conftest import make_settings
from tests.factories import World
from tests.graphql import GraphQLClient

# --- the live trail ----------------------------------------------------------------------------


async def test_world_trail_verifies(runtime: Runtime, world: World) -> None:
    async with runtime.sessions() as session:
        report = await verify_chain(session=session, keyring=runtime.keyring)
    assert report.ok, report
    assert report.entries > 0


async def test_trail_records_provisioning(runtime: Runtime, world: World) -> None:
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.object_id, AuditEntry.domain)
            )
        ).all()
    by_action: dict[str, set[str | None]] = {}
    domains: dict[str, set[str | None]] = {}
    for action, object_id, domain in rows:
        by_action.setdefault(action, set()).add(object_id)
        domains.setdefault(action, set()).add(domain)
    for tenant in (world.a, world.b):
        assert str(tenant.tenant_id) in by_action.get("tenant.create", set())
        assert str(tenant.site_id) in by_action.get("site.create", set())
        assert str(tenant.device_id) in by_action.get("device.create", set())
        assert f"tenant:{tenant.tenant_id}" in domains.get("membership.grant", set())


async def test_sign_in_is_recorded(api: GraphQLClient, runtime: Runtime, world: World) -> None:
    result = await api.login(world.b.users["viewer"])
    assert result.code is None, result.body
    me = await api.query("{ me { id } }", token=result.data["login"]["token"])
    user_id = me.data["me"]["id"]
    failed = await api.login(world.b.users["viewer"], "not-the-password")
    assert failed.codes == ["UNAUTHENTICATED"]
    async with runtime.sessions() as session:
        actions = (
            await session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == user_id))
        ).all()
        report = await verify_chain(session=session, keyring=runtime.keyring)
    assert "auth.sign_in" in actions
    assert "auth.sign_in_failed" in actions
    assert report.ok, report


async def test_concurrent_appends_keep_one_chain(runtime: Runtime, world: World) -> None:
    tag = uuid.uuid4().hex
    # Four at a time: concurrent enough to race for the chain's head, and never more than the
    # connection pool holds, so no append waits on a pool the server's loops share.
    at_once = asyncio.Semaphore(4)

    async def append(i: int) -> int:
        async with at_once, runtime.sessions() as session, session.begin():
            entry = await record(
                session, Actor.system(), "test.concurrent", detail={"tag": tag, "i": i}
            )
            return entry.seq

    seqs = await asyncio.wait_for(asyncio.gather(*(append(i) for i in range(20))), timeout=60)
    assert len(set(seqs)) == 20
    async with runtime.sessions() as session:
        report = await verify_chain(session=session, keyring=runtime.keyring)
        stored = (
            await session.scalars(
                select(AuditEntry.seq).where(AuditEntry.action == "test.concurrent")
            )
        ).all()
    assert report.ok, report
    assert set(seqs) <= set(stored)


# --- tampering, in a scratch database ----------------------------------------------------------


@pytest.fixture
async def scratch(tmp_path: Path, chdb_dir: Path) -> AsyncIterator[Runtime]:
    """Its own SQLite file: tampering must not touch the session's trail."""
    rt = Runtime(make_settings(tmp_path, chdb_dir))
    upgrade_relational(owner_engine=rt.owner_engine, keyring=rt.keyring)
    yield rt
    await rt.close()


async def append_entries(rt: Runtime, count: int) -> list[int]:
    seqs = []
    for i in range(count):
        async with rt.sessions() as session, session.begin():
            entry = await record(
                session,
                Actor("user", str(uuid.uuid4()), "owner"),
                "test.entry",
                domain="tenant:00000000-0000-0000-0000-000000000001",
                object_type="thing",
                object_id=uuid.uuid4(),
                detail={"i": i, "note": "原始记录"},
            )
            seqs.append(entry.seq)
    return seqs


async def tamper(rt: Runtime, sql: str, **params: object) -> None:
    async with rt.sessions() as session, session.begin():
        await session.execute(text(sql), params)


async def check(rt: Runtime) -> tuple[bool, int | None, str | None, int]:
    async with rt.sessions() as session:
        report = await verify_chain(session=session, keyring=rt.keyring)
    return report.ok, report.first_broken_seq, report.reason, report.entries


async def test_untouched_scratch_chain_verifies(scratch: Runtime) -> None:
    seqs = await append_entries(scratch, 6)
    assert seqs == list(range(seqs[0], seqs[0] + 6))
    ok, broken, _, entries = await check(scratch)
    assert ok and broken is None
    assert entries == 6


@pytest.mark.parametrize(
    "assignment",
    [
        "action = 'test.innocent'",
        'detail = \'{"i": 99, "note": "原始记录"}\'',
        "actor_id = 'someone-else'",
        "object_id = NULL",
        "hash = zeroblob(32)",
        "prev_hash = zeroblob(32)",
    ],
)
async def test_altered_entry_is_named(scratch: Runtime, assignment: str) -> None:
    seqs = await append_entries(scratch, 6)
    target = seqs[3]
    await tamper(scratch, f"UPDATE audit_entries SET {assignment} WHERE seq = :s", s=target)
    ok, broken, reason, _ = await check(scratch)
    assert not ok
    assert broken == target, reason


async def test_deleted_middle_entry_is_named(scratch: Runtime) -> None:
    seqs = await append_entries(scratch, 6)
    target = seqs[2]
    await tamper(scratch, "DELETE FROM audit_entries WHERE seq = :s", s=target)
    ok, broken, reason, _ = await check(scratch)
    assert not ok
    assert broken == target
    assert reason is not None and str(target) in reason


async def test_deleted_last_entry_is_detected(scratch: Runtime) -> None:
    seqs = await append_entries(scratch, 6)
    await tamper(scratch, "DELETE FROM audit_entries WHERE seq = :s", s=seqs[-1])
    ok, broken, _, _ = await check(scratch)
    assert not ok
    assert broken == seqs[-1]


async def test_deleted_first_entry_is_detected(scratch: Runtime) -> None:
    seqs = await append_entries(scratch, 6)
    await tamper(scratch, "DELETE FROM audit_entries WHERE seq = :s", s=seqs[0])
    ok, broken, _, _ = await check(scratch)
    assert not ok, "removing the oldest entry went unnoticed"
    assert broken == seqs[0]


async def test_emptied_trail_is_detected(scratch: Runtime) -> None:
    seqs = await append_entries(scratch, 4)
    await tamper(scratch, "DELETE FROM audit_entries")
    ok, broken, _, _ = await check(scratch)
    assert not ok, "an emptied trail verified as intact"
    assert broken == seqs[0]


async def test_swapped_entries_are_detected(scratch: Runtime) -> None:
    seqs = await append_entries(scratch, 6)
    a, b = seqs[1], seqs[2]
    # Swap the two entries' contents (keeping their hashes where they were).
    await tamper(scratch, "UPDATE audit_entries SET seq = -1 WHERE seq = :a", a=a)
    await tamper(scratch, "UPDATE audit_entries SET seq = :a WHERE seq = :b", a=a, b=b)
    await tamper(scratch, "UPDATE audit_entries SET seq = :b WHERE seq = -1", b=b)
    ok, broken, _, _ = await check(scratch)
    assert not ok
    assert broken == a


async def test_appends_after_verification_continue_the_chain(scratch: Runtime) -> None:
    await append_entries(scratch, 3)
    assert (await check(scratch))[0]
    await append_entries(scratch, 3)
    ok, _, _, entries = await check(scratch)
    assert ok
    assert entries == 6

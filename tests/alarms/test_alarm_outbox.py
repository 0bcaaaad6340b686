"""The outbox reaches every server (issue 9, item 16): each process's engine learns of clears
from the committed outbox, not from the request that made them, so an alarm cleared by the CLI
or a job, by a person on another server, or by another server's engine is forgotten
everywhere, and a condition that persists raises a new alarm on the next reading. The feed
also shows changes committed out of sequence order (PostgreSQL), and several relays hand each
change to the job broker once.

"Another server" is a second alarm pipeline on the same database, in this process (as after
``restarted``): an engine and an outbox feed of its own, sharing nothing else with the app's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from backend.alarms import service
from backend.alarms.models import OutboxMessage
from backend.auth.principal import Principal
from backend.core.settings import Settings
from backend.jobs.alarm_pipeline import AlarmPipeline
from backend.jobs.outbox_feed import OutboxFeed
from backend.jobs.outbox_relay import OutboxRelay
from backend.migrate import migrate
from backend.runtime import Runtime
from tenants.scope import Scope, scoped_session, unscoped_session
from tests.alarm_helpers import (
    CLEAR,
    feed,
    gas_alarms,
    gas_device,
    ok,
    raise_alarm,
    restarted,
    send,
)
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database, make_settings
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import IngestDevice, eventually

Rows = list[dict[str, Any]]


@pytest.fixture
async def dev(api: GraphQLClient, runtime: Runtime, world: World) -> IngestDevice:
    return await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)


@pytest.fixture
def owner(world: World) -> str:
    return world.a.users["owner"]


async def clear_outside_any_server(rt: Runtime, tenant_id: uuid.UUID, alarm_id: str) -> None:
    """A clear written straight through the alarm service, as the CLI or a job does."""
    scope = Scope.for_tenant(tenant_id)
    async with scoped_session(rt.sessions, scope) as session, session.begin():
        await service.clear_alarm(
            session=session,
            authz=rt.authz,
            principal=Principal.system(scope),
            alarm_id=uuid.UUID(alarm_id),
            reason="cleared from the command line",
        )


def raised_anew(old: dict[str, Any]) -> Callable[[Rows], bool]:
    """One open alarm, not the cleared one (which stays cleared)."""

    def done(rows: Rows) -> bool:
        active = [a for a in rows if a["clearedAt"] is None]
        previous = [a for a in rows if a["id"] == old["id"]]
        return (
            len(active) == 1 and active[0]["id"] != old["id"] and previous[0]["status"] == "CLEARED"
        )

    return done


async def test_a_clear_by_the_cli_reaches_the_servers_engine(
    api: GraphQLClient, runtime: Runtime, dev: IngestDevice, owner: str
) -> None:
    alarm = await raise_alarm(api, owner, dev, 30.0)
    await clear_outside_any_server(runtime, dev.tenant_id, alarm["id"])

    async def leak_goes_on() -> Rows:  # through ingest, to the server's engine
        await send(api, dev, 32.0)
        return await gas_alarms(api, owner, dev)

    rows = await eventually(leak_goes_on, raised_anew(alarm), interval=0.2)
    assert raised_anew(alarm)(rows), rows


async def test_a_clear_on_one_server_reaches_another_servers_engine(
    api: GraphQLClient, runtime: Runtime, dev: IngestDevice, owner: str
) -> None:
    other = await restarted(runtime)
    try:
        await feed(other, dev, 30.0)  # the other server's engine raises the alarm
        (alarm,) = await gas_alarms(api, owner, dev)
        await ok(api, owner, CLEAR, id=alarm["id"], reason="cleared on this server")
        rows = await eventually(lambda: leak_on(other, api, owner, dev), raised_anew(alarm))
    finally:
        await other.stop()
    assert raised_anew(alarm)(rows), rows


async def test_an_engines_clear_reaches_another_servers_engine(
    api: GraphQLClient, runtime: Runtime, dev: IngestDevice, owner: str
) -> None:
    """The other server restored the alarm at start; the gas then fell below the deadband in
    readings that reached this server. Once it rises again in readings that reach the other
    server, that one must raise a new alarm, not count the cleared one as still open."""
    alarm = await raise_alarm(api, owner, dev, 30.0)
    other = await restarted(runtime)
    try:
        await send(api, dev, 10.0)
        (cleared,) = await gas_alarms(api, owner, dev)
        assert cleared["status"] == "CLEARED"
        rows = await eventually(lambda: leak_on(other, api, owner, dev), raised_anew(alarm))
    finally:
        await other.stop()
    assert raised_anew(alarm)(rows), rows


async def leak_on(p: AlarmPipeline, api: GraphQLClient, owner: str, dev: IngestDevice) -> Rows:
    await feed(p, dev, 32.0)
    return await gas_alarms(api, owner, dev)


# --- several writers and relays on one PostgreSQL database ------------------------------------


@pytest.fixture(scope="module")
async def shared_pg(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory, chdb_dir: Path
) -> AsyncIterator[Runtime]:
    """A database of its own that nothing else reads: its outbox rows reach no listener but
    the test's, so they need not be real alarm changes."""
    if backend_name == "sqlite":
        pytest.skip("SQLite has one writer at a time and one server process (embedded mode)")
    url = create_pg_database(PG_ADMIN_URL)
    settings = make_settings(
        tmp_path_factory.mktemp("outbox-pg"), chdb_dir, ANJIAN_DATABASE_URL=url
    )
    rt = Runtime(settings)
    migrate(
        owner_engine=rt.owner_engine,
        keyring=rt.keyring,
        clickhouse=rt.clickhouse,
        cluster=settings.clickhouse_cluster,
    )
    yield rt
    await rt.close()
    drop_pg_database(PG_ADMIN_URL, url)


def change(n: int) -> OutboxMessage:
    return OutboxMessage(
        tenant_id=uuid.uuid4(),
        topic="alarm",
        payload={"kind": "ACKNOWLEDGED", "actor": None, "alarm": {"id": f"alarm-{n}"}},
    )


async def commit(rt: Runtime, *rows: OutboxMessage) -> None:
    async with unscoped_session(rt.sessions) as session, session.begin():
        session.add_all(rows)


@pytest.fixture(scope="module")
async def own_sqlite(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory, chdb_dir: Path
) -> AsyncIterator[Runtime]:
    """A SQLite store of its own (its outbox rows are deleted here, as retention does)."""
    if backend_name != "sqlite":
        pytest.skip("PostgreSQL never hands out a sequence number twice")
    settings = make_settings(tmp_path_factory.mktemp("outbox-sqlite"), chdb_dir)
    rt = Runtime(settings)
    migrate(
        owner_engine=rt.owner_engine,
        keyring=rt.keyring,
        clickhouse=rt.clickhouse,
        cluster=settings.clickhouse_cluster,
    )
    yield rt
    await rt.close()


async def test_outbox_numbers_are_never_handed_out_again(own_sqlite: Runtime) -> None:
    """Delivery receipts are keyed by the outbox number: once retention has deleted the newest
    (relayed) rows, the next change must still get a number no receipt names."""
    seen: list[dict[str, Any]] = []
    reader = OutboxFeed(own_sqlite.sessions, [seen.append])
    await commit(own_sqlite, change(1), change(2), change(3))
    await reader.position_at_end()
    async with unscoped_session(own_sqlite.sessions) as session, session.begin():
        await session.execute(delete(OutboxMessage).where(OutboxMessage.seq > 1))
    await reader.catch_up()  # a quiet moment: nothing new
    await commit(own_sqlite, change(4))
    async with unscoped_session(own_sqlite.sessions) as session:
        numbers = (
            await session.scalars(select(OutboxMessage.seq).order_by(OutboxMessage.seq))
        ).all()
    assert numbers == [1, 4]
    await reader.catch_up()
    assert [e["alarm"]["id"] for e in seen] == ["alarm-4"]


async def test_a_change_committed_out_of_sequence_order_is_still_shown(
    shared_pg: Runtime,
) -> None:
    """A transaction takes its outbox number at insert and shows the row at commit: one that
    commits after a later-numbered one (a slow writer on another server) must still reach the
    listeners, once."""
    seen: list[dict[str, Any]] = []
    reader = OutboxFeed(shared_pg.sessions, [seen.append])
    await reader.position_at_end()
    late: list[dict[str, Any]] = []  # a server starting while the slow writer is still open
    starter = OutboxFeed(shared_pg.sessions, [late.append])
    async with unscoped_session(shared_pg.sessions) as slow, slow.begin():
        slow.add(change(1))
        await slow.flush()  # numbered, not committed
        await commit(shared_pg, change(2))
        await reader.catch_up()
        assert [e["alarm"]["id"] for e in seen] == ["alarm-2"]
        await starter.position_at_end()
    await commit(shared_pg, change(3))
    for feed_ in (reader, starter):
        await feed_.catch_up()
    assert [e["alarm"]["id"] for e in seen] == ["alarm-2", "alarm-1", "alarm-3"]
    assert [e["alarm"]["id"] for e in late] == ["alarm-1", "alarm-3"]


def relay_elsewhere(settings: Settings) -> list[int]:
    """Another server's relay, run to its end on a connection pool of its own (its own thread
    and event loop), while this one holds its batch: the outbox numbers it hands on."""

    async def run() -> list[int]:
        rt = Runtime(settings)
        handed: list[int] = []
        try:
            relay = OutboxRelay(
                rt.sessions, asyncio.Event(), sinks=[lambda e: handed.append(e["seq"])]
            )
            await relay.relay_once()
        finally:
            await rt.close()
        return handed

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result(timeout=30)


async def test_several_relays_hand_each_change_to_the_broker_once(shared_pg: Runtime) -> None:
    await commit(shared_pg, *(change(n) for n in range(20)))
    here: list[int] = []
    there: list[int] = []

    def sink(event: dict[str, Any]) -> None:
        if not here:  # this relay has read its batch and not marked it sent yet
            there.extend(relay_elsewhere(shared_pg.settings))
        here.append(event["seq"])

    await OutboxRelay(shared_pg.sessions, asyncio.Event(), sinks=[sink]).relay_once()
    assert not set(here) & set(there), (here, there)
    async with unscoped_session(shared_pg.sessions) as session:
        every = (await session.scalars(select(OutboxMessage.seq))).all()
    assert sorted(here + there) == sorted(every)

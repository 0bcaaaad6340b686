"""Encryption at rest: the sealed-value format, sealed ORM columns on both backends, the blind
index that sign-in uses, crypto-shredding, and the migration that seals existing rows.

Tests that destroy keys or tamper with rows make tenants of their own, so the session's
two-tenant world stays readable for every other test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from backend.auth import service as auth_service
from backend.auth.models import Membership, User
from backend.auth.principal import Principal
from backend.auth.provisioning import unscoped_provision_tenant_in_own_transaction
from backend.core.db import UTCDateTime, make_sessionmaker, utcnow
from backend.core.errors import BadInput, ConfigurationError, Conflict
from backend.migrate import alembic_config, upgrade_relational
from backend.runtime import Runtime
from privacy.audit import Actor, AuditEntry
from privacy.crypto import (
    CiphertextInvalid,
    DataKeyDestroyed,
    KeyStore,
    RowSealer,
    SealedFieldMisuse,
    TenantDataKey,
    bind_key_store,
    blind_index,
    destroy_tenant_key,
    field_aad,
    seal,
    sealed_version,
    unseal,
    unwrap_data_key,
    wrap_data_key,
)
from privacy.keyring import load_keyring
from tenants.models import Worker
from tenants.scope import Scope, scoped_session, unscoped_session
from tenants.service import create_worker
from tests.conftest import (
    PG_ADMIN_URL,
    create_pg_database,
    drop_pg_database,
    make_settings,
)
from tests.factories import PASSWORD, World, unique

KEY = bytes(range(32))
ROW = uuid.UUID("00000000-0000-4000-8000-000000000001")
TENANT = uuid.UUID("00000000-0000-4000-8000-0000000000aa")

# --- the sealed-value format ---------------------------------------------------------------


def test_sealed_value_names_its_format_and_key_version() -> None:
    aad = field_aad("workers", "name", TENANT, ROW)
    blob = seal(KEY, 7, "张三".encode(), aad)
    assert blob[0] == 1
    assert sealed_version(blob) == 7
    assert len(blob) == 1 + 4 + 12 + len("张三".encode()) + 16
    assert unseal(KEY, blob, aad).decode() == "张三"
    # A fresh nonce each time: equal plaintexts do not give equal ciphertexts.
    assert seal(KEY, 7, "张三".encode(), aad) != blob


@given(st.text(max_size=200), st.data())
def test_any_single_bit_flip_is_refused(plaintext: str, data: st.DataObject) -> None:
    aad = field_aad("workers", "mobile", TENANT, ROW)
    blob = bytearray(seal(KEY, 1, plaintext.encode(), aad))
    assert unseal(KEY, bytes(blob), aad).decode() == plaintext
    bit = data.draw(st.integers(0, len(blob) * 8 - 1))
    blob[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CiphertextInvalid):
        unseal(KEY, bytes(blob), aad)


@pytest.mark.parametrize(
    "elsewhere",
    [
        ("workers", "name", TENANT, uuid.UUID(int=2)),  # another row
        ("workers", "name", uuid.UUID(int=3), ROW),  # another tenant
        ("workers", "mobile", TENANT, ROW),  # another column
        ("users", "name", TENANT, ROW),  # another table
        ("workers", "name", None, ROW),  # platform instead of the tenant
    ],
    ids=["row", "tenant", "column", "table", "owner"],
)
def test_a_value_moved_elsewhere_is_refused(elsewhere: tuple[Any, ...]) -> None:
    blob = seal(KEY, 1, b"13812345678", field_aad("workers", "name", TENANT, ROW))
    with pytest.raises(CiphertextInvalid, match="integrity"):
        unseal(KEY, blob, field_aad(*elsewhere))


def test_truncated_or_unknown_format_is_refused() -> None:
    aad = field_aad("workers", "name", TENANT, ROW)
    blob = seal(KEY, 1, b"x", aad)
    with pytest.raises(CiphertextInvalid, match="truncated"):
        unseal(KEY, blob[:20], aad)
    with pytest.raises(CiphertextInvalid, match="format 9"):
        unseal(KEY, b"\x09" + blob[1:], aad)


def test_wrapped_data_key_is_bound_to_its_owner_and_version() -> None:
    wrapping = bytes(32)
    data_key = bytes(range(32, 64))
    wrapped = wrap_data_key(wrapping, data_key, TENANT, 1)
    assert data_key not in wrapped
    assert unwrap_data_key(wrapping, wrapped, TENANT, 1) == data_key
    for owner, version in ((uuid.UUID(int=3), 1), (TENANT, 2), (None, 1)):
        with pytest.raises(ConfigurationError, match="cannot be unwrapped"):
            unwrap_data_key(wrapping, wrapped, owner, version)
    with pytest.raises(ConfigurationError, match="cannot be unwrapped"):
        unwrap_data_key(bytes([1]) * 32, wrapped, TENANT, 1)


def test_blind_index_is_deterministic_and_keyed() -> None:
    first = blind_index(KEY, "a@example.cn")
    assert first == blind_index(KEY, "a@example.cn")
    assert len(first) == 32
    assert first != blind_index(KEY, "b@example.cn")
    assert first != blind_index(bytes(32), "a@example.cn")


def test_key_cache_is_bounded_and_expires(tmp_path: Path) -> None:
    now = [0.0]
    store = KeyStore(
        load_keyring(tmp_path / "keyring.json"), capacity=2, ttl_seconds=10, clock=lambda: now[0]
    )
    store.remember((TENANT, 1), b"a" * 32)
    store.remember((TENANT, 2), b"b" * 32)
    assert store.cached((TENANT, 1)) == b"a" * 32  # now the most recently used
    store.remember((None, 1), b"c" * 32)
    assert store.cached((TENANT, 2)) is None  # least recently used: evicted
    assert len(store) == 2
    now[0] = 10.5
    assert store.cached((TENANT, 1)) is None
    assert store.cached((None, 1)) is None


# --- sealed columns on the database --------------------------------------------------------


async def new_tenant(rt: Runtime, label: str) -> tuple[uuid.UUID, str]:
    """A tenant of the test's own, and its owner's e-mail address."""
    owner = f"owner.{unique(label)}@example.cn"
    tenant = await unscoped_provision_tenant_in_own_transaction(
        sessions=rt.sessions,
        authz=rt.authz,
        principal=Principal.system(),
        name=f"{label} 化工 {unique('t')}",
        division_code="320100",
        industry="chemical",
        owner_email=owner,
        owner_password=PASSWORD,
        log2_n=rt.log2_n,
    )
    return tenant.id, owner


async def add_worker(
    rt: Runtime,
    tenant_id: uuid.UUID,
    name: str,
    mobile: str | None = None,
    id_number: str | None = None,
) -> uuid.UUID:
    scope = Scope.for_tenant(tenant_id)
    async with scoped_session(rt.sessions, scope) as session, session.begin():
        worker = await create_worker(
            session=session,
            authz=rt.authz,
            principal=Principal.system(scope),
            tenant_id=tenant_id,
            name=name,
            employee_number=unique("E"),
            mobile=mobile,
            id_number=id_number,
        )
    return worker.id


async def load_worker(rt: Runtime, tenant_id: uuid.UUID, worker_id: uuid.UUID) -> Worker:
    """The worker read in a session of its own (nothing left from the session that wrote it)."""
    async with scoped_session(rt.sessions, Scope.for_tenant(tenant_id)) as session:
        worker = await session.get(Worker, worker_id)
    assert worker is not None
    return worker


_ID = sa.bindparam("id", type_=sa.Uuid())


async def raw_row(rt: Runtime, table: str, row_id: uuid.UUID) -> dict[str, Any]:
    async with unscoped_session(rt.sessions) as session, session.begin():
        query = text(f"SELECT * FROM {table} WHERE id = :id").bindparams(_ID)
        return dict((await session.execute(query, {"id": row_id})).mappings().one())


async def tamper(rt: Runtime, table: str, row_id: uuid.UUID, column: str, blob: bytes) -> None:
    async with unscoped_session(rt.sessions) as session, session.begin():
        query = text(f"UPDATE {table} SET {column} = :blob WHERE id = :id").bindparams(_ID)
        await session.execute(query, {"blob": blob, "id": row_id})


def holds(value: Any, secret: str) -> bool:
    if isinstance(value, str):
        return secret in value
    if isinstance(value, bytes | bytearray | memoryview):
        return secret.encode() in bytes(value)
    return False


async def test_worker_round_trip_and_no_plaintext_in_the_row(runtime: Runtime) -> None:
    tenant_id, _ = await new_tenant(runtime, "rt")
    name, mobile, id_number = f"欧阳娜娜{unique('n')}", "13987654321", "32010219900101123X"
    worker_id = await add_worker(runtime, tenant_id, name, mobile, id_number)

    worker = await load_worker(runtime, tenant_id, worker_id)
    assert (worker.name, worker.mobile, worker.id_number) == (name, mobile, id_number)

    row = await raw_row(runtime, "workers", worker_id)
    for secret in (name, mobile, id_number, "欧阳"):
        assert not any(holds(v, secret) for v in row.values()), (secret, row)
    assert sealed_version(bytes(row["name_enc"])) == 1
    assert "name" not in row and "mobile" not in row and "id_number" not in row
    # Other columns stay plaintext.
    assert holds(row["employee_number"], "E-")


async def test_assigning_plaintext_reseals_at_flush(runtime: Runtime) -> None:
    tenant_id, _ = await new_tenant(runtime, "re")
    worker_id = await add_worker(runtime, tenant_id, "王五", mobile="13800000001")
    before = (await raw_row(runtime, "workers", worker_id))["mobile_enc"]
    async with scoped_session(runtime.sessions, Scope.for_tenant(tenant_id)) as session:
        async with session.begin():
            worker = await session.get(Worker, worker_id)
            assert worker is not None
            worker.mobile = "13900000002"
            worker.id_number = None
            assert worker.mobile == "13900000002"  # read back before the flush
        assert worker.mobile == "13900000002"
    row = await raw_row(runtime, "workers", worker_id)
    assert row["mobile_enc"] != before and row["id_number_enc"] is None
    assert not holds(row["mobile_enc"], "13900000002")
    fresh = await load_worker(runtime, tenant_id, worker_id)
    assert (fresh.name, fresh.mobile, fresh.id_number) == ("王五", "13900000002", None)


async def test_listing_workers_reads_every_row(runtime: Runtime, world: World) -> None:
    """Many rows in one select, read after the session is closed (keys were fetched in it)."""
    for tenant in (world.a, world.b):
        async with scoped_session(runtime.sessions, Scope.for_tenant(tenant.tenant_id)) as s:
            workers = (await s.scalars(select(Worker))).all()
        assert workers and all(w.name for w in workers)
        assert any(w.mobile == "13812345678" for w in workers)


async def test_tampered_rows_are_refused(runtime: Runtime) -> None:
    tenant_id, _ = await new_tenant(runtime, "tm")
    other_tenant, _ = await new_tenant(runtime, "tm2")
    first = await add_worker(runtime, tenant_id, "赵一", mobile="13800000011")
    second = await add_worker(runtime, tenant_id, "钱二", mobile="13800000022")
    foreign = await add_worker(runtime, other_tenant, "孙三", mobile="13800000033")
    first_row = await raw_row(runtime, "workers", first)

    # Moved to another row of the same tenant.
    await tamper(runtime, "workers", second, "name_enc", first_row["name_enc"])
    # Moved into another column of its own row.
    await tamper(runtime, "workers", first, "name_enc", first_row["mobile_enc"])
    # Moved to another tenant.
    await tamper(runtime, "workers", foreign, "mobile_enc", first_row["mobile_enc"])

    moved = await load_worker(runtime, tenant_id, second)
    with pytest.raises(CiphertextInvalid, match="integrity"):
        _ = moved.name
    assert moved.mobile == "13800000022"  # its other fields are intact
    swapped = await load_worker(runtime, tenant_id, first)
    with pytest.raises(CiphertextInvalid):
        _ = swapped.name
    across = await load_worker(runtime, other_tenant, foreign)
    assert across.name == "孙三"
    with pytest.raises(CiphertextInvalid):
        _ = across.mobile

    # One flipped bit in the ciphertext of an otherwise untouched value.
    flipped = bytearray(first_row["mobile_enc"])
    flipped[-20] ^= 0x01
    await tamper(runtime, "workers", first, "mobile_enc", bytes(flipped))
    with pytest.raises(CiphertextInvalid):
        _ = (await load_worker(runtime, tenant_id, first)).mobile


async def test_a_worker_cannot_move_to_another_tenant(runtime: Runtime, world: World) -> None:
    async with unscoped_session(runtime.sessions) as session:
        await session.begin()
        worker = await session.get(Worker, world.a.worker_id)
        assert worker is not None
        worker.tenant_id = world.b.tenant_id
        with pytest.raises(BadInput, match="tenant_id"):
            await session.flush()
        await session.rollback()
    assert (await load_worker(runtime, world.a.tenant_id, world.a.worker_id)).name == "张三"


def test_comparing_a_sealed_attribute_is_an_error() -> None:
    with pytest.raises(SealedFieldMisuse, match=r"User\.email\.matches"):
        _ = User.email == "a@example.cn"
    with pytest.raises(SealedFieldMisuse, match="encrypted at rest"):
        _ = Worker.name == "张三"


async def test_rolled_back_key_creation_is_not_remembered(runtime: Runtime) -> None:
    tenant_id, _ = await new_tenant(runtime, "rb")
    scope = Scope.for_tenant(tenant_id)
    async with scoped_session(runtime.sessions, scope) as session:
        await session.begin()
        await create_worker(
            session=session,
            authz=runtime.authz,
            principal=Principal.system(scope),
            tenant_id=tenant_id,
            name="回滚",
            employee_number=unique("E"),
        )
        await session.rollback()  # the worker and the tenant's first data key are gone
    worker_id = await add_worker(runtime, tenant_id, "李四")
    runtime.keys.forget_all()  # read with what the database holds, not what was cached
    assert (await load_worker(runtime, tenant_id, worker_id)).name == "李四"


# --- users: sealed e-mail and the blind index ----------------------------------------------


async def test_email_is_sealed_and_sign_in_still_works(runtime: Runtime) -> None:
    address = f"Mixed.{unique('m')}@Example.CN"
    async with runtime.sessions() as session, session.begin():
        user = await auth_service.create_user(
            session=session, email=address, password=PASSWORD, actor=Actor.system(), log2_n=10
        )
    row = await raw_row(runtime, "users", user.id)
    assert not any(holds(v, address.lower()) or holds(v, address) for v in row.values())
    assert len(bytes(row["email_index"])) == 32
    assert "email" not in row

    token = await auth_service.unscoped_login_in_own_transaction(
        sessions=runtime.sessions,
        codec=runtime.tokens,
        email=address.upper(),
        password=PASSWORD,
        log2_n=10,
    )
    principal = await auth_service.unscoped_resolve_token(
        sessions=runtime.sessions, codec=runtime.tokens, authz=runtime.authz, token=token
    )
    assert principal.email == address.lower()


async def test_email_stays_unique(runtime: Runtime) -> None:
    address = f"dup.{unique('d')}@example.cn"
    async with runtime.sessions() as session, session.begin():
        await auth_service.create_user(
            session=session, email=address, password=None, actor=Actor.system(), log2_n=10
        )
    async with runtime.sessions() as session, session.begin():
        with pytest.raises(Conflict, match="already exists"):
            await auth_service.create_user(
                session=session,
                email=f"  {address.upper()} ",
                password=None,
                actor=Actor.system(),
                log2_n=10,
            )
    # Below the service: the database itself refuses a second row with the same address.
    async with runtime.sessions() as session:
        await session.begin()
        session.add(User(email=address))
        with pytest.raises(IntegrityError):
            await session.flush()
        await session.rollback()


async def test_lookup_by_an_unknown_email_finds_nothing(runtime: Runtime, world: World) -> None:
    async with runtime.sessions() as session:
        known = await session.scalar(
            select(User.id).where(await User.email.matches(session, world.a.users["owner"]))
        )
        unknown = await session.scalar(
            select(User.id).where(await User.email.matches(session, "nobody@example.cn"))
        )
    assert known is not None and unknown is None


# --- crypto-shredding ----------------------------------------------------------------------


async def test_destroying_a_tenant_key_shreds_only_that_tenant(runtime: Runtime) -> None:
    doomed, doomed_owner = await new_tenant(runtime, "shred")
    kept, _ = await new_tenant(runtime, "keep")
    doomed_worker = await add_worker(runtime, doomed, "周七", mobile="13800000077")
    kept_worker = await add_worker(runtime, kept, "吴八", mobile="13800000088")

    # Another process's store, which cached the key before the destruction.
    now = [0.0]
    other = KeyStore(load_keyring(runtime.settings.master_key_file), clock=lambda: now[0])
    other_sessions = bind_key_store(make_sessionmaker(runtime.engine), other)
    async with scoped_session(other_sessions, Scope.for_tenant(doomed)) as session:
        assert (await session.get(Worker, doomed_worker)).name == "周七"  # type: ignore[union-attr]

    async with unscoped_session(runtime.sessions) as session, session.begin():
        assert (
            await destroy_tenant_key(session=session, tenant_id=doomed, actor=Actor.system()) == 1
        )

    gone = await load_worker(runtime, doomed, doomed_worker)
    assert gone.employee_number  # plaintext columns are unaffected
    with pytest.raises(DataKeyDestroyed, match="crypto-shredded"):
        _ = gone.name
    with pytest.raises(DataKeyDestroyed):
        _ = gone.mobile
    fine = await load_worker(runtime, kept, kept_worker)
    assert (fine.name, fine.mobile) == ("吴八", "13800000088")
    with pytest.raises(DataKeyDestroyed):
        await add_worker(runtime, doomed, "新人")
    # The owner's account is platform data: still there, still able to sign in.
    assert await auth_service.unscoped_login_in_own_transaction(
        sessions=runtime.sessions,
        codec=runtime.tokens,
        email=doomed_owner,
        password=PASSWORD,
        log2_n=10,
    )

    # The other process reads from its cache until the entry expires, then not at all.
    async with scoped_session(other_sessions, Scope.for_tenant(doomed)) as session:
        assert (await session.get(Worker, doomed_worker)).name == "周七"  # type: ignore[union-attr]
    now[0] += 301
    async with scoped_session(other_sessions, Scope.for_tenant(doomed)) as session:
        stale = await session.get(Worker, doomed_worker)
    with pytest.raises(DataKeyDestroyed):
        _ = stale.name  # type: ignore[union-attr]

    async with unscoped_session(runtime.sessions) as session:
        keys = (
            await session.scalars(select(TenantDataKey).where(TenantDataKey.tenant_id == doomed))
        ).all()
        audited = await session.scalar(
            select(AuditEntry.detail).where(
                AuditEntry.action == "tenant.data_key_destroyed",
                AuditEntry.object_id == str(doomed),
            )
        )
    assert [(k.wrapped_key, k.master_version, k.destroyed_at is not None) for k in keys] == [
        (None, None, True)
    ]
    assert audited == {"versions": 1}


async def test_a_tenant_shredded_before_any_key_gets_none(runtime: Runtime) -> None:
    tenant_id, _ = await new_tenant(runtime, "empty")
    async with unscoped_session(runtime.sessions) as session, session.begin():
        assert (
            await destroy_tenant_key(session=session, tenant_id=tenant_id, actor=Actor.system())
            == 0
        )
    with pytest.raises(DataKeyDestroyed):
        await add_worker(runtime, tenant_id, "无")


# --- the migration seals existing rows -----------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def at_0007(
    request: pytest.FixtureRequest, tmp_path: Path, chdb_dir: Path
) -> AsyncIterator[Runtime]:
    url = create_pg_database(PG_ADMIN_URL) if request.param == "postgres" else None
    overrides = {} if url is None else {"ANJIAN_DATABASE_URL": url}
    rt = Runtime(make_settings(tmp_path, chdb_dir, **overrides))
    upgrade_relational(owner_engine=rt.owner_engine, keyring=rt.keyring, target="0007")
    try:
        yield rt
    finally:
        await rt.close()
        if url is not None:
            drop_pg_database(PG_ADMIN_URL, url)


def alembic(rt: Runtime, action: str, target: str, *, with_keyring: bool = True) -> None:
    config = alembic_config()
    with rt.owner_engine.begin() as connection:
        config.attributes["connection"] = connection
        if with_keyring:
            config.attributes["keyring"] = rt.keyring
        getattr(command, action)(config, target)


def plaintext_rows(rt: Runtime, ids: dict[str, uuid.UUID]) -> None:
    """A tenant, a site, a worker with a device, a user with a membership and a session, in
    the plaintext schema of revision 0007."""
    tenant = ids["tenant"]
    rows: list[tuple[str, dict[str, Any]]] = [
        (
            "tenants",
            {
                "id": tenant,
                "name": "旧租户",
                "industry": "chemical",
                "division_code": "320100",
                "status": "active",
            },
        ),
        (
            "sites",
            {
                "id": ids["site"],
                "tenant_id": tenant,
                "name": "一厂",
                "division_code": "320102",
                "industry": "chemical",
            },
        ),
        (
            "workers",
            {
                "id": ids["worker"],
                "tenant_id": tenant,
                "name": "郑九",
                "mobile": "13800000099",
                "employee_number": "E-9",
                "site_id": ids["site"],
            },
        ),
        (
            "devices",
            {
                "id": ids["device"],
                "tenant_id": tenant,
                "site_id": ids["site"],
                "name": "手环",
                "token_hash": b"\x00" * 32,
                "worker_id": ids["worker"],
            },
        ),
        ("users", {"id": ids["user"], "email": "old.user@example.cn", "disabled": False}),
        (
            "memberships",
            {
                "id": ids["membership"],
                "user_id": ids["user"],
                "domain": f"tenant:{tenant}",
                "role": "owner",
            },
        ),
        ("auth_sessions", {"id": ids["session"], "user_id": ids["user"]}),
    ]
    with rt.owner_engine.begin() as conn:
        for table, values in rows:
            values = {**values, "created_at": utcnow()}
            if table == "auth_sessions":
                values["expires_at"] = utcnow()
            columns = [
                sa.column(k, sa.Uuid() if isinstance(v, uuid.UUID) else UTCDateTime())
                if isinstance(v, uuid.UUID | datetime)
                else sa.column(k)
                for k, v in values.items()
            ]
            conn.execute(sa.table(table, *columns).insert().values(values))


async def test_migration_seals_existing_rows_and_downgrade_opens_them(at_0007: Runtime) -> None:
    ids = {
        k: uuid.uuid4()
        for k in ("tenant", "site", "worker", "device", "user", "membership", "session")
    }
    plaintext_rows(at_0007, ids)
    with pytest.raises(ConfigurationError, match="keyring"):
        alembic(at_0007, "upgrade", "0008", with_keyring=False)

    alembic(at_0007, "upgrade", "0008")
    with at_0007.owner_engine.connect() as conn:
        worker = conn.execute(text("SELECT * FROM workers")).mappings().one()
        user = conn.execute(text("SELECT * FROM users")).mappings().one()
        # Nothing hanging off the rebuilt tables was lost to a cascade.
        linked = conn.execute(
            text("SELECT count(*) FROM devices WHERE worker_id IS NOT NULL")
        ).scalar()
        members = conn.execute(text("SELECT count(*) FROM memberships")).scalar()
        sessions = conn.execute(text("SELECT count(*) FROM auth_sessions")).scalar()
        assert (linked, members, sessions) == (1, 1, 1)
        assert not any(holds(v, "郑九") or holds(v, "13800000099") for v in worker.values())
        assert not any(holds(v, "old.user") for v in user.values())
        sealer = RowSealer.for_connection(KeyStore(at_0007.keyring), conn)
        assert (
            sealer.open("workers", "name", ids["tenant"], ids["worker"], worker["name_enc"])
            == "郑九"
        )
        assert worker["id_number_enc"] is None
        assert (
            sealer.open("users", "email", None, ids["user"], user["email_enc"])
            == "old.user@example.cn"
        )
        assert bytes(user["email_index"]) == sealer.index(
            None, "users.email", "old.user@example.cn"
        )

    alembic(at_0007, "downgrade", "0007")
    with at_0007.owner_engine.connect() as conn:
        worker = conn.execute(text("SELECT name, mobile, id_number FROM workers")).one()
        email = conn.execute(text("SELECT email FROM users")).scalar()
        members = conn.execute(text("SELECT count(*) FROM memberships")).scalar()
        linked = conn.execute(
            text("SELECT count(*) FROM devices WHERE worker_id IS NOT NULL")
        ).scalar()
    assert tuple(worker) == ("郑九", "13800000099", None)
    assert (email, members, linked) == ("old.user@example.cn", 1, 1)


async def test_concurrent_first_writers_share_one_tenant_key(runtime: Runtime) -> None:
    tenant_id, _ = await new_tenant(runtime, "race")
    ids = await asyncio.gather(*(add_worker(runtime, tenant_id, f"并发{i}") for i in range(4)))
    runtime.keys.forget_all()
    async with unscoped_session(runtime.sessions) as session:
        versions = (
            await session.scalars(
                select(TenantDataKey.version).where(TenantDataKey.tenant_id == tenant_id)
            )
        ).all()
    assert versions == [1]
    names = {(await load_worker(runtime, tenant_id, w)).name for w in ids}
    assert names == {f"并发{i}" for i in range(4)}


async def test_membership_join_still_reads_the_address(runtime: Runtime, world: World) -> None:
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(Membership.role, User)
                .join(User, User.id == Membership.user_id)
                .where(Membership.domain == f"tenant:{world.a.tenant_id}")
            )
        ).all()
    # Other tests add members to the shared tenant: the world's own must all read back.
    readable = {(role, user.email) for role, user in rows}
    assert {(role, email.lower()) for role, email in world.a.users.items()} <= readable

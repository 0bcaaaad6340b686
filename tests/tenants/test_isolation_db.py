"""Tenant isolation below GraphQL: the scoped session guard and PostgreSQL row-level security.

The session guard adds the scope's criterion to every ORM query of a tenant-owned class and
checks the tenant of every insert; a session without a scope refuses tenant-owned work. On
PostgreSQL the app engine works as the non-owner role ``anjian_app`` and RLS policies read the
per-transaction ``anjian.tenant_ids`` setting, so raw SQL that escapes the guard sees nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import delete, exc, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from backend.core.errors import ScopeRequired
from backend.runtime import Runtime
from backend.telemetry.models import Device, Sensor
from tenants.models import Industry, Site, Subscription, Worker, Zone
from tenants.scope import Scope, scoped_session, unscoped_session
from tests.factories import TenantWorld, World, unique

MODELS: dict[str, type[Any]] = {
    "sites": Site,
    "zones": Zone,
    "subscriptions": Subscription,
    "workers": Worker,
    "devices": Device,
    "sensors": Sensor,
}


async def one_id(rt: Runtime, tenant: TenantWorld, model: type[Any]) -> uuid.UUID:
    """One row id of ``model`` owned by ``tenant``, read through the tenant's own scope."""
    known = {
        Site: tenant.site_id,
        Zone: tenant.zone_id,
        Worker: tenant.worker_id,
        Device: tenant.device_id,
        Sensor: tenant.sensor_ids["GT-101"],
    }
    if model in known:
        return known[model]
    async with scoped_session(rt.sessions, Scope.for_tenant(tenant.tenant_id)) as session:
        found = await session.scalar(select(model.id).where(model.site_id == tenant.site_id))
    assert found is not None
    return found


def new_row(model: type[Any], tenant: TenantWorld, tag: str) -> Any:
    """A valid row of ``model`` for ``tenant`` (named ``tag`` where the model has a name)."""
    site, device = tenant.site_id, tenant.device_id
    builders: dict[type[Any], Callable[[], Any]] = {
        Site: lambda: Site(
            tenant_id=tenant.tenant_id,
            name=tag,
            division_code=tenant.division,
            industry=Industry.CHEMICAL,
        ),
        Zone: lambda: Zone(tenant_id=tenant.tenant_id, site_id=site, name=tag),
        # A second subscription of the site breaks a unique constraint: the guard or RLS
        # must refuse the row before the database gets to say so.
        Subscription: lambda: Subscription(
            tenant_id=tenant.tenant_id, site_id=site, plan_code="basic", retention_days=30
        ),
        Worker: lambda: Worker(tenant_id=tenant.tenant_id, name=tag, employee_number=tag[:32]),
        Device: lambda: Device(
            tenant_id=tenant.tenant_id, site_id=site, name=tag, token_hash=os.urandom(32)
        ),
        Sensor: lambda: Sensor(
            tenant_id=tenant.tenant_id,
            site_id=site,
            device_id=device,
            code=tag[:64],
            kind="temperature",
            unit="°C",
            min_value=-40.0,
            max_value=125.0,
        ),
    }
    return builders[model]()


def scoped(rt: Runtime, tenant: TenantWorld) -> AsyncSession:
    return scoped_session(rt.sessions, Scope.for_tenant(tenant.tenant_id))


async def ids_of(rt: Runtime, tenant: TenantWorld, model: type[Any]) -> set[uuid.UUID]:
    async with scoped(rt, tenant) as session:
        return set(
            await session.scalars(select(model.id).where(model.tenant_id == tenant.tenant_id))
        )


# --- the session guard (both backends) -----------------------------------------------------


@pytest.mark.parametrize("table", list(MODELS))
async def test_scoped_select_returns_only_own_rows(
    runtime: Runtime, world: World, table: str
) -> None:
    model = MODELS[table]
    async with scoped(runtime, world.a) as session:
        rows = (await session.scalars(select(model))).all()
        columns = (await session.execute(select(model.id, model.tenant_id))).all()
        counted = await session.scalar(select(func.count(model.id)))
    assert rows, f"A should own {table}"
    assert {r.tenant_id for r in rows} == {world.a.tenant_id}
    assert {t for _, t in columns} == {world.a.tenant_id}
    assert counted == len(rows)


@pytest.mark.parametrize("table", list(MODELS))
async def test_lookup_of_other_tenants_id_finds_nothing(
    runtime: Runtime, world: World, table: str
) -> None:
    model = MODELS[table]
    b_id = await one_id(runtime, world.b, model)
    async with scoped(runtime, world.a) as session:
        assert await session.scalar(select(model).where(model.id == b_id)) is None
        assert await session.scalar(select(model.id).where(model.id == b_id)) is None
        assert await session.get(model, b_id) is None


async def test_joins_and_subqueries_are_scoped(runtime: Runtime, world: World) -> None:
    async with scoped(runtime, world.a) as session:
        joined = await session.execute(
            select(Sensor.id, Device.tenant_id).join(Device, Sensor.device_id == Device.id)
        )
        tenants = {t for _, t in joined}
        via_subquery = await session.scalars(
            select(Site.id).where(Site.id.in_(select(Zone.site_id)))
        )
        b_zone_sites = await session.scalars(
            select(Zone.id).where(
                Zone.site_id.in_(select(Site.id).where(Site.id == world.b.site_id))
            )
        )
        sites = set(via_subquery)
        b_zones = list(b_zone_sites)
    assert tenants == {world.a.tenant_id}
    assert world.a.site_id in sites and world.b.site_id not in sites
    assert b_zones == []


@pytest.mark.parametrize("table", list(MODELS))
async def test_insert_for_other_tenant_raises_scope_required(
    runtime: Runtime, world: World, table: str
) -> None:
    model = MODELS[table]
    before = await ids_of(runtime, world.b, model)
    async with scoped(runtime, world.a) as session:
        await session.begin()
        session.add(new_row(model, world.b, unique("intruder")))
        with pytest.raises(ScopeRequired):
            await session.flush()
        await session.rollback()
    assert await ids_of(runtime, world.b, model) == before


@pytest.mark.parametrize("table", list(MODELS))
async def test_unscoped_session_refuses_tenant_owned_queries(
    runtime: Runtime, world: World, table: str
) -> None:
    model = MODELS[table]
    async with runtime.sessions() as session:
        with pytest.raises(ScopeRequired):
            await session.execute(select(model))
        with pytest.raises(ScopeRequired):
            await session.execute(select(model.id).where(model.tenant_id == world.b.tenant_id))


@pytest.mark.parametrize("table", list(MODELS))
async def test_unscoped_session_refuses_inserts(runtime: Runtime, world: World, table: str) -> None:
    async with runtime.sessions() as session:
        await session.begin()
        session.add(new_row(MODELS[table], world.a, unique("orphan")))
        with pytest.raises(ScopeRequired):
            await session.flush()
        await session.rollback()


async def test_bulk_update_and_delete_cannot_touch_other_tenant(
    runtime: Runtime, world: World
) -> None:
    async with scoped(runtime, world.a) as session:
        await session.begin()
        try:
            revoked = await session.execute(
                update(Device)
                .where(Device.id == world.b.device_id)
                .values(revoked_at=func.now())
                .execution_options(synchronize_session=False)
            )
            removed = await session.execute(
                delete(Zone)
                .where(Zone.id == world.b.zone_id)
                .execution_options(synchronize_session=False)
            )
            counts = (revoked.rowcount, removed.rowcount)  # type: ignore[attr-defined]
        finally:
            await session.rollback()
    assert counts == (0, 0)


# --- PostgreSQL row-level security ---------------------------------------------------------


@pytest.fixture
async def pg(runtime: Runtime) -> AsyncIterator[AsyncConnection]:
    """A raw connection of the app engine, in a transaction that is always rolled back."""
    if not runtime.settings.is_postgres:
        pytest.skip("row-level security exists on PostgreSQL only")
    async with runtime.engine.connect() as conn:
        try:
            yield conn
        finally:
            await conn.rollback()


async def set_tenants(conn: AsyncConnection, *tenants: uuid.UUID) -> None:
    ids = ",".join(str(t) for t in tenants)
    await conn.execute(text("SELECT set_config('anjian.tenant_ids', :ids, true)"), {"ids": ids})


async def tenants_in(conn: AsyncConnection, table: str) -> list[uuid.UUID]:
    rows = await conn.execute(text(f"SELECT tenant_id FROM {table}"))  # table names are fixed
    return [r[0] for r in rows]


async def test_app_engine_is_the_non_owner_role(pg: AsyncConnection) -> None:
    assert await pg.scalar(text("SELECT current_user")) == "anjian_app"
    row = (
        await pg.execute(
            text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        )
    ).one()
    assert tuple(row) == (False, False)


@pytest.mark.parametrize("table", list(MODELS))
async def test_raw_select_without_scope_sees_no_rows(
    pg: AsyncConnection, world: World, table: str
) -> None:
    assert await tenants_in(pg, table) == []
    # The rows exist: both tenants in the setting see both.
    await set_tenants(pg, world.a.tenant_id, world.b.tenant_id)
    assert {world.a.tenant_id, world.b.tenant_id} <= set(await tenants_in(pg, table))


@pytest.mark.parametrize("table", list(MODELS))
async def test_raw_select_with_tenant_setting_sees_only_that_tenant(
    pg: AsyncConnection, world: World, table: str
) -> None:
    await set_tenants(pg, world.a.tenant_id)
    seen = await tenants_in(pg, table)
    assert seen and set(seen) == {world.a.tenant_id}


@pytest.mark.parametrize("table", list(MODELS))
async def test_raw_insert_for_other_tenant_violates_rls(
    pg: AsyncConnection, world: World, table: str
) -> None:
    model = MODELS[table]
    row = new_row(model, world.b, unique("intruder"))
    values = {c.key: getattr(row, c.key) for c in model.__table__.columns if c.key != "id"}
    values = {k: v for k, v in values.items() if v is not None}
    await set_tenants(pg, world.a.tenant_id)
    with pytest.raises(exc.DBAPIError, match="row-level security"):
        await pg.execute(model.__table__.insert().values(id=uuid.uuid4(), **values))


async def test_raw_update_and_delete_touch_no_foreign_rows(
    pg: AsyncConnection, world: World
) -> None:
    revoke = text("UPDATE devices SET revoked_at = now() WHERE id = :d")
    drop = text("DELETE FROM zones WHERE id = :z")
    # No scope at all: not even a blanket statement reaches a row.
    assert (await pg.execute(text("UPDATE devices SET revoked_at = now()"))).rowcount == 0
    assert (await pg.execute(text("DELETE FROM zones"))).rowcount == 0
    await set_tenants(pg, world.a.tenant_id)
    assert (await pg.execute(revoke, {"d": world.b.device_id})).rowcount == 0
    assert (await pg.execute(drop, {"z": world.b.zone_id})).rowcount == 0


async def test_tenant_setting_ends_with_its_transaction(runtime: Runtime, world: World) -> None:
    if not runtime.settings.is_postgres:
        pytest.skip("row-level security exists on PostgreSQL only")
    # A scoped ORM session leaves its pooled connection behind with nothing in scope.
    async with scoped(runtime, world.a) as session:
        assert (await session.scalars(select(Site))).all()
    async with runtime.engine.connect() as conn:
        await set_tenants(conn, world.a.tenant_id)
        assert await tenants_in(conn, "sites")
        await conn.commit()
        assert await tenants_in(conn, "sites") == []
        await conn.rollback()


@pytest.mark.parametrize("model", [Zone, Device], ids=["zones", "devices"])
async def test_database_refuses_a_row_on_another_tenants_site(
    runtime: Runtime, world: World, model: type[Any]
) -> None:
    """Below the session guard: the composite foreign key ties a row's site to its tenant."""
    row = new_row(model, world.a, unique("cross"))
    row.site_id = world.b.site_id  # A's row pointing at B's site
    async with unscoped_session(runtime.sessions) as session:
        session.add(row)
        with pytest.raises(exc.IntegrityError):
            await session.commit()

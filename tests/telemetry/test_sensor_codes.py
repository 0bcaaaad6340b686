"""Sensor codes are unique per site: registration refuses a code the site already uses, and
migration 0012 refuses to run over existing duplicates, naming them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from backend.auth.principal import Principal
from backend.core.errors import ConfigurationError, Conflict
from backend.migrate import downgrade_relational, head_revision, seed, upgrade_relational
from backend.runtime import Runtime
from backend.telemetry.kinds import parse_sensors
from backend.telemetry.models import Sensor
from backend.telemetry.service import add_sensors, create_device
from tenants.scope import Scope, scoped_session
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database, make_settings
from tests.factories import World, build_world, unique


async def register(
    rt: Runtime, tenant_id: uuid.UUID, site_id: uuid.UUID, codes: list[str]
) -> uuid.UUID:
    scope = Scope.for_tenant(tenant_id)
    async with scoped_session(rt.sessions, scope) as session, session.begin():
        created = await create_device(
            session=session,
            authz=rt.authz,
            principal=Principal.system(scope),
            site_id=site_id,
            name=unique("device"),
            sensors=parse_sensors(
                [{"code": c, "kind": "temperature", "unit": "°C"} for c in codes]
            ),
        )
    return created.device.id


async def test_a_second_device_with_a_code_of_the_site_is_refused(
    runtime: Runtime, world: World
) -> None:
    a = world.a
    with pytest.raises(Conflict) as refused:
        await register(runtime, a.tenant_id, a.site_id, [unique("OK"), "GT-101"])
    assert "GT-101" in refused.value.message
    assert str(a.device_id) in refused.value.message  # names the device that holds it
    # Nothing of the refused device was kept; another tenant's site may use the same code.
    async with scoped_session(runtime.sessions, Scope.for_tenant(a.tenant_id)) as session:
        held = await session.scalar(
            select(func.count())
            .select_from(Sensor)
            .where(Sensor.site_id == a.site_id, Sensor.code == "GT-101")
        )
    assert held == 1
    await register(runtime, world.b.tenant_id, world.b.site_id, [unique("B")])


async def test_adding_a_code_of_the_site_to_another_device_is_refused(
    runtime: Runtime, world: World
) -> None:
    a = world.a
    device = await register(runtime, a.tenant_id, a.site_id, [unique("T")])
    scope = Scope.for_tenant(a.tenant_id)
    with pytest.raises(Conflict) as refused:
        async with scoped_session(runtime.sessions, scope) as session, session.begin():
            await add_sensors(
                session=session,
                authz=runtime.authz,
                principal=Principal.system(scope),
                device_id=device,
                sensors=parse_sensors([{"code": "TT-201", "kind": "temperature", "unit": "°C"}]),
            )
    assert "TT-201" in refused.value.message


# --- migration 0012 over existing duplicates ----------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def fresh(
    request: pytest.FixtureRequest, tmp_path: Path, chdb_dir: Path
) -> AsyncIterator[Runtime]:
    url = create_pg_database(PG_ADMIN_URL) if request.param == "postgres" else None
    overrides = {} if url is None else {"ANJIAN_DATABASE_URL": url}
    rt = Runtime(make_settings(tmp_path, chdb_dir, **overrides))
    try:
        yield rt
    finally:
        await rt.close()
        if url is not None:
            drop_pg_database(PG_ADMIN_URL, url)


async def test_migration_refuses_duplicate_codes_and_names_them(fresh: Runtime) -> None:
    upgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring)
    seed(owner_engine=fresh.owner_engine)
    world = await build_world(fresh)
    a = world.a
    second = await register(fresh, a.tenant_id, a.site_id, ["XX-1"])
    downgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring, target="0011")
    pg = fresh.owner_engine.dialect.name == "postgresql"

    def key(value: uuid.UUID) -> object:
        return value if pg else value.hex

    with fresh.owner_engine.begin() as conn:
        # What 0011 allowed: the second device also measures a point called GT-101.
        conn.execute(
            text("UPDATE sensors SET code = 'GT-101' WHERE device_id = :d"), {"d": key(second)}
        )
        counts = conn.execute(text("SELECT count(*) FROM alarm_rules")).scalar_one()
    with pytest.raises(ConfigurationError) as refused:
        upgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring)
    message = refused.value.message
    assert "GT-101" in message and str(a.site_id) in message
    assert str(a.device_id) in message and str(second) in message
    assert "anjian migrate" in message
    with fresh.owner_engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0011"
    # Once the operator gives the point its own code the upgrade goes through, keeping rows.
    with fresh.owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE sensors SET code = 'GT-102' WHERE device_id = :d"), {"d": key(second)}
        )
    assert upgrade_relational(owner_engine=fresh.owner_engine, keyring=fresh.keyring) == (
        "0011",
        head_revision(),
    )
    with fresh.owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alarm_rules")).scalar_one() == counts
        assert conn.execute(text("SELECT count(*) FROM sensors")).scalar_one() == 5

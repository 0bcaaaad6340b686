"""Regulators see by jurisdiction and change nothing; the platform sees tenants, not their data.

Tenant A's site lies in 320102 (Nanjing, 320100), B's in 320505 (Suzhou, 320500); both are in
Jiangsu (320000).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from backend.auth.models import Membership
from backend.runtime import Runtime
from backend.telemetry.models import Device, Sensor
from tenants.models import Site, Subscription, Tenant, Worker, Zone
from tenants.scope import Scope, scoped_session
from tests.factories import PASSWORD, TenantWorld, World, unique
from tests.graphql import GraphQLClient, Result

SENSOR = [{"code": "R-1", "kind": "temperature", "unit": "°C"}]
SITES = "{ sites { id name divisionCode sensors { id code kind unit } } }"
# division -> (sees A's site, sees B's site)
REACH = {"320000": (True, True), "320100": (True, False), "320500": (False, True)}


async def tenant_state(rt: Runtime, tenant_id: uuid.UUID) -> dict[str, Any]:
    state: dict[str, Any] = {}
    async with scoped_session(rt.sessions, Scope.for_tenant(tenant_id)) as session:
        for model in (Site, Zone, Subscription, Worker, Device, Sensor):
            ids = await session.scalars(select(model.id).where(model.tenant_id == tenant_id))
            state[model.__tablename__] = sorted(str(i) for i in ids)
        revoked = await session.execute(select(Device.id, Device.revoked_at))
        state["revoked"] = sorted((str(i), str(r)) for i, r in revoked)
        members = await session.execute(
            select(Membership.user_id, Membership.role).where(
                Membership.domain == f"tenant:{tenant_id}"
            )
        )
        state["members"] = sorted((str(u), r) for u, r in members)
    return state


def tenant_of(world: World, label: str) -> TenantWorld:
    return world.a if label == "A" else world.b


def site_ids(result: Result) -> set[str]:
    assert result.code is None, result.body
    return {s["id"] for s in result.data["sites"]}


# --- regulators ----------------------------------------------------------------------------


@pytest.mark.parametrize("division", list(REACH))
async def test_director_sees_sites_in_its_jurisdiction(
    api: GraphQLClient, world: World, division: str
) -> None:
    result = await api.query(SITES, as_user=world.regulators[division])
    ids = site_ids(result)
    sees_a, sees_b = REACH[division]
    assert (str(world.a.site_id) in ids, str(world.b.site_id) in ids) == (sees_a, sees_b)
    for site in result.data["sites"]:
        assert site["divisionCode"].startswith(division.rstrip("0")), site
        if site["id"] in (str(world.a.site_id), str(world.b.site_id)):
            assert {s["code"] for s in site["sensors"]} >= {"GT-101", "TT-201"}


@pytest.mark.parametrize("division", list(REACH))
@pytest.mark.parametrize("label", ["A", "B"])
async def test_director_site_by_id_follows_jurisdiction(
    api: GraphQLClient, world: World, division: str, label: str
) -> None:
    target = tenant_of(world, label)
    result = await api.query(
        "query($id: ID!) { site(id: $id) { id name zones { name } } }",
        {"id": str(target.site_id)},
        as_user=world.regulators[division],
    )
    if REACH[division][label == "B"]:
        assert result.code is None, result.body
        assert result.data["site"]["id"] == str(target.site_id)
    else:
        assert result.code == "NOT_FOUND", result.body
        assert result.data is None or result.data.get("site") is None


@pytest.mark.parametrize("division", list(REACH))
@pytest.mark.parametrize("label", ["A", "B"])
async def test_director_telemetry_follows_jurisdiction(
    api: GraphQLClient, world: World, division: str, label: str
) -> None:
    """Directors hold ``telemetry read``: a sensor they can see answers, others are hidden."""
    target = tenant_of(world, label)
    result = await api.query(
        'query($s: ID!) { telemetry(sensorId: $s, from: "2026-01-01T00:00:00Z",'
        ' to: "2026-01-02T00:00:00Z", bucketSeconds: 3600) { ts count } }',
        {"s": str(target.sensor_ids["GT-101"])},
        as_user=world.regulators[division],
    )
    if REACH[division][label == "B"]:
        assert result.code is None, result.body
        assert isinstance(result.data["telemetry"], list)
    else:
        assert result.code == "NOT_FOUND", result.body


MUTATIONS = {
    "createZone": (
        "mutation($site: ID!, $n: String!) { createZone(siteId: $site, name: $n) { id } }",
        lambda t: {"site": str(t.site_id), "n": unique("gov-zone")},
    ),
    "createDevice": (
        "mutation($site: ID!, $n: String!, $x: [SensorInput!]!) {"
        " createDevice(siteId: $site, name: $n, sensors: $x) { device { id } } }",
        lambda t: {"site": str(t.site_id), "n": unique("gov-device"), "x": SENSOR},
    ),
    "addSensors": (
        "mutation($d: ID!, $x: [SensorInput!]!) { addSensors(deviceId: $d, sensors: $x) { id } }",
        lambda t: {"d": str(t.device_id), "x": SENSOR},
    ),
    "revokeDevice": (
        "mutation($d: ID!) { revokeDevice(deviceId: $d) { revoked } }",
        lambda t: {"d": str(t.device_id)},
    ),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
@pytest.mark.parametrize(
    ("division", "label", "code"),
    [
        ("320000", "A", "FORBIDDEN"),
        ("320000", "B", "FORBIDDEN"),
        ("320100", "A", "FORBIDDEN"),
        ("320100", "B", "NOT_FOUND"),
        ("320500", "A", "NOT_FOUND"),
        ("320500", "B", "FORBIDDEN"),
    ],
)
async def test_director_cannot_change_enterprise_objects(
    api: GraphQLClient,
    world: World,
    runtime: Runtime,
    mutation: str,
    division: str,
    label: str,
    code: str,
) -> None:
    """FORBIDDEN on what the regulator sees, NOT_FOUND on what it does not; nothing changes."""
    target = tenant_of(world, label)
    query, variables = MUTATIONS[mutation]
    before = await tenant_state(runtime, target.tenant_id)
    result = await api.query(query, variables(target), as_user=world.regulators[division])
    assert result.code == code, result.body
    assert (result.data or {}).get(mutation) is None
    assert await tenant_state(runtime, target.tenant_id) == before


@pytest.mark.parametrize(
    ("mutation", "query"),
    [
        (
            "createWorker",
            'mutation($t: ID!) { createWorker(tenantId: $t, name: "王五",'
            ' employeeNumber: "GOV-1") { id } }',
        ),
        (
            "createSite",
            'mutation($t: ID!) { createSite(tenantId: $t, name: "监管新厂",'
            ' divisionCode: "320102") { id } }',
        ),
        (
            "inviteUser",
            'mutation($t: String!) { inviteUser(domain: $t, email: "gov.intruder@example.cn",'
            ' role: "owner") { email } }',
        ),
    ],
)
async def test_director_cannot_act_inside_a_tenant(
    api: GraphQLClient, world: World, runtime: Runtime, mutation: str, query: str
) -> None:
    tenant = str(world.a.tenant_id)
    before = await tenant_state(runtime, world.a.tenant_id)
    variables = {"t": f"tenant:{tenant}" if mutation == "inviteUser" else tenant}
    result = await api.query(query, variables, as_user=world.regulators["320000"])
    assert result.code in ("NOT_FOUND", "FORBIDDEN"), result.body
    assert (result.data or {}).get(mutation) is None
    assert await tenant_state(runtime, world.a.tenant_id) == before


async def test_director_does_not_list_workers(api: GraphQLClient, world: World) -> None:
    """Regulators see people only through the privacy pipeline, never the worker list."""
    result = await api.query("{ workers { id } }", as_user=world.regulators["320000"])
    assert result.code is None, result.body
    assert result.data["workers"] == []


# --- the platform administrator -------------------------------------------------------------


async def test_platform_admin_sees_no_tenant_data(api: GraphQLClient, world: World) -> None:
    admin = world.platform_admin
    sites = await api.query(SITES, as_user=admin)
    assert sites.code is None and sites.data["sites"] == [], sites.body
    workers = await api.query("{ workers { id } }", as_user=admin)
    assert workers.code is None and workers.data["workers"] == [], workers.body
    for target in (world.a, world.b):
        site = await api.query(
            "query($id: ID!) { site(id: $id) { id name } }",
            {"id": str(target.site_id)},
            as_user=admin,
        )
        assert site.code == "NOT_FOUND", site.body
        telemetry = await api.query(
            'query($s: ID!) { telemetry(sensorId: $s, from: "2026-01-01T00:00:00Z",'
            ' to: "2026-01-02T00:00:00Z") { ts } }',
            {"s": str(target.sensor_ids["GT-101"])},
            as_user=admin,
        )
        assert telemetry.code == "NOT_FOUND", telemetry.body


@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_platform_admin_cannot_change_tenant_objects(
    api: GraphQLClient, world: World, runtime: Runtime, mutation: str
) -> None:
    query, variables = MUTATIONS[mutation]
    before = await tenant_state(runtime, world.a.tenant_id)
    result = await api.query(query, variables(world.a), as_user=world.platform_admin)
    assert result.code == "NOT_FOUND", result.body
    assert await tenant_state(runtime, world.a.tenant_id) == before


async def test_platform_admin_lists_tenants(api: GraphQLClient, world: World) -> None:
    result = await api.query(
        "{ tenants { id name divisionCode status } }", as_user=world.platform_admin
    )
    assert result.code is None, result.body
    by_id = {t["id"]: t for t in result.data["tenants"]}
    assert by_id[str(world.a.tenant_id)]["divisionCode"] == "320100"
    assert by_id[str(world.b.tenant_id)]["divisionCode"] == "320500"


CREATE_TENANT = (
    "mutation($n: String!, $e: String!, $p: String!) { createTenant(name: $n,"
    ' divisionCode: "320100", industry: "mining", ownerEmail: $e, ownerPassword: $p)'
    " { id name divisionCode status } }"
)


async def test_platform_admin_creates_a_tenant(api: GraphQLClient, world: World) -> None:
    name = unique("煤矿")
    owner = f"{unique('owner')}@example.cn"
    result = await api.query(
        CREATE_TENANT, {"n": name, "e": owner, "p": PASSWORD}, as_user=world.platform_admin
    )
    assert result.code is None, result.body
    tenant = result.data["createTenant"]
    assert (tenant["name"], tenant["divisionCode"], tenant["status"]) == (
        name,
        "320100",
        "active",
    )
    me = await api.query("{ me { memberships { domain role } } }", as_user=owner)
    assert me.code is None, me.body
    assert me.data["me"]["memberships"] == [{"domain": f"tenant:{tenant['id']}", "role": "owner"}]
    listed = await api.query("{ tenants { id } }", as_user=world.platform_admin)
    assert tenant["id"] in {t["id"] for t in listed.data["tenants"]}


@pytest.mark.parametrize("who", ["owner", "viewer", "director"])
async def test_only_the_platform_creates_tenants(
    api: GraphQLClient, world: World, runtime: Runtime, who: str
) -> None:
    caller = world.regulators["320000"] if who == "director" else world.a.users[who]
    name = unique("冒名")
    owner = f"{unique('owner')}@example.cn"
    result = await api.query(CREATE_TENANT, {"n": name, "e": owner, "p": PASSWORD}, as_user=caller)
    assert result.code == "FORBIDDEN", result.body
    assert (result.data or {}).get("createTenant") is None
    async with runtime.sessions() as session:
        assert await session.scalar(select(Tenant.id).where(Tenant.name == name)) is None
    assert (await api.login(owner)).code == "UNAUTHENTICATED"

"""What each enterprise role may do inside its own tenant, and who the caller is (``me``).

Expectations are written out here, not read from the product's role templates, so a changed
template shows up as a failing test.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from backend.auth.members import unscoped_add_member_in_own_transaction
from backend.auth.models import Membership
from backend.auth.principal import Principal
from backend.runtime import Runtime
from backend.telemetry.kinds import parse_sensors
from backend.telemetry.models import Device, Sensor
from backend.telemetry.service import create_device
from tenants.models import Site, Subscription, Worker, Zone
from tenants.scope import Scope, scoped_session
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient, Result
from tests.mailbox import invitation_token

ROLES = ("owner", "safety_manager", "operator", "viewer")
MAY = {
    "createSite": {"owner"},
    "createZone": {"owner", "safety_manager"},
    "createDevice": {"owner", "safety_manager"},
    "createWorker": {"owner", "safety_manager"},
    "addSensors": {"owner", "safety_manager"},
    "revokeDevice": {"owner", "safety_manager"},
}
MAY_GRANT = {
    "owner": set(ROLES),
    "safety_manager": {"operator", "viewer"},
    "operator": set(),
    "viewer": set(),
}
WORKER_READERS = {"owner", "safety_manager", "operator"}


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


@dataclass
class Case:
    api: GraphQLClient
    world: World
    runtime: Runtime
    role: str

    async def q(self, query: str, variables: dict[str, Any] | None = None) -> Result:
        return await self.api.query(query, variables, as_user=self.world.a.users[self.role])

    async def as_owner(self, query: str, variables: dict[str, Any] | None = None) -> Result:
        result = await self.api.query(query, variables, as_user=self.world.a.users["owner"])
        assert result.code is None, result.body
        return result

    def scoped(self) -> Any:
        return scoped_session(self.runtime.sessions, Scope.for_tenant(self.world.a.tenant_id))

    async def spare_device(self) -> uuid.UUID:
        """A device of A's site of its own, so revoking or extending it disturbs no one."""
        async with self.scoped() as session, session.begin():
            created = await create_device(
                session=session,
                authz=self.runtime.authz,
                principal=Principal.system(Scope.for_tenant(self.world.a.tenant_id)),
                site_id=self.world.a.site_id,
                name=unique("spare"),
                sensors=parse_sensors([{"code": unique("S"), "kind": "pressure", "unit": "kPa"}]),
            )
        return created.device.id

    async def a_site(self) -> dict[str, Any]:
        result = await self.as_owner(
            "query($id: ID!) { site(id: $id) { zones { name } sensors { code deviceId } } }",
            {"id": str(self.world.a.site_id)},
        )
        return result.data["site"]  # type: ignore[no-any-return]


# Each mutation returns its answer and whether its effect is visible afterwards.
# Mutations on a device get a spare device of A's, created before any snapshot is taken.
Mutation = Callable[[Case, uuid.UUID], Awaitable[tuple[Result, bool]]]
NEEDS_DEVICE = {"addSensors", "revokeDevice"}


async def m_create_site(c: Case, _device: uuid.UUID) -> tuple[Result, bool]:
    name = unique("二厂")
    result = await c.q(
        "mutation($t: ID!, $n: String!) {"
        ' createSite(tenantId: $t, name: $n, divisionCode: "320102") { id name } }',
        {"t": str(c.world.a.tenant_id), "n": name},
    )
    sites = await c.as_owner("{ sites { name } }")
    return result, name in {s["name"] for s in sites.data["sites"]}


async def m_create_zone(c: Case, _device: uuid.UUID) -> tuple[Result, bool]:
    name = unique("zone")
    result = await c.q(
        "mutation($s: ID!, $n: String!) { createZone(siteId: $s, name: $n) { id name } }",
        {"s": str(c.world.a.site_id), "n": name},
    )
    return result, name in {z["name"] for z in (await c.a_site())["zones"]}


async def m_create_device(c: Case, _device: uuid.UUID) -> tuple[Result, bool]:
    name = unique("detector")
    result = await c.q(
        "mutation($s: ID!, $n: String!, $x: [SensorInput!]!) {"
        " createDevice(siteId: $s, name: $n, sensors: $x) { device { id name } token } }",
        {
            "s": str(c.world.a.site_id),
            "n": name,
            "x": [{"code": unique("T"), "kind": "temperature"}],
        },
    )
    async with c.scoped() as session:
        found = await session.scalar(select(Device.id).where(Device.name == name))
    return result, found is not None


async def m_create_worker(c: Case, _device: uuid.UUID) -> tuple[Result, bool]:
    number = unique("W")
    result = await c.q(
        'mutation($t: ID!, $e: String!) { createWorker(tenantId: $t, name: "赵六",'
        " employeeNumber: $e) { id employeeNumber } }",
        {"t": str(c.world.a.tenant_id), "e": number},
    )
    workers = await c.as_owner("{ workers(first: 1000) { employeeNumber } }")
    return result, number in {w["employeeNumber"] for w in workers.data["workers"]}


async def m_add_sensors(c: Case, device: uuid.UUID) -> tuple[Result, bool]:
    code = unique("P")
    result = await c.q(
        "mutation($d: ID!, $x: [SensorInput!]!) { addSensors(deviceId: $d, sensors: $x)"
        " { id code } }",
        {"d": str(device), "x": [{"code": code, "kind": "pressure", "unit": "kPa"}]},
    )
    return result, code in {s["code"] for s in (await c.a_site())["sensors"]}


async def m_revoke_device(c: Case, device: uuid.UUID) -> tuple[Result, bool]:
    result = await c.q(
        "mutation($d: ID!) { revokeDevice(deviceId: $d) { id revoked } }", {"d": str(device)}
    )
    async with c.scoped() as session:
        revoked_at = await session.scalar(select(Device.revoked_at).where(Device.id == device))
    return result, revoked_at is not None


MUTATIONS: dict[str, Mutation] = {
    "createSite": m_create_site,
    "createZone": m_create_zone,
    "createDevice": m_create_device,
    "createWorker": m_create_worker,
    "addSensors": m_add_sensors,
    "revokeDevice": m_revoke_device,
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
@pytest.mark.parametrize("role", ROLES)
async def test_role_may_or_may_not_change_own_tenant(
    api: GraphQLClient, world: World, runtime: Runtime, role: str, mutation: str
) -> None:
    case = Case(api, world, runtime, role)
    device = await case.spare_device() if mutation in NEEDS_DEVICE else world.a.device_id
    before = await tenant_state(runtime, world.a.tenant_id)
    result, effect = await MUTATIONS[mutation](case, device)
    if role in MAY[mutation]:
        assert result.code is None, result.body
        assert effect, f"{role} {mutation} answered but changed nothing"
    else:
        assert result.code == "FORBIDDEN", result.body
        assert (result.data or {}).get(mutation) is None
        assert not effect
        assert await tenant_state(runtime, world.a.tenant_id) == before


@pytest.mark.parametrize("role", ROLES)
async def test_every_role_reads_own_site_and_sensors(
    api: GraphQLClient, world: World, role: str
) -> None:
    result = await api.query(
        "{ sites { id name divisionCode sensors { id code kind unit latest { ts value } } } }",
        as_user=world.a.users[role],
    )
    assert result.code is None, result.body
    sites = {s["id"]: s for s in result.data["sites"]}
    own = sites[str(world.a.site_id)]
    assert own["divisionCode"] == "320102"
    # Other tests add devices to this site: find the world device's sensors by id.
    by_id = {s["id"]: s for s in own["sensors"]}
    gas, temperature = (by_id[str(world.a.sensor_ids[c])] for c in ("GT-101", "TT-201"))
    assert (gas["code"], gas["kind"], gas["unit"]) == ("GT-101", "combustible_gas", "%LEL")
    assert (temperature["code"], temperature["kind"], temperature["unit"]) == (
        "TT-201",
        "temperature",
        "°C",
    )


async def test_contract_sites_query_answers_with_zones(api: GraphQLClient, world: World) -> None:
    """The contract's own ``sites`` query, as a viewer: sensors report the zone they are in."""
    result = await api.query(
        "{ sites { id name divisionCode sensors { id code kind unit zone latest { ts value } } } }",
        as_user=world.a.users["viewer"],
    )
    assert result.code is None, result.body
    own = next(s for s in result.data["sites"] if s["id"] == str(world.a.site_id))
    zones = {s["id"]: s["zone"] for s in own["sensors"]}
    assert zones[str(world.a.sensor_ids["GT-101"])] == "tank-farm-A"
    assert zones[str(world.a.sensor_ids["TT-201"])] is None


@pytest.mark.parametrize("role", ROLES)
async def test_worker_list_needs_worker_read(api: GraphQLClient, world: World, role: str) -> None:
    result = await api.query("{ workers(first: 1000) { id } }", as_user=world.a.users[role])
    assert result.code is None, result.body
    ids = {w["id"] for w in result.data["workers"]}
    if role in WORKER_READERS:
        assert str(world.a.worker_id) in ids
    else:
        assert ids == set()


# --- invitations ----------------------------------------------------------------------------

INVITE = (
    "mutation($d: String!, $e: String!, $r: String!) { inviteUser(domain: $d, email: $e,"
    " role: $r) { email domain role expiresAt } }"
)


@pytest.mark.parametrize("invitee", ROLES)
@pytest.mark.parametrize("inviter", ROLES)
async def test_who_may_invite_whom(
    api: GraphQLClient, world: World, runtime: Runtime, inviter: str, invitee: str
) -> None:
    domain = f"tenant:{world.a.tenant_id}"
    email = f"{unique('new')}@example.cn"
    before = await tenant_state(runtime, world.a.tenant_id)
    result = await api.query(
        INVITE, {"d": domain, "e": email, "r": invitee}, as_user=world.a.users[inviter]
    )
    if invitee not in MAY_GRANT[inviter]:
        assert result.code == "FORBIDDEN", result.body
        assert (result.data or {}).get("inviteUser") is None
        assert await tenant_state(runtime, world.a.tenant_id) == before
        assert (await api.login(email)).code == "UNAUTHENTICATED"
        return
    assert result.code is None, result.body
    invitation = result.data["inviteUser"]
    assert (invitation["email"], invitation["domain"], invitation["role"]) == (
        email,
        domain,
        invitee,
    )
    accepted = await api.query(
        "mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) }",
        {"t": await invitation_token(runtime, email), "p": PASSWORD},
    )
    assert accepted.data == {"acceptInvitation": True}, accepted.body
    me = await api.query("{ me { email memberships { domain role } } }", as_user=email)
    assert me.code is None, me.body
    assert me.data["me"] == {"email": email, "memberships": [{"domain": domain, "role": invitee}]}


async def test_safety_manager_cannot_demote_an_owner_by_inviting_it(
    api: GraphQLClient, world: World, runtime: Runtime
) -> None:
    """Re-inviting an existing member must not let a lower role rewrite a higher one's role."""
    domain = f"tenant:{world.a.tenant_id}"
    second_owner = f"{unique('owner2')}@example.cn"
    await unscoped_add_member_in_own_transaction(
        sessions=runtime.sessions,
        principal=Principal.system(),
        domain=domain,
        email=second_owner,
        role="owner",
        password=PASSWORD,
        log2_n=runtime.log2_n,
    )
    result = await api.query(
        INVITE,
        {"d": domain, "e": second_owner, "r": "viewer"},
        as_user=world.a.users["safety_manager"],
    )
    assert result.code is not None, result.body
    me = await api.query("{ me { memberships { domain role } } }", as_user=second_owner)
    assert me.data["me"]["memberships"] == [{"domain": domain, "role": "owner"}], me.body


@pytest.mark.parametrize(
    ("domain", "role"), [("platform", "platform_admin"), ("gov:320100", "director")]
)
async def test_owner_cannot_invite_outside_its_tenant(
    api: GraphQLClient, world: World, domain: str, role: str
) -> None:
    email = f"{unique('climber')}@example.cn"
    result = await api.query(
        INVITE, {"d": domain, "e": email, "r": role}, as_user=world.a.users["owner"]
    )
    assert result.code == "NOT_FOUND", result.body
    assert (await api.login(email)).code == "UNAUTHENTICATED"


# --- me -------------------------------------------------------------------------------------

ME = "{ me { email memberships { domain role } } }"


@pytest.mark.parametrize("role", ROLES)
async def test_me_for_enterprise_roles(api: GraphQLClient, world: World, role: str) -> None:
    email = world.a.users[role]
    result = await api.query(ME, as_user=email)
    assert result.code is None, result.body
    assert result.data["me"] == {
        "email": email.lower(),
        "memberships": [{"domain": f"tenant:{world.a.tenant_id}", "role": role}],
    }
    domain = result.data["me"]["memberships"][0]["domain"]
    assert re.fullmatch(
        r"tenant:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", domain
    )


@pytest.mark.parametrize("division", ["320000", "320100", "320500"])
async def test_me_for_regulators(api: GraphQLClient, world: World, division: str) -> None:
    email = world.regulators[division]
    result = await api.query(ME, as_user=email)
    assert result.code is None, result.body
    assert result.data["me"] == {
        "email": email.lower(),
        "memberships": [{"domain": f"gov:{division}", "role": "director"}],
    }


async def test_me_for_the_platform_administrator(api: GraphQLClient, world: World) -> None:
    result = await api.query(ME, as_user=world.platform_admin)
    assert result.code is None, result.body
    assert result.data["me"] == {
        "email": world.platform_admin.lower(),
        "memberships": [{"domain": "platform", "role": "platform_admin"}],
    }


@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_me_needs_a_valid_token(api: GraphQLClient, token: str | None) -> None:
    result = await api.query(ME, token=token)
    assert result.code == "UNAUTHENTICATED", result.body
    assert result.data is None

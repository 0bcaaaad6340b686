"""Tenant isolation through GraphQL: every enterprise role of tenant A against tenant B.

Each (role, operation) pair is its own test. Reading one of B's objects answers NOT_FOUND,
lists leave B's objects out, mutations aimed at B answer NOT_FOUND, and no answer carries B's
data. Afterwards B's rows, device states and memberships are exactly as before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from backend.auth.invitations import (
    unscoped_accept_invitation_in_own_transaction,
    unscoped_invite_user_in_own_transaction,
)
from backend.auth.members import unscoped_add_member_in_own_transaction
from backend.auth.models import Membership, User
from backend.auth.principal import Principal
from backend.runtime import Runtime
from backend.telemetry.models import Device, Sensor
from tenants.models import Site, Subscription, Tenant, Worker, Zone
from tenants.scope import Scope, scoped_session
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient, Result
from tests.mailbox import invitation_token

ROLES = ("owner", "safety_manager", "operator", "viewer")
# Roles that may create workers and devices in their own tenant: for them a reference to B's
# object inside their own tenant's mutation is the first thing that fails (NOT_FOUND).
CREATORS = frozenset({"owner", "safety_manager"})
TENANT_MODELS: tuple[type[Any], ...] = (Site, Zone, Subscription, Worker, Device, Sensor)
SENSOR = [{"code": "X-901", "kind": "temperature", "unit": "°C"}]


async def tenant_state(rt: Runtime, tenant_id: uuid.UUID) -> dict[str, Any]:
    """Everything of a tenant a foreign mutation could change, read through its own scope."""
    state: dict[str, Any] = {}
    async with scoped_session(rt.sessions, Scope.for_tenant(tenant_id)) as session:
        for model in TENANT_MODELS:
            ids = await session.scalars(select(model.id).where(model.tenant_id == tenant_id))
            state[model.__tablename__] = sorted(str(i) for i in ids)
        devices = await session.execute(
            select(Device.id, Device.name, Device.revoked_at).where(Device.tenant_id == tenant_id)
        )
        state["device_states"] = sorted((str(i), n, str(r)) for i, n, r in devices)
        members = await session.execute(
            select(Membership.user_id, Membership.role).where(
                Membership.domain == f"tenant:{tenant_id}"
            )
        )
        state["members"] = sorted((str(u), r) for u, r in members)
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        state["tenant"] = (tenant.name, tenant.status.value)
    return state


@dataclass(frozen=True)
class Other:
    """Tenant B as seen from outside: what must never show up in A's answers."""

    ids: frozenset[str]  # B's object ids (may be echoed in an error message the caller sent)
    secrets: frozenset[str]  # B's names, numbers, e-mails and token: never in any answer
    accepted_invitation: str  # a B invitation token that was already used
    invited_email: str


@pytest.fixture(scope="module")
async def other(api: GraphQLClient, runtime: Runtime, world: World) -> Other:
    b = world.b
    async with scoped_session(runtime.sessions, Scope.for_tenant(b.tenant_id)) as session:
        tenant = await session.get(Tenant, b.tenant_id)
        site = await session.scalar(select(Site).where(Site.id == b.site_id))
        device = await session.scalar(select(Device).where(Device.id == b.device_id))
        worker = await session.scalar(select(Worker).where(Worker.id == b.worker_id))
        subscription = await session.scalar(
            select(Subscription.id).where(Subscription.site_id == b.site_id)
        )
    assert tenant and site and device and worker and subscription
    email = f"{unique('b-invited')}@example.cn"
    await unscoped_invite_user_in_own_transaction(
        sessions=runtime.sessions,
        authz=runtime.authz,
        principal=Principal.system(),
        domain=f"tenant:{b.tenant_id}",
        email=email,
        role="viewer",
        public_url=runtime.settings.link_base,
    )
    token = await invitation_token(runtime, email)  # read from B's invitee's mailbox
    await unscoped_accept_invitation_in_own_transaction(
        sessions=runtime.sessions,
        principal=Principal.anonymous(),
        token=token,
        password=PASSWORD,
        log2_n=runtime.log2_n,
    )
    ids = {b.tenant_id, b.site_id, b.zone_id, b.device_id, b.worker_id, subscription}
    ids |= set(b.sensor_ids.values())
    secrets = {tenant.name, site.name, device.name, worker.employee_number, b.device_token}
    secrets |= {e.lower() for e in b.users.values()} | {email}
    return Other(frozenset(str(i) for i in ids), frozenset(secrets), token, email)


@dataclass
class Case:
    api: GraphQLClient
    world: World
    runtime: Runtime
    role: str
    other: Other

    @property
    def email(self) -> str:
        return self.world.a.users[self.role]

    async def q(self, query: str, variables: dict[str, Any] | None = None) -> Result:
        return await self.api.query(query, variables, as_user=self.email)

    def no_data_of_other(self, result: Result) -> None:
        data = json.dumps(result.data, ensure_ascii=False)
        errors = json.dumps(result.body.get("errors"), ensure_ascii=False)
        for marker in self.other.ids | self.other.secrets:
            assert marker not in data, f"B's {marker!r} leaked into data: {result.body}"
        for marker in self.other.secrets:
            assert marker not in errors, f"B's {marker!r} leaked into errors: {result.body}"

    def hidden(self, result: Result, field: str, code: str = "NOT_FOUND") -> None:
        assert result.code == code, result.body
        assert (result.data or {}).get(field) is None, result.body
        self.no_data_of_other(result)

    async def a_worker_numbered(self, number: str) -> bool:
        a = self.world.a.tenant_id
        async with scoped_session(self.runtime.sessions, Scope.for_tenant(a)) as session:
            found = await session.scalar(select(Worker.id).where(Worker.employee_number == number))
        return found is not None

    async def a_device_named(self, name: str) -> bool:
        a = self.world.a.tenant_id
        async with scoped_session(self.runtime.sessions, Scope.for_tenant(a)) as session:
            found = await session.scalar(select(Device.id).where(Device.name == name))
        return found is not None


# --- queries -------------------------------------------------------------------------------


async def op_site(c: Case) -> None:
    result = await c.q(
        "query($id: ID!) { site(id: $id) { id name tenantId tenant { id name }"
        " zones { id name } sensors { id code } subscription { plan } } }",
        {"id": str(c.world.b.site_id)},
    )
    c.hidden(result, "site")


async def op_sites(c: Case) -> None:
    result = await c.q(
        "{ sites { id name tenantId tenant { id name } zones { id name }"
        " sensors { id code deviceId } } }"
    )
    assert result.code is None, result.body
    assert str(c.world.a.site_id) in {s["id"] for s in result.data["sites"]}
    c.no_data_of_other(result)


async def op_workers(c: Case) -> None:
    result = await c.q("{ workers(first: 1000) { id name employeeNumber siteId } }")
    assert result.code is None, result.body
    if c.role != "viewer":  # the viewer lacks worker read (see test_roles.py)
        assert str(c.world.a.worker_id) in {w["id"] for w in result.data["workers"]}
    c.no_data_of_other(result)


async def op_workers_after(c: Case) -> None:
    """Paging from B's worker id must not open a window onto B's workers."""
    result = await c.q(
        "query($after: ID!) { workers(first: 1000, after: $after) { id employeeNumber } }",
        {"after": str(c.world.b.worker_id)},
    )
    assert result.code is None, result.body
    c.no_data_of_other(result)


async def op_tenants(c: Case) -> None:
    result = await c.q("{ tenants { id name divisionCode status } }")
    assert result.code is None, result.body
    assert str(c.world.a.tenant_id) in {t["id"] for t in result.data["tenants"]}
    c.no_data_of_other(result)


async def op_telemetry(c: Case) -> None:
    result = await c.q(
        'query($s: ID!) { telemetry(sensorId: $s, from: "2026-01-01T00:00:00Z",'
        ' to: "2026-02-01T00:00:00Z", bucketSeconds: 3600) { ts min max avg count } }',
        {"s": str(c.world.b.sensor_ids["GT-101"])},
    )
    c.hidden(result, "telemetry")


async def op_me(c: Case) -> None:
    result = await c.q("{ me { email memberships { domain role } } }")
    assert result.code is None, result.body
    domains = {m["domain"] for m in result.data["me"]["memberships"]}
    assert domains == {f"tenant:{c.world.a.tenant_id}"}
    c.no_data_of_other(result)


# --- mutations -----------------------------------------------------------------------------


async def op_create_site(c: Case) -> None:
    result = await c.q(
        "mutation($t: ID!, $n: String!) { createSite(tenantId: $t, name: $n,"
        ' divisionCode: "320505") { id name } }',
        {"t": str(c.world.b.tenant_id), "n": unique("intruder-site")},
    )
    c.hidden(result, "createSite")


async def op_create_zone(c: Case) -> None:
    result = await c.q(
        "mutation($s: ID!, $n: String!) { createZone(siteId: $s, name: $n) { id name } }",
        {"s": str(c.world.b.site_id), "n": unique("intruder-zone")},
    )
    c.hidden(result, "createZone")


async def op_create_worker(c: Case) -> None:
    result = await c.q(
        'mutation($t: ID!, $e: String!) { createWorker(tenantId: $t, name: "李四",'
        " employeeNumber: $e) { id } }",
        {"t": str(c.world.b.tenant_id), "e": unique("X")},
    )
    c.hidden(result, "createWorker")


async def op_create_worker_on_other_site(c: Case) -> None:
    number = unique("X")
    result = await c.q(
        'mutation($t: ID!, $s: ID!, $e: String!) { createWorker(tenantId: $t, name: "李四",'
        " employeeNumber: $e, siteId: $s) { id siteId } }",
        {"t": str(c.world.a.tenant_id), "s": str(c.world.b.site_id), "e": number},
    )
    c.hidden(result, "createWorker", "NOT_FOUND" if c.role in CREATORS else "FORBIDDEN")
    assert not await c.a_worker_numbered(number)


async def op_create_device(c: Case) -> None:
    result = await c.q(
        "mutation($s: ID!, $n: String!, $x: [SensorInput!]!) {"
        " createDevice(siteId: $s, name: $n, sensors: $x) { device { id } token } }",
        {"s": str(c.world.b.site_id), "n": unique("intruder-device"), "x": SENSOR},
    )
    c.hidden(result, "createDevice")


async def op_create_device_for_other_worker(c: Case) -> None:
    name = unique("wearable")
    result = await c.q(
        "mutation($s: ID!, $n: String!, $x: [SensorInput!]!, $w: ID!) {"
        " createDevice(siteId: $s, name: $n, sensors: $x, workerId: $w) { device { id } } }",
        {"s": str(c.world.a.site_id), "n": name, "x": SENSOR, "w": str(c.world.b.worker_id)},
    )
    c.hidden(result, "createDevice", "NOT_FOUND" if c.role in CREATORS else "FORBIDDEN")
    assert not await c.a_device_named(name)


async def op_add_sensors(c: Case) -> None:
    result = await c.q(
        "mutation($d: ID!, $x: [SensorInput!]!) { addSensors(deviceId: $d, sensors: $x) { id } }",
        {"d": str(c.world.b.device_id), "x": SENSOR},
    )
    c.hidden(result, "addSensors")


async def op_revoke_device(c: Case) -> None:
    result = await c.q(
        "mutation($d: ID!) { revokeDevice(deviceId: $d) { id name revoked } }",
        {"d": str(c.world.b.device_id)},
    )
    c.hidden(result, "revokeDevice")


async def op_invite_into_other(c: Case) -> None:
    email = f"{unique('intruder')}@example.cn"
    result = await c.q(
        "mutation($d: String!, $e: String!) { inviteUser(domain: $d, email: $e,"
        ' role: "viewer") { email } }',
        {"d": f"tenant:{c.world.b.tenant_id}", "e": email},
    )
    c.hidden(result, "inviteUser")
    async with c.runtime.sessions() as session:
        email_is = await User.email.matches(session, email)
        assert await session.scalar(select(User.id).where(email_is)) is None


async def op_invite_self_as_owner_of_other(c: Case) -> None:
    result = await c.q(
        "mutation($d: String!, $e: String!) { inviteUser(domain: $d, email: $e,"
        ' role: "owner") { email } }',
        {"d": f"tenant:{c.world.b.tenant_id}", "e": c.email},
    )
    c.hidden(result, "inviteUser")


async def op_accept_used_invitation(c: Case) -> None:
    attacker_password = "attacker-password-1"
    result = await c.q(
        "mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) }",
        {"t": c.other.accepted_invitation, "p": attacker_password},
    )
    c.hidden(result, "acceptInvitation")
    assert (await c.api.login(c.other.invited_email, attacker_password)).code == "UNAUTHENTICATED"
    assert (await c.api.login(c.other.invited_email)).code is None


async def op_login_as_other_owner(c: Case) -> None:
    result = await c.q(
        'mutation($e: String!) { login(email: $e, password: "not-the-password-1") { token } }',
        {"e": c.world.b.users["owner"]},
    )
    c.hidden(result, "login", "UNAUTHENTICATED")


async def op_logout(c: Case) -> None:
    """Signing out ends only the caller's own token; B's owner stays signed in."""
    login = await c.api.login(c.email)
    assert login.code is None, login.body
    token = login.data["login"]["token"]
    result = await c.api.query("mutation { logout }", token=token)
    assert result.code is None and result.data == {"logout": True}, result.body
    assert (await c.api.query("{ me { email } }", token=token)).code == "UNAUTHENTICATED"
    b_owner = c.world.b.users["owner"]
    still = await c.api.query("{ me { email } }", as_user=b_owner)
    assert still.code is None, still.body
    assert still.data["me"]["email"] == b_owner.lower()


OPERATIONS: dict[str, Callable[[Case], Awaitable[None]]] = {
    "site": op_site,
    "sites": op_sites,
    "workers": op_workers,
    "workers-after": op_workers_after,
    "tenants": op_tenants,
    "telemetry": op_telemetry,
    "me": op_me,
    "createSite": op_create_site,
    "createZone": op_create_zone,
    "createWorker": op_create_worker,
    "createWorker-on-B-site": op_create_worker_on_other_site,
    "createDevice": op_create_device,
    "createDevice-for-B-worker": op_create_device_for_other_worker,
    "addSensors": op_add_sensors,
    "revokeDevice": op_revoke_device,
    "inviteUser": op_invite_into_other,
    "inviteUser-self-as-B-owner": op_invite_self_as_owner_of_other,
    "acceptInvitation": op_accept_used_invitation,
    "login": op_login_as_other_owner,
    "logout": op_logout,
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("role", ROLES)
async def test_role_of_a_cannot_reach_b(
    api: GraphQLClient, world: World, runtime: Runtime, other: Other, role: str, operation: str
) -> None:
    before = await tenant_state(runtime, world.b.tenant_id)
    await OPERATIONS[operation](Case(api, world, runtime, role, other))
    assert await tenant_state(runtime, world.b.tenant_id) == before


async def test_owner_cannot_take_over_a_b_account_by_inviting_it(
    api: GraphQLClient, world: World, runtime: Runtime
) -> None:
    """Inviting B's existing user into A hands A's owner no token, sets no password, and
    grants nothing until B's user, signed in, accepts."""
    email = f"{unique('b-member')}@example.cn"
    await unscoped_add_member_in_own_transaction(
        sessions=runtime.sessions,
        principal=Principal.system(),
        domain=f"tenant:{world.b.tenant_id}",
        email=email,
        role="viewer",
        password=PASSWORD,
        log2_n=runtime.log2_n,
    )
    invite = await api.query(
        "mutation($d: String!, $e: String!) { inviteUser(domain: $d, email: $e,"
        ' role: "viewer") { email domain role } }',
        {"d": f"tenant:{world.a.tenant_id}", "e": email},
        as_user=world.a.users["owner"],
    )
    assert invite.code is None, invite.body
    before = await tenant_state(runtime, world.b.tenant_id)
    # Even with the mailed token (the invitee's, not A's owner's), nobody but the signed-in
    # holder can use it, and it never sets a password.
    token = await invitation_token(runtime, email)
    assert token not in str(invite.body)
    accepted = await api.query(
        'mutation($t: String!) { acceptInvitation(token: $t, password: "attacker-password-1") }',
        {"t": token},
    )
    assert accepted.code == "UNAUTHENTICATED", accepted.body
    assert (await api.login(email, "attacker-password-1")).code == "UNAUTHENTICATED"
    me = await api.query("{ me { memberships { domain } } }", as_user=email)
    assert me.data["me"]["memberships"] == [{"domain": f"tenant:{world.b.tenant_id}"}]
    assert await tenant_state(runtime, world.b.tenant_id) == before

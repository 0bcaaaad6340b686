"""Changing a member's role within a domain: who may, and what it does at once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from backend.auth.members import unscoped_change_member_role_in_own_transaction
from backend.auth.models import User
from backend.auth.principal import Principal
from backend.core.errors import Conflict
from backend.runtime import Runtime
from privacy.audit import AuditEntry
from tests.auth.test_members import person, solo_tenant, token
from tests.factories import World
from tests.graphql import GraphQLClient

CHANGE = (
    "mutation($d: String!, $u: ID!, $r: String!) "
    "{ changeMemberRole(domain: $d, userId: $u, role: $r) { userId role domain } }"
)
ME = "{ me { memberships { domain role } } }"
CREATE_ZONE = 'mutation($s: ID!) { createZone(siteId: $s, name: "新区", kind: "warehouse") { id } }'


async def user_id(runtime: Runtime, email: str) -> str:
    async with runtime.sessions() as session:
        user = await session.scalar(
            select(User).where(await User.email.matches(session, email.lower()))
        )
        assert user is not None
        return str(user.id)


async def test_a_new_role_holds_on_the_next_request_and_is_audited(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    domain = f"tenant:{world.a.tenant_id}"
    email = await person(runtime, domain, "viewer")
    held = await token(api, email)
    target = await user_id(runtime, email)
    changed = await api.query(
        CHANGE, {"d": domain, "u": target, "r": "safety_manager"}, as_user=world.a.users["owner"]
    )
    assert changed.data == {
        "changeMemberRole": {"userId": target, "role": "safety_manager", "domain": domain}
    }, changed.body
    me = await api.query(ME, token=held)
    assert me.data["me"]["memberships"] == [{"domain": domain, "role": "safety_manager"}]
    async with runtime.sessions() as session:
        entry = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "membership.role_change", AuditEntry.object_id == target)
            .order_by(AuditEntry.seq.desc())
        )
    assert entry is not None
    assert entry.detail == {"role": "safety_manager", "previous_role": "viewer"}
    assert entry.domain == domain


async def test_a_demoted_member_loses_the_permission_at_once(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    domain = f"tenant:{world.a.tenant_id}"
    email = await person(runtime, domain, "safety_manager")
    site = {"s": str(world.a.site_id)}
    assert (await api.query(CREATE_ZONE, site, as_user=email)).code is None
    demoted = await api.query(
        CHANGE,
        {"d": domain, "u": await user_id(runtime, email), "r": "viewer"},
        as_user=world.a.users["owner"],
    )
    assert demoted.code is None, demoted.body
    refused = await api.query(CREATE_ZONE, site, as_user=email)
    assert refused.code == "FORBIDDEN", refused.body


async def test_only_a_role_that_may_grant_both_roles_changes_them(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    domain = f"tenant:{world.a.tenant_id}"
    manager = world.a.users["safety_manager"]
    operator = await user_id(runtime, await person(runtime, domain, "operator"))
    # operator -> viewer: both are a safety manager's to grant.
    ok = await api.query(CHANGE, {"d": domain, "u": operator, "r": "viewer"}, as_user=manager)
    assert ok.data["changeMemberRole"]["role"] == "viewer", ok.body
    # The new role is not: nobody makes an owner or a peer above their station.
    for role in ("owner", "safety_manager"):
        up = await api.query(CHANGE, {"d": domain, "u": operator, "r": role}, as_user=manager)
        assert up.code == "FORBIDDEN", up.body
    # The old role is not: a safety manager cannot demote an owner or another manager.
    for held in ("owner", "safety_manager"):
        other = await user_id(runtime, await person(runtime, domain, held))
        down = await api.query(CHANGE, {"d": domain, "u": other, "r": "viewer"}, as_user=manager)
        assert down.code == "FORBIDDEN", down.body
    for role in ("operator", "viewer"):
        refused = await api.query(
            CHANGE, {"d": domain, "u": operator, "r": "operator"}, as_user=world.a.users[role]
        )
        assert refused.code == "FORBIDDEN", (role, refused.body)
    unknown = await api.query(
        CHANGE, {"d": domain, "u": operator, "r": "director"}, as_user=world.a.users["owner"]
    )
    assert unknown.code == "BAD_USER_INPUT", unknown.body


async def test_nobody_changes_their_own_role_and_the_last_owner_stays(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    manager = world.a.users["safety_manager"]
    domain = f"tenant:{world.a.tenant_id}"
    own = await api.query(
        CHANGE, {"d": domain, "u": await user_id(runtime, manager), "r": "viewer"}, as_user=manager
    )
    assert own.code == "BAD_USER_INPUT", own.body
    solo, owner = await solo_tenant(runtime)
    second = await person(runtime, solo, "owner")
    second_id = await user_id(runtime, second)
    # Two owners: one may demote the other, and then the one left is the last.
    demoted = await api.query(CHANGE, {"d": solo, "u": second_id, "r": "viewer"}, as_user=owner)
    assert demoted.code is None, demoted.body
    back = await api.query(CHANGE, {"d": solo, "u": second_id, "r": "owner"}, as_user=owner)
    assert back.code is None, back.body
    again = await api.query(
        CHANGE, {"d": solo, "u": await user_id(runtime, owner), "r": "viewer"}, as_user=second
    )
    assert again.code is None, again.body
    # The former owner is a viewer now and may not change roles at all.
    last = await api.query(CHANGE, {"d": solo, "u": second_id, "r": "viewer"}, as_user=owner)
    assert last.code == "FORBIDDEN", last.body
    # Not even the operator's command line leaves the tenant without an owner.
    with pytest.raises(Conflict, match="last owner"):
        await unscoped_change_member_role_in_own_transaction(
            sessions=runtime.sessions,
            authz=runtime.authz,
            principal=Principal.system(),
            domain=solo,
            user_id=uuid.UUID(second_id),
            role="viewer",
        )


async def test_another_tenants_member_is_not_found(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a, b = f"tenant:{world.a.tenant_id}", f"tenant:{world.b.tenant_id}"
    b_viewer = await user_id(runtime, world.b.users["viewer"])
    other_domain = await api.query(
        CHANGE, {"d": b, "u": b_viewer, "r": "operator"}, as_user=world.a.users["owner"]
    )
    assert other_domain.code == "NOT_FOUND", other_domain.body
    # Named under A's own domain, B's member is no member of A.
    own_domain = await api.query(
        CHANGE, {"d": a, "u": b_viewer, "r": "operator"}, as_user=world.a.users["owner"]
    )
    assert own_domain.code == "NOT_FOUND", own_domain.body
    garbage = await api.query(
        CHANGE, {"d": a, "u": "not-an-id", "r": "operator"}, as_user=world.a.users["owner"]
    )
    assert garbage.code == "NOT_FOUND", garbage.body

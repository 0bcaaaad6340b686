"""Suspending a membership in one tenant (not the account) and enabling it again."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from backend.auth.members import (
    unscoped_add_member_in_own_transaction,
    unscoped_set_member_enabled_in_own_transaction,
)
from backend.auth.principal import Principal
from backend.core.errors import Conflict
from backend.runtime import Runtime
from privacy.audit import AuditEntry
from tests.auth.test_member_roles import user_id
from tests.auth.test_members import person, solo_tenant, token
from tests.factories import World
from tests.graphql import GraphQLClient

SET = (
    "mutation($d: String!, $u: ID!, $on: Boolean!, $why: String) {"
    " setMemberEnabled(domain: $d, userId: $u, enabled: $on, reason: $why)"
    " { userId role suspended disabled } }"
)
ME = "{ me { memberships { domain role } } }"
MEMBERS = "query($d: String!) { members(domain: $d) { userId role suspended } }"
SITES = "{ sites { id } }"
CHANGE = (
    "mutation($d: String!, $u: ID!, $r: String!) "
    "{ changeMemberRole(domain: $d, userId: $u, role: $r) { role } }"
)
INVITE = (
    "mutation($d: String!, $e: String!) {"
    ' inviteUser(domain: $d, email: $e, role: "viewer") { role } }'
)
ASSIGNEES = "query($s: ID!) { assignees(siteId: $s) { members { id } } }"
REMOVE = "mutation($d: String!, $u: ID!) { removeMember(domain: $d, userId: $u) }"


async def audit_of(runtime: Runtime, action: str, target: str) -> list[AuditEntry]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.object_id == target)
            .order_by(AuditEntry.seq)
        )
        return list(rows.all())


async def test_a_suspended_member_holds_nothing_in_that_tenant_until_enabled(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a, b = f"tenant:{world.a.tenant_id}", f"tenant:{world.b.tenant_id}"
    email = await person(runtime, a, "safety_manager")
    await unscoped_add_member_in_own_transaction(
        sessions=runtime.sessions,
        principal=Principal.system(),
        domain=b,
        email=email,
        role="viewer",
        password=None,
        log2_n=runtime.log2_n,
    )
    held = await token(api, email)
    target = await user_id(runtime, email)
    owner = world.a.users["owner"]
    assert target in {
        m["id"]
        for m in (await api.query(ASSIGNEES, {"s": str(world.a.site_id)}, as_user=owner)).data[
            "assignees"
        ]["members"]
    }

    off = await api.query(SET, {"d": a, "u": target, "on": False, "why": "停职调查"}, as_user=owner)
    assert off.data == {
        "setMemberEnabled": {
            "userId": target,
            "role": "safety_manager",
            "suspended": True,
            "disabled": False,
        }
    }, off.body
    # At once, on the same session: A is gone, B stays.
    me = await api.query(ME, token=held)
    assert me.data["me"]["memberships"] == [{"domain": b, "role": "viewer"}], me.body
    sites = {s["id"] for s in (await api.query(SITES, token=held)).data["sites"]}
    assert str(world.a.site_id) not in sites and str(world.b.site_id) in sites
    # Nobody dispatches alarms to them in A any more.
    picker = await api.query(ASSIGNEES, {"s": str(world.a.site_id)}, as_user=owner)
    assert target not in {m["id"] for m in picker.data["assignees"]["members"]}
    # Listed, marked; the account itself is not disabled.
    listed = await api.query(MEMBERS, {"d": a}, as_user=owner)
    (row,) = [m for m in listed.data["members"] if m["userId"] == target]
    assert row == {"userId": target, "role": "safety_manager", "suspended": True}
    # Neither another role nor a fresh invitation brings them back beside the suspension.
    again = await api.query(CHANGE, {"d": a, "u": target, "r": "viewer"}, as_user=owner)
    assert again.code == "BAD_USER_INPUT", again.body
    invited = await api.query(INVITE, {"d": a, "e": email}, as_user=owner)
    assert invited.code == "BAD_USER_INPUT", invited.body

    on = await api.query(SET, {"d": a, "u": target, "on": True}, as_user=owner)
    assert on.data["setMemberEnabled"]["suspended"] is False, on.body
    me = await api.query(ME, token=held)
    assert {"domain": a, "role": "safety_manager"} in me.data["me"]["memberships"]
    assert str(world.a.site_id) in {
        s["id"] for s in (await api.query(SITES, token=held)).data["sites"]
    }

    (suspend,) = await audit_of(runtime, "membership.suspend", target)
    assert suspend.detail == {"role": "safety_manager", "reason": "停职调查"}
    assert suspend.domain == a
    (enable,) = await audit_of(runtime, "membership.enable", target)
    assert enable.detail == {"role": "safety_manager"}
    # Enabling what is enabled is no change, and no entry.
    assert (await api.query(SET, {"d": a, "u": target, "on": True}, as_user=owner)).code is None
    assert len(await audit_of(runtime, "membership.enable", target)) == 1


async def test_suspending_the_only_role_ends_the_sessions(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = f"tenant:{world.a.tenant_id}"
    email = await person(runtime, a, "viewer")
    held = await token(api, email)
    target = await user_id(runtime, email)
    off = await api.query(SET, {"d": a, "u": target, "on": False}, as_user=world.a.users["owner"])
    assert off.code is None, off.body
    assert (await api.query(ME, token=held)).code == "UNAUTHENTICATED"
    (entry,) = await audit_of(runtime, "membership.suspend", target)
    assert entry.detail == {"role": "viewer", "sessions_revoked": 1}
    # A suspended member may still be removed outright.
    removed = await api.query(REMOVE, {"d": a, "u": target}, as_user=world.a.users["owner"])
    assert removed.code is None, removed.body
    listed = await api.query(MEMBERS, {"d": a}, as_user=world.a.users["owner"])
    assert target not in {m["userId"] for m in listed.data["members"]}


async def test_who_may_suspend_whom(api: GraphQLClient, runtime: Runtime, world: World) -> None:
    a = f"tenant:{world.a.tenant_id}"
    manager = world.a.users["safety_manager"]
    operator = await user_id(runtime, await person(runtime, a, "operator"))
    ok = await api.query(SET, {"d": a, "u": operator, "on": False}, as_user=manager)
    assert ok.code is None, ok.body
    for held in ("owner", "safety_manager"):
        other = await user_id(runtime, await person(runtime, a, held))
        refused = await api.query(SET, {"d": a, "u": other, "on": False}, as_user=manager)
        assert refused.code == "FORBIDDEN", (held, refused.body)
    for role in ("operator", "viewer"):
        refused = await api.query(
            SET, {"d": a, "u": operator, "on": True}, as_user=world.a.users[role]
        )
        assert refused.code == "FORBIDDEN", (role, refused.body)
    own = await api.query(
        SET, {"d": a, "u": await user_id(runtime, manager), "on": False}, as_user=manager
    )
    assert own.code == "BAD_USER_INPUT", own.body
    long = await api.query(
        SET, {"d": a, "u": operator, "on": False, "why": "长" * 501}, as_user=manager
    )
    assert long.code == "BAD_USER_INPUT", long.body
    b_viewer = await user_id(runtime, world.b.users["viewer"])
    for domain in (f"tenant:{world.b.tenant_id}", a):
        hidden = await api.query(
            SET, {"d": domain, "u": b_viewer, "on": False}, as_user=world.a.users["owner"]
        )
        assert hidden.code == "NOT_FOUND", (domain, hidden.body)


async def test_the_last_owner_holding_the_role_is_not_suspended(
    api: GraphQLClient, runtime: Runtime
) -> None:
    solo, owner = await solo_tenant(runtime)
    second = await person(runtime, solo, "owner")
    second_id = await user_id(runtime, second)
    off = await api.query(SET, {"d": solo, "u": second_id, "on": False}, as_user=owner)
    assert off.code is None, off.body
    # One owner holds the role now: not even the command line suspends it.
    with pytest.raises(Conflict, match="last owner"):
        await unscoped_set_member_enabled_in_own_transaction(
            sessions=runtime.sessions,
            authz=runtime.authz,
            principal=Principal.system(),
            domain=solo,
            user_id=uuid.UUID(await user_id(runtime, owner)),
            enabled=False,
        )

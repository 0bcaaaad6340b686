"""Removing members, disabling accounts and listing members (issue 9, item 5)."""

from __future__ import annotations

import asyncio
import json
import uuid

from click.testing import CliRunner
from sqlalchemy import select

from backend.auth.members import (
    unscoped_add_member_in_own_transaction,
    unscoped_set_member_enabled_in_own_transaction,
)
from backend.auth.principal import Principal
from backend.auth.provisioning import unscoped_provision_tenant_in_own_transaction
from backend.cli import main
from backend.runtime import Runtime
from privacy.audit import AuditEntry
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient

ME = "{ me { email memberships { domain role } } }"
REMOVE = "mutation($d: String!, $e: String!) { removeMember(domain: $d, email: $e) }"
DISABLE = "mutation($e: String!) { disableUser(email: $e) }"
ENABLE = "mutation($e: String!) { enableUser(email: $e) }"
MEMBERS = "query($d: String!) { members(domain: $d) { userId email role domain disabled } }"


async def person(runtime: Runtime, domain: str, role: str) -> str:
    email = f"{role}.{unique('mem')}@example.cn"
    await unscoped_add_member_in_own_transaction(
        sessions=runtime.sessions,
        principal=Principal.system(),
        domain=domain,
        email=email,
        role=role,
        password=PASSWORD,
        log2_n=runtime.log2_n,
    )
    return email


async def token(api: GraphQLClient, email: str) -> str:
    login = await api.login(email)
    assert login.code is None, login.body
    return str(login.data["login"]["token"])


async def actions_on(runtime: Runtime, action: str) -> int:
    async with runtime.sessions() as session:
        rows = await session.scalars(select(AuditEntry.seq).where(AuditEntry.action == action))
        return len(rows.all())


async def test_a_removed_member_loses_the_role_on_the_next_request(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    domain = f"tenant:{world.a.tenant_id}"
    viewer = await person(runtime, domain, "viewer")
    held = await token(api, viewer)
    assert (await api.query("{ sites { id } }", token=held)).data["sites"]
    audited = await actions_on(runtime, "membership.remove")
    removed = await api.query(REMOVE, {"d": domain, "e": viewer}, as_user=world.a.users["owner"])
    assert removed.data == {"removeMember": True}, removed.body
    # Its only role is gone: the session ends with it.
    assert (await api.query(ME, token=held)).code == "UNAUTHENTICATED"
    assert await actions_on(runtime, "membership.remove") == audited + 1
    again = await api.query(REMOVE, {"d": domain, "e": viewer}, as_user=world.a.users["owner"])
    assert again.code == "NOT_FOUND", again.body


async def test_removal_from_one_tenant_keeps_the_others(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a, b = f"tenant:{world.a.tenant_id}", f"tenant:{world.b.tenant_id}"
    email = await person(runtime, a, "operator")
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
    removed = await api.query(REMOVE, {"d": a, "e": email}, as_user=world.a.users["owner"])
    assert removed.code is None, removed.body
    me = await api.query(ME, token=held)
    assert me.data["me"]["memberships"] == [{"domain": b, "role": "viewer"}], me.body
    sites = await api.query("{ sites { id } }", token=held)
    assert str(world.a.site_id) not in {s["id"] for s in sites.data["sites"]}


async def test_removal_follows_the_granting_rule(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    domain = f"tenant:{world.a.tenant_id}"
    manager = world.a.users["safety_manager"]
    owner2 = await person(runtime, domain, "owner")
    refused = await api.query(REMOVE, {"d": domain, "e": owner2}, as_user=manager)
    assert refused.code == "FORBIDDEN", refused.body
    viewer = await person(runtime, domain, "viewer")
    assert (await api.query(REMOVE, {"d": domain, "e": viewer}, as_user=manager)).code is None
    by_viewer = await api.query(REMOVE, {"d": domain, "e": owner2}, as_user=world.a.users["viewer"])
    assert by_viewer.code == "FORBIDDEN", by_viewer.body
    # Another tenant's member is not A's to see.
    other = await api.query(
        REMOVE,
        {"d": f"tenant:{world.b.tenant_id}", "e": world.b.users["viewer"]},
        as_user=world.a.users["owner"],
    )
    assert other.code == "NOT_FOUND", other.body


async def solo_tenant(runtime: Runtime) -> tuple[str, str]:
    """A tenant of its own with one owner: (domain, owner e-mail)."""
    owner = f"solo.{unique('o')}@example.cn"
    tenant = await unscoped_provision_tenant_in_own_transaction(
        sessions=runtime.sessions,
        authz=runtime.authz,
        principal=Principal.system(),
        name=f"独资 {unique('t')}",
        division_code="320100",
        industry="chemical",
        owner_email=owner,
        owner_password=PASSWORD,
        log2_n=runtime.log2_n,
    )
    return f"tenant:{tenant.id}", owner


async def test_the_last_owner_stays(api: GraphQLClient, runtime: Runtime, world: World) -> None:
    domain, owner = await solo_tenant(runtime)
    last = await api.query(REMOVE, {"d": domain, "e": owner}, as_user=owner)
    assert last.code == "BAD_USER_INPUT", last.body
    assert "last owner" in last.body["errors"][0]["message"]
    second = await person(runtime, domain, "owner")
    assert (await api.query(REMOVE, {"d": domain, "e": owner}, as_user=second)).code is None


async def test_disabling_an_account_ends_its_sessions_at_once(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    email = await person(runtime, f"tenant:{world.a.tenant_id}", "operator")
    held = await token(api, email)
    assert (
        await api.query(DISABLE, {"e": email}, as_user=world.a.users["owner"])
    ).code == "FORBIDDEN"
    result = await api.query(DISABLE, {"e": email}, as_user=world.platform_admin)
    assert result.data == {"disableUser": True}, result.body
    assert (await api.query(ME, token=held)).code == "UNAUTHENTICATED"
    assert (await api.login(email)).code == "UNAUTHENTICATED"
    assert (await api.query(ENABLE, {"e": email}, as_user=world.platform_admin)).code is None
    assert (await api.login(email)).code is None
    # The old session stays ended: enabling is not un-revoking.
    assert (await api.query(ME, token=held)).code == "UNAUTHENTICATED"
    unknown = await api.query(
        DISABLE, {"e": f"ghost.{unique('g')}@example.cn"}, as_user=world.platform_admin
    )
    assert unknown.code == "NOT_FOUND", unknown.body


async def test_members_listing_per_audience(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    domain = f"tenant:{world.a.tenant_id}"
    listed = await api.query(MEMBERS, {"d": domain}, as_user=world.a.users["owner"])
    assert listed.code is None, listed.body
    emails = {m["email"] for m in listed.data["members"]}
    assert {e.lower() for e in world.a.users.values()} <= emails
    assert {m["role"] for m in listed.data["members"]} >= {"owner", "viewer"}
    manager = await api.query(MEMBERS, {"d": domain}, as_user=world.a.users["safety_manager"])
    assert manager.code is None and manager.data == listed.data, manager.body
    viewer = await api.query(MEMBERS, {"d": domain}, as_user=world.a.users["viewer"])
    assert viewer.code == "FORBIDDEN", viewer.body
    other = await api.query(
        MEMBERS, {"d": f"tenant:{world.b.tenant_id}"}, as_user=world.a.users["owner"]
    )
    assert other.code == "NOT_FOUND", other.body
    gov = await api.query(MEMBERS, {"d": "gov:320000"}, as_user=world.regulators["320000"])
    assert gov.code is None, gov.body
    assert world.regulators["320000"].lower() in {m["email"] for m in gov.data["members"]}


def cli(runtime: Runtime, *args: str) -> tuple[int, str]:
    settings = runtime.settings
    env = {
        "ANJIAN_DATA_DIR": str(settings.data_dir),
        "ANJIAN_DATABASE_URL": settings.database_url,
        "ANJIAN_CLICKHOUSE_URL": settings.clickhouse_url,
        "ANJIAN_MASTER_KEY_FILE": str(settings.master_key_file),
        "ANJIAN_PASSWORD_SCRYPT_LOG2N": str(settings.password_log2_n),
        "ANJIAN_ENV_FILE": str(settings.data_dir / "absent.env"),
    }
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


async def test_command_line_removes_members_and_disables_accounts(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    domain = f"tenant:{world.a.tenant_id}"
    email = f"cli.{unique('c')}@example.cn"
    code, out = await asyncio.to_thread(
        cli,
        runtime,
        "member",
        "add",
        "--domain",
        domain,
        "--email",
        email,
        "--role",
        "viewer",
        "--password",
        "cli-made-pass-3",
        "--json",
    )
    assert code == 0, out
    assert json.loads(out)["role"] == "viewer"
    held = await api.login(email, "cli-made-pass-3")
    assert held.code is None, held.body  # made at the command line: works at once
    code, out = await asyncio.to_thread(
        cli, runtime, "member", "remove", "--domain", domain, "--email", email, "--json"
    )
    assert code == 0, out
    assert (await api.query(ME, token=held.data["login"]["token"])).code == "UNAUTHENTICATED"

    other = await person(runtime, domain, "operator")
    code, out = await asyncio.to_thread(cli, runtime, "user", "disable", "--email", other)
    assert code == 0, out
    assert (await api.login(other)).code == "UNAUTHENTICATED"
    solo, owner = await solo_tenant(runtime)
    code, out = await asyncio.to_thread(
        cli, runtime, "member", "remove", "--domain", solo, "--email", owner
    )
    assert code == 2 and "last owner" in out, out


async def test_command_line_member_list_marks_suspended_members(runtime: Runtime) -> None:
    solo, _ = await solo_tenant(runtime)
    email = await person(runtime, solo, "operator")
    code, out = await asyncio.to_thread(cli, runtime, "member", "list", "--domain", solo, "--json")
    (member,) = [m for m in json.loads(out)["members"] if m["email"] == email]
    assert member["suspended"] is False
    await unscoped_set_member_enabled_in_own_transaction(
        sessions=runtime.sessions,
        authz=runtime.authz,
        principal=Principal.system(),
        domain=solo,
        user_id=uuid.UUID(member["user_id"]),
        enabled=False,
        reason="on leave",
    )
    code, out = await asyncio.to_thread(cli, runtime, "member", "list", "--domain", solo, "--json")
    assert code == 0, out
    (member,) = [m for m in json.loads(out)["members"] if m["email"] == email]
    assert member["suspended"] is True
    code, text = await asyncio.to_thread(cli, runtime, "member", "list", "--domain", solo)
    assert f"{email}\toperator (suspended)" in text

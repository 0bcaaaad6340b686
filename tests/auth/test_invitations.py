"""Invitations: the token reaches only the invitee, nothing is granted before acceptance, and
the probe's takeover chains now fail (issue 9, items 1, 5 and 9)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from backend.auth import invitations
from backend.auth.mail_outbox import MailOutboxMessage, unscoped_relay_mail
from backend.auth.members import unscoped_add_member_in_own_transaction
from backend.auth.models import Invitation, Membership, User
from backend.auth.principal import Principal
from backend.runtime import Runtime
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient, Result
from tests.mailbox import invitation_token, invitation_tokens

INVITE = """
mutation($d: String!, $e: String!, $r: String!) {
  inviteUser(domain: $d, email: $e, role: $r) { email domain role expiresAt }
}"""
ACCEPT_NEW = "mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) }"
ACCEPT = "mutation($t: String!) { acceptInvitation(token: $t) }"
ME = "{ me { email memberships { domain role } } }"
WORKERS = "{ workers { id name mobile idNumber } }"


async def member(runtime: Runtime, domain: str, role: str, label: str = "m") -> str:
    email = f"{label}.{unique('u')}@example.cn"
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


async def memberships(
    api: GraphQLClient, email: str, password: str = PASSWORD
) -> set[tuple[str, str]]:
    login = await api.login(email, password)
    assert login.code is None, login.body
    me = await api.query(ME, token=login.data["login"]["token"])
    assert me.code is None, me.body
    return {(m["domain"], m["role"]) for m in me.data["me"]["memberships"]}


async def counts(runtime: Runtime) -> tuple[int, int, int]:
    async with runtime.sessions() as session:
        users = await session.scalar(select(func.count()).select_from(User))
        invites = await session.scalar(select(func.count()).select_from(Invitation))
        members = await session.scalar(select(func.count()).select_from(Membership))
    return int(users or 0), int(invites or 0), int(members or 0)


def tenant(world_tenant: object) -> str:
    return f"tenant:{world_tenant.tenant_id}"  # type: ignore[attr-defined]


# --- what the inviter learns -----------------------------------------------------------------


async def test_the_answer_is_the_same_with_or_without_an_account(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    existing = await member(runtime, tenant(world.b), "viewer", "existing")
    fresh = f"fresh.{unique('n')}@example.cn"
    answers: list[Result] = []
    for address in (existing, fresh):
        before = await counts(runtime)
        result = await api.query(
            INVITE,
            {"d": tenant(world.a), "e": address, "r": "viewer"},
            as_user=world.a.users["owner"],
        )
        assert result.code is None, result.body
        answers.append(result)
        # The same rows either way: one invitation, no account and no membership yet.
        users, invites, members = await counts(runtime)
        assert (users - before[0], invites - before[1], members - before[2]) == (0, 1, 0)
    shapes = [sorted(r.data["inviteUser"]) for r in answers]
    assert shapes[0] == shapes[1] == ["domain", "email", "expiresAt", "role"]
    for result, address in zip(answers, (existing, fresh), strict=True):
        assert "userId" not in json.dumps(result.body)
        assert await invitation_token(runtime, address) not in json.dumps(result.body)


async def test_the_invitation_schema_has_no_token_nor_user_id(
    api: GraphQLClient, world: World
) -> None:
    result = await api.query(
        '{ __type(name: "Invitation") { fields { name } } }', as_user=world.a.users["owner"]
    )
    assert result.code is None, result.body
    fields = {f["name"] for f in (result.data or {}).get("__type", {}).get("fields") or []}
    assert "token" not in fields and "userId" not in fields, fields


# --- the probe's takeover chains -------------------------------------------------------------


async def test_pre_registration_by_another_tenant_gets_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    """B's owner invites A's future worker first; A invites the same address; the worker
    accepts A's invitation. B never gets the token, sets no password, reads nothing of A."""
    address = f"worker.{unique('pre')}@example.cn"
    b_owner = world.b.users["owner"]
    first = await api.query(
        INVITE, {"d": tenant(world.b), "e": address, "r": "viewer"}, as_user=b_owner
    )
    assert first.code is None, first.body
    second = await api.query(
        INVITE,
        {"d": tenant(world.a), "e": address, "r": "operator"},
        as_user=world.a.users["owner"],
    )
    assert second.code is None, second.body
    b_token, a_token = await invitation_tokens(runtime, address)

    # Nothing was granted and nobody can sign in yet.
    assert (await api.login(address, "attacker-password-1")).code == "UNAUTHENTICATED"
    # The worker proves the mailbox with A's token and chooses the password.
    accepted = await api.query(ACCEPT_NEW, {"t": a_token, "p": "worker-own-pass-7"})
    assert accepted.data == {"acceptInvitation": True}, accepted.body
    assert await memberships(api, address, "worker-own-pass-7") == {(tenant(world.a), "operator")}
    # B's invitation is pending: it can set no password now that the account exists, and B's
    # owner signed in cannot accept it in the worker's place.
    assert (await api.query(ACCEPT_NEW, {"t": b_token, "p": "attacker-password-1"})).code == (
        "UNAUTHENTICATED"
    )
    assert (await api.query(ACCEPT, {"t": b_token}, as_user=b_owner)).code == "NOT_FOUND"
    assert (await api.login(address, "attacker-password-1")).code == "UNAUTHENTICATED"
    # B's owner sees none of A's workers.
    seen = await api.query(WORKERS, as_user=b_owner)
    assert str(world.a.worker_id) not in {w["id"] for w in seen.data["workers"]}


async def test_invitation_to_an_existing_account_is_pending_until_its_holder_accepts(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    """B's owner invites A's existing worker after A did: pending, and only the worker,
    signed in, can take it up."""
    address = await member(runtime, tenant(world.a), "operator", "a-worker")
    b_owner = world.b.users["owner"]
    invited = await api.query(
        INVITE, {"d": tenant(world.b), "e": address, "r": "viewer"}, as_user=b_owner
    )
    assert invited.code is None, invited.body
    token = await invitation_token(runtime, address)
    assert await memberships(api, address) == {(tenant(world.a), "operator")}

    stolen = await api.query(ACCEPT_NEW, {"t": token, "p": "attacker-password-1"})
    assert stolen.code == "UNAUTHENTICATED", stolen.body
    by_inviter = await api.query(ACCEPT, {"t": token}, as_user=b_owner)
    assert by_inviter.code == "NOT_FOUND", by_inviter.body
    by_other = await api.query(ACCEPT, {"t": token}, as_user=world.a.users["viewer"])
    assert by_other.code == "NOT_FOUND", by_other.body
    assert (await api.login(address, "attacker-password-1")).code == "UNAUTHENTICATED"

    holder = await api.login(address)
    accepted = await api.query(ACCEPT, {"t": token}, token=holder.data["login"]["token"])
    assert accepted.data == {"acceptInvitation": True}, accepted.body
    assert await memberships(api, address) == {
        (tenant(world.a), "operator"),
        (tenant(world.b), "viewer"),
    }
    # Used once.
    again = await api.query(ACCEPT, {"t": token}, token=holder.data["login"]["token"])
    assert again.code == "NOT_FOUND", again.body


async def test_regulator_invitation_to_an_enterprise_user_is_pending(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    address = await member(runtime, tenant(world.a), "viewer", "a-viewer")
    director = world.regulators["320000"]
    invited = await api.query(
        INVITE, {"d": "gov:320000", "e": address, "r": "analyst"}, as_user=director
    )
    assert invited.code is None, invited.body  # a director's invitation no longer fails
    assert invited.data["inviteUser"]["email"] == address
    assert await memberships(api, address) == {(tenant(world.a), "viewer")}

    token = await invitation_token(runtime, address)
    holder = await api.login(address)
    accepted = await api.query(ACCEPT, {"t": token}, token=holder.data["login"]["token"])
    assert accepted.data == {"acceptInvitation": True}, accepted.body
    assert ("gov:320000", "analyst") in await memberships(api, address)


async def test_new_account_counts_only_after_the_mailbox_is_proven(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    address = f"new.{unique('n')}@example.cn"
    invited = await api.query(
        INVITE, {"d": tenant(world.a), "e": address, "r": "viewer"}, as_user=world.a.users["owner"]
    )
    assert invited.code is None, invited.body
    async with runtime.sessions() as session:
        assert (
            await session.scalar(select(User.id).where(await User.email.matches(session, address)))
            is None
        )
    token = await invitation_token(runtime, address)
    weak = await api.query(ACCEPT_NEW, {"t": token, "p": "12345678"})
    assert weak.code == "BAD_USER_INPUT", weak.body
    missing = await api.query(ACCEPT, {"t": token})
    assert missing.code == "BAD_USER_INPUT", missing.body
    assert (await api.query(ACCEPT_NEW, {"t": token, "p": "new-member-pass-3"})).code is None
    assert await memberships(api, address, "new-member-pass-3") == {(tenant(world.a), "viewer")}


async def test_an_invitation_from_someone_who_lost_the_right_grants_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    manager = await member(runtime, tenant(world.a), "safety_manager", "sm")
    address = f"later.{unique('n')}@example.cn"
    invited = await api.query(
        INVITE, {"d": tenant(world.a), "e": address, "r": "operator"}, as_user=manager
    )
    assert invited.code is None, invited.body
    removed = await api.query(
        "mutation($d: String!, $e: String!) { removeMember(domain: $d, email: $e) }",
        {"d": tenant(world.a), "e": manager},
        as_user=world.a.users["owner"],
    )
    assert removed.data == {"removeMember": True}, removed.body
    token = await invitation_token(runtime, address)
    result = await api.query(ACCEPT_NEW, {"t": token, "p": "late-member-pass-3"})
    assert result.code == "NOT_FOUND", result.body
    assert (await api.login(address, "late-member-pass-3")).code == "UNAUTHENTICATED"


async def test_a_reinvitation_supersedes_the_earlier_token(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    address = f"twice.{unique('n')}@example.cn"
    for role in ("viewer", "operator"):
        result = await api.query(
            INVITE, {"d": tenant(world.a), "e": address, "r": role}, as_user=world.a.users["owner"]
        )
        assert result.code is None, result.body
    old, new = await invitation_tokens(runtime, address)
    assert (await api.query(ACCEPT_NEW, {"t": old, "p": "twice-pass-3x"})).code == "NOT_FOUND"
    assert (await api.query(ACCEPT_NEW, {"t": new, "p": "twice-pass-3x"})).code is None
    assert await memberships(api, address, "twice-pass-3x") == {(tenant(world.a), "operator")}


# --- atomic ------------------------------------------------------------------------------------


async def test_a_failing_invitation_leaves_nothing_behind(
    api: GraphQLClient, runtime: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anything failing after the invitation row is written rolls back the row, its audit
    entry and its mail together."""

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the outbox is full")

    monkeypatch.setattr(invitations, "enqueue_mail", broken)
    address = f"atomic.{unique('n')}@example.cn"
    before = await counts(runtime)
    result = await api.query(
        INVITE,
        {"d": "gov:320100", "e": address, "r": "analyst"},
        as_user=world.regulators["320100"],
    )
    assert result.code == "INTERNAL_SERVER_ERROR", result.body
    assert await counts(runtime) == before
    monkeypatch.undo()
    assert await invitation_tokens(runtime, address) == []


async def test_mail_waits_in_the_outbox_while_the_broker_is_down(
    api: GraphQLClient, runtime: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = runtime.jobs.deliver_mail

    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(actor, "send", refuse)
    address = f"outage.{unique('n')}@example.cn"
    result = await api.query(
        INVITE, {"d": tenant(world.a), "e": address, "r": "viewer"}, as_user=world.a.users["owner"]
    )
    assert result.code is None, result.body  # the invitation committed; its mail waits
    async with runtime.sessions() as session:
        waiting = await session.scalar(select(func.count()).select_from(MailOutboxMessage))
    assert waiting and waiting >= 1
    monkeypatch.undo()
    await unscoped_relay_mail(sessions=runtime.sessions, deliver_mail=actor)
    token = await invitation_token(runtime, address)
    assert (await api.query(ACCEPT_NEW, {"t": token, "p": "outage-pass-3x"})).code is None

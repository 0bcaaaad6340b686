"""Sign-in, tokens (expiry, revocation, foreign keys), invitations and request limits."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from backend.auth.members import unscoped_add_member_in_own_transaction
from backend.auth.models import AuthSession, User
from backend.auth.principal import Principal
from backend.auth.tokens import TokenClaims, TokenCodec
from backend.core.db import utcnow
from backend.runtime import Runtime
from privacy.keyring import Keyring, KeyVersion
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient, Result
from tests.mailbox import invitation_token

ME = "{ me { email memberships { domain role } } }"
INVITE = """
mutation($d: String!, $e: String!, $r: String!) {
  inviteUser(domain: $d, email: $e, role: $r) { email domain role expiresAt }
}"""
ACCEPT = "mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) }"


async def raw_query(api: GraphQLClient, query: str, authorization: str | None) -> Result:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await api.http.post("/graphql", json={"query": query}, headers=headers)
    return Result(response.status_code, response.json())


async def fresh_login(api: GraphQLClient, email: str) -> str:
    """A new token (a new sign-in session), not the client's cached one."""
    result = await api.login(email)
    assert result.code is None, result.body
    return str(result.data["login"]["token"])


async def new_member(runtime: Runtime, tenant_id: uuid.UUID, role: str = "viewer") -> str:
    """A fresh user with ``role`` in the tenant, added as the operator adds one."""
    email = f"{role}.{unique('m')}@example.cn"
    await unscoped_add_member_in_own_transaction(
        sessions=runtime.sessions,
        principal=Principal.system(),
        domain=f"tenant:{tenant_id}",
        email=email,
        role=role,
        password=PASSWORD,
        log2_n=runtime.log2_n,
    )
    return email


def token_claims(runtime: Runtime, token: str) -> dict[str, str]:
    """The claims inside a token, read with the runtime's own token key."""
    key = base64.urlsafe_b64encode(runtime.keyring.derive("user-token"))
    return dict(json.loads(Fernet(key).decrypt(token.encode())))


# --- sign-in ---------------------------------------------------------------------------------


async def test_login_returns_a_token_for_me(api: GraphQLClient, world: World) -> None:
    owner = world.a.users["owner"]
    token = await fresh_login(api, owner)
    result = await api.query(ME, token=token)
    assert result.code is None, result.body
    assert result.data["me"]["email"] == owner.lower()  # addresses are stored lower-case
    assert {"domain": f"tenant:{world.a.tenant_id}", "role": "owner"} in result.data["me"][
        "memberships"
    ]


async def test_login_accepts_email_in_another_case(api: GraphQLClient, world: World) -> None:
    result = await api.login(world.a.users["viewer"].upper())
    assert result.code is None, result.body
    assert result.data["login"]["token"]


async def test_failed_logins_look_the_same(api: GraphQLClient, world: World) -> None:
    wrong_password = await api.login(world.a.users["owner"], "not-the-password")
    unknown_email = await api.login(f"nobody.{unique('x')}@example.cn")
    malformed_email = await api.login("not an e-mail")
    results = [wrong_password, unknown_email, malformed_email]
    for result in results:
        assert result.status == 200
        assert result.codes == ["UNAUTHENTICATED"], result.body
        assert result.data is None
    messages = {r.body["errors"][0]["message"] for r in results}
    assert len(messages) == 1, messages


async def test_disabled_user_cannot_log_in_nor_use_a_token(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    email = await new_member(runtime, world.a.tenant_id)
    token = await fresh_login(api, email)
    async with runtime.sessions() as session, session.begin():
        email_is = await User.email.matches(session, email)
        await session.execute(update(User).where(email_is).values(disabled=True))
    denied = await api.login(email)
    assert denied.codes == ["UNAUTHENTICATED"], denied.body
    wrong = await api.login(world.a.users["owner"], "not-the-password")
    assert denied.body["errors"][0]["message"] == wrong.body["errors"][0]["message"]
    assert (await api.query(ME, token=token)).code == "UNAUTHENTICATED"


# --- tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [ME, "{ sites { id } }"])
async def test_no_token_is_unauthenticated(api: GraphQLClient, query: str) -> None:
    result = await raw_query(api, query, None)
    assert result.status == 200
    assert result.codes == ["UNAUTHENTICATED"], result.body
    assert result.data is None


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token", "Bearer gAAAAABinvalid", "Token abc", "Bearer", "Bearer   ", "Basic"],
)
async def test_bad_authorization_is_unauthenticated(
    api: GraphQLClient, world: World, authorization: str
) -> None:
    for query in (ME, "{ sites { id } }"):
        result = await raw_query(api, query, authorization)
        assert result.codes == ["UNAUTHENTICATED"], (authorization, result.body)


async def test_real_token_under_another_scheme_is_refused(api: GraphQLClient, world: World) -> None:
    token = await api.token_for(world.a.users["owner"])
    assert (await raw_query(api, ME, f"Token {token}")).codes == ["UNAUTHENTICATED"]
    assert (await raw_query(api, ME, token)).codes == ["UNAUTHENTICATED"]
    assert (await raw_query(api, ME, f"bearer {token}")).code is None


async def test_token_signed_with_another_keyring_is_refused(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    token = await fresh_login(api, world.a.users["owner"])
    claims = token_claims(runtime, token)
    foreign = TokenCodec(Keyring([KeyVersion(1, os.urandom(32), "2026-01-01")]), 3600)
    forged = foreign.issue(TokenClaims(uuid.UUID(claims["s"]), uuid.UUID(claims["u"])))
    assert (await api.query(ME, token=forged)).codes == ["UNAUTHENTICATED"]
    # The genuine token for the same session still works: only the key differs.
    assert (await api.query(ME, token=token)).code is None


async def test_token_past_its_ttl_is_refused(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    token = await fresh_login(api, world.a.users["owner"])
    claims = token_claims(runtime, token)
    key = base64.urlsafe_b64encode(runtime.keyring.derive("user-token"))
    issued_at = int(time.time()) - runtime.settings.token_ttl_seconds - 60
    stale = Fernet(key).encrypt_at_time(json.dumps(claims).encode(), issued_at).decode()
    assert (await api.query(ME, token=stale)).codes == ["UNAUTHENTICATED"]
    # Same session, same key, a fresh timestamp: accepted, so the TTL made the difference.
    fresh = Fernet(key).encrypt(json.dumps(claims).encode()).decode()
    assert (await api.query(ME, token=fresh)).code is None


async def test_expired_session_is_refused(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    token = await fresh_login(api, world.a.users["operator"])
    assert (await api.query(ME, token=token)).code is None
    session_id = uuid.UUID(token_claims(runtime, token)["s"])
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await api.query(ME, token=token)).codes == ["UNAUTHENTICATED"]


async def test_logout_revokes_only_that_token(api: GraphQLClient, world: World) -> None:
    email = world.a.users["safety_manager"]
    token = await fresh_login(api, email)
    other = await fresh_login(api, email)
    result = await api.query("mutation { logout }", token=token)
    assert result.code is None, result.body
    assert result.data == {"logout": True}
    for _ in range(2):  # stays refused
        assert (await api.query(ME, token=token)).codes == ["UNAUTHENTICATED"]
        assert (await api.query("{ sites { id } }", token=token)).codes == ["UNAUTHENTICATED"]
    assert (await api.query("mutation { logout }", token=token)).codes == ["UNAUTHENTICATED"]
    assert (await api.query(ME, token=other)).code is None


# --- invitations -----------------------------------------------------------------------------


async def test_invitation_flow(api: GraphQLClient, runtime: Runtime, world: World) -> None:
    domain = f"tenant:{world.a.tenant_id}"
    email = f"invitee.{unique('i')}@example.cn"
    invited = await api.query(
        INVITE, {"d": domain, "e": email, "r": "operator"}, as_user=world.a.users["owner"]
    )
    assert invited.code is None, invited.body
    invitation = invited.data["inviteUser"]
    assert invitation["email"] == email
    assert invitation["role"] == "operator"
    assert "token" not in json.dumps(invited.body)
    token = await invitation_token(runtime, email)  # only the invitee's mailbox has it

    # Not signed up yet: no password works.
    assert (await api.login(email)).codes == ["UNAUTHENTICATED"]

    short = await api.query(ACCEPT, {"t": token, "p": "short"})
    assert short.codes == ["BAD_USER_INPUT"], short.body

    password = "a-good-long-password"
    accepted = await api.query(ACCEPT, {"t": token, "p": password})
    assert accepted.code is None, accepted.body
    assert accepted.data == {"acceptInvitation": True}

    signed_in = await api.login(email, password)
    assert signed_in.code is None, signed_in.body
    me = await api.query(ME, token=signed_in.data["login"]["token"])
    assert me.data["me"] == {
        "email": email,
        "memberships": [{"domain": domain, "role": "operator"}],
    }

    reused = await api.query(ACCEPT, {"t": token, "p": "another-good-password"})
    assert reused.codes == ["NOT_FOUND"], reused.body
    # The reuse did not change the password.
    assert (await api.login(email, "another-good-password")).codes == ["UNAUTHENTICATED"]

    async with runtime.sessions() as session:
        email_is = await User.email.matches(session, email)
        stored = await session.scalar(select(User.password_hash).where(email_is))
    assert stored is not None
    assert stored.startswith("scrypt$")
    assert password not in stored


async def test_unknown_invitation_token_is_not_found(api: GraphQLClient) -> None:
    result = await api.query(ACCEPT, {"t": "no-such-invitation", "p": "a-good-long-password"})
    assert result.codes == ["NOT_FOUND"], result.body


@pytest.mark.parametrize("role", ["director", "platform_admin", "OWNER", "emperor"])
async def test_invite_with_a_role_foreign_to_the_domain(
    api: GraphQLClient, world: World, role: str
) -> None:
    result = await api.query(
        INVITE,
        {"d": f"tenant:{world.a.tenant_id}", "e": f"x.{unique('r')}@example.cn", "r": role},
        as_user=world.a.users["owner"],
    )
    assert result.codes == ["BAD_USER_INPUT"], result.body


async def test_passwords_are_stored_as_scrypt_hashes(runtime: Runtime, world: World) -> None:
    async with runtime.sessions() as session:
        rows = [
            (user.email, user.password_hash)
            for e in world.a.users.values()
            for user in await session.scalars(
                select(User).where(await User.email.matches(session, e.lower()))
            )
        ]
    assert len(rows) == len(world.a.users)
    hashes = set()
    for _email, stored in rows:
        assert stored.startswith("scrypt$"), stored
        assert PASSWORD not in stored
        hashes.add(stored)
    assert len(hashes) == len(rows), "same password, same hash: the salt is missing"


# --- request limits --------------------------------------------------------------------------


async def test_oversized_request_is_413(api: GraphQLClient, world: World) -> None:
    padding = "x" * (4 * 1024 * 1024 + 1)
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": padding}})
    response = await api.http.post(
        "/graphql", content=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_query_depth_over_the_limit_is_an_error(api: GraphQLClient, world: World) -> None:
    depth = 20
    query = "{ sites " + "{ tenant " * depth + "{ id }" + " }" * depth + " }"
    result = await api.query(query, as_user=world.a.users["owner"])
    assert result.status in (200, 400)
    assert result.data is None
    messages = [e["message"] for e in result.body["errors"]]
    assert any("depth" in m for m in messages), messages
    assert set(result.codes) == {"BAD_USER_INPUT"}, result.body
    # The server is still fine afterwards.
    assert (await api.query(ME, as_user=world.a.users["owner"])).code is None

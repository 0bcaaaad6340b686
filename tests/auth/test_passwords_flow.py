"""Changing a password while signed in, and a forgotten password by a mailed one-time link.

``changePassword`` needs the current password (a guess counts as a sign-in attempt), applies
the password policy, ends the account's other sessions and is audited. ``requestPasswordReset``
answers the same for every address after the same work and mails a link only to an account's
own address; ``resetPassword`` takes the link's token once, within the hour, and ends every
session.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.auth.members import unscoped_add_member_in_own_transaction
from backend.auth.models import User
from backend.auth.password_reset import issue_token
from backend.auth.principal import Principal
from backend.core.db import utcnow
from backend.runtime import Runtime
from privacy.audit import AuditEntry
from tests.alarm_helpers import user_id
from tests.alarms.test_query_counts import counted_statements
from tests.conftest import PUBLIC_URL
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient, Result
from tests.ingest_helpers import eventually
from tests.mailbox import body_of, messages_to

NEW_PASSWORD = "lantern-orchid-47"
ME = "{ me { email } }"
CHANGE = """mutation($c: String!, $n: String!) { changePassword(current: $c, new: $n) }"""
REQUEST = """mutation($e: String!) { requestPasswordReset(email: $e) }"""
RESET = """mutation($t: String!, $p: String!) { resetPassword(token: $t, password: $p) }"""
_TOKEN = re.compile(r"Reset token: (\S+)")


async def account(runtime: Runtime, world: World, label: str) -> str:
    """A viewer of tenant A of its own: its throttles and sessions are this test's alone."""
    email = f"{label}.{unique('pw')}@example.cn"
    await unscoped_add_member_in_own_transaction(
        sessions=runtime.sessions,
        principal=Principal.system(),
        domain=f"tenant:{world.a.tenant_id}",
        email=email,
        role="viewer",
        password=PASSWORD,
        log2_n=runtime.log2_n,
    )
    return email


async def token(api: GraphQLClient, email: str, password: str = PASSWORD) -> str:
    result = await api.login(email, password)
    assert result.data, result.body
    return str(result.data["login"]["token"])


async def audited(rt: Runtime, action: str, user: uuid.UUID) -> list[AuditEntry]:
    async with rt.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action, AuditEntry.object_id == str(user))
        )
        return list(rows.all())


# --- changing it ------------------------------------------------------------------------------


async def test_changing_the_password_ends_the_other_sessions(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    email = await account(runtime, world, "change")
    this, other = await token(api, email), await token(api, email)
    changed = await api.query(CHANGE, {"c": PASSWORD, "n": NEW_PASSWORD}, token=this)
    assert changed.data == {"changePassword": True}, changed.body
    assert (await api.query(ME, token=this)).data == {"me": {"email": email.lower()}}
    assert (await api.query(ME, token=other)).code == "UNAUTHENTICATED"
    assert (await api.login(email)).code == "UNAUTHENTICATED"
    assert (await api.login(email, NEW_PASSWORD)).data
    (entry,) = await audited(runtime, "auth.password_change", await user_id(runtime, email))
    assert entry.detail == {"sessions_revoked": 1}


async def test_a_wrong_current_password_or_a_weak_new_one_changes_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    email = await account(runtime, world, "weak")
    signed_in = await token(api, email)
    for current, new in (
        ("not-the-password", NEW_PASSWORD),
        (PASSWORD, "short"),
        (PASSWORD, "password123"),
        (PASSWORD, email),
    ):
        result = await api.query(CHANGE, {"c": current, "n": new}, token=signed_in)
        assert result.code == "BAD_USER_INPUT", (current, new, result.body)
    assert (await api.login(email)).data  # still the old password
    anonymous = await api.query(CHANGE, {"c": PASSWORD, "n": NEW_PASSWORD})
    assert anonymous.code == "UNAUTHENTICATED"


@pytest.mark.usefixtures("throttle_clock_stands_still")
async def test_guessing_the_current_password_is_throttled_like_signing_in(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    email = await account(runtime, world, "guess")
    signed_in = await token(api, email)
    codes: list[str | None] = []
    # Five guesses are free, the sixth starts a one-second lock that doubles with each guess
    # past it: guess until refused (a slow machine may outlast the first lock).
    while "RATE_LIMITED" not in codes and len(codes) < 12:
        guess = {"c": f"guess-{len(codes)}-wrong", "n": NEW_PASSWORD}
        codes.append((await api.query(CHANGE, guess, token=signed_in)).code)
    assert len(codes) >= 7 and set(codes[:-1]) == {"BAD_USER_INPUT"}, codes
    assert codes[-1] == "RATE_LIMITED", codes
    # The same throttle as the sign-in page: the right password waits too.
    assert (await api.login(email)).code == "RATE_LIMITED"


# --- a forgotten password ---------------------------------------------------------------------


async def mailed_tokens(rt: Runtime, email: str, count: int = 1) -> list[str]:
    """The reset tokens mailed to ``email`` once ``count`` have arrived (oldest first)."""

    async def found() -> list[Any]:
        return await messages_to(rt, email)

    messages = await eventually(found, lambda m: len(m) >= count, within=20)
    tokens = []
    for message in messages:
        body = body_of(message)
        match = _TOKEN.search(body)
        assert match, body
        assert f"{PUBLIC_URL}/app/reset-password?token={match.group(1)}" in body
        tokens.append(match.group(1))
    assert len(tokens) >= count, tokens
    return tokens


async def test_a_mailed_link_sets_a_new_password_once(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    email = await account(runtime, world, "reset")
    before = await token(api, email)
    asked = await api.query(REQUEST, {"e": email.upper()})
    assert asked.data == {"requestPasswordReset": True}, asked.body
    (reset_token,) = await mailed_tokens(runtime, email)
    (message,) = await messages_to(runtime, email)
    assert "重置" in str(message["Subject"]) and "reset" in str(message["Subject"])

    done = await api.query(RESET, {"t": reset_token, "p": NEW_PASSWORD})
    assert done.data == {"resetPassword": True}, done.body
    assert (await api.query(ME, token=before)).code == "UNAUTHENTICATED"  # every session ends
    assert (await api.login(email)).code == "UNAUTHENTICATED"
    assert (await api.login(email, NEW_PASSWORD)).data
    again = await api.query(RESET, {"t": reset_token, "p": "another-fine-phrase-9"})
    assert again.code == "NOT_FOUND", again.body  # one-time
    uid = await user_id(runtime, email)
    (entry,) = await audited(runtime, "auth.password_reset", uid)
    assert entry.detail == {"sessions_revoked": 1}
    assert await audited(runtime, "auth.password_reset_requested", uid)


async def test_using_one_link_kills_the_others(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    email = await account(runtime, world, "two")
    for _ in range(2):
        assert (await api.query(REQUEST, {"e": email})).data == {"requestPasswordReset": True}
    first, second = await mailed_tokens(runtime, email, 2)
    assert first != second
    assert (await api.query(RESET, {"t": second, "p": NEW_PASSWORD})).data
    late = await api.query(RESET, {"t": first, "p": "another-fine-phrase-9"})
    assert late.code == "NOT_FOUND", late.body
    assert (await api.login(email, NEW_PASSWORD)).data


async def test_an_expired_forged_or_garbled_token_is_refused(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    email = await account(runtime, world, "expired")
    uid = await user_id(runtime, email)
    async with runtime.sessions() as session:
        user = await session.get(User, uid)
        assert user is not None
        expired, _ = issue_token(runtime.keyring, user, utcnow() - timedelta(minutes=61))
        fresh, expires = issue_token(runtime.keyring, user, utcnow())
    assert timedelta(minutes=59) < expires - utcnow() <= timedelta(hours=1)
    version, payload, mac = fresh.split(".")
    other = issue_token(runtime.keyring, user, utcnow())[0].split(".")[1]
    forged_mac = ("A" if mac[0] != "A" else "B") + mac[1:]
    for bad in (
        expired,
        f"{version}.{payload}.{forged_mac}",
        f"{version}.{other[:-2]}AA.{mac}",  # someone else's id or a later expiry
        f"{int(version) + 100}.{payload}.{mac}",  # a key version nobody has
        "garbage",
        "",
    ):
        result = await api.query(RESET, {"t": bad, "p": NEW_PASSWORD})
        assert result.code == "NOT_FOUND", (bad, result.body)
    assert (await api.login(email)).data  # unchanged
    weak = await api.query(RESET, {"t": fresh, "p": "password"})
    assert weak.code == "BAD_USER_INPUT", weak.body
    assert (await api.query(RESET, {"t": fresh, "p": NEW_PASSWORD})).data  # still good


async def requests_handled(rt: Runtime) -> int:
    async with rt.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry.seq).where(AuditEntry.action == "auth.password_reset_requested")
        )
        return len(rows.all())


async def test_the_answer_and_the_work_are_the_same_for_any_address(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    known = await account(runtime, world, "known")
    unknown = f"nobody.{unique('pw')}@example.cn"
    answers: dict[str, tuple[Result, list[str]]] = {}
    for email in (known, unknown, "not an address"):
        handled = await requests_handled(runtime)
        with counted_statements(runtime) as statements:
            result = await api.query(REQUEST, {"e": email})
        answers[email] = (result, statements)
        settled = await eventually(
            lambda: requests_handled(runtime), lambda n, before=handled: n > before
        )
        assert settled > handled
    bodies = {email: (r.status, r.body) for email, (r, _) in answers.items()}
    assert len(set(map(str, bodies.values()))) == 1, bodies
    assert answers[known][0].body == {"data": {"requestPasswordReset": True}}
    # Same timing: within the request only the throttle is read and written (its rows are
    # per address and per client, made alike for an address with or without an account); the
    # account is looked up, and its mail written, only after the answer.
    for email, (_, statements) in answers.items():
        assert statements, email
        for statement in statements:
            if "set_config('anjian." in statement:
                continue  # PostgreSQL's row-level-security scope of the transaction
            assert "login_throttles" in statement, (email, statement)
            assert "users" not in statement and "mail_outbox" not in statement, statement
    await mailed_tokens(runtime, known)
    assert await messages_to(runtime, unknown) == []


async def test_requests_are_throttled_per_address_known_or_not(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    known = await account(runtime, world, "flood")
    unknown = f"nobody.{unique('pw')}@example.cn"
    for email in (known, unknown):
        codes = [(await api.query(REQUEST, {"e": email})).code for _ in range(5)]
        assert codes == [None, None, None, None, "RATE_LIMITED"], (email, codes)
    refused = await api.query(REQUEST, {"e": known})
    assert refused.code == "RATE_LIMITED"
    extensions = refused.body["errors"][0]["extensions"]
    assert extensions["retryAfterSeconds"] >= 1
    # Only the mails the throttle let through were sent.
    assert len(await mailed_tokens(runtime, known, 4)) == 4

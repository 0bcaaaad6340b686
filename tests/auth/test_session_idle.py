"""Sessions in use stay signed in; sessions left alone end after the tenant's idle timeout.

A control-room display keeps its page open for days: each request marks the session used, and
past half its life the cookie's token is replaced by a fresh one for the same session, so the
display is never signed out while it is open. A session nobody used for the idle timeout (the
owner's choice per tenant, else the platform's) is ended for good.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from backend.auth.models import AuthSession
from backend.core.db import utcnow
from backend.runtime import Runtime
from privacy.audit import AuditEntry
from tenants.models import Tenant
from tests.auth.test_browser_sessions import ME, Browser
from tests.factories import World
from tests.graphql import GraphQLClient

SET_IDLE = """mutation($t: ID!, $m: Int) {
  setTenantIdleTimeout(tenantId: $t, minutes: $m) { id idleTimeoutMinutes } }"""
TENANTS = "query { tenants { id idleTimeoutMinutes sessionIdleDefaultMinutes } }"


async def _session_id(runtime: Runtime, cookie: str) -> uuid.UUID:
    return runtime.tokens.read(cookie).session_id


async def _last_used(runtime: Runtime, session_id: uuid.UUID, minutes_ago: float) -> None:
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id)
            .values(last_seen_at=utcnow() - timedelta(minutes=minutes_ago))
        )


async def _row(runtime: Runtime, session_id: uuid.UUID) -> AuthSession:
    async with runtime.sessions() as session:
        row = await session.get(AuthSession, session_id)
        assert row is not None
        return row


@pytest.fixture
def browser(api: GraphQLClient) -> Iterator[Browser]:
    yield Browser(api)
    api.http.cookies.clear()


@pytest.fixture(autouse=True)
async def _platform_default_again(runtime: Runtime, world: World) -> AsyncIterator[None]:
    """The world is shared by the tests of a session: each leaves tenant A as it found it."""
    yield
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(Tenant).where(Tenant.id == world.a.tenant_id).values(idle_timeout_minutes=None)
        )


async def _set_idle(api: GraphQLClient, world: World, minutes: int | None, role: str = "owner"):
    return await api.query(
        SET_IDLE, {"t": str(world.a.tenant_id), "m": minutes}, as_user=world.a.users[role]
    )


async def test_the_owner_sets_the_idle_timeout_and_it_is_audited(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    owner = world.a.users["owner"]
    before = await api.query(TENANTS, as_user=owner)
    assert before.data == {
        "tenants": [
            {
                "id": str(world.a.tenant_id),
                "idleTimeoutMinutes": None,
                "sessionIdleDefaultMinutes": runtime.settings.session_idle_minutes,
            }
        ]
    }
    changed = await _set_idle(api, world, 480)
    assert changed.data == {
        "setTenantIdleTimeout": {"id": str(world.a.tenant_id), "idleTimeoutMinutes": 480}
    }
    back = await _set_idle(api, world, None)
    assert back.data["setTenantIdleTimeout"]["idleTimeoutMinutes"] is None
    async with runtime.sessions() as session:
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.action == "tenant.idle_timeout",
                    AuditEntry.object_id == str(world.a.tenant_id),
                )
                .order_by(AuditEntry.seq)
            )
        ).all()
    assert [e.detail for e in entries] == [
        {"minutes": 480, "previous": None},
        {"minutes": None, "previous": 480},
    ]


@pytest.mark.parametrize("minutes", [0, 4, 1441, -30])
async def test_an_idle_timeout_out_of_range_is_refused_and_changes_nothing(
    api: GraphQLClient, world: World, minutes: int
) -> None:
    refused = await _set_idle(api, world, minutes)
    assert refused.code == "BAD_USER_INPUT"
    assert "5 to 1440 minutes" in refused.body["errors"][0]["message"]
    now = await api.query(TENANTS, as_user=world.a.users["owner"])
    assert now.data["tenants"][0]["idleTimeoutMinutes"] is None


@pytest.mark.parametrize("role", ["safety_manager", "operator", "viewer"])
async def test_only_the_owner_sets_the_idle_timeout(
    api: GraphQLClient, world: World, role: str
) -> None:
    assert (await _set_idle(api, world, 60, role)).code == "FORBIDDEN"


async def test_another_tenants_owner_and_the_platform_cannot_set_it(
    api: GraphQLClient, world: World
) -> None:
    for email in (world.b.users["owner"], world.platform_admin, world.regulators["320100"]):
        refused = await api.query(SET_IDLE, {"t": str(world.a.tenant_id), "m": 60}, as_user=email)
        assert refused.code == "NOT_FOUND", email


async def test_a_session_unused_past_the_tenants_timeout_ends_for_good(
    api: GraphQLClient,
    browser: Browser,
    runtime: Runtime,
    world: World,
) -> None:
    assert not (await _set_idle(api, world, 15)).codes
    viewer = world.a.users["viewer"]
    cookie = await browser.session(viewer)
    session_id = await _session_id(runtime, cookie)

    await _last_used(runtime, session_id, minutes_ago=14)
    used = await browser.post(ME, cookie=cookie)
    assert used.result.data and used.result.data["me"]["email"] == viewer.lower()
    seen = (await _row(runtime, session_id)).last_seen_at
    assert seen is not None and utcnow() - seen < timedelta(seconds=30)  # marked used now

    await _last_used(runtime, session_id, minutes_ago=16)
    ended = await browser.post(ME, cookie=cookie)
    assert ended.result.codes == ["UNAUTHENTICATED"]
    assert "15 minutes without use" in ended.result.body["errors"][0]["message"]
    assert (await _row(runtime, session_id)).revoked_at is not None

    # A longer timeout later does not bring the ended session back.
    assert not (await _set_idle(api, world, 600)).codes
    again = await browser.post(ME, cookie=cookie)
    assert again.result.codes == ["UNAUTHENTICATED"]


async def test_without_a_tenant_choice_the_platforms_default_applies(
    browser: Browser,
    runtime: Runtime,
    world: World,
) -> None:
    default = runtime.settings.session_idle_minutes
    for email in (world.a.users["operator"], world.regulators["320100"]):
        cookie = await browser.session(email)
        session_id = await _session_id(runtime, cookie)
        await _last_used(runtime, session_id, minutes_ago=default - 1)
        assert (await browser.post(ME, cookie=cookie)).result.data, email
        await _last_used(runtime, session_id, minutes_ago=default + 1)
        assert (await browser.post(ME, cookie=cookie)).result.codes == ["UNAUTHENTICATED"]


async def test_a_bearer_token_unused_past_the_timeout_ends_too(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    assert not (await _set_idle(api, world, 5)).codes
    login = await api.login(world.a.users["viewer"])
    token = login.data["login"]["token"]
    await _last_used(runtime, runtime.tokens.read(token).session_id, minutes_ago=6)
    assert (await api.query(ME, token=token)).code == "UNAUTHENTICATED"


async def test_a_page_in_use_gets_a_fresh_cookie_past_half_its_life(
    browser: Browser,
    runtime: Runtime,
    world: World,
) -> None:
    """A cookie past half its life is answered with a fresh one for the same session, which
    works where a token past its whole life does not."""
    codec = runtime.tokens
    first = await browser.session(world.a.users["viewer"])
    fresh_now = await browser.post(ME, cookie=first)
    assert fresh_now.result.data and fresh_now.session_cookie is None

    claims = codec.read(first)
    now = int(time.time())
    aging = codec.issue(claims, issued_at=now - int(codec.ttl_seconds * 0.6))
    renewed = await browser.post(ME, cookie=aging)
    assert renewed.result.data, renewed.result.body
    cookie = renewed.session_cookie
    assert cookie is not None and cookie.value not in (first, aging)
    assert "httponly" in cookie.attributes and cookie.attributes["samesite"] == "Strict"
    assert int(cookie.attributes["max-age"]) == codec.ttl_seconds
    assert codec.read(cookie.value).session_id == claims.session_id
    # The session's expiry moved with the fresh token.
    row = await _row(runtime, claims.session_id)
    assert row.expires_at - utcnow() > timedelta(seconds=codec.ttl_seconds * 0.9)

    expired = codec.issue(claims, issued_at=now - codec.ttl_seconds - 60)
    assert (await browser.post(ME, cookie=expired)).result.codes == ["UNAUTHENTICATED"]
    assert (await browser.post(ME, cookie=cookie.value)).result.data

"""Browser sessions for the portals (CONTRACT.md, web portals): ``signIn`` puts the session in
an HttpOnly cookie and answers no token, ``signOut`` ends it, a request the cookie signs in
must carry ``X-Anjian-CSRF: 1``, a WebSocket takes the cookie only from the server's own
origin, and ``login`` with the bearer header keeps working beside it.

The browser is played by hand on the shared ``api`` client: its cookie jar is emptied after
every exchange, so a cookie goes only where a test sends it (and never into another test).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import ipaddress
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.types import ASGIApp, Receive, Scope, Send
from PIL import Image
from sqlalchemy import select

from backend.auth.browser import SESSION_COOKIE
from backend.auth.members import unscoped_add_member_in_own_transaction
from backend.auth.principal import Principal
from backend.runtime import Runtime
from privacy.audit import AuditEntry
from tests.alarm_helpers import ACKNOWLEDGE, gas_alarms, gas_device, raise_alarm
from tests.alarm_helpers import user_id as user_id_of
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient, Result
from tests.ingest_helpers import new_device, upload

ME = "query { me { email memberships { domain role } } }"
SIGN_IN = """mutation($e: String!, $p: String!) {
  signIn(email: $e, password: $p) { me { email memberships { domain role } } } }"""
SIGN_OUT = "mutation { signOut }"
SITES = "query { sites { id name } }"
SITE = "query($id: ID!) { site(id: $id) { id name } }"
CSRF = {"X-Anjian-CSRF": "1"}
PROTOCOL = "graphql-transport-ws"
OWN_ORIGIN = "http://testserver.local"  # the test client's base URL
WAIT = 20.0
PROXY = "10.0.0.2"


@dataclass
class SetCookie:
    """One ``Set-Cookie`` header, read as a browser reads it."""

    name: str
    value: str
    attributes: dict[str, str]  # lowercase names; flags map to ""

    @classmethod
    def parse(cls, header: str) -> SetCookie:
        first, *rest = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        attributes = {}
        for part in rest:
            key, _, val = part.partition("=")
            attributes[key.strip().lower()] = val.strip()
        return cls(name, value.strip('"'), attributes)


@dataclass
class Exchange:
    result: Result
    text: str
    set_cookies: list[SetCookie]

    @property
    def session_cookie(self) -> SetCookie | None:
        named = [c for c in self.set_cookies if c.name == SESSION_COOKIE]
        assert len(named) <= 1, self.set_cookies
        return named[0] if named else None


@dataclass
class Browser:
    """What the portal's GraphQL client sends (``portal/web/src/shared/graphql/client.ts``),
    with the session cookie passed explicitly."""

    api: GraphQLClient

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        cookie: str | None = None,
        csrf: str | None = "1",
        headers: dict[str, str] | None = None,
        url: str = "/graphql",
    ) -> Exchange:
        sent = dict(headers or {})
        if csrf is not None:
            sent["X-Anjian-CSRF"] = csrf
        if cookie is not None:
            sent["Cookie"] = f"{SESSION_COOKIE}={cookie}"
        http = self.api.http
        try:
            response = await http.post(
                url, json={"query": query, "variables": variables or {}}, headers=sent
            )
        finally:
            http.cookies.clear()
        cookies = [SetCookie.parse(h) for h in response.headers.get_list("set-cookie")]
        return Exchange(Result(response.status_code, response.json()), response.text, cookies)

    async def sign_in(self, email: str, password: str = PASSWORD, **kwargs: Any) -> Exchange:
        return await self.post(SIGN_IN, {"e": email, "p": password}, **kwargs)

    async def session(self, email: str) -> str:
        """A fresh browser session of ``email``: the cookie's value."""
        signed_in = await self.sign_in(email)
        assert signed_in.result.data, signed_in.result.body
        cookie = signed_in.session_cookie
        assert cookie is not None and cookie.value
        return cookie.value


@pytest.fixture
def browser(api: GraphQLClient) -> Iterator[Browser]:
    yield Browser(api)
    api.http.cookies.clear()


async def account(runtime: Runtime, world: World, label: str) -> str:
    """A viewer of tenant A of its own, so its sign-in throttle starts clean."""
    email = f"{label}.{unique('bs')}@example.cn"
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


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


# --- signIn ------------------------------------------------------------------------------------


async def test_sign_in_sets_an_httponly_strict_cookie_and_answers_no_token(
    browser: Browser, runtime: Runtime, world: World
) -> None:
    owner = world.a.users["owner"]
    signed_in = await browser.sign_in(owner)
    assert signed_in.result.status == 200 and not signed_in.result.codes, signed_in.result.body
    me = signed_in.result.body["data"]["signIn"]["me"]
    assert me["email"] == owner.lower()
    assert {"domain": f"tenant:{world.a.tenant_id}", "role": "owner"} in me["memberships"]

    cookie = signed_in.session_cookie
    assert cookie is not None and len(cookie.value) > 40
    assert "httponly" in cookie.attributes
    assert cookie.attributes["path"] == "/"
    assert cookie.attributes["samesite"] == "Strict"
    assert int(cookie.attributes["max-age"]) == runtime.tokens.ttl_seconds
    assert "secure" not in cookie.attributes  # plain HTTP: a Secure cookie would never return
    # No token anywhere in the answer: not the cookie's, not a field called token.
    assert cookie.value not in signed_in.text
    assert "token" not in keys_of(signed_in.result.body)


async def test_the_cookie_signs_requests_in(browser: Browser, world: World) -> None:
    owner = world.a.users["owner"]
    cookie = await browser.session(owner)
    me = await browser.post(ME, cookie=cookie)
    assert me.result.data == {
        "me": {
            "email": owner.lower(),
            "memberships": [{"domain": f"tenant:{world.a.tenant_id}", "role": "owner"}],
        }
    }
    assert me.set_cookies == []  # a signed-in request does not touch the cookie


async def test_me_without_a_session_answers_as_for_anyone_anonymous(
    browser: Browser, api: GraphQLClient
) -> None:
    anonymous = await api.query(ME)
    for exchange in (await browser.post(ME), await browser.post(ME, csrf=None)):
        assert exchange.result.codes == anonymous.codes == ["UNAUTHENTICATED"]


async def test_a_wrong_password_sets_no_cookie(browser: Browser, world: World) -> None:
    refused = await browser.sign_in(world.a.users["owner"], "not-the-password-1")
    assert refused.result.codes == ["UNAUTHENTICATED"]
    assert refused.session_cookie is None


@pytest.mark.parametrize("csrf", [None, "", "0", "yes"], ids=["missing", "empty", "0", "yes"])
async def test_sign_in_needs_the_csrf_header(
    browser: Browser, runtime: Runtime, world: World, csrf: str | None
) -> None:
    """Login CSRF: no other site may sign this browser in to an account of its choosing."""
    email = await account(runtime, world, "csrf")
    refused = await browser.sign_in(email, csrf=csrf)
    assert refused.result.codes == ["FORBIDDEN"], refused.result.body
    assert "X-Anjian-CSRF" in refused.result.body["errors"][0]["message"]
    assert refused.session_cookie is None
    async with runtime.sessions() as session:
        signed_in = await session.scalar(
            select(AuditEntry.seq).where(
                AuditEntry.object_id == str(await user_id_of(runtime, email)),
                AuditEntry.action.in_(("auth.sign_in", "auth.sign_in_failed")),
            )
        )
    assert signed_in is None  # refused before the attempt: not even counted


async def test_sign_in_again_ends_the_session_it_replaces(browser: Browser, world: World) -> None:
    owner = world.a.users["owner"]
    first = await browser.session(owner)
    again = await browser.sign_in(owner, cookie=first)
    second = again.session_cookie
    assert second is not None and second.value != first
    assert (await browser.post(ME, cookie=first)).result.codes == ["UNAUTHENTICATED"]
    assert (await browser.post(ME, cookie=second.value)).result.data


# --- CSRF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("csrf", [None, "0", "true"], ids=["missing", "0", "true"])
async def test_a_cookie_without_the_csrf_header_is_forbidden_and_changes_nothing(
    browser: Browser, api: GraphQLClient, runtime: Runtime, world: World, csrf: str | None
) -> None:
    owner = world.a.users["owner"]
    dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    alarm = await raise_alarm(api, owner, dev, 30.0)
    assert alarm["status"] == "ACTIVE_UNACKNOWLEDGED"
    cookie = await browser.session(owner)

    for query, variables in ((ACKNOWLEDGE, {"id": alarm["id"]}), (ME, {}), (SIGN_OUT, {})):
        refused = await browser.post(query, variables, cookie=cookie, csrf=csrf)
        assert refused.result.codes == ["FORBIDDEN"], (query, refused.result.body)
        assert refused.result.data is None
        message = refused.result.body["errors"][0]["message"]
        assert "X-Anjian-CSRF: 1" in message
        assert refused.set_cookies == []

    (seen,) = [a for a in await gas_alarms(api, owner, dev) if a["id"] == alarm["id"]]
    assert (seen["status"], seen["acknowledged"]) == ("ACTIVE_UNACKNOWLEDGED", False)
    # The session itself was not ended by the refused signOut; with the header all works.
    done = await browser.post(ACKNOWLEDGE, {"id": alarm["id"]}, cookie=cookie)
    assert done.result.data and done.result.data["acknowledgeAlarm"]["status"] == "ACKNOWLEDGED"


async def test_the_bearer_wins_over_the_cookie_and_needs_no_csrf_header(
    browser: Browser, api: GraphQLClient, world: World
) -> None:
    cookie = await browser.session(world.a.users["owner"])
    token = await api.token_for(world.b.users["owner"])
    me = await browser.post(
        ME, cookie=cookie, csrf=None, headers={"Authorization": f"Bearer {token}"}
    )
    assert me.result.data and me.result.data["me"]["email"] == world.b.users["owner"].lower()
    # A bad bearer is not rescued by a good cookie: the request is the bearer's.
    bad = await browser.post(ME, cookie=cookie, headers={"Authorization": "Bearer nonsense"})
    assert bad.result.codes == ["UNAUTHENTICATED"]
    # API clients as before: login, then the bearer header, no CSRF header anywhere.
    assert (await api.query(ME, token=token)).data


async def test_a_cookie_user_sees_only_its_own_tenant(browser: Browser, world: World) -> None:
    for role in ("owner", "viewer"):
        cookie = await browser.session(world.a.users[role])
        sites = await browser.post(SITES, cookie=cookie)
        ids = {s["id"] for s in sites.result.body["data"]["sites"]}
        assert str(world.a.site_id) in ids and str(world.b.site_id) not in ids
        foreign = await browser.post(SITE, {"id": str(world.b.site_id)}, cookie=cookie)
        assert foreign.result.codes == ["NOT_FOUND"], foreign.result.body


# --- signOut -----------------------------------------------------------------------------------


async def test_sign_out_revokes_the_session_and_clears_the_cookie(
    browser: Browser, runtime: Runtime, world: World
) -> None:
    owner = world.a.users["owner"]
    cookie = await browser.session(owner)
    out = await browser.post(SIGN_OUT, cookie=cookie)
    assert out.result.data == {"signOut": True}
    cleared = out.session_cookie
    assert cleared is not None and cleared.value == ""
    assert cleared.attributes["max-age"] == "0" and cleared.attributes["path"] == "/"
    # A copy of the cookie kept by anyone is worth nothing now.
    replay = await browser.post(ME, cookie=cookie)
    assert replay.result.codes == ["UNAUTHENTICATED"], replay.result.body
    async with runtime.sessions() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.object_id == str(await user_id_of(runtime, owner)),
                    AuditEntry.action == "auth.sign_out",
                )
            )
        ).all()
    assert actions


async def test_sign_out_is_idempotent(browser: Browser, api: GraphQLClient, world: World) -> None:
    cookie = await browser.session(world.a.users["viewer"])
    assert (await browser.post(SIGN_OUT, cookie=cookie)).result.data == {"signOut": True}
    again = await browser.post(SIGN_OUT, cookie=cookie)  # the ended session's cookie
    assert again.result.data == {"signOut": True}, again.result.body
    nothing = await browser.post(SIGN_OUT)  # no session at all
    assert nothing.result.data == {"signOut": True}, nothing.result.body
    assert nothing.session_cookie is not None and nothing.session_cookie.value == ""
    # A bearer's token is not the browser session: signOut leaves it working.
    token = await api.token_for(world.a.users["viewer"])
    assert (await browser.post(SIGN_OUT, headers={"Authorization": f"Bearer {token}"})).result.data
    assert (await api.query(ME, token=token)).data


# --- throttling --------------------------------------------------------------------------------


@pytest.mark.usefixtures("throttle_clock_stands_still")
async def test_failed_sign_ins_lock_login_too(
    browser: Browser, api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    email = await account(runtime, world, "browser")
    for i in range(6):
        assert (await browser.sign_in(email, f"wrong-{i}-pass")).result.codes == ["UNAUTHENTICATED"]
    limited = await api.login(email)
    assert limited.code == "RATE_LIMITED", limited.body
    assert limited.body["errors"][0]["extensions"]["retryAfterSeconds"] >= 1


@pytest.mark.usefixtures("throttle_clock_stands_still")
async def test_failed_logins_lock_sign_in_too(
    browser: Browser, api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    email = await account(runtime, world, "api")
    for i in range(6):
        assert (await api.login(email, f"wrong-{i}-pass")).code == "UNAUTHENTICATED"
    limited = await browser.sign_in(email)
    assert limited.result.codes == ["RATE_LIMITED"], limited.result.body
    error = limited.result.body["errors"][0]
    assert error["extensions"]["retryAfterSeconds"] >= 1
    assert "try again in" in error["message"]
    assert limited.session_cookie is None


# --- TLS ---------------------------------------------------------------------------------------


def from_peer(app: ASGIApp, peer: str) -> ASGIApp:
    """The app as reached from ``peer`` (the test client's connections come from nowhere)."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "client": (peer, 50000)}, receive, send)  # type: ignore[typeddict-item]

    return asgi


@pytest.fixture
def behind_proxy(
    api: GraphQLClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Requests arrive from ``PROXY``, a proxy the settings trust."""
    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    monkeypatch.setattr(
        runtime, "settings", dataclasses.replace(runtime.settings, trusted_proxies=trusted)
    )
    monkeypatch.setattr(api.http, "app", from_peer(api.http.app, PROXY))
    yield


@pytest.fixture
def from_stranger(api: GraphQLClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Requests arrive from an address the settings do not trust."""
    monkeypatch.setattr(api.http, "app", from_peer(api.http.app, "203.0.113.9"))
    yield


async def test_the_cookie_is_secure_over_tls(browser: Browser, world: World) -> None:
    signed_in = await browser.sign_in(
        world.a.users["owner"], url="https://testserver.local/graphql"
    )
    cookie = signed_in.session_cookie
    assert cookie is not None and "secure" in cookie.attributes


async def test_the_cookie_is_secure_behind_a_trusted_tls_proxy(
    browser: Browser, world: World, behind_proxy: None
) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}
    signed_in = await browser.sign_in(world.a.users["owner"], headers=forwarded)
    cookie = signed_in.session_cookie
    assert cookie is not None and "secure" in cookie.attributes
    out = await browser.post(SIGN_OUT, cookie=cookie.value, headers=forwarded)
    assert out.session_cookie is not None and "secure" in out.session_cookie.attributes
    page = await browser.api.http.get("/healthz", headers=forwarded)
    assert page.headers["strict-transport-security"].startswith("max-age=")


async def test_a_forwarded_proto_from_anyone_else_is_not_believed(
    browser: Browser, world: World, from_stranger: None
) -> None:
    forwarded = {"X-Forwarded-Proto": "https"}
    signed_in = await browser.sign_in(world.a.users["owner"], headers=forwarded)
    cookie = signed_in.session_cookie
    assert cookie is not None and "secure" not in cookie.attributes
    page = await browser.api.http.get("/healthz", headers=forwarded)
    assert "strict-transport-security" not in page.headers


# --- WebSocket ---------------------------------------------------------------------------------


@dataclass
class Handshake:
    acknowledged: bool
    close_code: int | None = None


async def ws_connect(
    api: GraphQLClient, headers: dict[str, str], payload: dict[str, Any] | None = None
) -> Handshake:
    """Open graphql-transport-ws, send connection_init, report whether it was acknowledged."""
    with await api.http.websocket_connect(
        "/graphql", subprotocols=[PROTOCOL], headers=headers
    ) as ws:
        ws.send_json({"type": "connection_init", "payload": payload or {}})
        try:
            message = await asyncio.to_thread(ws.receive_json, timeout=WAIT)
        except WebSocketDisconnect as closed:
            return Handshake(False, closed.code)
        assert message["type"] == "connection_ack", message
        return Handshake(await ws_me(ws))


async def ws_me(ws: Any) -> bool:
    """Whether ``me`` over the socket answers a signed-in user."""
    ws.send_json({"id": "me", "type": "subscribe", "payload": {"query": ME}})
    message = await asyncio.to_thread(ws.receive_json, timeout=WAIT)
    assert message["type"] == "next", message
    return bool(message["payload"].get("data"))


async def test_a_websocket_takes_the_cookie_from_the_servers_own_origin(
    browser: Browser, api: GraphQLClient, world: World
) -> None:
    cookie = await browser.session(world.a.users["owner"])
    own = await ws_connect(api, {"Origin": OWN_ORIGIN, "Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert own.acknowledged


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://testserver.local.evil.example",
        "https://testserver.local",
        "http://testserver.local:8080",
        "null",
        None,
    ],
)
async def test_a_websocket_from_another_origin_gets_nothing_from_the_cookie(
    browser: Browser, api: GraphQLClient, world: World, origin: str | None
) -> None:
    cookie = await browser.session(world.a.users["owner"])
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    if origin is not None:
        headers["Origin"] = origin
    foreign = await ws_connect(api, headers)
    assert not foreign.acknowledged and foreign.close_code == 4403, foreign
    # A token in connection_init still counts from anywhere (a script, another client).
    token = await api.token_for(world.a.users["owner"])
    with_token = await ws_connect(api, headers, {"authorization": f"Bearer {token}"})
    assert with_token.acknowledged


async def test_behind_a_trusted_tls_proxy_the_own_origin_is_https(
    browser: Browser, api: GraphQLClient, world: World, behind_proxy: None
) -> None:
    cookie = await browser.session(world.a.users["owner"])
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", "X-Forwarded-Proto": "https"}
    own = await ws_connect(api, {**headers, "Origin": "https://testserver.local"})
    assert own.acknowledged
    plain = await ws_connect(api, {**headers, "Origin": "http://testserver.local"})
    assert not plain.acknowledged and plain.close_code == 4403
    # The proxy may name the host the browser used.
    renamed = {**headers, "X-Forwarded-Host": "anjian.example.cn"}
    public = await ws_connect(api, {**renamed, "Origin": "https://anjian.example.cn"})
    assert public.acknowledged


async def test_a_websocket_refuses_an_ended_session_cookie(
    browser: Browser, api: GraphQLClient, world: World
) -> None:
    cookie = await browser.session(world.a.users["viewer"])
    await browser.post(SIGN_OUT, cookie=cookie)
    ended = await ws_connect(api, {"Origin": OWN_ORIGIN, "Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert not ended.acknowledged and ended.close_code == 4403


# --- REST --------------------------------------------------------------------------------------


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
async def snapshot_key(api: GraphQLClient, runtime: Runtime, world: World) -> AsyncIterator[str]:
    dev = await new_device(
        runtime,
        world.a.tenant_id,
        world.a.site_id,
        [{"code": "CAM-1", "kind": "temperature", "unit": "°C"}],
    )
    uploaded = await upload(api.http, dev, _jpeg(), "image/jpeg")
    assert uploaded.status_code == 201, uploaded.text
    yield uploaded.json()["snapshot"]


async def test_the_snapshot_route_takes_the_cookie_with_the_csrf_header(
    browser: Browser, api: GraphQLClient, world: World, snapshot_key: str
) -> None:
    cookie = await browser.session(world.a.users["owner"])
    http = api.http
    url = f"/api/v1/snapshots/{snapshot_key}"
    try:
        refused = await http.get(url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
        assert refused.status_code == 403, refused.text
        assert "X-Anjian-CSRF" in refused.json()["error"]
        served = await http.get(url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}", **CSRF})
        assert served.status_code == 200, served.text
        assert served.headers["content-type"] == "image/jpeg"
        # Another tenant's user, signed in the same way, is not shown it.
        stranger = await browser.session(world.b.users["owner"])
        hidden = await http.get(url, headers={"Cookie": f"{SESSION_COOKIE}={stranger}", **CSRF})
        assert hidden.status_code == 404, hidden.text
        anonymous = await http.get(url, headers=CSRF)
        assert anonymous.status_code == 401
        token = await api.token_for(world.a.users["owner"])
        bearer = await http.get(url, headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 200
    finally:
        http.cookies.clear()

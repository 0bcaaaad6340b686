"""Browser sessions for the web portals (CONTRACT.md, web portals), and who a request is from.

A portal signs in with ``signIn``: the server puts the session token in the cookie
``anjian_session`` and no script ever sees it (HttpOnly). It is the very token ``login`` hands
an API client, so a browser session is an ordinary sign-in session: the same throttle, the
same lifetime, revoked by the same row.

What keeps another site from riding on the cookie:

- ``SameSite=Strict``: a browser does not send it on a request another site starts.
- The header ``X-Anjian-CSRF: 1`` on every request the cookie authenticates. A page on another
  origin cannot add a custom header without a CORS preflight, which this server never
  grants, so a forged form or ``fetch`` arrives without it and is refused (``FORBIDDEN``)
  before anything runs. This holds where SameSite does not (an old browser, a sibling
  subdomain counted as the same site).
- A WebSocket handshake carries no custom header and browsers apply no CORS to it, so there
  the cookie counts only when ``Origin`` is the server's own origin (cross-site WebSocket
  hijacking); otherwise only the bearer of ``connection_init`` does.

A session in use stays signed in: past half its life the cookie's token is replaced by a fresh
one for the same session, set on whatever answer the request gets (``renewed_cookie``); a
session left unused for the idle timeout ends (``backend.auth.service``).

A request with ``Authorization: Bearer`` is the bearer's and the cookie is not looked at: API
clients never need the CSRF header.

Whether a request came over TLS (the cookie's ``Secure`` flag, HSTS, the server's origin) is
the connection's scheme, or ``X-Forwarded-Proto`` when the peer is a proxy the settings trust
(``ANJIAN_TRUSTED_PROXIES``); from anyone else that header is the client's word and ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import (
    SessionWentIdle,
    unscoped_resolve_browser_session,
    unscoped_resolve_token,
)
from backend.auth.tokens import TokenCodec, bearer_token
from backend.core.errors import AnjianError, Forbidden
from backend.core.settings import Settings

SESSION_COOKIE = "anjian_session"
CSRF_HEADER = "X-Anjian-CSRF"
CSRF_VALUE = "1"
CSRF_MISSING = (
    f"a request signed in by the session cookie must carry the header {CSRF_HEADER}: "
    f"{CSRF_VALUE} (the portal's client sends it; a page on another site cannot)"
)
SIGN_IN_CSRF_MISSING = (
    f"signIn must carry the header {CSRF_HEADER}: {CSRF_VALUE}, so that no other site can "
    "sign this browser in to an account of its choosing"
)
SESSION_ENDED = "the browser session has ended (expired, revoked or signed out); sign in again"
FOREIGN_ORIGIN = (
    "the session cookie counts on a WebSocket only from the server's own origin; from "
    "elsewhere send the token in connection_init as authorization"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Where a request's renewed session cookie waits for its answer (the ASGI scope's state).
_RENEWED = "anjian.renewed_session_cookie"

Network = str | ipaddress.IPv4Network | ipaddress.IPv6Network
Via = Literal["bearer", "cookie"]


# --- the connection ----------------------------------------------------------------------------


def _from_trusted_proxy(
    connection: ASGIConnection[Any, Any, Any, Any], trusted: Sequence[Network]
) -> bool:
    peer = connection.client.host if connection.client else None
    if not peer or not trusted:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in trusted)


def _nearest(value: str | None) -> str | None:
    """The value the nearest proxy wrote: the last of a comma-separated header (each proxy
    appends; what is to the left came from further away, ultimately from the client)."""
    if not value:
        return None
    last = value.split(",")[-1].strip()
    return last or None


def is_tls(connection: ASGIConnection[Any, Any, Any, Any], trusted: Sequence[Network]) -> bool:
    """Whether the request reached us over TLS, directly or through a trusted proxy."""
    if connection.scope.get("scheme") in ("https", "wss"):
        return True
    if not _from_trusted_proxy(connection, trusted):
        return False
    return (_nearest(connection.headers.get("x-forwarded-proto")) or "").lower() == "https"


def normalise_origin(value: str | None) -> str | None:
    """An origin as browsers send it (lowercase scheme and host, no default port), or None
    for what is not one (``null``, a bare host)."""
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def own_origin(
    connection: ASGIConnection[Any, Any, Any, Any], trusted: Sequence[Network]
) -> str | None:
    """The origin this request was addressed to: its scheme (see ``is_tls``) and its Host (or
    the ``X-Forwarded-Host`` a trusted proxy wrote)."""
    host = None
    if _from_trusted_proxy(connection, trusted):
        host = _nearest(connection.headers.get("x-forwarded-host"))
    host = host or connection.headers.get("host")
    if not host:
        return None
    scheme = "https" if is_tls(connection, trusted) else "http"
    return normalise_origin(f"{scheme}://{host.strip()}")


def origin_is_own(
    connection: ASGIConnection[Any, Any, Any, Any], trusted: Sequence[Network]
) -> bool:
    origin = normalise_origin(connection.headers.get("origin"))
    return origin is not None and origin == own_origin(connection, trusted)


def has_csrf_header(headers: Mapping[str, str]) -> bool:
    return (headers.get(CSRF_HEADER.lower()) or "").strip() == CSRF_VALUE


def require_csrf_header(headers: Mapping[str, str], message: str = CSRF_MISSING) -> None:
    if not has_csrf_header(headers):
        raise Forbidden(message)


# --- the cookie --------------------------------------------------------------------------------


class _SessionCookie(Cookie):
    """Writes ``SameSite=Strict`` as the contract spells it (Litestar writes the value in
    lowercase; browsers read either, scripts and scanners that compare strings may not)."""

    @property
    def simple_cookie(self) -> SimpleCookie:
        cookie = super().simple_cookie
        cookie[self.key]["samesite"] = self.samesite.capitalize()
        return cookie


def session_cookie(token: str, *, max_age: int, secure: bool) -> Cookie:
    """The cookie holding a session token for its whole lifetime (``max_age`` seconds)."""
    return _SessionCookie(
        key=SESSION_COOKIE,
        value=token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def cleared_cookie(*, secure: bool) -> Cookie:
    """The cookie emptied and expired at once: the browser forgets it."""
    return _SessionCookie(
        key=SESSION_COOKIE,
        value="",
        max_age=0,
        expires=0,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def session_token_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    token = (connection.cookies.get(SESSION_COOKIE) or "").strip()
    return token or None


def renewed_cookie(scope: Mapping[str, Any]) -> Cookie | None:
    """The fresh session cookie this request's answer must carry, if its token was renewed."""
    cookie = scope.get("state", {}).get(_RENEWED)
    return cookie if isinstance(cookie, Cookie) else None


# --- who is asking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who a request is from, and by which credential."""

    principal: Principal
    via: Via | None = None  # the credential presented, None when there was none
    error: str | None = None  # why a credential presented did not authenticate
    refusal: str | None = None  # the request must be refused outright (cookie without CSRF)


class Stores(Protocol):
    """What resolving a caller uses of the process's wiring (the runtime), read only when a
    credential is presented: an anonymous request touches no store."""

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def tokens(self) -> TokenCodec: ...
    @property
    def authz(self) -> Authorizer: ...
    @property
    def settings(self) -> Settings: ...


async def unscoped_caller(
    *,
    stores: Stores,
    connection: ASGIConnection[Any, Any, Any, Any],
    cookie_allowed: bool = True,
    csrf_required: bool = True,
) -> Caller:
    """The bearer of ``Authorization`` if there is one, else the session cookie when
    ``cookie_allowed`` (a WebSocket from the server's own origin, any HTTP request), which
    needs the CSRF header when ``csrf_required`` (every HTTP request)."""
    authorization = connection.headers.get("authorization")
    if authorization:
        token = bearer_token(authorization)
        if token is None:
            return Caller(
                Principal.anonymous(),
                "bearer",
                error="the Authorization header must be 'Bearer <token>'",
            )
        return await _bearer(stores, token)
    token = session_token_of(connection)
    if token is None:
        return Caller(Principal.anonymous())
    if not cookie_allowed:
        return Caller(Principal.anonymous(), error=FOREIGN_ORIGIN)
    if csrf_required and not has_csrf_header(connection.headers):
        return Caller(Principal.anonymous(), "cookie", refusal=CSRF_MISSING)
    return await _cookie(stores, token, connection)


async def _bearer(stores: Stores, token: str) -> Caller:
    try:
        principal = await unscoped_resolve_token(
            sessions=stores.sessions, codec=stores.tokens, authz=stores.authz, token=token
        )
    except AnjianError as exc:
        return Caller(Principal.anonymous(), "bearer", error=exc.message)
    return Caller(principal, "bearer")


async def _cookie(
    stores: Stores, token: str, connection: ASGIConnection[Any, Any, Any, Any]
) -> Caller:
    try:
        principal, fresh = await unscoped_resolve_browser_session(
            sessions=stores.sessions, codec=stores.tokens, authz=stores.authz, token=token
        )
    except SessionWentIdle as exc:
        return Caller(Principal.anonymous(), "cookie", error=exc.message)
    except AnjianError:
        return Caller(Principal.anonymous(), "cookie", error=SESSION_ENDED)
    if fresh is not None:
        secure = is_tls(connection, stores.settings.trusted_proxies)
        cookie = session_cookie(fresh, max_age=stores.tokens.ttl_seconds, secure=secure)
        connection.scope.setdefault("state", {})[_RENEWED] = cookie
    return Caller(principal, "cookie")

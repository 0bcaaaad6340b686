"""Security headers on every HTTP response (CONTRACT.md, web portals).

- ``Content-Security-Policy`` exactly as the contract gives it: scripts only from the server's
  own files (no inline script, so an injected ``<script>`` does not run), nothing from other
  hosts, no plugins, and ``frame-ancestors 'none'`` so no site can frame a page
  (clickjacking). ``frame-ancestors`` supersedes ``X-Frame-Options`` in every current browser,
  which is why that older header is not sent.
- ``X-Content-Type-Options: nosniff``: a JSON answer or an uploaded image is never run as a
  script because its bytes look like one.
- ``Referrer-Policy: same-origin``: links out of the portals do not carry ids in the URL to
  other hosts.
- ``Strict-Transport-Security`` when the request came over TLS, directly or through a proxy
  the settings trust (``backend.auth.browser.is_tls``; browsers ignore it on plain
  HTTP anyway, and sending it there would pin a development host to HTTPS). One year, the
  figure hstspreload.org and OWASP recommend; without ``includeSubDomains``, because other
  services of a customer's domain (a plant's intranet hosts) are not ours to pin.

Headers a handler set itself are left as they are. A browser session renewed while the request
was answered (``backend.auth.browser.renewed_cookie``) gets its fresh cookie here, on whatever
answer it is, unless the handler set the session cookie itself (signing in or out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.auth.browser import SESSION_COOKIE, Network, is_tls, renewed_cookie

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'"
)
HSTS = "max-age=31536000"
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _trusted_proxies(scope: Scope) -> Sequence[Network]:
    # An app built without the runtime (a test of one router) trusts no proxy.
    state: Any = getattr(scope.get("app"), "state", None)
    runtime = state.get("runtime") if state is not None else None
    return runtime.settings.trusted_proxies if runtime is not None else ()


def security_headers(app: ASGIApp) -> ASGIApp:
    """ASGI middleware (Litestar ``middleware=[security_headers]``)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        tls = is_tls(ASGIConnection(scope), _trusted_proxies(scope))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if tls and "Strict-Transport-Security" not in headers:
                    headers["Strict-Transport-Security"] = HSTS
                cookie = renewed_cookie(scope)
                already = any(
                    value.startswith(f"{SESSION_COOKIE}=")
                    for value in headers.getall("set-cookie", [])
                )
                if cookie is not None and not already:
                    headers.add("set-cookie", cookie.to_header(header="").strip())
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware

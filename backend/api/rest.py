"""What the REST routes under ``/api/v1/`` share: the signed-in user, exactly as GraphQL finds
it (a bearer token, or the browser's session cookie with the CSRF header), and JSON answers."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.datastructures import State

from backend.auth.browser import unscoped_caller
from backend.auth.principal import Principal
from backend.core.errors import Forbidden, Unauthenticated

_json = msgspec.json.Encoder()


def runtime_of(request: Request[Any, Any, State]) -> Any:
    """The process's wiring; each route module types what it uses of it with a protocol."""
    return request.app.state.runtime


async def signed_in_user(request: Request[Any, Any, State]) -> Principal:
    """The caller, who must be signed in (``backend.auth.browser``)."""
    caller = await unscoped_caller(stores=runtime_of(request), connection=request)
    if caller.refusal is not None:
        raise Forbidden(caller.refusal)
    if not caller.principal.authenticated:
        raise Unauthenticated(
            caller.error
            or "sign in first: send Authorization: Bearer <token>, or sign in with signIn"
        )
    return caller.principal


def json_reply(
    status: int, body: dict[str, Any] | list[Any], retry_after: int | None = None
) -> Response[bytes]:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return Response(
        _json.encode(body), status_code=status, media_type="application/json", headers=headers
    )

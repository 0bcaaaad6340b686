"""Reading a GraphQL request body: whatever arrives is the caller's input, never a fault.

Strawberry reads the body with ``json.loads`` and then calls ``.get`` on it, so a body of
``null``, ``1`` or ``"x"`` raised AttributeError, bytes that are not UTF-8 UnicodeDecodeError,
and deeply nested JSON RecursionError: each answered 500. Here each is a 400 with a GraphQL
error body (``extensions.code``) the client can read, as the GraphQL-over-HTTP spec answers a
request it cannot execute.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from cross_web import HTTPException
from litestar import Request, Response
from litestar.enums import MediaType

from backend.api.errors import http_status_for
from backend.core.errors import AnjianError, BadInput, Forbidden, NotFound, Unauthenticated

log = logging.getLogger("anjian.api")

# No GraphQL request of this schema nests its JSON anywhere near this deep (the deepest input
# type is a few levels); past it parsing and coercion only burn stack.
MAX_JSON_DEPTH = 32

# Strawberry refuses a request it cannot run with an HTTP status; the body says the code of
# our category with that status (through the API's one table), else BAD_REQUEST.
_CODES = {
    http_status_for(category("")): category.code
    for category in (BadInput, Unauthenticated, Forbidden, NotFound)
}


def _refusal(error: AnjianError) -> HTTPException:
    return HTTPException(http_status_for(error), error.message)


class UnreadableJson(json.JSONDecodeError):
    """JSON we refuse to read. A JSONDecodeError, so Strawberry's WebSocket transport closes
    the socket as for any message that is not JSON."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)
        self.reason = reason


def _too_deep(value: object, limit: int) -> bool:
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def decode_request_json(data: str | bytes) -> object:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableJson(f"the request is not valid UTF-8 (byte {exc.start})") from None
    too_deep = f"the request's JSON nests deeper than {MAX_JSON_DEPTH} levels"
    try:
        value = json.loads(data)
    except RecursionError:
        raise UnreadableJson(too_deep) from None
    if _too_deep(value, MAX_JSON_DEPTH):
        raise UnreadableJson(too_deep)
    return value


class StrictRequestBody:
    """Mixed into the GraphQL controller ahead of Strawberry's view."""

    def decode_json(self, data: str | bytes) -> object:
        return decode_request_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        # Used for the POST body and for GET's ``variables`` and ``extensions``: each must be
        # a JSON object (batching is off, so a list is refused too).
        try:
            value = self.decode_json(data)
        except UnreadableJson as exc:
            raise _refusal(BadInput(exc.reason)) from None
        except json.JSONDecodeError:
            raise _refusal(BadInput("Unable to parse request body as JSON")) from None
        if not isinstance(value, dict):
            raise _refusal(
                BadInput(
                    'expected a JSON object such as {"query": "{ me { email } }"}, '
                    f"got {type(value).__name__ if value is not None else 'null'}"
                )
            )
        return value

    async def execute_request(
        self, request: Request[Any, Any, Any], context: Any, root_value: Any
    ) -> Response[Any]:
        try:
            return await self.run(request, context=context, root_value=root_value)  # type: ignore[attr-defined, no-any-return]
        except HTTPException as exc:
            log.info("GraphQL request refused (%s): %s", exc.status_code, exc.reason)
            code = _CODES.get(exc.status_code, "BAD_REQUEST")
            body = {"errors": [{"message": exc.reason, "extensions": {"code": code}}]}
            return Response(
                json.dumps(body, ensure_ascii=False).encode(),
                status_code=exc.status_code,
                media_type=MediaType.JSON,
            )

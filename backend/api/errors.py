"""Map errors to GraphQL ``extensions.code`` and log them as what they are, in one place.

Our own errors carry their code; GraphQL validation and coercion errors are the caller's input
(``BAD_USER_INPUT``); anything else is a fault, logged with its traceback and answered with an
opaque message. A caller's mistake (a wrong password, an id not found, a bad range) is one
INFO line; being throttled or over a limit one WARNING line: ERROR stays for faults, so an
operator watching ERROR sees only what needs fixing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from backend.core.errors import (
    AnjianError,
    BadInput,
    ConfigurationError,
    Forbidden,
    Gone,
    LimitExceeded,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    QueryTooCostly,
    RateLimited,
    ScopeRequired,
    StoreUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
)

log = logging.getLogger("anjian.api")

INTERNAL = "INTERNAL_SERVER_ERROR"
# Refusals that say something about load or abuse rather than one caller's typo.
_WARNING_CODES = frozenset({"RATE_LIMITED", "QUERY_TOO_COSTLY", "LIMIT_EXCEEDED"})


# The one table from a domain's error category to the HTTP status its REST routes answer.
# Ordered most specific first: the first class an error is an instance of decides.
HTTP_STATUS: tuple[tuple[type[AnjianError], int], ...] = (
    (ScopeRequired, 500),
    (ConfigurationError, 500),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Gone, 410),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (RateLimited, 429),
    (QueryTooCostly, 400),
    (LimitExceeded, 400),
    (BadInput, 400),
    (Overloaded, 503),
    (StoreUnavailable, 503),
)


def http_status_for(exc: AnjianError) -> int:
    """The HTTP status for a domain error; an uncategorised one is a fault (500)."""
    for category, status in HTTP_STATUS:
        if isinstance(exc, category):
            return status
    return 500


def retry_after_for(exc: AnjianError) -> int | None:
    """Seconds for a ``Retry-After`` header, when the error says when to try again."""
    seconds = exc.details.get("retryAfterSeconds")
    return seconds if isinstance(seconds, int) else None


def code_for(error: GraphQLError) -> str:
    original = error.original_error
    if isinstance(original, ScopeRequired):
        return INTERNAL
    if isinstance(original, AnjianError):
        return original.code
    if original is None or isinstance(original, GraphQLError):
        # Validation, coercion and permission-class errors: the code they carry, else input.
        source = original if isinstance(original, GraphQLError) else error
        existing = (source.extensions or {}).get("code")
        return str(existing) if existing else "BAD_USER_INPUT"
    if error.path is None and isinstance(original, ValueError | TypeError):
        # Before execution (no path) the only code that runs is a scalar parsing the
        # caller's literal or variable: its ValueError is a refusal of that input.
        return "BAD_USER_INPUT"
    return INTERNAL


def log_error(error: GraphQLError) -> None:
    code = code_for(error)
    where = ".".join(str(p) for p in error.path) if error.path else "request"
    if code == INTERNAL:
        log.error("unhandled error in %s", where, exc_info=error.original_error)
    elif code in _WARNING_CODES:
        log.warning("GraphQL %s in %s: %s", code, where, error.message)
    else:
        log.info("GraphQL %s in %s: %s", code, where, error.message)


class Schema(strawberry.Schema):
    """Strawberry logs every error at ERROR with a stack trace (``process_errors``, its
    documented hook); ours logs each at its level."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            log_error(error)


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        for error in result.errors:
            code = code_for(error)
            if code == INTERNAL:
                error.message = "internal error"  # logged with its traceback by Schema
            details = (
                error.original_error.details
                if isinstance(error.original_error, AnjianError)
                else {}
            )
            error.extensions = {**(error.extensions or {}), **details, "code": code}


async def log_unhandled(exc: Exception, scope: Any) -> None:
    """Litestar's ``after_exception`` hook for the HTTP routes: Litestar logs nothing outside
    debug mode, so a fault in a handler left no trace. Its own HTTP refusals (404, 405, a body
    over the limit) are the client's and get one INFO line."""
    from litestar.exceptions import HTTPException

    path = scope.get("path", "?") if isinstance(scope, dict) else "?"
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        log.info("HTTP %s on %s: %s", exc.status_code, path, exc.detail)
    else:
        log.error("unhandled error on %s", path, exc_info=exc)

"""One error hierarchy with stable codes.

Services raise these; the GraphQL layer and the HTTP controllers map the code to what their
clients see, in one place each. Services never raise HTTP or GraphQL exceptions.
"""

from __future__ import annotations

from typing import Any


class AnjianError(Exception):
    """Base of every error a caller is meant to see; ``code`` is stable."""

    code: str = "INTERNAL_SERVER_ERROR"
    http_status: int = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Unauthenticated(AnjianError):
    code = "UNAUTHENTICATED"
    http_status = 401


class NotFound(AnjianError):
    """Missing and not-yours look the same to the caller."""

    code = "NOT_FOUND"
    http_status = 404


class Forbidden(AnjianError):
    """The caller sees the object but its role may not do this."""

    code = "FORBIDDEN"
    http_status = 403


class BadInput(AnjianError):
    code = "BAD_USER_INPUT"
    http_status = 400


class Conflict(BadInput):
    """The input is well-formed but clashes with what exists (a duplicate e-mail)."""


class ConfigurationError(AnjianError):
    """A bad setting: raised at start-up, before anything is served."""

    code = "CONFIGURATION_ERROR"


class RateLimited(AnjianError):
    """Too many attempts or requests; the caller may retry after ``retry_after_seconds``."""

    code = "RATE_LIMITED"
    http_status = 429

    def __init__(self, message: str, *, retry_after_seconds: int, **details: Any) -> None:
        super().__init__(message, retryAfterSeconds=retry_after_seconds, **details)
        self.retry_after_seconds = retry_after_seconds


class QueryTooCostly(AnjianError):
    """A request whose whole cost, known before it runs, is over the caller's budget."""

    code = "QUERY_TOO_COSTLY"
    http_status = 400


class LimitExceeded(AnjianError):
    """A running request hit a resource limit (execution time, rows, bytes, memory);
    ``details["limit"]`` names the limit."""

    code = "LIMIT_EXCEEDED"
    http_status = 400


class StoreUnavailable(AnjianError):
    code = "STORE_UNAVAILABLE"
    http_status = 503


class ScopeRequired(AnjianError):
    """A tenant-owned query was attempted without a tenant scope."""

    code = "INTERNAL_SERVER_ERROR"

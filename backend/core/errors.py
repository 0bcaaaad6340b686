"""One error hierarchy with stable codes.

Domains raise these (or their own subclasses, which keep their category's code unless they
name a finer one); ``backend/api/errors.py`` holds the one table that turns a category into an
HTTP status. Nothing here knows about HTTP or GraphQL: a domain says *what* went wrong, the
transport decides how to say it.
"""

from __future__ import annotations

from typing import Any


class AnjianError(Exception):
    """Base of every error a caller is meant to see; ``code`` is stable."""

    code: str = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Unauthenticated(AnjianError):
    code = "UNAUTHENTICATED"


class NotFound(AnjianError):
    """Missing and not-yours look the same to the caller."""

    code = "NOT_FOUND"


class Forbidden(AnjianError):
    """The caller sees the object but its role may not do this."""

    code = "FORBIDDEN"


class BadInput(AnjianError):
    code = "BAD_USER_INPUT"


class Conflict(BadInput):
    """The input is well-formed but clashes with what exists (a duplicate e-mail)."""


class Gone(AnjianError):
    """The object existed and never will again (a crypto-shredded value)."""

    code = "GONE"


class PayloadTooLarge(BadInput):
    """A body or a batch over its size limit (the caller's input: the code stays
    ``BAD_USER_INPUT``; HTTP says 413)."""


class UnsupportedMediaType(BadInput):
    """A body of a media type the route does not take (the caller's input; HTTP says 415)."""


class ConfigurationError(AnjianError):
    """A bad setting: raised at start-up, before anything is served."""

    code = "CONFIGURATION_ERROR"


class RateLimited(AnjianError):
    """Too many attempts or requests; the caller may retry after ``retry_after_seconds``."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after_seconds: int, **details: Any) -> None:
        super().__init__(message, retryAfterSeconds=retry_after_seconds, **details)
        self.retry_after_seconds = retry_after_seconds


class QueryTooCostly(AnjianError):
    """A request whose whole cost, known before it runs, is over the caller's budget."""

    code = "QUERY_TOO_COSTLY"


class LimitExceeded(AnjianError):
    """A running request hit a resource limit (execution time, rows, bytes, memory);
    ``details["limit"]`` names the limit."""

    code = "LIMIT_EXCEEDED"


class StoreUnavailable(AnjianError):
    """A store is down or refusing work; nothing was accepted, the caller may retry."""

    code = "STORE_UNAVAILABLE"


class Overloaded(StoreUnavailable):
    """Accepting more would risk losing what was acknowledged (a full spool)."""


class DeliveryFailed(AnjianError):
    """An outgoing notification (webhook, mail) was not delivered; the job retries it."""

    code = "DELIVERY_FAILED"


class ScopeRequired(AnjianError):
    """A tenant-owned query was attempted without a tenant scope."""

    code = "INTERNAL_SERVER_ERROR"

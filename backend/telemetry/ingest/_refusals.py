"""What ingest refuses, in the error categories every transport knows.

Each refusal is a subclass of ``IngestError`` and of the category that says what went wrong
(the caller's input, an unknown token, a suspended site, a rate, a full spool). The transports
decide how to say it: HTTP turns the category into a status through the API's one table, MQTT
publishes the same status and body to the device's errors topic. ``body`` is the JSON a device
is answered with whichever way it sent its data (CONTRACT.md, device ingestion).

A fault (a store down, a bug) is never an ``IngestError``: it is not the device's doing.
"""

from __future__ import annotations

from typing import Any, Self

from backend.core.errors import (
    AnjianError,
    BadInput,
    Forbidden,
    Overloaded,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    UnsupportedMediaType,
)


class IngestError(AnjianError):
    """Base of every refusal of a device's request on the ingest path."""

    retry_after_seconds: int | None = None

    @property
    def body(self) -> dict[str, Any]:
        return {"error": self.message}


class InvalidBatch(IngestError, BadInput):
    """Readings, events or a heartbeat that fail decoding or validation: nothing is stored,
    and every problem found is listed in ``details["errors"]`` as
    ``{"index": i, "field": …, "message": …}``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(str(errors[0]["message"]), errors=errors)

    @classmethod
    def one(cls, message: str, *, field: str | None = None, index: int | None = None) -> Self:
        return cls([{"index": index, "field": field, "message": message}])

    @property
    def body(self) -> dict[str, Any]:
        return {"errors": self.details["errors"]}


class UnknownDevice(IngestError, Unauthenticated):
    """No token, an unknown one, or one of a revoked device."""


class SiteSuspended(IngestError, Forbidden):
    """The device's site has its subscription suspended."""


class TooLarge(IngestError, PayloadTooLarge):
    """A batch over its count of readings or events, or a snapshot over its size."""


class UnsupportedSnapshotType(IngestError, UnsupportedMediaType):
    """A snapshot declared as neither JPEG nor PNG."""


class UnusableSnapshot(IngestError, BadInput):
    """A snapshot whose bytes are not the image it was declared as, or cannot be decoded."""


class OverPlanRate(IngestError, RateLimited):
    """The site is over its plan's readings per minute; ``retry_after_seconds`` says when
    the bucket has room again."""


class IngestBackedUp(IngestError, Overloaded):
    """The durable spool is full while the telemetry store catches up: nothing was stored,
    the device retries after ``retry_after_seconds``."""

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message, retryAfterSeconds=retry_after_seconds)
        self.retry_after_seconds = retry_after_seconds

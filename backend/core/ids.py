"""Ids as callers send them."""

from __future__ import annotations

import uuid

from backend.core.errors import NotFound


def parse_id(value: object, what: str) -> uuid.UUID:
    """An id that does not parse cannot exist: ``NotFound``, like any other missing id."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} {value} not found") from None

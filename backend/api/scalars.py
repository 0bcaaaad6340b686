"""The contract's timestamp scalar.

Output is UTC with ``Z`` and milliseconds (``2026-11-28T10:00:00.123Z``). Input is RFC 3339
carrying a zone, or epoch milliseconds as an integer; a zone-less string is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from graphql import ValueNode, value_from_ast_untyped


def serialize_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("refusing to serialise a timestamp without a time zone")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_datetime(value: object) -> datetime:
    if isinstance(value, bool):
        raise ValueError("a timestamp is an RFC 3339 string or epoch milliseconds")
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str):
        raise ValueError("a timestamp is an RFC 3339 string or epoch milliseconds")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone; add Z or an offset")
    return parsed.astimezone(UTC)


def _parse_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> datetime:
    return parse_datetime(value_from_ast_untyped(node, variables))


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="RFC 3339 timestamp; output in UTC with Z and milliseconds. Input needs a zone, "
    "or is epoch milliseconds.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
    parse_literal=_parse_literal,
)

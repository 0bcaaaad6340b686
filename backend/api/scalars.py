"""The contract's timestamp scalar.

Output is UTC with ``Z`` and milliseconds (``2026-11-28T10:00:00.123Z``). Input is RFC 3339
carrying a zone, or epoch milliseconds as an integer; a zone-less string is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from graphql import ValueNode, value_from_ast_untyped

from backend.core.timestamps import parse_datetime, serialize_datetime

__all__ = ["DateTimeScalar", "parse_datetime", "serialize_datetime"]


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

"""RFC 3339 timestamps as the contract writes and reads them: output in UTC with ``Z`` and
milliseconds (``2026-11-28T10:00:00.123Z``); input carrying a zone, or epoch milliseconds as
an integer; a zone-less string is refused."""

from __future__ import annotations

from datetime import UTC, datetime


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

"""Command-line date parsing, kept here until the command line stops importing it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from backend.core.errors import BadInput
from privacy.audit._purge import CHINA_TIME


def parse_instant(value: str, *, option: str, end_of_day: bool = False) -> datetime:
    """``YYYY-MM-DD`` or an ISO 8601 time; without a zone it is China time. A bare date means
    the start of that day, or with ``end_of_day`` the start of the next (an exclusive end)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=CHINA_TIME)
            return start + timedelta(days=1) if end_of_day else start
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"{option} 须为日期 YYYY-MM-DD 或 ISO 8601 时间 / {option} must be a date "
            f"(YYYY-MM-DD) or an ISO 8601 time, got {value!r}"
        ) from None
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=CHINA_TIME)

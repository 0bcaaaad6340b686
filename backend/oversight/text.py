"""Free text of the government workflows (findings, answers, reports, comments): trimmed, and
refused when empty where it is required or longer than its column."""

from __future__ import annotations

from backend.core.errors import BadInput


def bounded_text(value: str | None, field: str, limit: int, *, required: bool) -> str | None:
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise BadInput(f"{field} must not be empty", field=field)
        return None
    if len(cleaned) > limit:
        raise BadInput(f"{field} is at most {limit} characters", field=field)
    return cleaned

"""Reading one domain's entries back: the audit page of a tenant's console and its CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import BadInput
from privacy.audit._entries import AuditEntry

MAX_PAGE = 500
MAX_FILTER = 64  # the width of the columns filtered on


@dataclass(frozen=True)
class EntryFilter:
    """Which entries of a domain: ``[start, end)`` on their time, an action (exact, or a
    family as ``membership.*``), the acting account and the kind of object acted on."""

    start: datetime | None = None
    end: datetime | None = None
    action: str | None = None
    actor_id: str | None = None
    object_type: str | None = None

    def check(self) -> None:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise BadInput("from must be earlier than to")
        for name, value in (("action", self.action), ("objectType", self.object_type)):
            if value is not None and not 0 < len(value.strip()) <= MAX_FILTER:
                raise BadInput(f"{name} must be 1 to {MAX_FILTER} characters")


def _filtered(domain: str, where: EntryFilter) -> Select[tuple[AuditEntry]]:
    query = select(AuditEntry).where(AuditEntry.domain == domain)
    if where.start is not None:
        query = query.where(AuditEntry.at >= where.start)
    if where.end is not None:
        query = query.where(AuditEntry.at < where.end)
    if where.action is not None:
        action = where.action.strip()
        if action.endswith(".*"):
            # A family of actions: the prefix is matched literally (no LIKE wildcards).
            family = action[:-1]
            query = query.where(AuditEntry.action.startswith(family, autoescape=True))
        else:
            query = query.where(AuditEntry.action == action)
    if where.actor_id is not None:
        query = query.where(AuditEntry.actor_id == where.actor_id)
    if where.object_type is not None:
        query = query.where(AuditEntry.object_type == where.object_type.strip())
    return query


async def list_entries(
    *,
    session: AsyncSession,
    domain: str,
    where: EntryFilter,
    first: int = 50,
    after: int | None = None,
) -> list[AuditEntry]:
    """The entries of ``domain`` (``tenant:<uuid>``) matching ``where``, newest first;
    ``after`` is the ``seq`` of the last entry of the previous page. The caller has checked
    that its principal may read this domain's trail: entries carry no tenant column of their
    own, so the domain is the only wall."""
    if not 1 <= first <= MAX_PAGE:
        raise BadInput(f"first must be between 1 and {MAX_PAGE}")
    where.check()
    query = _filtered(domain, where)
    if after is not None:
        query = query.where(AuditEntry.seq < after)
    rows = await session.scalars(query.order_by(AuditEntry.seq.desc()).limit(first))
    return list(rows.all())


CSV_COLUMNS = (
    "seq",
    "at",
    "action",
    "actor_kind",
    "actor_id",
    "actor_email",
    "actor_name",
    "role",
    "object_type",
    "object_id",
    "detail",
)
# What a spreadsheet would take for a formula at the start of a cell (OWASP CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A display name is whatever its holder typed: one starting like a formula is quoted so
    # that Excel or WPS shows it as text instead of evaluating it.
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


@dataclass(frozen=True)
class CsvRow:
    entry: AuditEntry
    actor_email: str | None
    actor_name: str | None


def entries_csv(rows: Iterable[CsvRow]) -> bytes:
    """The rows as CSV in UTF-8 with a byte-order mark, so Excel and WPS show the Chinese
    text as it is. Times are RFC 3339 UTC; ``detail`` is the entry's JSON."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        e = row.entry
        writer.writerow(
            [
                _cell(e.seq),
                _cell(e.at.isoformat(timespec="milliseconds").replace("+00:00", "Z")),
                _cell(e.action),
                _cell(e.actor_kind),
                _cell(e.actor_id),
                _cell(row.actor_email),
                _cell(row.actor_name),
                _cell(e.role),
                _cell(e.object_type),
                _cell(e.object_id),
                _cell(json.dumps(e.detail or {}, ensure_ascii=False, sort_keys=True)),
            ]
        )
    return out.getvalue().encode("utf-8-sig")

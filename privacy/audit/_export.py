"""Exporting entries for an inspection: CSV, or JSON with what checks it without Anjian."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.core.db import utcnow
from backend.core.errors import BadInput
from privacy.audit._entries import Actor, AuditEntry, entry_content
from privacy.audit._record import record_sync
from privacy.checkpoints import MESSAGE_FORMAT, AuditCheckpoint, CheckpointView, public_keys
from privacy.keyring import Keyring

EXPORT_COLUMNS = (
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "role",
    "domain",
    "action",
    "object_type",
    "object_id",
    "detail",
    "prev_hash",
    "hash",
)


def check_export_window(start: datetime | None, end: datetime | None) -> None:
    """Refuse (BadInput) an export window that ends before it starts."""
    if start is not None and end is not None and start >= end:
        raise BadInput("--from 须早于 --to / --from must be earlier than --to")


def _export_row(entry: Any) -> dict[str, Any]:
    return {**entry_content(entry), "prev_hash": entry.prev_hash.hex(), "hash": entry.hash.hex()}


def _rows(
    session: Session, start: datetime | None, end: datetime | None, batch: int
) -> Iterator[dict[str, Any]]:
    table = AuditEntry.__table__
    after = 0
    while True:
        query = select(*table.c).where(table.c.seq > after)
        if start is not None:
            query = query.where(table.c.at >= start)
        if end is not None:
            query = query.where(table.c.at < end)
        rows = session.execute(query.order_by(table.c.seq).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            yield _export_row(row)
        after = rows[-1].seq


@dataclass(frozen=True)
class ExportReport:
    path: Path
    format: str
    entries: int
    first_seq: int | None
    last_seq: int | None


def _write_csv(
    handle: Any, rows: Iterable[Mapping[str, Any]]
) -> tuple[int, int | None, int | None]:
    writer = csv.writer(handle)
    writer.writerow(EXPORT_COLUMNS)
    count, first, last = 0, None, None
    for row in rows:
        # Free text only ever sits inside the detail JSON, which starts with "{", so no cell
        # can be taken for a spreadsheet formula.
        cells = dict(row, detail=json.dumps(row["detail"], ensure_ascii=False, sort_keys=True))
        writer.writerow(["" if cells[c] is None else cells[c] for c in EXPORT_COLUMNS])
        count, first, last = count + 1, first if first is not None else row["seq"], row["seq"]
    return count, first, last


def _write_json(
    handle: Any,
    rows: Iterable[Mapping[str, Any]],
    header: dict[str, Any],
) -> tuple[int, int | None, int | None]:
    # Streamed, so an export of millions of entries does not sit in memory.
    handle.write("{\n")
    for key, value in header.items():
        handle.write(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
    handle.write(' "entries": [')
    count, first, last = 0, None, None
    for row in rows:
        handle.write(("\n  " if count == 0 else ",\n  ") + json.dumps(row, ensure_ascii=False))
        count, first, last = count + 1, first if first is not None else row["seq"], row["seq"]
    handle.write("\n ]\n}\n")
    return count, first, last


def _export(
    session: Session,
    out: Path,
    fmt: Literal["csv", "json"],
    start: datetime | None,
    end: datetime | None,
    keyring: Keyring,
    actor: Actor,
    batch: int,
) -> ExportReport:
    check_export_window(start, end)
    out = out.expanduser().resolve()
    if not out.parent.is_dir():
        raise BadInput(f"输出目录不存在 / the directory of {out} does not exist")
    tmp = out.with_name(f".{out.name}.partial")
    rows = _rows(session, start, end, batch)
    # Audit entries name people's accounts: the file is the operator's alone (0600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if fmt == "csv":
            # UTF-8 with a byte-order mark, so Excel and WPS show the Chinese text correctly.
            with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as handle:
                count, first, last = _write_csv(handle, rows)
        else:
            header = {
                "format": "anjian-audit-export/1",
                "exported_at": utcnow().isoformat(),
                "from": None if start is None else start.isoformat(),
                "to": None if end is None else end.isoformat(),
                "entry_hash": "sha256(prev_hash || canonical JSON of seq, at, actor_kind, "
                "actor_id, role, domain, action, object_type, object_id, detail: sorted keys, "
                "no spaces, UTF-8)",
                "checkpoint_message": MESSAGE_FORMAT,
                "checkpoint_signature": "Ed25519 over checkpoint_message (UTF-8)",
                "public_keys": {str(v): k.hex() for v, k in public_keys(keyring).items()},
                "checkpoints": [
                    asdict(CheckpointView.of(cp))
                    for cp in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
                ],
            }
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                count, first, last = _write_json(handle, rows, header)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    record_sync(
        session,
        actor,
        "audit.export",
        detail={
            "format": fmt,
            "from": None if start is None else start.isoformat(),
            "to": None if end is None else end.isoformat(),
            "entries": count,
        },
    )
    return ExportReport(out, fmt, count, first, last)


async def export_entries(
    *,
    session: AsyncSession,
    out: Path,
    fmt: Literal["csv", "json"],
    keyring: Keyring,
    actor: Actor,
    start: datetime | None = None,
    end: datetime | None = None,
    batch: int = 5000,
) -> ExportReport:
    """Write the entries with ``start <= at < end`` to ``out`` for an inspection.

    CSV: a header row (``EXPORT_COLUMNS``), detail as JSON, hashes in hex, times ISO 8601 UTC.
    JSON: the same entries with the checkpoints and public keys that let an inspector check
    hashes and signatures without Anjian. The export itself is recorded (``audit.export``) in
    the caller's transaction.
    """
    if fmt not in ("csv", "json"):
        raise BadInput(f"export format is csv or json, got {fmt!r}")
    return await session.run_sync(_export, out, fmt, start, end, keyring, actor, batch)

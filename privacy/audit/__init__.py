"""The append-only, hash-chained audit trail.

Each entry's hash covers its content and the previous entry's hash, so altering, removing or
reordering any entry breaks every hash after it. A single head row serialises appends (a row
lock on PostgreSQL, the write lock on SQLite), so concurrent writers cannot fork the chain.

Signed checkpoints (``privacy.checkpoints``) anchor the chain: they expose a rewrite of the
whole chain, which plain hashes cannot, and let entries older than the legal floor (six months,
Cybersecurity Law art. 21) be purged while what remains still verifies.

On PostgreSQL the application role may only read and append (migrations 0001 and 0009), so a
purge runs on the owner engine: ANJIAN_DATABASE_URL's own user, without the SET ROLE the
application pool performs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import uuid
from calendar import monthrange
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import (
    JSON,
    BigInteger,
    Integer,
    LargeBinary,
    String,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.core import counters
from backend.core.db import Base, utcnow
from backend.core.errors import AnjianError, BadInput, ConfigurationError, Conflict
from privacy.checkpoints import (
    MESSAGE_FORMAT,
    AuditCheckpoint,
    CheckpointView,
    public_keys,
    sign_checkpoint,
    signature_problem,
)
from privacy.keyring import Keyring

GENESIS = b"\x00" * 32
# Cybersecurity Law art. 21: network logs are kept for no less than six months.
RETENTION_FLOOR_MONTHS = 6
# Dates typed by operators and inspectors are China Standard Time (no daylight saving).
CHINA_TIME = timezone(timedelta(hours=8), "CST")
READ_ACTION = "data.read"


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))  # user, device, system
    actor_id: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(32))
    domain: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), default=GENESIS)


class AuditChainBroken(AnjianError):
    code = "AUDIT_CHAIN_BROKEN"


@dataclass(frozen=True)
class Actor:
    """Who did it, for the trail: a user or device id, or the system itself."""

    kind: str
    id: str | None = None
    role: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls("system")


class _EntryFields(Protocol):
    seq: int
    at: datetime
    actor_kind: str
    actor_id: str | None
    role: str | None
    domain: str | None
    action: str
    object_type: str | None
    object_id: str | None
    detail: dict[str, Any]
    prev_hash: bytes


def _content(entry: _EntryFields) -> dict[str, Any]:
    """What an entry says: everything its hash covers."""
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor_kind": entry.actor_kind,
        "actor_id": entry.actor_id,
        "role": entry.role,
        "domain": entry.domain,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "detail": entry.detail,
    }


def entry_hash(entry: _EntryFields) -> bytes:
    """SHA-256 of the previous hash followed by the entry's canonical JSON (sorted keys, no
    spaces, UTF-8): what an entry's ``hash`` must be. Works on rows read back from an export."""
    body = json.dumps(
        _content(entry),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return hashlib.sha256(entry.prev_hash + body).digest()


# --- appending ---------------------------------------------------------------------------------


def record_sync(
    session: Session,
    actor: Actor,
    action: str,
    *,
    domain: str | None = None,
    object_type: str | None = None,
    object_id: uuid.UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry on a synchronous session (backups, purges); ``record`` for async."""
    # Claiming the next number is the first write, so the lock is taken before the head is read.
    claimed = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    )
    row = claimed.one_or_none()
    if row is None:
        session.add(AuditHead(id=1, seq=1, hash=GENESIS))
        session.flush()
        seq, prev = 1, GENESIS
    else:
        seq, prev = row
    entry = AuditEntry(
        seq=seq,
        at=utcnow(),
        actor_kind=actor.kind,
        actor_id=actor.id,
        role=actor.role,
        domain=domain,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        detail=detail or {},
        prev_hash=prev,
        hash=b"",
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=entry.hash))
    return entry


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    domain: str | None = None,
    object_type: str | None = None,
    object_id: uuid.UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction: it commits or rolls back with the change."""
    return await session.run_sync(
        record_sync,
        actor,
        action,
        domain=domain,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )


async def record_change(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    added: object | None = None,
    counter: str | None = None,
    domain: str | None = None,
    object_type: str | None = None,
    object_id: uuid.UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """The epilogue of every audited write, in the caller's transaction: add the new object
    (if any) and flush so it has its id, bump the change counter that tells caches to reload
    (if any), and append the audit entry. ``object_id`` defaults to the added object's id."""
    if added is not None:
        session.add(added)
    await session.flush()
    if counter is not None:
        await counters.bump(session, counter)
    if object_id is None and added is not None:
        object_id = getattr(added, "id", None)
    return await record(
        session,
        actor,
        action,
        domain=domain,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )


async def record_read(
    session: AsyncSession,
    actor: Actor,
    *,
    purpose: str,
    object_type: str,
    object_id: uuid.UUID | str | None,
    fields: Iterable[str],
    domain: str | None,
    count: int | None = None,
) -> AuditEntry:
    """Record a read of sensitive data: who (``actor`` with its role), in which ``domain``,
    which ``fields`` of what object, for what ``purpose`` (for example ``"enterprise.roster"``,
    ``"regulator.inspection"``); the entry's time is when.

    Cost: one UPDATE of the head row and one INSERT, like ``record``. The head row then stays
    locked until the caller's transaction ends and every other append waits for it, so call
    this once per resolver (not per row or field), as the last statement of a short
    transaction. For a list, pass the scope that was listed (``object_type="site"``, the site
    id) and ``count``, the number of records returned.
    """
    if not purpose.strip():
        raise ValueError("a sensitive read needs a purpose")
    names = sorted(set(fields))
    if not names:
        raise ValueError("a sensitive read names the fields it read")
    detail: dict[str, Any] = {"purpose": purpose, "fields": names}
    if count is not None:
        detail["count"] = count
    return await record(
        session,
        actor,
        READ_ACTION,
        domain=domain,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )


# --- verifying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    entries: int  # entries whose content and link were checked
    first_broken_seq: int | None
    reason: str | None
    first_seq: int | None = None  # the oldest entry kept
    last_seq: int = 0  # the head when verification started
    anchor_seq: int | None = None  # the checkpoint the kept entries start from (None: genesis)
    checkpoints: int = 0  # signed checkpoints that matched their entry
    last_hash: bytes = field(default=GENESIS, repr=False)

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


class _Broken(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


def _span(first: int, last: int) -> str:
    return f"entry {first} is" if first == last else f"entries {first}–{last} are"


@dataclass
class _Walk:
    session: Session
    keyring: Keyring | None
    checkpoints: dict[int, AuditCheckpoint]
    head_seq: int
    head_hash: bytes
    first_seq: int | None = None
    anchor_seq: int | None = None
    count: int = 0
    matched: int = 0

    def signature(self, checkpoint: AuditCheckpoint) -> None:
        if self.keyring is None:
            raise ConfigurationError("verifying signed audit checkpoints needs the keyring")
        problem = signature_problem(checkpoint, self.keyring)
        if problem is not None:
            raise _Broken(checkpoint.seq, f"the checkpoint at entry {checkpoint.seq}: {problem}")

    def start(self, tail_only: bool) -> tuple[int, bytes]:
        """The first entry to walk and the hash it must link to."""
        first = self.session.scalar(
            select(func.min(AuditEntry.seq)).where(AuditEntry.seq <= self.head_seq)
        )
        self.first_seq = first
        if first is None:
            if self.head_seq == 0:
                return 1, GENESIS
            earlier = max((s for s in self.checkpoints if s <= self.head_seq), default=0)
            raise _Broken(earlier + 1, f"{_span(earlier + 1, self.head_seq)} missing")
        candidates = [s for s in self.checkpoints if first - 1 <= s <= self.head_seq]
        if tail_only and candidates:
            # Everything up to the latest checkpoint is vouched for by its signature.
            anchor = self.checkpoints[max(candidates)]
        else:
            for seq in sorted(s for s in self.checkpoints if s < first - 1):
                self.signature(self.checkpoints[seq])
            if first == 1:
                return 1, GENESIS
            if first - 1 not in self.checkpoints:
                earlier = max((s for s in self.checkpoints if s < first - 1), default=0)
                raise _Broken(
                    earlier + 1,
                    f"{_span(earlier + 1, first - 1)} missing, and no signed checkpoint at "
                    f"entry {first - 1} vouches for their removal",
                )
            anchor = self.checkpoints[first - 1]
        self.signature(anchor)
        self.anchor_seq = anchor.seq
        self.matched += 1
        if anchor.seq >= first:
            return anchor.seq + 1, anchor.hash
        return first, anchor.hash

    def entries(self, start: int, prev: bytes, batch: int) -> tuple[int, bytes]:
        """Walk from ``start`` to the head; returns the last entry's seq and hash."""
        expected = start
        table = AuditEntry.__table__
        while expected <= self.head_seq:
            rows = self.session.execute(
                select(*table.c)
                .where(table.c.seq >= expected, table.c.seq <= self.head_seq)
                .order_by(table.c.seq)
                .limit(batch)
            ).all()
            if not rows:
                break
            for entry in rows:
                if entry.seq != expected:
                    raise _Broken(expected, f"{_span(expected, entry.seq - 1)} missing")
                if entry.prev_hash != prev:
                    raise _Broken(entry.seq, "the link to the previous entry does not match")
                if entry_hash(entry) != entry.hash:
                    raise _Broken(entry.seq, "the content does not match its hash")
                checkpoint = self.checkpoints.get(entry.seq)
                if checkpoint is not None:
                    if checkpoint.hash != entry.hash:
                        raise _Broken(
                            entry.seq,
                            "it differs from its signed checkpoint: the chain up to it was "
                            "rewritten",
                        )
                    self.signature(checkpoint)
                    self.matched += 1
                prev, expected = entry.hash, entry.seq + 1
                self.count += 1
        return expected - 1, prev

    def end(self, last: int, prev: bytes) -> None:
        if last < self.head_seq:
            raise _Broken(last + 1, f"{_span(last + 1, self.head_seq)} missing")
        if prev != self.head_hash:
            raise _Broken(last, "the last entry does not match the head of the chain")
        for seq in sorted(s for s in self.checkpoints if s > self.head_seq):
            # A checkpoint newer than the head read at the start is fine if its entry exists.
            if self.session.scalar(select(AuditEntry.seq).where(AuditEntry.seq == seq)) is None:
                raise _Broken(
                    self.head_seq + 1,
                    f"the checkpoint at entry {seq} signs an entry that is missing: entries "
                    f"after {self.head_seq} were removed",
                )


def _verify(
    session: Session, keyring: Keyring | None, batch: int = 5000, *, tail_only: bool = False
) -> ChainReport:
    # Entries up to the head read here are committed and immutable; later appends are ignored.
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    head_seq, head_hash = (0, GENESIS) if head is None else (head.seq, head.hash)
    checkpoints = {
        cp.seq: cp
        for cp in session.scalars(select(AuditCheckpoint).execution_options(populate_existing=True))
    }
    walk = _Walk(session, keyring, checkpoints, head_seq, head_hash)
    try:
        start, prev = walk.start(tail_only)
        last, prev = walk.entries(start, prev, batch)
        walk.end(last, prev)
    except _Broken as broken:
        return ChainReport(
            walk.count,
            broken.seq,
            broken.reason,
            first_seq=walk.first_seq,
            last_seq=head_seq,
            anchor_seq=walk.anchor_seq,
            checkpoints=walk.matched,
        )
    return ChainReport(
        walk.count,
        None,
        None,
        first_seq=walk.first_seq,
        last_seq=head_seq,
        anchor_seq=walk.anchor_seq,
        checkpoints=walk.matched,
        last_hash=prev,
    )


async def verify_chain(
    session: AsyncSession, keyring: Keyring | None = None, batch: int = 5000
) -> ChainReport:
    """Walk the kept entries; name the first entry whose link, content or checkpoint fails.

    The kept entries start at entry 1 from the genesis hash, or after a purge from a signed
    checkpoint on the entry before the first kept one; every checkpoint must match its entry
    and verify. The head row records the last entry, so removals at the start, in the middle
    and at the end are detected as well as edits. Checkpoint signatures need ``keyring``
    (ConfigurationError without one when there are checkpoints).

    A purge committing while this runs can make it report a break that is not there: run it
    again.
    """
    return await session.run_sync(_verify, keyring, batch)


# --- checkpoints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointResult:
    checkpoint: CheckpointView
    created: bool  # False: the head already had one


async def create_checkpoint(
    session: AsyncSession, keyring: Keyring, batch: int = 5000
) -> CheckpointResult:
    """Sign the chain's head, after verifying the entries since the latest checkpoint.

    Refuses (AuditChainBroken) to sign a broken chain. Signing is bookkeeping, not an action
    on data, so it appends no entry: with no new entries a second call returns the head's
    checkpoint (``created=False``), which lets a periodic job run it freely. Keep a copy of
    each checkpoint outside the database too: with it, even an owner who deletes checkpoints
    and rewrites the chain is caught.
    """
    return await session.run_sync(_create_checkpoint, keyring, batch)


def _create_checkpoint(session: Session, keyring: Keyring, batch: int) -> CheckpointResult:
    report = _verify(session, keyring, batch, tail_only=True)
    if not report.ok:
        raise AuditChainBroken(
            f"审计链在条目 {report.first_broken_seq} 处断裂，拒绝签名 / the audit chain is broken "
            f"at entry {report.first_broken_seq} ({report.reason}); no checkpoint was signed"
        )
    if report.last_seq == 0:
        raise BadInput("审计日志为空，无可签名的条目 / the audit trail is empty: nothing to sign")
    existing = session.get(AuditCheckpoint, report.last_seq)
    if existing is not None:
        return CheckpointResult(CheckpointView.of(existing), created=False)
    checkpoint = sign_checkpoint(keyring, report.last_seq, report.last_hash)
    session.add(checkpoint)
    session.flush()
    return CheckpointResult(CheckpointView.of(checkpoint), created=True)


# --- purging -----------------------------------------------------------------------------------


def retention_floor(now: datetime | None = None) -> datetime:
    """The newest instant a purge may reach: six calendar months before ``now`` (China time)."""
    local = (now or utcnow()).astimezone(CHINA_TIME)
    month = local.month - RETENTION_FLOOR_MONTHS
    year = local.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return local.replace(year=year, month=month, day=min(local.day, monthrange(year, month)[1]))


@dataclass(frozen=True)
class PurgeReport:
    before: datetime
    deleted: int
    through_seq: int | None  # the last entry deleted
    checkpoint_seq: int | None  # the checkpoint the kept entries now start from
    checkpoint_created: bool


def check_purge_cutoff(before: datetime, now: datetime | None = None) -> None:
    """Refuse (BadInput) a purge cut inside the six-month floor; a pure check, so a command
    can refuse before it opens any store."""
    if before.tzinfo is None:
        raise ValueError("before must carry a time zone")
    floor = retention_floor(now)
    if before > floor:
        raise BadInput(
            f"审计日志须保留至少 {RETENTION_FLOOR_MONTHS} 个月（《网络安全法》第二十一条），"
            f"清理截止时间不得晚于 {floor:%Y-%m-%d %H:%M} / audit entries are kept at least "
            f"{RETENTION_FLOOR_MONTHS} months (Cybersecurity Law art. 21): --before may not be "
            f"later than {floor.isoformat(timespec='minutes')}"
        )


def check_export_window(start: datetime | None, end: datetime | None) -> None:
    """Refuse (BadInput) an export window that ends before it starts."""
    if start is not None and end is not None and start >= end:
        raise BadInput("--from 须早于 --to / --from must be earlier than --to")


def purge_before(
    engine: Engine,
    keyring: Keyring,
    before: datetime,
    *,
    actor: Actor,
    now: datetime | None = None,
    batch: int = 5000,
) -> PurgeReport:
    """Delete the entries recorded before ``before``, in one transaction on the owner engine.

    Refused (BadInput) when ``before`` is inside the six-month floor; refused (Conflict) when
    no signed checkpoint covers the entries; refused (AuditChainBroken) when the chain does not
    verify, so tampering is never purged away. The cut is re-anchored by a checkpoint on the
    last deleted entry, signed after its hash was checked against the covering checkpoint's
    chain, and an ``audit.purge`` entry records the purge.
    """
    check_purge_cutoff(before, now)
    with Session(engine) as session, session.begin():
        # Lock the head first: appends wait until the purge commits, so the chain cannot move
        # while it is verified, cut and re-anchored.
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
        report = _verify(session, keyring, batch)
        if not report.ok:
            raise AuditChainBroken(
                f"审计链在条目 {report.first_broken_seq} 处断裂，未删除任何条目 / the audit "
                f"chain is broken at entry {report.first_broken_seq} ({report.reason}); "
                "nothing was purged"
            )
        first_recent = session.scalar(
            select(func.min(AuditEntry.seq)).where(AuditEntry.at >= before)
        )
        boundary = report.last_seq if first_recent is None else first_recent - 1
        if report.first_seq is None or boundary < report.first_seq:
            return PurgeReport(before, 0, None, report.anchor_seq, False)
        covering = session.scalars(
            select(AuditCheckpoint)
            .where(AuditCheckpoint.seq >= boundary, AuditCheckpoint.seq <= report.last_seq)
            .order_by(AuditCheckpoint.seq)
            .limit(1)
        ).first()
        if covering is None:
            raise Conflict(
                f"没有签名检查点覆盖条目 {boundary} 及之前的审计记录，请先运行 `anjian audit "
                f"checkpoint` / no signed checkpoint covers the entries up to {boundary}: run "
                "`anjian audit checkpoint` first"
            )
        created = covering.seq != boundary
        if created:
            # The chain verified from this entry to the covering checkpoint, whose signature
            # therefore vouches for this hash too.
            boundary_hash = session.scalar(
                select(AuditEntry.hash).where(AuditEntry.seq == boundary)
            )
            if boundary_hash is None:
                raise AuditChainBroken(f"entry {boundary} vanished during the purge")
            session.add(sign_checkpoint(keyring, boundary, boundary_hash))
        deleted = session.execute(delete(AuditEntry).where(AuditEntry.seq <= boundary)).rowcount
        record_sync(
            session,
            actor,
            "audit.purge",
            detail={
                "before": before.isoformat(),
                "through_seq": boundary,
                "deleted": deleted,
                "checkpoint_seq": boundary,
            },
        )
        session.flush()
        after = _verify(session, keyring, batch)
        if not after.ok:
            raise AuditChainBroken(
                f"the purged chain would not verify at entry {after.first_broken_seq} "
                f"({after.reason}); the purge was rolled back"
            )
    return PurgeReport(before, deleted, boundary, boundary, created)


# --- export ------------------------------------------------------------------------------------

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


def _export_row(entry: Any) -> dict[str, Any]:
    return {**_content(entry), "prev_hash": entry.prev_hash.hex(), "hash": entry.hash.hex()}


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
    session: AsyncSession,
    out: Path,
    fmt: Literal["csv", "json"],
    *,
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

"""Verifying the chain: every kept entry's link and content, and every signed checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.core.errors import ConfigurationError
from privacy.audit._entries import GENESIS, AuditEntry, AuditHead, entry_hash
from privacy.checkpoints import AuditCheckpoint, signature_problem
from privacy.keyring import Keyring


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


def verify_chain_sync(
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
    *, session: AsyncSession, keyring: Keyring | None = None, batch: int = 5000
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
    return await session.run_sync(verify_chain_sync, keyring, batch)

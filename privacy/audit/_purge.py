"""Purging entries older than the legal floor, behind a signed checkpoint.

On PostgreSQL the application role may only read and append (migrations 0001 and 0009), so a
purge runs on the owner engine: ANJIAN_DATABASE_URL's own user, without the SET ROLE the
application pool performs.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend.core.db import utcnow
from backend.core.errors import BadInput, Conflict
from privacy.audit._entries import Actor, AuditChainBroken, AuditEntry, AuditHead
from privacy.audit._record import record_sync
from privacy.audit._verify import verify_chain_sync
from privacy.checkpoints import AuditCheckpoint, sign_checkpoint
from privacy.keyring import Keyring

# Cybersecurity Law art. 21: network logs are kept for no less than six months.
RETENTION_FLOOR_MONTHS = 6
# Dates typed by operators and inspectors are China Standard Time (no daylight saving).
CHINA_TIME = timezone(timedelta(hours=8), "CST")


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
        raise BadInput("before must carry a time zone")
    floor = retention_floor(now)
    if before > floor:
        raise BadInput(
            f"审计日志须保留至少 {RETENTION_FLOOR_MONTHS} 个月（《网络安全法》第二十一条），"
            f"清理截止时间不得晚于 {floor:%Y-%m-%d %H:%M} / audit entries are kept at least "
            f"{RETENTION_FLOOR_MONTHS} months (Cybersecurity Law art. 21): --before may not be "
            f"later than {floor.isoformat(timespec='minutes')}"
        )


def purge_before_in_own_transaction(
    *,
    engine: Engine,
    keyring: Keyring,
    before: datetime,
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
        report = verify_chain_sync(session, keyring, batch)
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
        after = verify_chain_sync(session, keyring, batch)
        if not after.ok:
            raise AuditChainBroken(
                f"the purged chain would not verify at entry {after.first_broken_seq} "
                f"({after.reason}); the purge was rolled back"
            )
    return PurgeReport(before, deleted, boundary, boundary, created)

"""Signing the chain's head (the signatures themselves: ``privacy.checkpoints``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.core.errors import BadInput
from privacy.audit._entries import AuditChainBroken
from privacy.audit._verify import verify_chain_sync
from privacy.checkpoints import AuditCheckpoint, CheckpointView, sign_checkpoint
from privacy.keyring import Keyring


@dataclass(frozen=True)
class CheckpointResult:
    checkpoint: CheckpointView
    created: bool  # False: the head already had one


async def create_checkpoint(
    *, session: AsyncSession, keyring: Keyring, batch: int = 5000
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
    report = verify_chain_sync(session, keyring, batch, tail_only=True)
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

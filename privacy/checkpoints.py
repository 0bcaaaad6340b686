"""Signed checkpoints of the audit trail.

The hash chain alone can be recomputed by anyone who can write the tables. A checkpoint signs
(entry seq, entry hash, time, key version) with an Ed25519 key derived from the master keyring,
which the database does not hold, so it anchors every entry up to it: rewriting them is
detected, and once old entries are purged the first remaining entry links to a checkpoint
instead of the genesis hash.

Signing keys come from ``keyring.derive("audit-checkpoint", version)``; a rotation adds a key
version, and the public key of every version stays derivable, so checkpoints signed before a
rotation keep verifying. The signed message is ``MESSAGE_FORMAT`` (UTF-8), published with the
public keys in a JSON export so an inspector can check signatures without Anjian.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import BigInteger, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, utcnow
from backend.core.errors import BadInput, ConfigurationError
from privacy.keyring import Keyring

PURPOSE = "audit-checkpoint"
MESSAGE_FORMAT = "anjian-audit-checkpoint/1\n{seq}\n{hash_hex}\n{at_iso}\n{key_version}"


class AuditCheckpoint(Base):
    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    key_version: Mapped[int] = mapped_column(Integer)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


def _private_key(keyring: Keyring, version: int | None) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(keyring.derive(PURPOSE, version))


def public_key(keyring: Keyring, version: int) -> Ed25519PublicKey:
    """The verification key of one keyring version (ConfigurationError if it is not held)."""
    return _private_key(keyring, version).public_key()


def public_keys(keyring: Keyring) -> dict[int, bytes]:
    """Raw 32-byte Ed25519 public keys by key version, for publishing with an export."""
    return {
        v.version: public_key(keyring, v.version).public_bytes(Encoding.Raw, PublicFormat.Raw)
        for v in keyring.versions
    }


def signed_message(seq: int, entry_hash: bytes, at: datetime, key_version: int) -> bytes:
    return MESSAGE_FORMAT.format(
        seq=seq,
        hash_hex=entry_hash.hex(),
        at_iso=at.astimezone(UTC).isoformat(),
        key_version=key_version,
    ).encode()


def sign_checkpoint(
    keyring: Keyring, seq: int, entry_hash: bytes, at: datetime | None = None
) -> AuditCheckpoint:
    """A checkpoint over entry ``seq`` signed with the current key version (not yet added)."""
    if len(entry_hash) != 32:
        raise BadInput("an entry hash is 32 bytes")
    when = (at or utcnow()).astimezone(UTC)
    version = keyring.current.version
    signature = _private_key(keyring, version).sign(signed_message(seq, entry_hash, when, version))
    return AuditCheckpoint(
        seq=seq, hash=entry_hash, at=when, key_version=version, signature=signature
    )


def signature_problem(checkpoint: AuditCheckpoint, keyring: Keyring) -> str | None:
    """Why the checkpoint's signature does not hold, or None when it does."""
    try:
        key = public_key(keyring, checkpoint.key_version)
    except ConfigurationError:
        return f"signed with key version {checkpoint.key_version}, which the keyring lacks"
    message = signed_message(checkpoint.seq, checkpoint.hash, checkpoint.at, checkpoint.key_version)
    try:
        key.verify(checkpoint.signature, message)
    except InvalidSignature:
        return "its signature does not verify"
    return None


@dataclass(frozen=True)
class CheckpointView:
    """A checkpoint as printed or exported: hashes and signature in hex."""

    seq: int
    hash: str
    at: str
    key_version: int
    signature: str

    @classmethod
    def of(cls, checkpoint: AuditCheckpoint) -> CheckpointView:
        return cls(
            seq=checkpoint.seq,
            hash=checkpoint.hash.hex(),
            at=checkpoint.at.astimezone(UTC).isoformat(),
            key_version=checkpoint.key_version,
            signature=checkpoint.signature.hex(),
        )

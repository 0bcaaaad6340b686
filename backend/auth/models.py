"""Users, their memberships in Casbin domains, sign-in sessions and invitations.

Users are not tenant-owned: one person may hold roles in several domains.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, IdMixin
from privacy.crypto import Sealed, SealedRecord


class User(SealedRecord, IdMixin, Base):
    """A person who signs in. The e-mail address is sealed under the platform data key;
    sign-in finds it through ``email_index``, an HMAC of the normalised address
    (``await User.email.matches(session, address)``)."""

    __tablename__ = "users"

    email_enc: Mapped[bytes] = mapped_column(LargeBinary)
    email_index: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(default=False)

    email = Sealed[str]("email_enc", index="email_index")


# A membership suspended in its domain is kept under ``suspended:<domain>``: with its role and
# history, but matching no query of the domain, so it grants nothing there (no permission, no
# scope, no alarm mail, no dispatch) until it is enabled again.
SUSPENDED_PREFIX = "suspended:"


def suspended_domain(domain: str) -> str:
    return SUSPENDED_PREFIX + domain


class Membership(IdMixin, Base):
    """A role in a Casbin domain: ``tenant:<uuid>``, ``gov:<division>`` or ``platform``; or a
    suspended one (``SUSPENDED_PREFIX``)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "domain"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    granted_by: Mapped[uuid.UUID | None]


class AuthSession(IdMixin, Base):
    """One issued token; revoking the row revokes the token."""

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # When a request last used it (written at most once a minute): sessions end after the
    # idle timeout of the tenants their account belongs to.
    last_seen_at: Mapped[datetime | None]


class Invitation(SealedRecord, IdMixin, Base):
    """An offer of a role in a domain, addressed to an e-mail address, pending until accepted.

    The token reaches only the invitee, by mail; only its SHA-256 is kept. The invitation is
    bound to the address, not to an account: whoever proves the mailbox with the token either
    creates the account (setting its first password) or, when the address already has an
    account, must be signed in as that account to accept. No membership exists before then,
    so an inviter gains nothing by inviting an address that belongs to someone else.
    """

    __tablename__ = "invitations"

    email_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # Not unique: several domains may invite one address, and a re-invitation supersedes.
    email_index: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    domain: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[bytes] = mapped_column(unique=True)
    invited_by: Mapped[uuid.UUID | None]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    # Superseded by a newer invitation, cancelled, or voided when the member was removed.
    revoked_at: Mapped[datetime | None]
    # The account that accepted it (set on acceptance).
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    email = Sealed[str]("email_enc", index="email_index")


class LoginThrottle(SealedRecord, IdMixin, Base):
    """Failed sign-in pressure on one subject: an account (by address, known or not), a client
    address, or the pair of both. Kept in the relational store so every server process sees
    the same counts; see ``backend.auth.throttle`` for the policy.

    ``subject`` (``account:<e-mail>``, ``address:<ip or /64>``, ``pair:<e-mail>|<address>``) is
    sealed and found by its blind index, so the table lists neither addresses nor e-mails.
    """

    __tablename__ = "login_throttles"

    kind: Mapped[str] = mapped_column(String(16))
    subject_enc: Mapped[bytes] = mapped_column(LargeBinary)
    subject_index: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # Failures counted, leaking away over time at the policy's rate (a leaky bucket).
    level: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    # A pair whose address signed in successfully: the account-wide lock spares it.
    familiar_until: Mapped[datetime | None]
    # When the account's holder was told of the current lock (once per lock episode).
    notified_at: Mapped[datetime | None]
    # After this the row says nothing any more and may be deleted.
    expires_at: Mapped[datetime] = mapped_column(index=True)

    subject = Sealed[str]("subject_enc", index="subject_index")


class CasbinRule(Base):
    """Role-template policies, read and written by the Casbin SQLAlchemy adapter.

    Declared here so Alembic owns the table instead of proposing to drop it.
    """

    __tablename__ = "casbin_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ptype: Mapped[str] = mapped_column(String(255))
    v0: Mapped[str | None] = mapped_column(String(255))
    v1: Mapped[str | None] = mapped_column(String(255))
    v2: Mapped[str | None] = mapped_column(String(255))
    v3: Mapped[str | None] = mapped_column(String(255))
    v4: Mapped[str | None] = mapped_column(String(255))
    v5: Mapped[str | None] = mapped_column(String(255))

    def __str__(self) -> str:
        values = [self.ptype] + [
            v for v in (self.v0, self.v1, self.v2, self.v3, self.v4, self.v5) if v is not None
        ]
        return ", ".join(values)


class AuthzState(Base):
    """A counter bumped with every policy or membership change, so every process reloads."""

    __tablename__ = "authz_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)

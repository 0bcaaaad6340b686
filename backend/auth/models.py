"""Users, their memberships in Casbin domains, sign-in sessions and invitations.

Users are not tenant-owned: one person may hold roles in several domains.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
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


class Membership(IdMixin, Base):
    """A role in a Casbin domain: ``tenant:<uuid>``, ``gov:<division>`` or ``platform``."""

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


class Invitation(IdMixin, Base):
    __tablename__ = "invitations"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[bytes] = mapped_column(unique=True)
    invited_by: Mapped[uuid.UUID | None]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]


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

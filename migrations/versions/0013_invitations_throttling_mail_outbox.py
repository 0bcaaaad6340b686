"""Invitations bound to an address and granted only on acceptance; sign-in throttling; the
transactional mail outbox.

Invitations issued before this revision returned their token to the inviter, who could accept
them in the invitee's place: every one of them is void, so the table is rebuilt empty (the
audit trail keeps their history). For the same reason, roles granted to accounts that never
set a password (invited, never accepted) were granted without their holder's consent and are
removed; such an account gets its role again by accepting a new invitation.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.drop_table("invitations")
    op.create_table(
        "invitations",
        sa.Column("email_enc", sa.LargeBinary(), nullable=False),
        sa.Column("email_index", sa.LargeBinary(length=32), nullable=False),
        sa.Column("domain", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_invitations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index(op.f("ix_invitations_email_index"), "invitations", ["email_index"])

    op.execute(
        "DELETE FROM memberships WHERE user_id IN "
        "(SELECT id FROM users WHERE password_hash IS NULL)"
    )
    op.execute("UPDATE authz_state SET version = version + 1")

    op.create_table(
        "login_throttles",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_enc", sa.LargeBinary(), nullable=False),
        sa.Column("subject_index", sa.LargeBinary(length=32), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("familiar_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttles")),
        sa.UniqueConstraint("subject_index", name=op.f("uq_login_throttles_subject_index")),
    )
    op.create_index(op.f("ix_login_throttles_expires_at"), "login_throttles", ["expires_at"])

    op.create_table(
        "mail_outbox",
        sa.Column("recipient_enc", sa.LargeBinary(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body_enc", sa.LargeBinary(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_mail_outbox_idempotency_key")),
    )


def downgrade() -> None:
    op.drop_table("mail_outbox")
    op.drop_index(op.f("ix_login_throttles_expires_at"), table_name="login_throttles")
    op.drop_table("login_throttles")
    op.drop_index(op.f("ix_invitations_email_index"), table_name="invitations")
    op.drop_table("invitations")
    # The earlier shape, empty: invitations of this revision name addresses, not accounts.
    op.create_table(
        "invitations",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("domain", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_invitations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )

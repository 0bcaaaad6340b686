"""Sessions end after a tenant's idle timeout: the last use of each session, and the timeout.

``auth_sessions.last_seen_at`` is when the session was last used (written at most once a
minute); ``tenants.idle_timeout_minutes`` is the owner's choice, null for the platform's
default. Adding a column alters in place; dropping one rebuilds the table on SQLite, with
foreign keys off so that nothing referencing a tenant is cascaded away.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.sqlite_rebuild import foreign_keys_off

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "auth_sessions", sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("tenants", sa.Column("idle_timeout_minutes", sa.Integer(), nullable=True))


def downgrade() -> None:
    with foreign_keys_off(op.get_bind()):
        with op.batch_alter_table("tenants") as batch_op:
            batch_op.drop_column("idle_timeout_minutes")
        with op.batch_alter_table("auth_sessions") as batch_op:
            batch_op.drop_column("last_seen_at")

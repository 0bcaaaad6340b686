"""When a tenant was offboarded: its erasure falls due once the retention floors have passed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.sqlite_rebuild import foreign_keys_off

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("offboarded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # SQLite rebuilds tenants to drop a column: every tenant-owned row must survive the drop.
    with (
        foreign_keys_off(op.get_bind()),
        op.batch_alter_table("tenants", schema=None) as batch_op,
    ):
        batch_op.drop_column("offboarded_at")

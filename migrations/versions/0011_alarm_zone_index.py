"""Alarms by zone: each raise looks for the other recent alarms of its zone (incidents).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_alarms_zone_id"), "alarms", ["zone_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_alarms_zone_id"), table_name="alarms")

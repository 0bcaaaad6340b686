"""Default rule slots: a sensor's (or device's) library defaults are created once, even when
two servers notice the new sensor at the same time.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alarm_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("default_slot", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "uq_alarm_rules_device_default",
            ["device_id", "default_slot"],
            unique=True,
            sqlite_where=sa.text("default_slot IS NOT NULL AND sensor_id IS NULL"),
            postgresql_where=sa.text("default_slot IS NOT NULL AND sensor_id IS NULL"),
        )
        batch_op.create_index(
            "uq_alarm_rules_sensor_default",
            ["sensor_id", "default_slot"],
            unique=True,
            sqlite_where=sa.text("default_slot IS NOT NULL AND sensor_id IS NOT NULL"),
            postgresql_where=sa.text("default_slot IS NOT NULL AND sensor_id IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("alarm_rules", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_alarm_rules_sensor_default",
            sqlite_where=sa.text("default_slot IS NOT NULL AND sensor_id IS NOT NULL"),
            postgresql_where=sa.text("default_slot IS NOT NULL AND sensor_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_alarm_rules_device_default",
            sqlite_where=sa.text("default_slot IS NOT NULL AND sensor_id IS NULL"),
            postgresql_where=sa.text("default_slot IS NOT NULL AND sensor_id IS NULL"),
        )
        batch_op.drop_column("default_slot")

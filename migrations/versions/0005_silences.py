"""Alarm silences and maintenance windows; RLS on PostgreSQL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen: the tenant-owned tables this revision creates.
TENANT_OWNED_TABLES = ("alarm_silences",)


def upgrade() -> None:
    op.create_table(
        "alarm_silences",
        sa.Column("zone_id", sa.Uuid(), nullable=True),
        sa.Column("sensor_id", sa.Uuid(), nullable=True),
        sa.Column("owner", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.Uuid(), nullable=True),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensors.id"],
            name=op.f("fk_alarm_silences_sensor_id_sensors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id", "tenant_id"],
            ["sites.id", "sites.tenant_id"],
            name=op.f("fk_alarm_silences_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_alarm_silences_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["zones.id"],
            name=op.f("fk_alarm_silences_zone_id_zones"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_silences")),
    )
    with op.batch_alter_table("alarm_silences", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alarm_silences_site_expires", ["site_id", "expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alarm_silences_sensor_id"), ["sensor_id"])
        batch_op.create_index(batch_op.f("ix_alarm_silences_site_id"), ["site_id"])
        batch_op.create_index(batch_op.f("ix_alarm_silences_tenant_id"), ["tenant_id"])
        batch_op.create_index(batch_op.f("ix_alarm_silences_zone_id"), ["zone_id"])

    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_OWNED_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                "USING (anjian_tenant_visible(tenant_id)) "
                "WITH CHECK (anjian_tenant_visible(tenant_id))"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_OWNED_TABLES:
            op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    with op.batch_alter_table("alarm_silences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_silences_zone_id"))
        batch_op.drop_index(batch_op.f("ix_alarm_silences_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_alarm_silences_site_id"))
        batch_op.drop_index(batch_op.f("ix_alarm_silences_sensor_id"))
        batch_op.drop_index("ix_alarm_silences_site_expires")

    op.drop_table("alarm_silences")

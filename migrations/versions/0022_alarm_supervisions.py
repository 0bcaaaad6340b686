"""Alarm supervision (督办): supervisions and their timeline; RLS on PostgreSQL.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen: the tenant-owned tables this revision creates.
TENANT_OWNED_TABLES = ("alarm_supervisions", "alarm_supervision_events")
_STATUSES = ("REQUESTED", "REPORTED", "ACCEPTED", "RETURNED")


def _keys(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id", "tenant_id"],
            ["sites.id", "sites.tenant_id"],
            name=op.f(f"fk_{table}_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _indexes(table: str, columns: Sequence[str]) -> None:
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "alarm_supervisions",
        sa.Column("alarm_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*_STATUSES, name="supervisionstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request", sa.String(length=2000), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("report", sa.String(length=4000), nullable=True),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_by", sa.Uuid(), nullable=True),
        sa.Column("return_comment", sa.String(length=2000), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["alarms.id"],
            name=op.f("fk_alarm_supervisions_alarm_id_alarms"),
            ondelete="CASCADE",
        ),
        *_keys("alarm_supervisions"),
    )
    _indexes("alarm_supervisions", ("alarm_id", "site_id", "tenant_id"))
    op.create_index(
        "ix_alarm_supervisions_status_deadline",
        "alarm_supervisions",
        ["status", "deadline"],
        unique=False,
    )
    op.create_index(
        "uq_alarm_supervisions_open_alarm",
        "alarm_supervisions",
        ["alarm_id"],
        unique=True,
        sqlite_where=sa.text("status <> 'ACCEPTED'"),
        postgresql_where=sa.text("status <> 'ACCEPTED'"),
    )

    op.create_table(
        "alarm_supervision_events",
        sa.Column("supervision_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*_STATUSES, name="supervisioneventkind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Uuid(), nullable=True),
        sa.Column("comment", sa.String(length=4000), nullable=True),
        sa.ForeignKeyConstraint(
            ["supervision_id"],
            ["alarm_supervisions.id"],
            name=op.f("fk_alarm_supervision_events_supervision_id_alarm_supervisions"),
            ondelete="CASCADE",
        ),
        *_keys("alarm_supervision_events"),
    )
    _indexes("alarm_supervision_events", ("supervision_id", "site_id", "tenant_id"))

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
    for column in ("tenant_id", "site_id", "supervision_id"):
        op.drop_index(
            op.f(f"ix_alarm_supervision_events_{column}"), table_name="alarm_supervision_events"
        )
    op.drop_table("alarm_supervision_events")
    op.drop_index("uq_alarm_supervisions_open_alarm", table_name="alarm_supervisions")
    op.drop_index("ix_alarm_supervisions_status_deadline", table_name="alarm_supervisions")
    for column in ("tenant_id", "site_id", "alarm_id"):
        op.drop_index(op.f(f"ix_alarm_supervisions_{column}"), table_name="alarm_supervisions")
    op.drop_table("alarm_supervisions")

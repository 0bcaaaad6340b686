"""Response: work orders with their timeline, and shift handovers; RLS on PostgreSQL.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen: the tenant-owned tables this revision creates.
TENANT_OWNED_TABLES = ("work_orders", "work_order_events", "shift_handovers")


def _tenant_keys(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _site_key(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id", "tenant_id"],
            ["sites.id", "sites.tenant_id"],
            name=op.f(f"fk_{table}_site_id_sites"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "work_orders",
        sa.Column("alarm_id", sa.Uuid(), nullable=True),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=4000), nullable=True),
        sa.Column("assignee_user_id", sa.Uuid(), nullable=True),
        sa.Column("assignee_worker_id", sa.Uuid(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "OPEN",
                "IN_PROGRESS",
                "DONE",
                "VERIFIED",
                "CANCELLED",
                name="workorderstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["alarms.id"],
            name=op.f("fk_work_orders_alarm_id_alarms"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["alarm_incidents.id"],
            name=op.f("fk_work_orders_incident_id_alarm_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_worker_id"],
            ["workers.id"],
            name=op.f("fk_work_orders_assignee_worker_id_workers"),
            ondelete="SET NULL",
        ),
        *_site_key("work_orders"),
        *_tenant_keys("work_orders"),
    )
    for column in ("alarm_id", "incident_id", "status", "site_id", "tenant_id"):
        op.create_index(op.f(f"ix_work_orders_{column}"), "work_orders", [column], unique=False)
    op.create_index(
        "ix_work_orders_tenant_created", "work_orders", ["tenant_id", "created_at"], unique=False
    )

    op.create_table(
        "work_order_events",
        sa.Column("work_order_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("photos", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_work_order_events_work_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        *_tenant_keys("work_order_events"),
    )
    for column in ("work_order_id", "tenant_id"):
        op.create_index(
            op.f(f"ix_work_order_events_{column}"), "work_order_events", [column], unique=False
        )

    op.create_table(
        "shift_handovers",
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("handed_over_by", sa.Uuid(), nullable=False),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("accepted_by", sa.Uuid(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accept_note", sa.String(length=2000), nullable=True),
        *_site_key("shift_handovers"),
        *_tenant_keys("shift_handovers"),
    )
    for column in ("site_id", "tenant_id"):
        op.create_index(
            op.f(f"ix_shift_handovers_{column}"), "shift_handovers", [column], unique=False
        )
    op.create_index(
        "ix_shift_handovers_site_created",
        "shift_handovers",
        ["site_id", "created_at"],
        unique=False,
    )

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
    op.drop_index("ix_shift_handovers_site_created", table_name="shift_handovers")
    for column in ("tenant_id", "site_id"):
        op.drop_index(op.f(f"ix_shift_handovers_{column}"), table_name="shift_handovers")
    op.drop_table("shift_handovers")
    for column in ("tenant_id", "work_order_id"):
        op.drop_index(op.f(f"ix_work_order_events_{column}"), table_name="work_order_events")
    op.drop_table("work_order_events")
    op.drop_index("ix_work_orders_tenant_created", table_name="work_orders")
    for column in ("tenant_id", "site_id", "status", "incident_id", "alarm_id"):
        op.drop_index(op.f(f"ix_work_orders_{column}"), table_name="work_orders")
    op.drop_table("work_orders")

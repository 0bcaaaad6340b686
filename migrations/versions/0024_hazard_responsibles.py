"""Major hazard sources' accountable persons (包保责任人) and their duty records (履职记录);
RLS on PostgreSQL.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen: the tenant-owned tables this revision creates.
TENANT_OWNED_TABLES = ("hazard_responsibles", "hazard_duty_records")
# Frozen: the roles as stored.
ROLES = ("main", "technical", "operational")


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
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["hazard_units.id"],
            name=op.f(f"fk_{table}_unit_id_hazard_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _role() -> sa.Enum:
    return sa.Enum(*ROLES, name="responsiblerole", native_enum=False, length=32)


def _indexes(table: str, columns: Sequence[str]) -> None:
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "hazard_responsibles",
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("role", _role(), nullable=False),
        sa.Column("worker_id", sa.Uuid(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["workers.id"],
            name=op.f("fk_hazard_responsibles_worker_id_workers"),
            ondelete="CASCADE",
        ),
        *_keys("hazard_responsibles"),
        sa.UniqueConstraint("unit_id", "role", name=op.f("uq_hazard_responsibles_unit_id_role")),
    )
    _indexes("hazard_responsibles", ("site_id", "tenant_id", "unit_id", "worker_id"))

    op.create_table(
        "hazard_duty_records",
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("role", _role(), nullable=False),
        sa.Column("worker_id", sa.Uuid(), nullable=True),
        sa.Column("checked_on", sa.Date(), nullable=False),
        sa.Column("findings", sa.String(length=2000), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["workers.id"],
            name=op.f("fk_hazard_duty_records_worker_id_workers"),
            ondelete="SET NULL",
        ),
        *_keys("hazard_duty_records"),
    )
    _indexes("hazard_duty_records", ("site_id", "tenant_id", "unit_id"))
    op.create_index(
        "ix_hazard_duty_records_unit_id_role_checked_on",
        "hazard_duty_records",
        ["unit_id", "role", "checked_on"],
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
    op.drop_index(
        "ix_hazard_duty_records_unit_id_role_checked_on", table_name="hazard_duty_records"
    )
    for column in ("unit_id", "tenant_id", "site_id"):
        op.drop_index(op.f(f"ix_hazard_duty_records_{column}"), table_name="hazard_duty_records")
    op.drop_table("hazard_duty_records")
    for column in ("worker_id", "unit_id", "tenant_id", "site_id"):
        op.drop_index(op.f(f"ix_hazard_responsibles_{column}"), table_name="hazard_responsibles")
    op.drop_table("hazard_responsibles")

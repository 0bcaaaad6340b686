"""Inspections (检查记录): inspection records and their findings; RLS on PostgreSQL.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen: the tenant-owned tables this revision creates.
TENANT_OWNED_TABLES = ("inspections", "inspection_findings")


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
        "inspections",
        sa.Column("division", sa.String(length=6), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        sa.Column("inspectors", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(length=4000), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("notice_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["rectification_notices.id"],
            name=op.f("fk_inspections_notice_id_rectification_notices"),
            ondelete="SET NULL",
        ),
        *_keys("inspections"),
        sa.UniqueConstraint("notice_id", name=op.f("uq_inspections_notice_id")),
    )
    _indexes("inspections", ("site_id", "tenant_id"))
    op.create_index(
        "ix_inspections_site_id_inspected_on",
        "inspections",
        ["site_id", "inspected_on"],
        unique=False,
    )

    op.create_table(
        "inspection_findings",
        sa.Column("inspection_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("finding", sa.String(length=2000), nullable=False),
        sa.Column("basis", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspections.id"],
            name=op.f("fk_inspection_findings_inspection_id_inspections"),
            ondelete="CASCADE",
        ),
        *_keys("inspection_findings"),
        sa.UniqueConstraint(
            "inspection_id",
            "position",
            name=op.f("uq_inspection_findings_inspection_id_position"),
        ),
    )
    _indexes("inspection_findings", ("inspection_id", "site_id", "tenant_id"))

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
    for column in ("tenant_id", "site_id", "inspection_id"):
        op.drop_index(op.f(f"ix_inspection_findings_{column}"), table_name="inspection_findings")
    op.drop_table("inspection_findings")
    op.drop_index("ix_inspections_site_id_inspected_on", table_name="inspections")
    for column in ("tenant_id", "site_id"):
        op.drop_index(op.f(f"ix_inspections_{column}"), table_name="inspections")
    op.drop_table("inspections")

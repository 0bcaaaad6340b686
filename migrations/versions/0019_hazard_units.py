"""The register of major hazard sources: hazard units and their substances; RLS on PostgreSQL.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen: the tenant-owned tables this revision creates.
TENANT_OWNED_TABLES = ("hazard_units", "hazard_substances")


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


def upgrade() -> None:
    op.create_table(
        "hazard_units",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("people_within_500m", sa.Integer(), nullable=False),
        sa.Column("alpha", sa.Double(), nullable=False),
        sa.Column("sum_q_over_Q", sa.Double(), nullable=False),
        sa.Column("r_value", sa.Double(), nullable=False),
        sa.Column("is_major", sa.Boolean(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *_keys("hazard_units"),
        sa.CheckConstraint("grade BETWEEN 1 AND 4", name=op.f("ck_hazard_units_grade")),
        sa.CheckConstraint(
            "people_within_500m >= 0", name=op.f("ck_hazard_units_people_within_500m")
        ),
        sa.UniqueConstraint("site_id", "name", name=op.f("uq_hazard_units_site_id_name")),
    )
    for column in ("site_id", "tenant_id"):
        op.create_index(op.f(f"ix_hazard_units_{column}"), "hazard_units", [column], unique=False)

    op.create_table(
        "hazard_substances",
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("cas_number", sa.String(length=32), nullable=True),
        sa.Column("entry", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=True),
        sa.Column("beta_category", sa.String(length=16), nullable=True),
        sa.Column("quantity_tonnes", sa.Double(), nullable=False),
        sa.Column("standard_name_zh", sa.String(length=200), nullable=False),
        sa.Column("standard_name_en", sa.String(length=200), nullable=False),
        sa.Column("critical_quantity_tonnes", sa.Double(), nullable=False),
        sa.Column("beta", sa.Double(), nullable=False),
        sa.Column("q_over_Q", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["hazard_units.id"],
            name=op.f("fk_hazard_substances_unit_id_hazard_units"),
            ondelete="CASCADE",
        ),
        *_keys("hazard_substances"),
    )
    for column in ("unit_id", "site_id", "tenant_id"):
        op.create_index(
            op.f(f"ix_hazard_substances_{column}"), "hazard_substances", [column], unique=False
        )
    op.create_index(
        "ix_hazard_substances_unit_position",
        "hazard_substances",
        ["unit_id", "position"],
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
    op.drop_index("ix_hazard_substances_unit_position", table_name="hazard_substances")
    for column in ("tenant_id", "site_id", "unit_id"):
        op.drop_index(op.f(f"ix_hazard_substances_{column}"), table_name="hazard_substances")
    op.drop_table("hazard_substances")
    for column in ("tenant_id", "site_id"):
        op.drop_index(op.f(f"ix_hazard_units_{column}"), table_name="hazard_units")
    op.drop_table("hazard_units")

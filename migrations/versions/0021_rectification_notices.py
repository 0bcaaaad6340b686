"""Rectification notices: notices, their items, the enterprise's answers, their timeline; RLS on
PostgreSQL.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen: the tenant-owned tables this revision creates.
TENANT_OWNED_TABLES = (
    "rectification_notices",
    "notice_items",
    "notice_responses",
    "notice_events",
)


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


def _notice_key(table: str) -> sa.SchemaItem:
    return sa.ForeignKeyConstraint(
        ["notice_id"],
        ["rectification_notices.id"],
        name=op.f(f"fk_{table}_notice_id_rectification_notices"),
        ondelete="CASCADE",
    )


def _indexes(table: str, columns: Sequence[str]) -> None:
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "rectification_notices",
        sa.Column("issuing_division", sa.String(length=6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ISSUED",
                "RESPONDED",
                "VERIFIED",
                "RETURNED",
                name="noticestatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.Uuid(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_by", sa.Uuid(), nullable=True),
        sa.Column("return_comment", sa.String(length=2000), nullable=True),
        sa.Column("overdue_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *_keys("rectification_notices"),
        sa.UniqueConstraint(
            "issuing_division",
            "year",
            "sequence",
            name=op.f("uq_rectification_notices_issuing_division_year_sequence"),
        ),
    )
    _indexes("rectification_notices", ("site_id", "tenant_id"))
    op.create_index(
        "ix_rectification_notices_status_deadline",
        "rectification_notices",
        ["status", "deadline"],
        unique=False,
    )

    op.create_table(
        "notice_items",
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("finding", sa.String(length=2000), nullable=False),
        sa.Column("basis", sa.String(length=1000), nullable=True),
        _notice_key("notice_items"),
        *_keys("notice_items"),
        sa.UniqueConstraint(
            "notice_id", "position", name=op.f("uq_notice_items_notice_id_position")
        ),
    )
    _indexes("notice_items", ("notice_id", "site_id", "tenant_id"))

    op.create_table(
        "notice_responses",
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=4000), nullable=False),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_by", sa.Uuid(), nullable=True),
        _notice_key("notice_responses"),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["notice_items.id"],
            name=op.f("fk_notice_responses_item_id_notice_items"),
            ondelete="CASCADE",
        ),
        *_keys("notice_responses"),
        sa.UniqueConstraint("item_id", "round", name=op.f("uq_notice_responses_item_id_round")),
    )
    _indexes("notice_responses", ("notice_id", "item_id", "site_id", "tenant_id"))

    op.create_table(
        "notice_events",
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "ISSUED",
                "RECEIVED",
                "RESPONDED",
                "VERIFIED",
                "RETURNED",
                name="noticeeventkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Uuid(), nullable=True),
        sa.Column("comment", sa.String(length=2000), nullable=True),
        _notice_key("notice_events"),
        *_keys("notice_events"),
    )
    _indexes("notice_events", ("notice_id", "site_id", "tenant_id"))

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
    for table, columns in (
        ("notice_events", ("tenant_id", "site_id", "notice_id")),
        ("notice_responses", ("tenant_id", "site_id", "item_id", "notice_id")),
        ("notice_items", ("tenant_id", "site_id", "notice_id")),
    ):
        for column in columns:
            op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
        op.drop_table(table)
    op.drop_index("ix_rectification_notices_status_deadline", table_name="rectification_notices")
    for column in ("tenant_id", "site_id"):
        op.drop_index(
            op.f(f"ix_rectification_notices_{column}"), table_name="rectification_notices"
        )
    op.drop_table("rectification_notices")

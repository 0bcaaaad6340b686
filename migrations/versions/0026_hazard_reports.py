"""Public hazard reports: the reports, their public timelines and photos, the proofs of work
spent on them, and the networks refused.

No row-level security here: these tables belong to the public and to the handling division,
not to a tenant, so no tenant policy applies and no enterprise scope reaches them (the
services open public sessions with an empty scope). The reporter's contact and the free text
are sealed under the platform data key.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen: the statuses as stored.
STATUSES = ("RECEIVED", "ACCEPTED", "REJECTED", "INVESTIGATING", "CLOSED", "MERGED")


def _status() -> sa.Enum:
    return sa.Enum(*STATUSES, name="reportstatus", native_enum=False, length=32)


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _keys(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _indexes(table: str, columns: Sequence[str]) -> None:
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "hazard_reports",
        sa.Column("receipt_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("description_enc", sa.LargeBinary(), nullable=False),
        sa.Column("division_code", sa.String(length=6), nullable=False),
        sa.Column("handling_division_code", sa.String(length=6), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("address_enc", sa.LargeBinary(), nullable=True),
        sa.Column("subject_enc", sa.LargeBinary(), nullable=True),
        _time("observed_at", nullable=True),
        sa.Column("contact_name_enc", sa.LargeBinary(), nullable=True),
        sa.Column("contact_mobile_enc", sa.LargeBinary(), nullable=True),
        sa.Column("status", _status(), nullable=False),
        _time("received_at"),
        _time("accept_due_at"),
        _time("accepted_at", nullable=True),
        _time("close_due_at", nullable=True),
        sa.Column("close_extended", sa.Boolean(), nullable=False),
        _time("closed_at", nullable=True),
        _time("feedback_due_at", nullable=True),
        _time("feedback_at", nullable=True),
        sa.Column("assigned_to", sa.Uuid(), nullable=True),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(length=4000), nullable=True),
        sa.Column("public_summary", sa.String(length=4000), nullable=True),
        _time("summary_published_at", nullable=True),
        sa.Column("client_hash", sa.LargeBinary(length=32), nullable=True),
        *_keys("hazard_reports"),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["hazard_reports.id"],
            name=op.f("fk_hazard_reports_merged_into_id_hazard_reports"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("receipt_hash", name=op.f("uq_hazard_reports_receipt_hash")),
    )
    _indexes("hazard_reports", ("client_hash", "division_code", "received_at", "status"))
    op.create_index(
        "ix_hazard_reports_handling_division_code_status",
        "hazard_reports",
        ["handling_division_code", "status"],
        unique=False,
    )

    op.create_table(
        "hazard_report_events",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        _time("at"),
        sa.Column("status", _status(), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        *_keys("hazard_report_events"),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["hazard_reports.id"],
            name=op.f("fk_hazard_report_events_report_id_hazard_reports"),
            ondelete="CASCADE",
        ),
    )
    _indexes("hazard_report_events", ("report_id",))

    op.create_table(
        "hazard_report_photos",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("media_type", sa.String(length=32), nullable=False),
        _time("uploaded_at"),
        sa.Column("challenge_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=True),
        *_keys("hazard_report_photos"),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["hazard_reports.id"],
            name=op.f("fk_hazard_report_photos_report_id_hazard_reports"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("key", name=op.f("uq_hazard_report_photos_key")),
    )
    _indexes("hazard_report_photos", ("challenge_hash", "report_id", "uploaded_at"))

    op.create_table(
        "hazard_report_challenges",
        sa.Column("challenge_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("photos", sa.Integer(), nullable=False),
        _time("reported_at", nullable=True),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("challenge_hash", name=op.f("pk_hazard_report_challenges")),
    )
    _indexes("hazard_report_challenges", ("expires_at",))

    op.create_table(
        "hazard_report_blocks",
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        *_keys("hazard_report_blocks"),
        sa.UniqueConstraint("network", name=op.f("uq_hazard_report_blocks_network")),
    )


def downgrade() -> None:
    op.drop_table("hazard_report_blocks")
    op.drop_index(
        op.f("ix_hazard_report_challenges_expires_at"), table_name="hazard_report_challenges"
    )
    op.drop_table("hazard_report_challenges")
    for column in ("uploaded_at", "report_id", "challenge_hash"):
        op.drop_index(op.f(f"ix_hazard_report_photos_{column}"), table_name="hazard_report_photos")
    op.drop_table("hazard_report_photos")
    op.drop_index(op.f("ix_hazard_report_events_report_id"), table_name="hazard_report_events")
    op.drop_table("hazard_report_events")
    op.drop_index("ix_hazard_reports_handling_division_code_status", table_name="hazard_reports")
    for column in ("status", "received_at", "division_code", "client_hash"):
        op.drop_index(op.f(f"ix_hazard_reports_{column}"), table_name="hazard_reports")
    op.drop_table("hazard_reports")

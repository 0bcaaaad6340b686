"""Handling public hazard reports: why one was rejected, whether it qualifies for a reward, the
registered site it is about, the inspection and notice it led to, which missed deadline its
directors were mailed about; internal timeline entries and who made each.

Plain columns only (no foreign keys): the site, the inspection and the notice are tenant data
the report merely refers to, read through the regulator's own scope.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.sqlite_rebuild import foreign_keys_off

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen: the reasons as stored.
REJECT_REASONS = ("DUPLICATE", "OUT_OF_SCOPE", "INSUFFICIENT_INFORMATION")
REPORT_COLUMNS = (
    "reject_reason",
    "reward_eligible",
    "subject_site_id",
    "linked_inspection_id",
    "linked_notice_id",
    "overdue_notified_due",
)


def upgrade() -> None:
    reason = sa.Enum(*REJECT_REASONS, name="rejectreason", native_enum=False, length=32)
    op.add_column("hazard_reports", sa.Column("reject_reason", reason, nullable=True))
    op.add_column("hazard_reports", sa.Column("reward_eligible", sa.Boolean(), nullable=True))
    for column in REPORT_COLUMNS[2:5]:
        op.add_column("hazard_reports", sa.Column(column, sa.Uuid(), nullable=True))
    op.add_column(
        "hazard_reports",
        sa.Column("overdue_notified_due", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "hazard_report_events",
        sa.Column("internal", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("hazard_report_events", sa.Column("actor_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    # SQLite drops columns by copying the table: the timelines and photos pointing at the
    # reports must not be cascaded away with the old copy.
    with foreign_keys_off(op.get_bind()):
        with op.batch_alter_table("hazard_report_events") as batch_op:
            batch_op.drop_column("actor_id")
            batch_op.drop_column("internal")
        with op.batch_alter_table("hazard_reports") as batch_op:
            for column in reversed(REPORT_COLUMNS):
                batch_op.drop_column(column)

"""An event alarm keeps the snapshot of the event that raised it; a dispatch keeps whom it sent.

``alarms.snapshot_key`` is the object key of the camera frame (``snapshots/<tenant>/<site>/
<id>.<ext>``) the raising event referenced, or the latest event that raised the alarm again;
null for threshold alarms and events without a frame. ``alarm_transitions.assignee_user_id``
and ``assignee_worker_id`` name the member or worker a DISPATCHED step sent (the alarm keeps
only the name); a user id without a foreign key, like every other "who" of a record, a worker's
set to null when the worker is deleted.

Adding a nullable column needs no table rebuild on SQLite, but a foreign key does, and dropping
a column does: those run with foreign keys off (migrations/sqlite_rebuild), so that dropping
the old ``alarms`` table does not cascade to its transitions.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.sqlite_rebuild import foreign_keys_off

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("alarms", sa.Column("snapshot_key", sa.String(length=255), nullable=True))
    with (
        foreign_keys_off(op.get_bind()),
        op.batch_alter_table("alarm_transitions") as batch_op,
    ):
        batch_op.add_column(sa.Column("assignee_user_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("assignee_worker_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_alarm_transitions_assignee_worker_id_workers"),
            "workers",
            ["assignee_worker_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with foreign_keys_off(op.get_bind()):
        with op.batch_alter_table("alarm_transitions") as batch_op:
            batch_op.drop_constraint(
                batch_op.f("fk_alarm_transitions_assignee_worker_id_workers"), type_="foreignkey"
            )
            batch_op.drop_column("assignee_worker_id")
            batch_op.drop_column("assignee_user_id")
        with op.batch_alter_table("alarms") as batch_op:
            batch_op.drop_column("snapshot_key")

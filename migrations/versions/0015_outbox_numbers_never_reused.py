"""The outbox's numbers are never handed out again on SQLite (AUTOINCREMENT).

Delivery receipts (notification deliveries, escalation notices) are keyed by the outbox
number; a number reused after retention deleted the newest rows would make a new change look
delivered already. The rebuilt table's sequence starts above every number a receipt names.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RECEIPTS = ("notification_deliveries", "escalation_notices")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL sequences never go back
    with op.batch_alter_table(
        "outbox", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass
    highest = max(
        bind.scalar(sa.text(f"SELECT COALESCE(MAX(outbox_seq), 0) FROM {table}")) or 0
        for table in _RECEIPTS
    )
    highest = max(highest, bind.scalar(sa.text("SELECT COALESCE(MAX(seq), 0) FROM outbox")) or 0)
    if highest:
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'outbox'"))
        bind.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', :seq)"),
            {"seq": highest},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "outbox", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ):
        pass

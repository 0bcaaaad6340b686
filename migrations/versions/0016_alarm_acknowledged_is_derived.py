"""An alarm is acknowledged when it has an acknowledgement time: the flag beside it goes.

``alarms.acknowledged`` was always written together with ``acknowledged_at``; the model now
derives it from that one column. Downgrading restores the flag from the time. On SQLite the
table is rebuilt with foreign keys off (migrations/sqlite_rebuild): dropping the old table
must not cascade to the alarms' transitions.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.sqlite_rebuild import foreign_keys_off

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with foreign_keys_off(op.get_bind()), op.batch_alter_table("alarms") as batch_op:
        batch_op.drop_column("acknowledged")


def downgrade() -> None:
    with foreign_keys_off(op.get_bind()):
        with op.batch_alter_table("alarms") as batch_op:
            batch_op.add_column(
                sa.Column("acknowledged", sa.Boolean(), nullable=False, server_default=sa.false())
            )
        bind = op.get_bind()
        # Row-level security is forced on the owner too; the flag is restored for every tenant.
        if bind.dialect.name == "postgresql":
            bind.execute(sa.text("SELECT set_config('anjian.unscoped', 'on', true)"))
        bind.execute(sa.text("UPDATE alarms SET acknowledged = (acknowledged_at IS NOT NULL)"))
        if bind.dialect.name == "postgresql":
            bind.execute(sa.text("SELECT set_config('anjian.unscoped', 'off', true)"))
        with op.batch_alter_table("alarms") as batch_op:
            batch_op.alter_column("acknowledged", server_default=None)

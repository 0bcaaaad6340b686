"""Personal data in free text at rest; webhook deliveries given up on are recorded.

- ``work_permits.note`` becomes ``note_enc``, sealed under the tenant's data key like workers'
  details (a permit's note names the people on the job and their mobiles). Existing notes are
  sealed on the way up and opened on the way down with the keyring ``anjian migrate`` passes
  (``config.attributes["keyring"]``); an empty table needs none. A crypto-shredded tenant's
  notes come down as NULL: the plaintext no longer exists.
- The free-text columns the catalog marks ``at_rest=mask`` (alarm causes, transition notes,
  silence and rule-change reasons) have the identifiers PII detection finds in them masked,
  as new writes are. That cannot be undone: the downgrade leaves them masked.
- ``notification_deliveries.error`` records why a delivery was given up on for good (a webhook
  to a refused address, a redirect), and ``notification_channels.last_error`` /
  ``last_error_at`` show the last such reason to the channel's managers.

On SQLite ``work_permits`` is rebuilt by copy with foreign keys off (``sqlite_rebuild``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from backend.core.errors import ConfigurationError
from migrations.sqlite_rebuild import foreign_keys_off
from privacy.crypto import DataKeyDestroyed, KeyStore, RowSealer
from privacy.pii import redact_text

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy: the columns masked at rest when this revision was written.
MASKED = (
    ("alarms", "cause"),
    ("alarm_transitions", "note"),
    ("alarm_silences", "reason"),
    ("alarm_rule_revisions", "reason"),
)


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("notification_channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_error", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error", sa.String(length=500), nullable=True))
    _mask_existing_text(bind)
    with foreign_keys_off(bind):
        with op.batch_alter_table("work_permits", schema=None) as batch_op:
            batch_op.add_column(sa.Column("note_enc", sa.LargeBinary(), nullable=True))
        _seal_existing_notes(bind)
        with op.batch_alter_table("work_permits", schema=None) as batch_op:
            batch_op.drop_column("note")


def downgrade() -> None:
    bind = op.get_bind()
    with foreign_keys_off(bind):
        with op.batch_alter_table("work_permits", schema=None) as batch_op:
            batch_op.add_column(sa.Column("note", sa.String(length=500), nullable=True))
        _open_existing_notes(bind)
        with op.batch_alter_table("work_permits", schema=None) as batch_op:
            batch_op.drop_column("note_enc")
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.drop_column("error")
    with op.batch_alter_table("notification_channels", schema=None) as batch_op:
        batch_op.drop_column("last_error_at")
        batch_op.drop_column("last_error")


# --- existing rows -------------------------------------------------------------------------


def _see_every_tenant(bind: sa.Connection, on: bool) -> None:
    # Row-level security is forced on the owner too; the migration works on every tenant.
    if bind.dialect.name == "postgresql":
        bind.execute(
            sa.text("SELECT set_config('anjian.unscoped', :on, true)"),
            {"on": "on" if on else "off"},
        )


def _sealer(bind: sa.Connection) -> RowSealer:
    keyring = context.config.attributes.get("keyring")
    if keyring is None:
        raise ConfigurationError(
            "revision 0014 encrypts the existing work-permit notes and needs the master "
            "keyring: run it with `anjian migrate`"
        )
    return RowSealer.for_connection(KeyStore(keyring), bind)


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _mask_existing_text(bind: sa.Connection) -> None:
    _see_every_tenant(bind, True)
    for table, column in MASKED:
        rows = bind.execute(
            sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL")
        ).all()
        for row_id, value in rows:
            masked = redact_text(value)
            if masked != value:
                bind.execute(
                    sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
                    {"value": masked, "id": row_id},
                )
    _see_every_tenant(bind, False)


def _seal_existing_notes(bind: sa.Connection) -> None:
    _see_every_tenant(bind, True)
    rows = bind.execute(
        sa.text("SELECT id, tenant_id, note FROM work_permits WHERE note IS NOT NULL")
    ).all()
    if rows:
        sealer = _sealer(bind)
        for row_id, tenant, note in rows:
            blob = sealer.seal("work_permits", "note", _as_uuid(tenant), _as_uuid(row_id), note)
            bind.execute(
                sa.text("UPDATE work_permits SET note_enc = :blob WHERE id = :id"),
                {"blob": blob, "id": row_id},
            )
    _see_every_tenant(bind, False)


def _open_existing_notes(bind: sa.Connection) -> None:
    _see_every_tenant(bind, True)
    rows = bind.execute(
        sa.text("SELECT id, tenant_id, note_enc FROM work_permits WHERE note_enc IS NOT NULL")
    ).all()
    if rows:
        sealer = _sealer(bind)
        for row_id, tenant, blob in rows:
            try:
                note = sealer.open(
                    "work_permits", "note", _as_uuid(tenant), _as_uuid(row_id), bytes(blob)
                )
            except DataKeyDestroyed:
                note = None
            bind.execute(
                sa.text("UPDATE work_permits SET note = :note WHERE id = :id"),
                {"note": note, "id": row_id},
            )
    _see_every_tenant(bind, False)

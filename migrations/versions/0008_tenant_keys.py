"""Per-tenant data keys and encrypted personal columns.

Workers' name, mobile and ID number and users' e-mail become AES-256-GCM ciphertext
(``*_enc``, see ``privacy.crypto``); users gain ``email_index``, the HMAC blind index sign-in
looks addresses up by. Rows that exist are sealed on the way up and opened on the way down
with the keyring that ``anjian migrate`` passes as ``config.attributes["keyring"]``; an empty
database needs none. Downgrading a crypto-shredded tenant's workers writes an erasure marker
as the name: the plaintext no longer exists anywhere.

On SQLite the two tables are rebuilt by copy, drop and rename. With foreign keys enforced,
dropping the old ``users`` would cascade to memberships and sign-in sessions (and the old
``workers`` would unlink devices), so this revision follows SQLite's documented procedure:
foreign keys off — which SQLite allows only between transactions, so the revisions before
this one are committed first — then all of this revision in one transaction of its own,
``foreign_key_check``, commit, foreign keys on again. A failure leaves the database at 0007.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
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

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: a later change to the models must not change what this revision did.
ERASED_NAME = "[已销毁 erased]"
KEY_MATERIAL = (
    "(destroyed_at IS NULL AND wrapped_key IS NOT NULL AND master_version IS NOT NULL)"
    " OR (destroyed_at IS NOT NULL AND wrapped_key IS NULL)"
)


def upgrade() -> None:
    bind = op.get_bind()
    with foreign_keys_off(bind):
        op.create_table(
            "platform_data_keys",
            sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
            sa.Column("master_version", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("version", name=op.f("pk_platform_data_keys")),
        )
        op.create_table(
            "tenant_data_keys",
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
            sa.Column("master_version", sa.Integer(), nullable=True),
            sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("tenant_id", sa.Uuid(), nullable=False),
            sa.CheckConstraint(KEY_MATERIAL, name=op.f("ck_tenant_data_keys_key_material")),
            sa.ForeignKeyConstraint(
                ["tenant_id"],
                ["tenants.id"],
                name=op.f("fk_tenant_data_keys_tenant_id_tenants"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_data_keys")),
            sa.UniqueConstraint(
                "tenant_id", "version", name=op.f("uq_tenant_data_keys_tenant_id_version")
            ),
        )
        with op.batch_alter_table("tenant_data_keys", schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f("ix_tenant_data_keys_tenant_id"), ["tenant_id"], unique=False
            )
        if bind.dialect.name == "postgresql":
            op.execute("ALTER TABLE tenant_data_keys ENABLE ROW LEVEL SECURITY")
            op.execute("ALTER TABLE tenant_data_keys FORCE ROW LEVEL SECURITY")
            op.execute(
                "CREATE POLICY tenant_isolation ON tenant_data_keys "
                "USING (anjian_tenant_visible(tenant_id)) "
                "WITH CHECK (anjian_tenant_visible(tenant_id))"
            )

        with op.batch_alter_table("workers", schema=None) as batch_op:
            batch_op.add_column(sa.Column("name_enc", sa.LargeBinary(), nullable=True))
            batch_op.add_column(sa.Column("mobile_enc", sa.LargeBinary(), nullable=True))
            batch_op.add_column(sa.Column("id_number_enc", sa.LargeBinary(), nullable=True))
        with op.batch_alter_table("users", schema=None) as batch_op:
            batch_op.add_column(sa.Column("email_enc", sa.LargeBinary(), nullable=True))
            batch_op.add_column(sa.Column("email_index", sa.LargeBinary(length=32), nullable=True))

        _seal_existing_rows(bind)
        with op.batch_alter_table("workers", schema=None) as batch_op:
            batch_op.alter_column("name_enc", existing_type=sa.LargeBinary(), nullable=False)
            batch_op.drop_column("name")
            batch_op.drop_column("mobile")
            batch_op.drop_column("id_number")
        with op.batch_alter_table("users", schema=None) as batch_op:
            batch_op.alter_column("email_enc", existing_type=sa.LargeBinary(), nullable=False)
            batch_op.alter_column(
                "email_index", existing_type=sa.LargeBinary(length=32), nullable=False
            )
            batch_op.drop_constraint(batch_op.f("uq_users_email"), type_="unique")
            batch_op.drop_column("email")
            batch_op.create_unique_constraint(batch_op.f("uq_users_email_index"), ["email_index"])


def downgrade() -> None:
    bind = op.get_bind()
    with foreign_keys_off(bind):
        with op.batch_alter_table("workers", schema=None) as batch_op:
            batch_op.add_column(sa.Column("name", sa.String(length=100), nullable=True))
            batch_op.add_column(sa.Column("mobile", sa.String(length=20), nullable=True))
            batch_op.add_column(sa.Column("id_number", sa.String(length=18), nullable=True))
        with op.batch_alter_table("users", schema=None) as batch_op:
            batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))

        _open_existing_rows(bind)
        with op.batch_alter_table("workers", schema=None) as batch_op:
            batch_op.alter_column("name", existing_type=sa.String(length=100), nullable=False)
            batch_op.drop_column("id_number_enc")
            batch_op.drop_column("mobile_enc")
            batch_op.drop_column("name_enc")
        with op.batch_alter_table("users", schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f("uq_users_email_index"), type_="unique")
            batch_op.drop_column("email_index")
            batch_op.drop_column("email_enc")
            batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=False)
            batch_op.create_unique_constraint(batch_op.f("uq_users_email"), ["email"])

        if bind.dialect.name == "postgresql":
            op.execute("DROP POLICY IF EXISTS tenant_isolation ON tenant_data_keys")
        with op.batch_alter_table("tenant_data_keys", schema=None) as batch_op:
            batch_op.drop_index(batch_op.f("ix_tenant_data_keys_tenant_id"))
        op.drop_table("tenant_data_keys")
        op.drop_table("platform_data_keys")


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
            "revision 0008 encrypts the existing workers and users and needs the master "
            "keyring: run it with `anjian migrate`"
        )
    return RowSealer.for_connection(KeyStore(keyring), bind)


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _seal_existing_rows(bind: sa.Connection) -> None:
    _see_every_tenant(bind, True)
    workers = bind.execute(
        sa.text("SELECT id, tenant_id, name, mobile, id_number FROM workers")
    ).all()
    users = bind.execute(sa.text("SELECT id, email FROM users")).all()
    if workers or users:
        sealer = _sealer(bind)
        for row_id, tenant, name, mobile, id_number in workers:
            key, owner = _as_uuid(row_id), _as_uuid(tenant)
            values = {
                f"{field}_enc": None
                if value is None
                else sealer.seal("workers", field, owner, key, value)
                for field, value in (("name", name), ("mobile", mobile), ("id_number", id_number))
            }
            bind.execute(
                sa.text(
                    "UPDATE workers SET name_enc = :name_enc, mobile_enc = :mobile_enc, "
                    "id_number_enc = :id_number_enc WHERE id = :id"
                ),
                {**values, "id": row_id},
            )
        for row_id, email in users:
            bind.execute(
                sa.text("UPDATE users SET email_enc = :enc, email_index = :index WHERE id = :id"),
                {
                    "enc": sealer.seal("users", "email", None, _as_uuid(row_id), email),
                    "index": sealer.index(None, "users.email", email.strip().lower()),
                    "id": row_id,
                },
            )
    _see_every_tenant(bind, False)


def _open_existing_rows(bind: sa.Connection) -> None:
    _see_every_tenant(bind, True)
    workers = bind.execute(
        sa.text("SELECT id, tenant_id, name_enc, mobile_enc, id_number_enc FROM workers")
    ).all()
    users = bind.execute(sa.text("SELECT id, email_enc FROM users")).all()
    if workers or users:
        sealer = _sealer(bind)
        for row_id, tenant, *blobs in workers:
            key, owner = _as_uuid(row_id), _as_uuid(tenant)
            fields = ("name", "mobile", "id_number")
            try:
                values = {
                    field: None if blob is None else sealer.open("workers", field, owner, key, blob)
                    for field, blob in zip(fields, blobs, strict=True)
                }
            except DataKeyDestroyed:
                values = {"name": ERASED_NAME, "mobile": None, "id_number": None}
            bind.execute(
                sa.text(
                    "UPDATE workers SET name = :name, mobile = :mobile, id_number = :id_number "
                    "WHERE id = :id"
                ),
                {**values, "id": row_id},
            )
        for row_id, blob in users:
            bind.execute(
                sa.text("UPDATE users SET email = :email WHERE id = :id"),
                {
                    "email": sealer.open("users", "email", None, _as_uuid(row_id), blob),
                    "id": row_id,
                },
            )
    _see_every_tenant(bind, False)

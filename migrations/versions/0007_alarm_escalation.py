"""Alarm escalation, silencing, flapping, incidents, work permits and zone rules.

On SQLite, alarms and alarm_rules are rebuilt with foreign keys off (migrations/sqlite_rebuild):
dropping the old tables must not cascade to the alarms' transitions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.sqlite_rebuild import foreign_keys_off

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen: the tenant-owned tables this revision creates.
TENANT_OWNED_TABLES = ("escalation_notices", "alarm_incidents", "work_permits")


def _tenant_keys(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _site_key(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id", "tenant_id"],
            ["sites.id", "sites.tenant_id"],
            name=op.f(f"fk_{table}_site_id_sites"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "escalation_notices",
        sa.Column(
            "outbox_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_escalation_notices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "outbox_seq", "user_id", name=op.f("uq_escalation_notices_outbox_seq_user_id")
        ),
        *_tenant_keys("escalation_notices"),
    )
    op.create_index(
        op.f("ix_escalation_notices_tenant_id"), "escalation_notices", ["tenant_id"], unique=False
    )
    op.create_table(
        "alarm_incidents",
        sa.Column("zone_id", sa.Uuid(), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("alarm_count", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_alarm_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["zones.id"],
            name=op.f("fk_alarm_incidents_zone_id_zones"),
            ondelete="SET NULL",
        ),
        *_site_key("alarm_incidents"),
        *_tenant_keys("alarm_incidents"),
    )
    for column in ("site_id", "tenant_id", "zone_id"):
        op.create_index(
            op.f(f"ix_alarm_incidents_{column}"), "alarm_incidents", [column], unique=False
        )
    op.create_table(
        "work_permits",
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "hot_work",
                "confined_space",
                "work_at_height",
                "lifting",
                "temporary_power",
                name="permitkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_by", sa.Uuid(), nullable=True),
        sa.Column("closed_by", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["zones.id"],
            name=op.f("fk_work_permits_zone_id_zones"),
            ondelete="CASCADE",
        ),
        *_site_key("work_permits"),
        *_tenant_keys("work_permits"),
    )
    for column in ("site_id", "tenant_id", "zone_id"):
        op.create_index(op.f(f"ix_work_permits_{column}"), "work_permits", [column], unique=False)

    # Rebuilding alarms and alarm_rules on SQLite must not cascade to their transitions.
    with foreign_keys_off(op.get_bind()):
        _alter_alarm_tables()

    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_OWNED_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                "USING (anjian_tenant_visible(tenant_id)) "
                "WITH CHECK (anjian_tenant_visible(tenant_id))"
            )


def _alter_alarm_tables() -> None:
    with op.batch_alter_table("alarm_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("zone_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_alarm_rules_zone_id"), ["zone_id"], unique=False)
        batch_op.create_index(
            "uq_alarm_rules_zone_default",
            ["zone_id", "default_slot"],
            unique=True,
            sqlite_where=sa.text("default_slot IS NOT NULL AND zone_id IS NOT NULL"),
            postgresql_where=sa.text("default_slot IS NOT NULL AND zone_id IS NOT NULL"),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_alarm_rules_zone_id_zones"),
            "zones",
            ["zone_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalate_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("reminders", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(sa.Column("silence_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("flapping", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("incident_id", sa.Uuid(), nullable=True))
        batch_op.create_index("ix_alarms_escalate_at", ["escalate_at"], unique=False)
        batch_op.create_index("ix_alarms_remind_at", ["remind_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarms_incident_id"), ["incident_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_alarms_silence_id_alarm_silences"),
            "alarm_silences",
            ["silence_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_alarms_incident_id_alarm_incidents"),
            "alarm_incidents",
            ["incident_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # Defaults only fill the existing rows; the application always writes both.
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.alter_column("reminders", server_default=None)
        batch_op.alter_column("flapping", server_default=None)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_OWNED_TABLES:
            op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    with foreign_keys_off(op.get_bind()):
        _restore_alarm_tables()
    for table in ("work_permits", "alarm_incidents"):
        for column in ("zone_id", "tenant_id", "site_id"):
            op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
        op.drop_table(table)
    op.drop_index(op.f("ix_escalation_notices_tenant_id"), table_name="escalation_notices")
    op.drop_table("escalation_notices")


def _restore_alarm_tables() -> None:
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_alarms_incident_id_alarm_incidents"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_alarms_silence_id_alarm_silences"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_alarms_incident_id"))
        batch_op.drop_index("ix_alarms_remind_at")
        batch_op.drop_index("ix_alarms_escalate_at")
        for column in (
            "incident_id",
            "flapping",
            "silence_id",
            "reminders",
            "remind_at",
            "escalate_at",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("alarm_rules", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_alarm_rules_zone_id_zones"), type_="foreignkey")
        batch_op.drop_index("uq_alarm_rules_zone_default")
        batch_op.drop_index(batch_op.f("ix_alarm_rules_zone_id"))
        batch_op.drop_column("zone_id")

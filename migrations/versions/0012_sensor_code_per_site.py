"""Sensor codes are unique per site, not only per device.

A code such as ``GT-101`` names one measuring point on the site's drawings and in its alarm
texts; two devices on one site sharing it make alarms and reports ambiguous. The site-wide
constraint replaces the per-device one, which it implies (a sensor's site is its device's site).

Existing duplicates stop the upgrade with a list of them rather than being renamed: a device
sends its readings under the codes it was configured with, so a renamed sensor would silently
stop receiving data, and only the site's operator knows which of two points is which.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.core.errors import ConfigurationError
from migrations.sqlite_rebuild import foreign_keys_off

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# How many duplicates the refusal lists; the count says how many more there are.
_SHOWN = 20


def _uuid(value: object) -> uuid.UUID:
    # SQLite hands back the stored 32 hex digits, PostgreSQL a UUID: print both alike.
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _refuse_duplicates(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.text(
            "SELECT s.site_id, s.code, COUNT(*) AS n FROM sensors s "
            "GROUP BY s.site_id, s.code HAVING COUNT(*) > 1 ORDER BY s.site_id, s.code"
        )
    ).all()
    if not rows:
        return
    lines = []
    for site_id, code, _n in rows[:_SHOWN]:
        sensors = bind.execute(
            sa.text(
                "SELECT id, device_id FROM sensors WHERE site_id = :site AND code = :code "
                "ORDER BY created_at, id"
            ),
            {"site": site_id, "code": code},
        ).all()
        held = "; ".join(f"sensor {_uuid(s_id)} on device {_uuid(d_id)}" for s_id, d_id in sensors)
        lines.append(f"  site {_uuid(site_id)}, code {code}: {held}")
    more = f"\n  … and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
    raise ConfigurationError(
        "传感器编码在同一场所内必须唯一，以下编码重复，迁移未执行 / sensor codes must be unique "
        f"per site; {len(rows)} code(s) are used on more than one device, so the migration "
        "was not applied:\n" + "\n".join(lines) + more + "\nGive all but one of each "
        "group a new code (UPDATE sensors SET code = … WHERE id = …) and configure its device "
        "to send that code, then run `anjian migrate` again."
    )


def upgrade() -> None:
    bind = op.get_bind()
    _refuse_duplicates(bind)
    # SQLite rebuilds sensors to change its constraints: alarms and rules that point at
    # sensors must survive the copy.
    with (
        foreign_keys_off(bind),
        op.batch_alter_table("sensors", schema=None) as batch_op,
    ):
        batch_op.drop_constraint(op.f("uq_sensors_device_id_code"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_sensors_site_id_code"), ["site_id", "code"])


def downgrade() -> None:
    with (
        foreign_keys_off(op.get_bind()),
        op.batch_alter_table("sensors", schema=None) as batch_op,
    ):
        batch_op.drop_constraint(op.f("uq_sensors_site_id_code"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_sensors_device_id_code"), ["device_id", "code"])

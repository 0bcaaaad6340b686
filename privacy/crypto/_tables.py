"""Where the wrapped data keys live, and the plain-SQL reads and inserts of their rows.

Key rows are read and written over the session's connection in Core SQL, not through the
ORM, so sealing during a flush can fetch or create a key without re-entering the flush.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CheckConstraint,
    Connection,
    Insert,
    LargeBinary,
    Table,
    UniqueConstraint,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, TenantOwned, utcnow
from backend.core.errors import ConfigurationError
from privacy.crypto._errors import Owner


class TenantDataKey(TenantOwned, Base):
    """One version of a tenant's data key, wrapped; a destroyed version keeps only its tombstone."""

    __tablename__ = "tenant_data_keys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "version"),
        CheckConstraint(
            "(destroyed_at IS NULL AND wrapped_key IS NOT NULL AND master_version IS NOT NULL)"
            " OR (destroyed_at IS NOT NULL AND wrapped_key IS NULL)",
            name="key_material",
        ),
    )

    version: Mapped[int]
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_version: Mapped[int | None]
    destroyed_at: Mapped[datetime | None]


class PlatformDataKey(Base):
    """One version of the platform's data key (users' e-mail addresses), wrapped."""

    __tablename__ = "platform_data_keys"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


TENANT_KEYS = cast(Table, TenantDataKey.__table__)
PLATFORM_KEYS = cast(Table, PlatformDataKey.__table__)
_IN_CHUNK = 500


@dataclass(frozen=True)
class KeyRow:
    owner: Owner
    version: int
    wrapped: bytes | None
    master_version: int | None
    destroyed: bool


def _tenant_rows(conn: Connection, where: Any, *, for_update: bool = False) -> list[KeyRow]:
    t = TENANT_KEYS
    query = select(t.c.tenant_id, t.c.version, t.c.wrapped_key, t.c.master_version)
    query = query.add_columns(t.c.destroyed_at.is_not(None)).where(where)
    if for_update:
        query = query.with_for_update()
    return [KeyRow(o, v, w, m, bool(d)) for o, v, w, m, d in conn.execute(query)]


def _platform_rows(conn: Connection, *, for_update: bool = False) -> list[KeyRow]:
    p = PLATFORM_KEYS
    query = select(p.c.version, p.c.wrapped_key, p.c.master_version)
    if for_update:
        query = query.with_for_update()
    return [KeyRow(None, v, w, m, False) for v, w, m in conn.execute(query)]


def key_rows(conn: Connection, owners: Collection[Owner]) -> list[KeyRow]:
    """Every key version (live or destroyed) of ``owners``."""
    tenants = sorted(o for o in owners if o is not None)
    rows: list[KeyRow] = []
    for start in range(0, len(tenants), _IN_CHUNK):
        chunk = tenants[start : start + _IN_CHUNK]
        rows += _tenant_rows(conn, TENANT_KEYS.c.tenant_id.in_(chunk))
    if None in owners:
        rows += _platform_rows(conn)
    return rows


def all_key_rows(conn: Connection, *, for_update: bool = False) -> list[KeyRow]:
    return _tenant_rows(conn, true(), for_update=for_update) + _platform_rows(
        conn, for_update=for_update
    )


def insert_key(
    conn: Connection,
    owner: Owner,
    version: int,
    wrapped: bytes | None,
    master_version: int | None,
    *,
    destroyed: bool = False,
) -> bool:
    """Insert one key version unless it exists; whether this call inserted it."""
    now = utcnow()
    values: dict[str, Any] = {
        "version": version,
        "wrapped_key": wrapped,
        "master_version": master_version,
        "created_at": now,
    }
    if owner is None:
        table, conflict = PLATFORM_KEYS, ["version"]
    else:
        table, conflict = TENANT_KEYS, ["tenant_id", "version"]
        values |= {
            "id": uuid.uuid4(),
            "tenant_id": owner,
            "destroyed_at": now if destroyed else None,
        }
    statement: Insert
    if conn.dialect.name == "postgresql":
        statement = (
            postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=conflict)
        )
    elif conn.dialect.name == "sqlite":
        statement = (
            sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=conflict)
        )
    else:
        raise ConfigurationError(f"data keys are not supported on {conn.dialect.name}")
    # RETURNING, not rowcount: drivers do not all report a row count for an upsert.
    return conn.execute(statement.returning(table.c.version)).first() is not None

"""Rebuilding SQLite tables in a migration without losing the rows that point at them.

SQLite alters most things by copy, drop and rename. With foreign keys enforced, dropping the
old table cascades to every table that references it (alarms to their transitions, users to
their memberships). SQLite's documented procedure: foreign keys off — allowed only between
transactions, so what ran before is committed first — the rebuild in a transaction of its
own, ``foreign_key_check``, commit, foreign keys on again. PostgreSQL alters in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from backend.core.errors import ConfigurationError


@contextmanager
def foreign_keys_off(bind: sa.Connection) -> Iterator[None]:
    if bind.dialect.name != "sqlite":
        yield
        return
    raw = bind.connection.dbapi_connection
    assert raw is not None
    raw.commit()
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        raw.execute("BEGIN")
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise ConfigurationError(f"rebuilding tables broke foreign keys: {broken[:5]}")
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.execute("PRAGMA foreign_keys=ON")

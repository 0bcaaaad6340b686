"""Alembic environment: the relational schema of Anjian (SQLite in batch mode, PostgreSQL)."""

from __future__ import annotations

from alembic import context

import backend.models  # noqa: F401  (fills the metadata)
from backend.core.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `anjian migrate`, which supplies a connection")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported; run `anjian migrate`")
run_migrations_online()

"""Relational store: declarative base, engines, sessions.

Tenant scoping of sessions lives in ``tenants.scope``; this module knows nothing of tenants
beyond the mixin columns, so every layer can import it.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import DateTime, Enum, ForeignKey, ForeignKeyConstraint, MetaData, Uuid, event
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

from backend.core.files import private_dir, touch_private
from backend.core.settings import Settings

# Alembic's batch mode on SQLite needs named constraints to alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The non-owner role the application works as on PostgreSQL, so row-level security applies.
APP_ROLE = "anjian_app"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on every backend (SQLite returns naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; attach a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def string_enum(cls: type[enum.Enum]) -> Enum:
    """Enums stored as checked strings, not native types: downgrades leave no PostgreSQL
    types behind."""
    return Enum(
        cls,
        native_enum=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # SQLAlchemy reads this as a class attribute.
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid()}  # noqa: RUF012


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantOwned(IdMixin):
    """Rows that belong to one tenant: scoped in every session, guarded by RLS on PostgreSQL."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )


class SiteOwned(TenantOwned):
    """Tenant rows that hang off one site; a regulator sees them when it sees the site.

    The foreign key is composite, (site_id, tenant_id) → sites(id, tenant_id), so the database
    itself refuses a row whose site belongs to another tenant. Subclasses list their own
    constraints in ``__site_table_args__``.
    """

    __site_table_args__: tuple[object, ...] = ()

    site_id: Mapped[uuid.UUID] = mapped_column(index=True)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[object, ...]:
        return (
            ForeignKeyConstraint(
                ["site_id", "tenant_id"], ["sites.id", "sites.tenant_id"], ondelete="CASCADE"
            ),
            *cls.__site_table_args__,
        )


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _set_app_role(dbapi_connection: object, _record: object) -> None:
    # Every pooled connection works as the non-owner role, so a forgotten tenant filter
    # meets row-level security instead of the owner's bypass.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute(f"SET ROLE {APP_ROLE}")
    cursor.close()
    dbapi_connection.commit()  # type: ignore[attr-defined]


def _private_sqlite_file(settings: Settings) -> None:
    """The data dir 0700 and the database file 0600 before SQLite opens it (its journal and
    WAL files take the database file's mode)."""
    private_dir(settings.data_dir)
    database = make_url(settings.sync_database_url).database
    if database and database != ":memory:":
        touch_private(Path(database))


def create_app_engine(settings: Settings) -> AsyncEngine:
    if settings.is_postgres:
        engine = create_async_engine(settings.database_url, pool_pre_ping=True, pool_size=10)
        event.listen(engine.sync_engine, "connect", _set_app_role)
        return engine
    _private_sqlite_file(settings)
    engine = create_async_engine(settings.database_url, connect_args={"timeout": 30})
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def create_owner_engine(settings: Settings) -> Engine:
    """A synchronous engine as the URL's own user: migrations and the policy adapter."""
    if not settings.is_postgres:
        _private_sqlite_file(settings)
        engine = create_engine(settings.sync_database_url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(settings.sync_database_url, pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class ChangeCounter(Base):
    """Named counters bumped in the transaction of a change, so other processes' caches can
    tell cheaply that they are stale (``registry``: devices, sensors, subscriptions)."""

    __tablename__ = "change_counters"

    name: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


T = TypeVar("T")

# Pauses between tries of a transaction that lost a race (about 1.5 s in all).
_RETRY_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8)


def sqlite_busy(exc: OperationalError) -> bool:
    """SQLite refused the write lock: a transaction that read before it wrote meets another
    writer (in WAL mode SQLite answers at once, without waiting out the busy timeout)."""
    return "database is locked" in str(exc.orig)


async def retry_lost_race(
    work: Callable[[], Awaitable[T]], *, conflicts: tuple[type[Exception], ...] = ()
) -> T:
    """``work`` (one whole transaction) run again when it lost a race with another writer:
    SQLite's "database is locked" (its documented remedy is to roll back and try again) or
    one of ``conflicts``. Only for work that is safe to repeat from the start."""
    for pause in _RETRY_PAUSES:
        try:
            return await work()
        except OperationalError as exc:
            if not sqlite_busy(exc):
                raise
        except conflicts:
            pass
        await asyncio.sleep(pause)
    return await work()

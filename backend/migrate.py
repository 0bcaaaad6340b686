"""``anjian migrate``: relational schema (Alembic) and ClickHouse DDL to head, then seeds."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from backend.auth.authz import seed_role_templates
from backend.core.errors import StoreUnavailable
from backend.core.settings import Settings
from backend.telemetry import migrate as clickhouse_migrate
from backend.telemetry.store import ClickHouseClient
from privacy.keyring import Keyring
from tenants.service import seed_plans


@dataclass(frozen=True)
class MigrationReport:
    relational_before: str | None
    relational_after: str | None
    clickhouse_applied: list[str]
    seeded: int

    @property
    def changed(self) -> bool:
        return (
            self.relational_before != self.relational_after
            or bool(self.clickhouse_applied)
            or self.seeded > 0
        )


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("migrations")))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


class NotMigrated(StoreUnavailable):
    """The relational store is missing, empty or at another schema revision."""

    code = "STORE_NOT_MIGRATED"


def describe_database(settings: Settings) -> str:
    """Where the relational store is, for messages (never the password)."""
    url = make_url(settings.sync_database_url)
    if settings.is_postgres:
        return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}/{url.database}"
    return f"the SQLite database {url.database}"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def require_migrated(settings: Settings) -> None:
    """Refuse a relational store that is unreachable or not at this code's head revision,
    without creating anything: a command run from the wrong folder must not leave an empty
    ``./var`` there (SQLite would create the file on connect). Only ``anjian migrate`` and
    ``anjian demo`` (which migrates) build a store; everything else, the server included,
    needs one that exists.

    ClickHouse is migrated by the same command in the same run, so the relational revision
    stands for both."""
    where = describe_database(settings)
    if not settings.is_postgres:
        database = make_url(settings.sync_database_url).database or ""
        if database and database != ":memory:" and not Path(database).exists():
            raise NotMigrated(
                f"没有找到数据库 / no Anjian database at {database} (data directory "
                f"{settings.data_dir}): run `anjian migrate` to create it, or run from the "
                "folder that holds ./var (or set ANJIAN_DATA_DIR)"
            )
    engine = create_engine(
        settings.sync_database_url,
        connect_args={"connect_timeout": 5} if settings.is_postgres else {},
        poolclass=NullPool,
    )
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as exc:
        raise StoreUnavailable(
            f"无法连接数据库 / cannot reach {where}: {_first_line(exc)} — is it running, and is "
            "ANJIAN_DATABASE_URL right?"
        ) from None
    finally:
        engine.dispose()
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise NotMigrated(f"数据库未迁移 / {where} is not migrated: run `anjian migrate`")
    try:
        known = ScriptDirectory.from_config(alembic_config()).get_revision(current) is not None
    except CommandError:
        known = False
    if not known:
        raise NotMigrated(
            f"{where} is at schema revision {current}, which this version of Anjian does not "
            f"know (it needs {head}): run a newer Anjian, or restore a matching backup"
        )
    raise NotMigrated(
        f"数据库架构版本过旧 / {where} is at schema revision {current}, this Anjian needs "
        f"{head}: run `anjian migrate`"
    )


def upgrade_relational(
    *, owner_engine: Engine, keyring: Keyring, target: str = "head"
) -> tuple[str | None, str | None]:
    """The relational schema to ``target``, as the schema owner; (revision before, after)."""
    config = alembic_config()
    with owner_engine.begin() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        config.attributes["keyring"] = keyring  # 0008 seals existing personal data
        command.upgrade(config, target)
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after


def downgrade_relational(*, owner_engine: Engine, keyring: Keyring, target: str = "base") -> None:
    config = alembic_config()
    with owner_engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["keyring"] = keyring
        command.downgrade(config, target)


def seed(*, owner_engine: Engine) -> int:
    """The plans and role templates every store starts with; the number of rows changed."""
    with Session(owner_engine) as session, session.begin():
        return seed_plans(session) + seed_role_templates(session)


def migrate(
    *,
    owner_engine: Engine,
    keyring: Keyring,
    clickhouse: ClickHouseClient,
    cluster: str | None,
) -> MigrationReport:
    """Both schemas to head, then the seeds (``anjian migrate``); ``cluster``: the ClickHouse
    cluster the DDL runs ON CLUSTER, if any."""
    before, after = upgrade_relational(owner_engine=owner_engine, keyring=keyring)
    applied = clickhouse_migrate.migrate(clickhouse, cluster)
    seeded = seed(owner_engine=owner_engine)
    return MigrationReport(before, after, [f"{m.version:04d}_{m.name}" for m in applied], seeded)

"""``anjian migrate``: relational schema (Alembic) and ClickHouse DDL to head, then seeds."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session

from backend.auth.authz import seed_role_templates
from backend.core.settings import Settings
from backend.runtime import Runtime
from backend.telemetry import migrate as clickhouse_migrate
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


def upgrade_relational(runtime: Runtime, target: str = "head") -> tuple[str | None, str | None]:
    config = alembic_config()
    with runtime.owner_engine.begin() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        config.attributes["keyring"] = runtime.keyring  # 0008 seals existing personal data
        command.upgrade(config, target)
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after


def downgrade_relational(runtime: Runtime, target: str = "base") -> None:
    config = alembic_config()
    with runtime.owner_engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["keyring"] = runtime.keyring
        command.downgrade(config, target)


def seed(runtime: Runtime) -> int:
    with Session(runtime.owner_engine) as session, session.begin():
        return seed_plans(session) + seed_role_templates(session)


def migrate(settings: Settings, runtime: Runtime | None = None) -> MigrationReport:
    runtime = runtime or Runtime(settings)
    before, after = upgrade_relational(runtime)
    applied = clickhouse_migrate.migrate(runtime.clickhouse, settings.clickhouse_cluster)
    seeded = seed(runtime)
    return MigrationReport(before, after, [f"{m.version:04d}_{m.name}" for m in applied], seeded)

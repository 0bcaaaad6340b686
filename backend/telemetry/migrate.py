"""Ordered ClickHouse DDL migrations: ``migrations/clickhouse/NNNN_name.sql``, applied once.

Each file is frozen SQL (statements separated by ``;`` at line end). Applied versions are
recorded in ``anjian_schema_migrations`` with the file's checksum; an edited applied file is
refused rather than silently diverging.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from backend.core.errors import ConfigurationError, StoreUnavailable
from backend.telemetry.cluster import cluster_statements

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LEDGER = """
CREATE TABLE IF NOT EXISTS anjian_schema_migrations
(version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
ENGINE = MergeTree ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        body = "\n".join(
            line for line in self.sql.splitlines() if not line.lstrip().startswith("--")
        )
        return [s.strip() for s in re.split(r";\s*$", body, flags=re.MULTILINE) if s.strip()]


def discover() -> list[Migration]:
    folder = resources.files("migrations").joinpath("clickhouse")
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise ConfigurationError(f"two ClickHouse migrations share number {version:04d}")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def applied(client: Client) -> dict[int, str]:
    client.command(_LEDGER)
    rows = client.query("SELECT version, checksum FROM anjian_schema_migrations").result_rows
    return {int(version): str(checksum) for version, checksum in rows}


def migrate(client: Client, cluster: str | None = None) -> list[Migration]:
    """Apply what is missing, in order; returns the migrations applied now. With a cluster
    name, each migration runs in its replicated + distributed form (``cluster.py``)."""
    done = applied(client)
    newly: list[Migration] = []
    for migration in discover():
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise ConfigurationError(
                    f"ClickHouse migration {migration.version:04d}_{migration.name} was edited "
                    "after it was applied; add a new migration instead"
                )
            continue
        # Statements are idempotent (IF NOT EXISTS), so a migration that failed half-way is
        # simply run again from the top next time.
        statements = (
            cluster_statements(migration.sql, cluster) if cluster else migration.statements()
        )
        for number, statement in enumerate(statements, start=1):
            try:
                client.command(statement)
            except ClickHouseError as exc:
                raise StoreUnavailable(
                    f"ClickHouse migration {migration.version:04d}_{migration.name}, statement "
                    f"{number}, failed: {exc}"
                ) from exc
        client.insert(
            "anjian_schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        newly.append(migration)
    return newly

"""ClickHouse statements of ``anjian backup``: list, stream out and load back every data table.

Rows travel as TabSeparated text: one row per line (so a dump can be counted, fingerprinted
and loaded back in line-aligned batches without parsing it), lossless for every column type
used here, aggregate-function states included (written as their binary state, escaped), and
streamed block by block by both the embedded engine and a server. Column names and types are
recorded beside the rows and checked against the target before anything is inserted.

Rollup tables (``AggregatingMergeTree`` targets of materialized views) are dumped as stored,
partial aggregation states and all, and loaded back with their views detached: rebuilding them
from raw readings would lose every bucket whose raw rows have already expired.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from backend.core.errors import ConfigurationError, StoreUnavailable
from backend.telemetry import migrate as clickhouse_migrate

LEDGER = "anjian_schema_migrations"
_VIEW_ENGINES = frozenset({"View", "MaterializedView", "LiveView", "WindowView", "Dictionary"})
# Loaded rows are inserted exactly as dumped: no block deduplication (two identical blocks of
# a table are two blocks of rows), no pre-merging of aggregating rows, exact float parsing.
_LOAD_SETTINGS = {
    "insert_deduplicate": 0,
    "optimize_on_insert": 0,
    "precise_float_parsing": 1,
    "max_partitions_per_insert_block": 0,
}


@dataclass(frozen=True)
class DataTable:
    name: str
    engine: str
    columns: tuple[tuple[str, str], ...]  # (name, type), stored columns in table order
    approximate_rows: int

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def _rows(client: Client, sql: str, parameters: dict[str, object] | None = None) -> list[tuple]:
    return [tuple(row) for row in client.query(sql, parameters=parameters).result_rows]


def table_names(client: Client) -> list[str]:
    """Every table, view and dictionary of the current database."""
    return [
        str(name)
        for (name,) in _rows(
            client,
            "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name",
        )
    ]


def stored_columns(client: Client, table: str) -> tuple[tuple[str, str], ...]:
    """Columns that hold data (ALIAS and MATERIALIZED ones are computed on insert)."""
    return tuple(
        (str(name), str(type_))
        for name, type_ in _rows(
            client,
            "SELECT name, type FROM system.columns "
            "WHERE database = currentDatabase() AND table = {table:String} "
            "AND default_kind NOT IN ('ALIAS', 'MATERIALIZED', 'EPHEMERAL') ORDER BY position",
            {"table": table},
        )
    )


def data_tables(client: Client) -> list[DataTable]:
    """The tables whose rows a backup holds: everything but views and the migration ledger
    (the ledger is schema, recorded in the manifest and rebuilt by the migrations)."""
    tables = []
    for name, engine, total in _rows(
        client,
        "SELECT name, engine, total_rows FROM system.tables "
        "WHERE database = currentDatabase() ORDER BY name",
    ):
        if engine in _VIEW_ENGINES or name == LEDGER:
            continue
        if str(name).startswith(".inner"):
            raise ConfigurationError(
                f"ClickHouse table {name} is the implicit storage of a materialized view; "
                "give the view a TO table so its rows can be backed up"
            )
        tables.append(DataTable(str(name), str(engine), stored_columns(client, name), total or 0))
    return tables


def materialized_views(client: Client) -> list[str]:
    return [
        str(name)
        for (name,) in _rows(
            client,
            "SELECT name FROM system.tables WHERE database = currentDatabase() "
            "AND engine = 'MaterializedView' ORDER BY name",
        )
    ]


def applied_migrations(client: Client) -> list[dict[str, object]]:
    if LEDGER not in table_names(client):
        return []
    return [
        {"version": int(version), "name": str(name), "checksum": str(checksum)}
        for version, name, checksum in _rows(
            client, f"SELECT version, name, checksum FROM {LEDGER} ORDER BY version"
        )
    ]


def apply_migrations(client: Client, upto: int | None = None) -> list[str]:
    """Apply the code's migrations in order, stopping after version ``upto`` (all by default):
    a restore recreates the schema the backup was made with before loading its rows."""
    done = clickhouse_migrate.applied(client)
    names = []
    for migration in clickhouse_migrate.discover():
        if upto is not None and migration.version > upto:
            break
        if migration.version in done:
            continue
        for number, statement in enumerate(migration.statements(), start=1):
            try:
                client.command(statement)
            except ClickHouseError as exc:
                raise StoreUnavailable(
                    f"ClickHouse migration {migration.version:04d}_{migration.name}, "
                    f"statement {number}, failed: {exc}"
                ) from exc
        client.insert(
            LEDGER,
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        names.append(f"{migration.version:04d}_{migration.name}")
    return names


def stream_rows(client: Client, table: DataTable, chunk_bytes: int) -> Iterator[bytes]:
    """The table's rows as TabSeparated text, in chunks of about ``chunk_bytes``.

    No per-call settings: the embedded engine only streams a query without them."""
    columns = ", ".join(quote_identifier(name) for name in table.column_names)
    stream = client.raw_stream(
        f"SELECT {columns} FROM {quote_identifier(table.name)}", fmt="TabSeparated"
    )
    try:
        while True:
            chunk = stream.read(chunk_bytes)
            if not chunk:
                return
            yield bytes(chunk)
    finally:
        stream.close()


def insert_rows(client: Client, table: str, columns: list[str], tsv: bytes) -> None:
    """Insert TabSeparated lines (whole lines only) into ``table``."""
    client.raw_insert(table, columns, tsv, settings=_LOAD_SETTINGS, fmt="TabSeparated")


def count_rows(client: Client, table: str) -> int:
    return int(client.command(f"SELECT count() FROM {quote_identifier(table)}"))


@contextmanager
def merges_stopped(client: Client, table: str) -> Iterator[None]:
    """No background merge while a table is loaded and checked: an aggregating merge would
    combine rows and a TTL merge would drop expired ones, and the check compares rows as
    loaded. Merges resume afterwards, and expired rows then go as usual."""
    name = quote_identifier(table)
    client.command(f"SYSTEM STOP MERGES {name}")
    client.command(f"SYSTEM STOP TTL MERGES {name}")
    try:
        yield
    finally:
        client.command(f"SYSTEM START TTL MERGES {name}")
        client.command(f"SYSTEM START MERGES {name}")


@contextmanager
def views_detached(client: Client) -> Iterator[list[str]]:
    """Materialized views detached, so loading raw rows does not add to the rollups that are
    loaded from the backup as they were. A plain DETACH (not PERMANENTLY) also comes back on
    the engine's next start should this process die before re-attaching."""
    views = materialized_views(client)
    detached: list[str] = []
    try:
        for view in views:
            client.command(f"DETACH TABLE {quote_identifier(view)}")
            detached.append(view)
        yield views
    finally:
        for view in detached:
            client.command(f"ATTACH TABLE {quote_identifier(view)}")

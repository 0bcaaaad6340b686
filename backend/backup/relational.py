"""Relational rows in a dialect-neutral form: one JSON array per row, typed values tagged.

Rows are read and written through SQLAlchemy Core with the models' column types (so UUIDs,
time-zone-aware timestamps, bytes, enums and JSON come out as Python values on SQLite and
PostgreSQL alike), which is what lets a backup of an embedded SQLite install restore into
PostgreSQL. A table the models do not know (dropped by a later migration) falls back to the
types reflected from the database.

On PostgreSQL every tenant-owned table has forced row-level security; a backup reads and a
restore writes as the owner with ``anjian.unscoped`` set for the transaction, the same switch
the unscoped look-ups use.
"""

from __future__ import annotations

import base64
import enum
import json
import math
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Connection, Integer, MetaData, Table, func, inspect, select, text
from sqlalchemy.sql.expression import table as table_clause

import backend.models  # noqa: F401  (every model in the metadata)
from backend.core.db import Base
from backend.core.errors import ConfigurationError

SKIPPED_TABLES = frozenset({"alembic_version"})  # schema, recorded as the manifest's revision
BATCH_ROWS = 1000


def encode_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, enum.Enum):
        return encode_value(value.value)
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, dict | list):  # a JSON column's document
        return {"$json": value}
    raise ConfigurationError(f"a value of type {type(value).__name__} cannot be backed up")


_DECODERS = {
    "$float": float,
    "$uuid": uuid.UUID,
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": time.fromisoformat,
    "$bytes": base64.b64decode,
    "$decimal": Decimal,
    "$json": lambda document: document,
}


def decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        [(tag, payload)] = value.items()
        return _DECODERS[tag](payload)
    return value


def row_line(values: Iterable[Any], *, canonical: bool = False) -> bytes:
    """A row as one JSON line. The file keeps JSON documents' key order, so a restore writes
    them back as they were; the canonical form (keys sorted) is what fingerprints compare, so a
    database that normalises documents still matches."""
    return json.dumps(
        [encode_value(v) for v in values],
        sort_keys=canonical,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode()


def unscoped(conn: Connection) -> None:
    """Let this transaction see and write every tenant's rows under PostgreSQL RLS."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT set_config('anjian.unscoped', 'on', true)"))


def database_tables(conn: Connection) -> list[str]:
    return sorted(inspect(conn).get_table_names())


def ordered_tables(conn: Connection) -> list[str]:
    """The database's tables, parents before children (foreign keys satisfied on load)."""
    reflected = MetaData()
    reflected.reflect(conn)
    return [t.name for t in reflected.sorted_tables if t.name not in SKIPPED_TABLES]


def transport_table(conn: Connection, name: str, columns: list[str] | None = None) -> Table:
    """``name`` with exactly ``columns`` (all of the database's by default), typed by the models
    where they know the column. Defaults are left out: a restore writes values as dumped."""
    reflected = Table(name, MetaData(), autoload_with=conn)
    wanted = columns if columns is not None else [c.name for c in reflected.columns]
    model = Base.metadata.tables.get(name)
    missing = [c for c in wanted if c not in reflected.c]
    if missing:
        raise ConfigurationError(f"table {name} has no column {', '.join(missing)}")
    built = []
    for column in wanted:
        source = model.c[column] if model is not None and column in model.c else reflected.c[column]
        built.append(Column(column, source.type, primary_key=reflected.c[column].primary_key))
    return Table(name, MetaData(), *built)


def count_rows(conn: Connection, name: str) -> int:
    return int(conn.execute(select(func.count()).select_from(table_clause(name))).scalar_one())


def read_rows(conn: Connection, table: Table) -> Iterator[list[Sequence[Any]]]:
    result = conn.execution_options(yield_per=BATCH_ROWS).execute(select(*table.columns))
    for batch in result.partitions():
        yield [tuple(row) for row in batch]


def load_rows(conn: Connection, table: Table, lines: Iterable[list[bytes]]) -> int:
    names = [c.name for c in table.columns]
    loaded = 0
    for batch in lines:
        for start in range(0, len(batch), BATCH_ROWS):
            rows = [
                dict(zip(names, map(decode_value, json.loads(line)), strict=True))
                for line in batch[start : start + BATCH_ROWS]
            ]
            conn.execute(table.insert(), rows)
            loaded += len(rows)
    return loaded


def reset_sequences(conn: Connection, tables: Iterable[str]) -> None:
    """PostgreSQL sequences behind integer keys continue after the restored rows (rows were
    inserted with their ids, which does not advance a sequence)."""
    if conn.dialect.name != "postgresql":
        return
    for name in tables:
        for column in inspect(conn).get_columns(name):
            if not isinstance(column["type"], Integer):
                continue
            sequence = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": name, "c": column["name"]}
            ).scalar()
            if sequence is None:
                continue
            quoted = conn.dialect.identifier_preparer.quote
            conn.execute(
                text(
                    f"SELECT setval(:s, coalesce(max({quoted(column['name'])}), 1), "
                    f"max({quoted(column['name'])}) IS NOT NULL) FROM {quoted(name)}"
                ),
                {"s": sequence},
            )

"""``anjian backup create``: an encrypted, integrity-checked archive of the whole store (异地灾备).

A backup holds every relational table, every ClickHouse data table (rollups as stored) and
every stored object, plus the schema revisions they were read at. It is made from a store at
the code's schema head (``restore.py`` puts it back).

Embedded ClickHouse has one owner per data directory, so with chdb the command needs the
server stopped (opening the engine says so when it is not); against a ClickHouse server it
runs online. Readings acknowledged but still in the local spool are flushed first when the
spool is free, so an embedded backup holds everything that was acknowledged.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from backend.backup import relational
from backend.backup._shared import (
    NoProgress,
    Progress,
    Stores,
    object_digest,
    record_backup_event,
    sealing_keyring,
)
from backend.backup.archive import (
    CHUNK_BYTES,
    ArchiveKeys,
    BackupRefused,
    EncryptedWriter,
    FileEntry,
    Fingerprint,
    line_blocks,
    split_lines,
    write_manifest,
)
from backend.core.errors import StoreUnavailable
from backend.core.objects import FileObjectStore
from backend.migrate import head_revision
from backend.telemetry import backup_sql
from backend.telemetry import migrate as clickhouse_migrate
from backend.telemetry.flusher import Flusher
from backend.telemetry.spool import SpoolBusy
from backend.telemetry.store import ClickHouseClient


@dataclass
class BackupReport:
    archive: Path
    archive_id: str
    created_at: str
    key_version: int
    relational_revision: str | None
    clickhouse_migrations: list[str]
    files: list[FileEntry]
    spool: str
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "archive": str(self.archive),
            "archive_id": self.archive_id,
            "created_at": self.created_at,
            "key_version": self.key_version,
            "relational_revision": self.relational_revision,
            "clickhouse_migrations": self.clickhouse_migrations,
            "files": [
                {"name": f.name, "rows": f.rows, "bytes": f.stored_bytes, "sha256": f.sha256}
                for f in self.files
            ],
            "stored_bytes": sum(f.stored_bytes for f in self.files),
            "spool": self.spool,
            "seconds": round(self.seconds, 3),
        }


def _prepare_target(target: Path, data_dir: Path) -> bool:
    """The archive goes into a new or empty directory outside the data directory (inside, it
    would be backed up into itself); returns whether it was created."""
    if target.resolve().is_relative_to(data_dir.resolve()):
        raise BackupRefused(f"{target} is inside the data directory: choose another place")
    if target.exists():
        if not target.is_dir():
            raise BackupRefused(f"{target} exists and is not a directory")
        if any(target.iterdir()):
            raise BackupRefused(f"{target} is not empty: a backup goes into a new directory")
        return False
    target.mkdir(parents=True, mode=0o700)
    return True


def _drain_spool(stores: Stores) -> str:
    """Flush acknowledged readings still in the spool, when no server owns it."""
    try:
        flusher: Flusher = stores.flusher()
    except SpoolBusy:
        if stores.settings.embedded_clickhouse:
            raise
        return "in use by the running server; readings it has not flushed yet are not included"
    rows = 0
    checkpoint = flusher.checkpoint
    while checkpoint.intent is not None or checkpoint.flushed < flusher.spool.durable:
        before = (checkpoint.flushed, checkpoint.intent)
        rows += flusher.flush_once()
        if (checkpoint.flushed, checkpoint.intent) == before:
            raise StoreUnavailable("the ingest spool could not be flushed before the backup")
    return f"flushed {rows} rows before the backup"


def _check_at_head(
    conn: Connection, client: ClickHouseClient
) -> tuple[str | None, list[dict[str, Any]]]:
    revision = MigrationContext.configure(conn).get_current_revision()
    head = head_revision()
    if revision != head:
        raise BackupRefused(
            f"the database is at schema revision {revision or 'none'} and this Anjian at {head}: "
            "run `anjian migrate` first"
        )
    applied = backup_sql.applied_migrations(client)
    known = [
        {"version": m.version, "name": m.name, "checksum": m.checksum}
        for m in clickhouse_migrate.discover()
    ]
    if applied != known:
        raise BackupRefused("ClickHouse is not at this Anjian's migrations: run `anjian migrate`")
    return revision, applied


def _read_snapshot(conn: Connection) -> Connection:
    """PostgreSQL: one read-only snapshot for every table, consistent while the service runs.
    SQLite goes with embedded ClickHouse, whose backups need the server stopped anyway."""
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return conn


def _write_file(
    root: Path,
    keys: ArchiveKeys,
    progress: Progress,
    name: str,
    section: str,
    blocks: Iterable[tuple[list[bytes], bytes]],
    meta: dict[str, Any],
) -> FileEntry:
    """One encrypted archive file from ``(fingerprinted lines, bytes to write)`` blocks; a
    failure leaves no partial file behind."""
    writer = EncryptedWriter(root, name, keys)
    fingerprint = Fingerprint(keys.fingerprint)
    try:
        for lines, data in blocks:
            fingerprint.add(lines)
            writer.write(data)
            progress.advance(len(lines))
    except BaseException:
        writer.abort()
        raise
    plain, stored, sha = writer.close()
    return FileEntry(
        writer.name, section, fingerprint.rows, plain, stored, sha, fingerprint.hex, meta
    )


def _dump_relational(
    conn: Connection, root: Path, keys: ArchiveKeys, progress: Progress
) -> list[FileEntry]:
    entries = []
    for name in relational.ordered_tables(conn):
        table = relational.transport_table(conn, name)
        progress.step(f"relational {name}")
        blocks = (
            (
                [relational.row_line(r, canonical=True) for r in rows],
                b"".join(relational.row_line(r) + b"\n" for r in rows),
            )
            for rows in relational.read_rows(conn, table)
        )
        meta = {"table": name, "columns": [c.name for c in table.columns]}
        entries.append(
            _write_file(
                root, keys, progress, f"relational/{name}.jsonl", "relational", blocks, meta
            )
        )
    return entries


def _dump_clickhouse(
    client: ClickHouseClient, root: Path, keys: ArchiveKeys, progress: Progress
) -> list[FileEntry]:
    entries = []
    for table in backup_sql.data_tables(client):
        progress.step(f"ClickHouse {table.name}")
        chunks = backup_sql.stream_rows(client, table, CHUNK_BYTES)
        blocks = ((split_lines(block), block) for block in line_blocks(chunks))
        meta = {"table": table.name, "engine": table.engine, "columns": list(table.columns)}
        name = f"clickhouse/{table.name}.tsv"
        entries.append(_write_file(root, keys, progress, name, "clickhouse", blocks, meta))
    return entries


def _object_files(root: Path) -> Iterator[tuple[str, Path]]:
    if not root.is_dir():
        return
    store = FileObjectStore(root)
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.endswith(".tmp"):  # .tmp: a write cut short
            continue
        key = path.relative_to(root).as_posix()
        if not store.exists(key):  # not a name the store gives: it would not restore either
            raise BackupRefused(f"the object store {root} holds a foreign file {key}")
        yield key, path


def _dump_objects(
    objects_dir: Path, root: Path, keys: ArchiveKeys, progress: Progress
) -> list[FileEntry]:
    entries = []
    progress.step("objects")
    for key, path in _object_files(objects_dir):
        writer = EncryptedWriter(root, f"objects/{key}", keys)
        digest = object_digest(keys.fingerprint)
        with path.open("rb") as handle:
            while block := handle.read(CHUNK_BYTES):
                digest.update(block)
                writer.write(block)
        plain, stored, sha = writer.close()
        entries.append(
            FileEntry(
                writer.name, "object", 1, plain, stored, sha, digest.hexdigest(), {"key": key}
            )
        )
        progress.advance(1)
    return entries


def _package_version() -> str | None:
    try:
        return metadata.version("anjian")
    except metadata.PackageNotFoundError:
        return None


def create_backup(
    *, stores: Stores, target: Path, progress: Progress | None = None
) -> BackupReport:
    """Write an encrypted archive of the whole store into ``target`` (new or empty)."""
    progress = progress or NoProgress()
    started = time.monotonic()
    settings = stores.settings
    keyring = sealing_keyring(settings)
    client = stores.clickhouse()  # first: with chdb this is where a running server shows
    spool = _drain_spool(stores)
    created = _prepare_target(target, settings.data_dir)
    try:
        owner_engine = stores.owner_engine()
        key_version = keyring.current.version
        keys = ArchiveKeys.derive(keyring, key_version, os.urandom(16))
        with owner_engine.connect() as base:
            conn = _read_snapshot(base)
            with conn.begin():
                relational.unscoped(conn)
                revision, applied = _check_at_head(conn, client)
                tables = relational.ordered_tables(conn)
                total = sum(relational.count_rows(conn, t) for t in tables)
                total += sum(t.approximate_rows for t in backup_sql.data_tables(client))
                total += sum(1 for _ in _object_files(settings.objects_dir))
                progress.start(total)
                files = _dump_relational(conn, target, keys, progress)
        files += _dump_clickhouse(client, target, keys, progress)
        files += _dump_objects(settings.objects_dir, target, keys, progress)
        created_at = datetime.now(UTC).isoformat()
        body = {
            "created_at": created_at,
            "anjian_version": _package_version(),
            "cipher": "AES-256-GCM",
            "compression": "zstd",
            "chunk_bytes": CHUNK_BYTES,
            "relational": {"dialect": owner_engine.dialect.name, "revision": revision},
            "clickhouse": {
                "migrations": applied,
                "views": backup_sql.materialized_views(client),
            },
            "spool": spool,
            "files": [entry.as_json() for entry in files],
        }
        write_manifest(target, keys, key_version, body)
    except BaseException:
        # A partial archive must not look like a backup: remove what this run wrote.
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for child in target.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    record_backup_event(
        owner_engine,
        "backup.create",
        {"archive_id": keys.archive_id.hex(), "key_version": key_version, "files": len(files)},
    )
    return BackupReport(
        archive=target,
        archive_id=keys.archive_id.hex(),
        created_at=created_at,
        key_version=key_version,
        relational_revision=revision,
        clickhouse_migrations=[f"{m['version']:04d}_{m['name']}" for m in applied],
        files=files,
        spool=spool,
        seconds=time.monotonic() - started,
    )

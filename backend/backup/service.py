"""``anjian backup create`` and ``restore``: off-site encrypted archives (异地灾备).

A backup holds every relational table, every ClickHouse data table (rollups as stored) and
every stored object, plus the schema revisions they were read at. It is made from a store at
the code's schema head. A restore goes only into an empty target: it recreates the schema at
the backup's revisions, loads the rows, checks every table's row count and fingerprint against
the manifest, and only then migrates to the code's head and seeds, as ``anjian migrate`` does.

Embedded ClickHouse has one owner per data directory, so with chdb both commands need the
server stopped (opening the engine says so when it is not); against a ClickHouse server they
run online. Readings acknowledged but still in the local spool are flushed first when the
spool is free, so an embedded backup holds everything that was acknowledged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from backend.backup import relational
from backend.backup.archive import (
    CHUNK_BYTES,
    ArchiveKeys,
    BackupRefused,
    EncryptedWriter,
    FileEntry,
    Fingerprint,
    OpenedArchive,
    line_blocks,
    open_archive,
    read_chunks,
    split_lines,
    write_manifest,
)
from backend.core.errors import AnjianError, ConfigurationError, StoreUnavailable
from backend.core.objects import FileObjectStore
from backend.migrate import alembic_config, head_revision, migrate, upgrade_relational
from backend.runtime import Runtime
from backend.telemetry import backup_sql
from backend.telemetry import migrate as clickhouse_migrate
from backend.telemetry.flusher import Flusher
from backend.telemetry.spool import SpoolBusy
from privacy.audit import Actor, record_sync
from privacy.keyring import Keyring, load_keyring

# Rows go into ClickHouse in line-aligned inserts: small ones bound memory (and the embedded
# engine's temporary files), but every insert is a part and merges are held during a table's
# load, so a big table gets bigger inserts to stay at about MAX_INSERTS parts.
MIN_INSERT_BYTES = 8 << 20
MAX_INSERT_BYTES = 256 << 20
MAX_INSERTS = 1000


class RestoreFailed(AnjianError):
    """Loading went wrong after the target was written to; it must be cleared before retrying."""

    code = "RESTORE_FAILED"


class Progress(Protocol):
    def start(self, total: int) -> None: ...

    def step(self, description: str) -> None: ...

    def advance(self, amount: int) -> None: ...


class NoProgress:
    def start(self, total: int) -> None:
        pass

    def step(self, description: str) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass


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


@dataclass(frozen=True)
class Checked:
    """One table (or object) after loading: what the manifest promised and what is there."""

    name: str
    expected_rows: int
    loaded_rows: int
    fingerprint: str | None
    loaded_fingerprint: str | None

    @property
    def ok(self) -> bool:
        return (
            self.expected_rows == self.loaded_rows and self.fingerprint == self.loaded_fingerprint
        )


@dataclass
class RestoreReport:
    archive: Path
    archive_id: str
    created_at: str
    key_version: int
    relational_revision: str | None
    relational_head: str | None
    clickhouse_migrations: list[str]
    checked: list[Checked] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "archive": str(self.archive),
            "archive_id": self.archive_id,
            "created_at": self.created_at,
            "key_version": self.key_version,
            "relational_revision": self.relational_revision,
            "relational_head": self.relational_head,
            "clickhouse_migrations": self.clickhouse_migrations,
            "checked": [
                {
                    "name": c.name,
                    "expected_rows": c.expected_rows,
                    "loaded_rows": c.loaded_rows,
                    "fingerprint": c.fingerprint,
                    "loaded_fingerprint": c.loaded_fingerprint,
                    "ok": c.ok,
                }
                for c in self.checked
            ],
            "seconds": round(self.seconds, 3),
        }


# --- shared ---------------------------------------------------------------------------------


def _audit(runtime: Runtime, action: str, detail: dict[str, Any]) -> None:
    """A backup reads, and a restore writes, every tenant's data: both are on the trail."""
    with Session(runtime.owner_engine) as session, session.begin():
        record_sync(session, Actor.system(), action, object_type="backup", detail=detail)


def _refuse_cluster(runtime: Runtime) -> None:
    if runtime.settings.clickhouse_cluster:
        raise BackupRefused(
            "集群模式请使用 ClickHouse 自带的备份 / anjian backup covers a single ClickHouse "
            f"node; for a cluster ({runtime.settings.clickhouse_cluster}) use ClickHouse's own "
            "BACKUP ... ON CLUSTER for the telemetry"
        )


def _keyring(runtime: Runtime) -> Keyring:
    path = runtime.settings.master_key_file
    try:
        return load_keyring(path, create=False)
    except ConfigurationError as exc:
        raise BackupRefused(
            f"需要主密钥环文件 / {exc.message}. A backup is sealed with the master keyring: put "
            "the keyring file there, or point ANJIAN_MASTER_KEY_FILE at it"
        ) from None


def _relational_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _digest(key: bytes) -> Any:
    return hashlib.blake2b(key=key, digest_size=16)


# --- create ---------------------------------------------------------------------------------


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


def _drain_spool(runtime: Runtime) -> str:
    """Flush acknowledged readings still in the spool, when no server owns it."""
    try:
        flusher: Flusher = runtime.flusher
    except SpoolBusy:
        if runtime.settings.embedded_clickhouse:
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


def _check_at_head(conn: Connection, runtime: Runtime) -> tuple[str | None, list[dict[str, Any]]]:
    revision = _relational_revision(conn)
    head = head_revision()
    if revision != head:
        raise BackupRefused(
            f"the database is at schema revision {revision or 'none'} and this Anjian at {head}: "
            "run `anjian migrate` first"
        )
    applied = backup_sql.applied_migrations(runtime.clickhouse)
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
    runtime: Runtime, root: Path, keys: ArchiveKeys, progress: Progress
) -> list[FileEntry]:
    entries = []
    for table in backup_sql.data_tables(runtime.clickhouse):
        progress.step(f"ClickHouse {table.name}")
        chunks = backup_sql.stream_rows(runtime.clickhouse, table, CHUNK_BYTES)
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
    runtime: Runtime, root: Path, keys: ArchiveKeys, progress: Progress
) -> list[FileEntry]:
    entries = []
    progress.step("objects")
    for key, path in _object_files(runtime.settings.objects_dir):
        writer = EncryptedWriter(root, f"objects/{key}", keys)
        digest = _digest(keys.fingerprint)
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


def create_backup(runtime: Runtime, target: Path, progress: Progress | None = None) -> BackupReport:
    """Write an encrypted archive of the whole store into ``target`` (new or empty)."""
    progress = progress or NoProgress()
    started = time.monotonic()
    _refuse_cluster(runtime)
    keyring = _keyring(runtime)
    client = runtime.clickhouse  # first: with chdb this is where a running server shows
    spool = _drain_spool(runtime)
    created = _prepare_target(target, runtime.settings.data_dir)
    try:
        key_version = keyring.current.version
        keys = ArchiveKeys.derive(keyring, key_version, os.urandom(16))
        with runtime.owner_engine.connect() as base:
            conn = _read_snapshot(base)
            with conn.begin():
                relational.unscoped(conn)
                revision, applied = _check_at_head(conn, runtime)
                tables = relational.ordered_tables(conn)
                total = sum(relational.count_rows(conn, t) for t in tables)
                total += sum(t.approximate_rows for t in backup_sql.data_tables(client))
                total += sum(1 for _ in _object_files(runtime.settings.objects_dir))
                progress.start(total)
                files = _dump_relational(conn, target, keys, progress)
        files += _dump_clickhouse(runtime, target, keys, progress)
        files += _dump_objects(runtime, target, keys, progress)
        created_at = datetime.now(UTC).isoformat()
        body = {
            "created_at": created_at,
            "anjian_version": _package_version(),
            "cipher": "AES-256-GCM",
            "compression": "zstd",
            "chunk_bytes": CHUNK_BYTES,
            "relational": {"dialect": runtime.owner_engine.dialect.name, "revision": revision},
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
    _audit(
        runtime,
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


# --- restore --------------------------------------------------------------------------------


def _check_compatible(archive: OpenedArchive) -> tuple[str | None, list[dict[str, Any]]]:
    """The code must know every schema revision the backup was made at."""
    revision = archive.body["relational"]["revision"]
    if revision is not None:
        try:
            known = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
        except CommandError:
            known = None
        if known is None:
            raise BackupRefused(
                f"备份来自更新的版本 / the backup's database schema revision {revision} is "
                f"newer than this Anjian (head {head_revision()}): restore it with the version "
                "that made it or a later one"
            )
    recorded = archive.body["clickhouse"]["migrations"]
    code = {m.version: m for m in clickhouse_migrate.discover()}
    for entry in recorded:
        migration = code.get(int(entry["version"]))
        if migration is None:
            raise BackupRefused(
                f"the backup's ClickHouse migration {entry['version']:04d}_{entry['name']} is "
                "unknown to this Anjian: restore it with the version that made it or a later one"
            )
        if (migration.name, migration.checksum) != (entry["name"], entry["checksum"]):
            raise BackupRefused(
                f"ClickHouse migration {entry['version']:04d}_{entry['name']} differs from the one "
                "the backup was made with"
            )
    return revision, recorded


def _check_empty_target(runtime: Runtime) -> None:
    """Only an empty target: a restore never merges into or overwrites existing data."""
    settings = runtime.settings
    keyring = settings.master_key_file
    if settings.data_dir.exists():
        for path in sorted(settings.data_dir.rglob("*")):
            # The keyring may live here, with its lock file beside it.
            companion = path.parent == keyring.parent and path.name.startswith(keyring.name)
            if path.is_file() and not companion:
                raise BackupRefused(
                    f"恢复目标必须为空 / the data directory {settings.data_dir} is not empty "
                    f"({path.relative_to(settings.data_dir)}): a restore goes into an empty one"
                )
    with runtime.owner_engine.connect() as conn:
        tables = relational.database_tables(conn)
    if tables:
        raise BackupRefused(
            f"恢复目标数据库必须为空 / the database already has tables ({', '.join(tables[:5])}"
            "…): a restore goes into an empty database"
        )
    existing = backup_sql.table_names(runtime.clickhouse)
    if existing:
        raise BackupRefused(
            f"恢复目标必须为空 / ClickHouse already has tables ({', '.join(existing[:5])}…): "
            "a restore goes into an empty database"
        )


def _check(entry: FileEntry, rows: int, fingerprint: str) -> Checked:
    checked = Checked(entry.name, entry.rows, rows, entry.fingerprint, fingerprint)
    if not checked.ok:
        raise RestoreFailed(
            f"{entry.name}: {rows} rows loaded (fingerprint {fingerprint}), the backup holds "
            f"{entry.rows} (fingerprint {entry.fingerprint}); clear the target before retrying"
        )
    return checked


def _restore_relational(
    runtime: Runtime, archive: OpenedArchive, revision: str | None, progress: Progress
) -> list[Checked]:
    entries = {e.meta["table"]: e for e in archive.files if e.kind == "relational"}
    if revision is not None:
        upgrade_relational(runtime, revision)
    checked = []
    with runtime.owner_engine.begin() as conn:
        relational.unscoped(conn)
        order = relational.ordered_tables(conn)
        unknown = sorted(set(entries) - set(order))
        if unknown:
            raise RestoreFailed(f"the schema at {revision} has no table {', '.join(unknown)}")
        tables = {}
        for name in order:
            entry = entries.get(name)
            if entry is None:
                continue
            progress.step(f"relational {name}")
            table = relational.transport_table(conn, name, list(entry.meta["columns"]))
            tables[name] = table
            blocks = line_blocks(read_chunks(archive.root, entry.name, archive.keys))
            for lines in map(split_lines, blocks):
                relational.load_rows(conn, table, [lines])
                progress.advance(len(lines))
        relational.reset_sequences(conn, tables)
        for name, table in tables.items():
            fingerprint = Fingerprint(archive.keys.fingerprint)
            for rows in relational.read_rows(conn, table):
                fingerprint.add([relational.row_line(r, canonical=True) for r in rows])
            checked.append(_check(entries[name], fingerprint.rows, fingerprint.hex))
    return checked


def _restore_clickhouse(
    runtime: Runtime, archive: OpenedArchive, recorded: list[dict[str, Any]], progress: Progress
) -> list[Checked]:
    client = runtime.clickhouse
    backup_sql.apply_migrations(client, max((int(m["version"]) for m in recorded), default=0))
    checked = []
    with backup_sql.views_detached(client):
        for entry in (e for e in archive.files if e.kind == "clickhouse"):
            name = entry.meta["table"]
            progress.step(f"ClickHouse {name}")
            columns = tuple((str(c), str(t)) for c, t in entry.meta["columns"])
            present = backup_sql.stored_columns(client, name)
            if present != columns:
                raise RestoreFailed(
                    f"ClickHouse table {name} does not have the backup's columns after the "
                    f"migrations: {present} != {columns}"
                )
            table = backup_sql.DataTable(name, str(entry.meta["engine"]), columns, entry.rows)
            batch_bytes = min(
                max(MIN_INSERT_BYTES, entry.plain_bytes // MAX_INSERTS), MAX_INSERT_BYTES
            )
            with backup_sql.merges_stopped(client, name):
                batch: list[bytes] = []
                size = 0
                for block in line_blocks(read_chunks(archive.root, entry.name, archive.keys)):
                    batch.append(block)
                    size += len(block)
                    progress.advance(block.count(b"\n"))
                    if size >= batch_bytes:
                        backup_sql.insert_rows(client, name, table.column_names, b"".join(batch))
                        batch, size = [], 0
                if batch:
                    backup_sql.insert_rows(client, name, table.column_names, b"".join(batch))
                fingerprint = Fingerprint(archive.keys.fingerprint)
                for block in line_blocks(backup_sql.stream_rows(client, table, CHUNK_BYTES)):
                    fingerprint.add(split_lines(block))
                loaded = backup_sql.count_rows(client, name)
                if loaded != fingerprint.rows:
                    raise RestoreFailed(f"ClickHouse table {name} changed while being checked")
                checked.append(_check(entry, loaded, fingerprint.hex))
    return checked


def _restore_objects(runtime: Runtime, archive: OpenedArchive, progress: Progress) -> list[Checked]:
    store = FileObjectStore(runtime.settings.objects_dir)
    checked = []
    progress.step("objects")
    for entry in (e for e in archive.files if e.kind == "object"):
        data = b"".join(read_chunks(archive.root, entry.name, archive.keys))
        key = str(entry.meta["key"])
        store.put(key, data, "application/octet-stream")
        digest = _digest(archive.keys.fingerprint)
        digest.update(store.get(key))
        checked.append(_check(entry, 1, digest.hexdigest()))
        progress.advance(1)
    return checked


def restore_backup(
    runtime: Runtime, source: Path, progress: Progress | None = None
) -> RestoreReport:
    """Restore the archive at ``source`` into the empty store ``runtime`` points at."""
    progress = progress or NoProgress()
    started = time.monotonic()
    _refuse_cluster(runtime)
    keyring = _keyring(runtime)
    archive = open_archive(source, keyring)  # every byte authenticated before anything is written
    revision, recorded = _check_compatible(archive)
    _check_empty_target(runtime)
    progress.start(sum(e.rows for e in archive.files))
    checked = _restore_relational(runtime, archive, revision, progress)
    checked += _restore_clickhouse(runtime, archive, recorded, progress)
    checked += _restore_objects(runtime, archive, progress)
    progress.step("migrating to this version's schema")
    report = migrate(runtime.settings, runtime)
    _audit(
        runtime,
        "backup.restore",
        {"archive_id": archive.keys.archive_id.hex(), "created_at": archive.body["created_at"]},
    )
    return RestoreReport(
        archive=source,
        archive_id=archive.keys.archive_id.hex(),
        created_at=str(archive.body["created_at"]),
        key_version=archive.key_version,
        relational_revision=revision,
        relational_head=report.relational_after,
        clickhouse_migrations=[f"{int(m['version']):04d}_{m['name']}" for m in recorded],
        checked=checked,
        seconds=time.monotonic() - started,
    )

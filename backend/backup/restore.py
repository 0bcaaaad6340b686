"""``anjian backup restore``: an archive back into an empty store (异地灾备).

A restore goes only into an empty target: it recreates the schema at the backup's revisions,
loads the rows, checks every table's row count and fingerprint against the manifest, and only
then migrates to the code's head and seeds, as ``anjian migrate`` does. With embedded
ClickHouse the server must be stopped, as for a backup.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine

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
    BackupRefused,
    FileEntry,
    Fingerprint,
    OpenedArchive,
    line_blocks,
    open_archive,
    read_chunks,
    split_lines,
)
from backend.core.errors import AnjianError
from backend.core.objects import FileObjectStore
from backend.migrate import alembic_config, head_revision, migrate, upgrade_relational
from backend.telemetry import backup_sql
from backend.telemetry import migrate as clickhouse_migrate
from backend.telemetry.store import ClickHouseClient
from privacy.keyring import Keyring

# Rows go into ClickHouse in line-aligned inserts: small ones bound memory (and the embedded
# engine's temporary files), but every insert is a part and merges are held during a table's
# load, so a big table gets bigger inserts to stay at about MAX_INSERTS parts.
MIN_INSERT_BYTES = 8 << 20
MAX_INSERT_BYTES = 256 << 20
MAX_INSERTS = 1000


class RestoreFailed(AnjianError):
    """Loading went wrong after the target was written to; it must be cleared before retrying."""

    code = "RESTORE_FAILED"


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


def _check_empty_target(stores: Stores) -> None:
    """Only an empty target: a restore never merges into or overwrites existing data."""
    settings = stores.settings
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
    with stores.owner_engine().connect() as conn:
        tables = relational.database_tables(conn)
    if tables:
        raise BackupRefused(
            f"恢复目标数据库必须为空 / the database already has tables ({', '.join(tables[:5])}"
            "…): a restore goes into an empty database"
        )
    existing = backup_sql.table_names(stores.clickhouse())
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
    owner_engine: Engine,
    keyring: Keyring,
    archive: OpenedArchive,
    revision: str | None,
    progress: Progress,
) -> list[Checked]:
    entries = {e.meta["table"]: e for e in archive.files if e.kind == "relational"}
    if revision is not None:
        upgrade_relational(owner_engine=owner_engine, keyring=keyring, target=revision)
    checked = []
    with owner_engine.begin() as conn:
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
    client: ClickHouseClient,
    archive: OpenedArchive,
    recorded: list[dict[str, Any]],
    progress: Progress,
) -> list[Checked]:
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


def _restore_objects(
    objects_dir: Path, archive: OpenedArchive, progress: Progress
) -> list[Checked]:
    store = FileObjectStore(objects_dir)
    checked = []
    progress.step("objects")
    for entry in (e for e in archive.files if e.kind == "object"):
        data = b"".join(read_chunks(archive.root, entry.name, archive.keys))
        key = str(entry.meta["key"])
        store.put(key, data, "application/octet-stream")
        digest = object_digest(archive.keys.fingerprint)
        digest.update(store.get(key))
        checked.append(_check(entry, 1, digest.hexdigest()))
        progress.advance(1)
    return checked


def restore_backup(
    *, stores: Stores, source: Path, progress: Progress | None = None
) -> RestoreReport:
    """Restore the archive at ``source`` into the empty ``stores``."""
    progress = progress or NoProgress()
    started = time.monotonic()
    settings = stores.settings
    keyring = sealing_keyring(settings)
    archive = open_archive(source, keyring)  # every byte authenticated before anything is written
    revision, recorded = _check_compatible(archive)
    _check_empty_target(stores)
    owner_engine, client = stores.owner_engine(), stores.clickhouse()
    progress.start(sum(e.rows for e in archive.files))
    checked = _restore_relational(owner_engine, keyring, archive, revision, progress)
    checked += _restore_clickhouse(client, archive, recorded, progress)
    checked += _restore_objects(settings.objects_dir, archive, progress)
    progress.step("migrating to this version's schema")
    report = migrate(
        owner_engine=owner_engine,
        keyring=keyring,
        clickhouse=client,
        cluster=settings.clickhouse_cluster,
    )
    record_backup_event(
        owner_engine,
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

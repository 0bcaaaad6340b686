"""Backups (异地灾备): round trip on SQLite and PostgreSQL with equal rows per table, tampering
refused with the file named, keyrings (missing, wrong, rotated after the backup), the
empty-target rule, and the embedded engine's single owner.

The source is a fresh store per relational backend with a seeded world, sharing the session's
ClickHouse engine (its telemetry is told apart by tenant). A restore needs an engine of its own,
and chdb allows one per process, so restores into a fresh target run in a subprocess; refusals
happen before the target is touched and are checked in-process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import MetaData, create_engine, inspect, select, text
from sqlalchemy.engine import Engine

from backend.backup import BackupRefused, create_backup, open_archive, relational, restore_backup
from backend.backup import archive as archive_format
from backend.cli import main
from backend.cli.backup import backup, backup_stores
from backend.core.settings import Settings
from backend.migrate import head_revision, migrate
from backend.runtime import Runtime
from backend.telemetry import migrate as ch_migrate
from backend.telemetry import records
from privacy.keyring import add_version, load_keyring
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database, make_settings
from tests.factories import World, build_world

ROOT = Path(__file__).resolve().parents[2]
READINGS_PER_TENANT = 240
SNAPSHOT = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
main.add_command(backup)


@dataclass
class Source:
    settings: Settings
    env: dict[str, str]
    world: World
    archive: Path
    report: dict[str, Any]

    @property
    def tenants(self) -> list[str]:
        return [str(self.world.a.tenant_id), str(self.world.b.tenant_id)]


def cli_env(settings: Settings) -> dict[str, str]:
    env = {
        "ANJIAN_DATA_DIR": str(settings.data_dir),
        "ANJIAN_CLICKHOUSE_URL": settings.clickhouse_url,
        "ANJIAN_PASSWORD_SCRYPT_LOG2N": "10",
        "ANJIAN_ENV_FILE": str(settings.data_dir / "absent.env"),
    }
    if settings.is_postgres:
        env["ANJIAN_DATABASE_URL"] = settings.database_url
    return env


async def spool_readings(rt: Runtime, world: World) -> None:
    """Acknowledged readings left in the spool, unflushed: the backup must flush them first."""
    now = datetime.now(UTC).replace(microsecond=0)
    for tenant in (world.a, world.b):
        sensors = list(tenant.sensor_ids.values())
        await rt.spool.append(
            records.encode_readings(
                tenant_id=tenant.tenant_id,
                site_id=tenant.site_id,
                device_id=tenant.device_id,
                batch_id=uuid.uuid4(),
                retention_days=365,
                sensor_ids=[sensors[i % len(sensors)].bytes for i in range(READINGS_PER_TENANT)],
                ts_ms=[
                    int((now - timedelta(seconds=13 * i)).timestamp() * 1000)
                    for i in range(READINGS_PER_TENANT)
                ],
                values=[round(12.5 + (i % 17) * 0.37, 2) for i in range(READINGS_PER_TENANT)],
            )
        )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, chdb_dir: Path
) -> AsyncIterator[Source]:
    """A seeded store and its backup, made by the command line (chunks kept small, so files
    span many chunks)."""
    data_dir = tmp_path_factory.mktemp(f"backup-source-{request.param}")
    pg_url = create_pg_database(PG_ADMIN_URL) if request.param == "postgres" else None
    settings = make_settings(
        data_dir, chdb_dir, **({"ANJIAN_DATABASE_URL": pg_url} if pg_url else {})
    )
    rt = Runtime(settings)
    migrate(
        owner_engine=rt.owner_engine,
        keyring=rt.keyring,
        clickhouse=rt.clickhouse,
        cluster=settings.clickhouse_cluster,
    )
    world = await build_world(rt)
    await spool_readings(rt, world)
    (settings.objects_dir / "snapshots").mkdir(parents=True)
    (settings.objects_dir / "snapshots" / "cam-1.jpg").write_bytes(SNAPSHOT)
    await rt.close()  # the spool is the command's now

    archive = tmp_path_factory.mktemp("archives") / f"backup-{request.param}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(archive_format, "CHUNK_BYTES", 2048)
        result = await asyncio.to_thread(
            CliRunner().invoke,
            main,
            ["backup", "create", "--to", str(archive), "--json"],
            env=cli_env(settings),
        )
    assert result.exit_code == 0, result.output + result.stderr
    yield Source(settings, cli_env(settings), world, archive, json.loads(result.stdout))
    if pg_url is not None:
        drop_pg_database(PG_ADMIN_URL, pg_url)


def clickhouse_content(client: Any, tenants: list[str]) -> dict[str, list[Any]]:
    """Per data table, these tenants' rows: count and a hash of their merged content (rollups
    read FINAL with states finalized, so it does not matter how parts were merged)."""
    out: dict[str, list[Any]] = {}
    tables = client.query(
        "SELECT name, engine FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree' AND name != 'anjian_schema_migrations' ORDER BY name"
    ).result_rows
    for name, engine in tables:
        columns = client.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
            "AND table = {t:String} ORDER BY position",
            parameters={"t": name},
        ).result_rows
        expressions = [
            f"finalizeAggregation({c})"
            if t.startswith("AggregateFunction(")
            else f"round({c}, 6)"
            if "Float" in t
            else c
            for c, t in columns
        ]
        final = " FINAL" if engine == "AggregatingMergeTree" else ""
        [(count, digest)] = client.query(
            f"SELECT count(), sum(cityHash64({', '.join(expressions)})) FROM {name}{final} "
            "WHERE tenant_id IN {t:Array(UUID)}",
            parameters={"t": tenants},
        ).result_rows
        out[name] = [int(count), str(digest)]
    return out


def sync_engine(url: str) -> Engine:
    url = url.replace("sqlite+aiosqlite://", "sqlite://")
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def relational_content(url: str) -> dict[str, list[str]]:
    """Every table's rows as stored (same dialect on both sides), in a stable order."""
    engine = sync_engine(url)
    try:
        with engine.begin() as conn:
            relational.unscoped(conn)
            metadata = MetaData()
            metadata.reflect(conn)
            return {
                name: sorted(repr(tuple(row)) for row in conn.execute(select(table)))
                for name, table in metadata.tables.items()
            }
    finally:
        engine.dispose()


def audit_actions(url: str) -> list[str]:
    engine = sync_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT action FROM audit_entries ORDER BY seq"))
            return [action for (action,) in rows]
    finally:
        engine.dispose()


def sequences_behind_their_rows(url: str) -> list[str]:
    """PostgreSQL sequences whose next value would collide with a restored row."""
    engine = sync_engine(url)
    behind = []
    try:
        with engine.begin() as conn:
            relational.unscoped(conn)
            serials = conn.execute(
                text(
                    "SELECT c.relname, a.attname, "
                    "pg_get_serial_sequence(quote_ident(c.relname), a.attname) "
                    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 "
                    "AND NOT a.attisdropped "
                    "AND pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL"
                )
            ).all()
            assert serials, "no serial column to check"
            for table, column, sequence in serials:
                top = conn.execute(text(f'SELECT max("{column}") FROM "{table}"')).scalar()
                last, called = conn.execute(
                    text(f"SELECT last_value, is_called FROM {sequence}")
                ).one()
                if top is not None and (last < top or not called):
                    behind.append(f"{table}.{column}")
    finally:
        engine.dispose()
    return behind


RESTORE = """
import asyncio, json, sys, uuid
from click.testing import CliRunner
from sqlalchemy import select
from backend.cli import main
from backend.cli.backup import backup
from backend.core.settings import load_settings
from backend.runtime import Runtime
from backend.telemetry.store import open_client
from tenants.models import Worker
from tenants.scope import Scope, scoped_session
from tests.backup.test_backup import clickhouse_content

main.add_command(backup)
archive, tenants, workers = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
done = CliRunner().invoke(main, ["backup", "restore", "--from", archive, "--json"])
out = {"exit": done.exit_code, "stdout": done.stdout,
       "stderr": done.stderr + (repr(done.exception) if done.exit_code else "")}

async def names():
    rt = Runtime(load_settings())
    found = []
    for tenant, worker in zip(tenants, workers):
        async with scoped_session(rt.sessions, Scope.for_tenant(uuid.UUID(tenant))) as s:
            row = await s.scalar(select(Worker).where(Worker.id == uuid.UUID(worker)))
            found.append(row.name)
    await rt.close()
    return found

if done.exit_code == 0:
    client = open_client(load_settings())
    out["content"] = clickhouse_content(client, tenants)
    out["views"] = [r[0] for r in client.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine = 'MaterializedView' ORDER BY name").result_rows]
    out["workers"] = asyncio.run(names())
print(json.dumps(out, ensure_ascii=False))
"""


def run_restore(source: Source, env: dict[str, str], archive: Path) -> dict[str, Any]:
    world = source.world
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            RESTORE,
            str(archive),
            ",".join(source.tenants),
            f"{world.a.worker_id},{world.b.worker_id}",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def target(
    source: Source, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[dict[str, str], str]]:
    """An empty data dir (holding only a copy of the source's keyring) and an empty database
    of the source's kind; the environment to reach them and the database URL."""
    data_dir = tmp_path / "target"
    data_dir.mkdir()
    keyring = data_dir / "keyring.json"
    shutil.copy2(source.settings.master_key_file, keyring)
    env = {
        "ANJIAN_DATA_DIR": str(data_dir),
        "ANJIAN_PASSWORD_SCRYPT_LOG2N": "10",
        "ANJIAN_ENV_FILE": str(data_dir / "absent.env"),
    }
    pg_url = create_pg_database(PG_ADMIN_URL) if source.settings.is_postgres else None
    if pg_url is not None:
        env["ANJIAN_DATABASE_URL"] = pg_url
    yield env, pg_url or f"sqlite:///{data_dir / 'anjian.db'}"
    if pg_url is not None:
        drop_pg_database(PG_ADMIN_URL, pg_url)


# --- round trip -----------------------------------------------------------------------------


@pytest.mark.slow
def test_round_trip_restores_every_table_exactly(
    source: Source, target: tuple[dict[str, str], str], chdb_dir: Path
) -> None:
    env, target_url = target
    # The keyring was rotated after the backup: old versions stay, so the backup still opens.
    rotated = add_version(Path(env["ANJIAN_DATA_DIR"]) / "keyring.json")
    assert [v.version for v in rotated.versions] == [1, 2]
    assert source.report["key_version"] == 1

    out = run_restore(source, env, source.archive)
    assert out["exit"] == 0, out["stderr"]
    report = json.loads(out["stdout"])
    checked = {c["name"]: c for c in report["checked"]}
    manifest_rows = {f["name"]: f["rows"] for f in source.report["files"]}
    assert set(checked) == set(manifest_rows)
    assert all(c["ok"] for c in checked.values())
    assert {n: c["loaded_rows"] for n, c in checked.items()} == manifest_rows
    assert report["relational_head"] == head_revision()

    # Independently of the command's own check: the same rows, table by table — except that
    # each side's audit trail has since recorded its own step (backup.create, backup.restore).
    restored, original = (
        relational_content(target_url),
        relational_content(source.settings.database_url),
    )
    for audit_table in ("audit_entries", "audit_head"):
        restored.pop(audit_table), original.pop(audit_table)
    assert restored == original
    assert audit_actions(target_url)[-1] == "backup.restore"
    assert audit_actions(source.settings.database_url)[-1] == "backup.create"
    assert audit_actions(target_url)[:-1] == audit_actions(source.settings.database_url)[:-1]
    source_client = Runtime(source.settings).clickhouse
    assert out["content"] == clickhouse_content(source_client, source.tenants)
    readings = out["content"]["readings"][0]
    assert readings == 2 * READINGS_PER_TENANT  # the spool was flushed into the backup
    assert out["content"]["readings_1m"][0] > 0
    assert out["views"] == [
        "device_last_seen_mv",
        "readings_1h_mv",
        "readings_1m_mv",
        "sensor_hours_1d_mv",
        "sensor_latest_mv",
    ]
    if target_url.startswith("postgresql"):
        assert sequences_behind_their_rows(target_url) == []
    # Sealed columns open with the restored data keys and the (rotated) keyring.
    assert out["workers"] == ["张三", "张三"]
    restored = Path(env["ANJIAN_DATA_DIR"]) / "objects" / "snapshots" / "cam-1.jpg"
    assert restored.read_bytes() == SNAPSHOT


def test_manifest_records_revisions_counts_and_checksums(source: Source) -> None:
    manifest = json.loads((source.archive / archive_format.MANIFEST).read_text())
    body = manifest["body"]
    assert manifest["key_version"] == 1
    assert body["relational"]["revision"] == head_revision()
    assert body["clickhouse"]["migrations"] == [
        {"version": m.version, "name": m.name, "checksum": m.checksum}
        for m in ch_migrate.discover()
    ]
    files = {f["name"]: f for f in body["files"]}
    assert files["relational/tenants.jsonl"]["rows"] >= 2
    assert files["clickhouse/readings.tsv"]["rows"] >= 2 * READINGS_PER_TENANT
    assert files["objects/snapshots/cam-1.jpg"]["plain_bytes"] == len(SNAPSHOT)
    for name, entry in files.items():
        stored = source.archive / (name + archive_format.SUFFIX)
        assert stored.stat().st_size == entry["stored_bytes"]
        assert archive_format.file_sha256(stored) == entry["sha256"]
    # Nothing readable leaks into the archive: the plaintext of a row is nowhere in it.
    tenant_row = str(source.world.a.tenant_id).encode()
    for path in source.archive.rglob("*.enc"):
        assert tenant_row not in path.read_bytes()
    assert source.report["spool"] == f"flushed {2 * READINGS_PER_TENANT} rows before the backup"


# --- tampering ------------------------------------------------------------------------------


def copy_archive(source: Source, tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(source.archive, copy)
    return copy


def records_of(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, offset = [], 0
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4])
        end = offset + 4 + 12 + length
        out.append(data[offset:end])
        offset = end
    return out


def flip_byte(root: Path) -> str:
    path = root / "clickhouse/readings.tsv.enc"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return "clickhouse/readings.tsv"


def swap_chunks(root: Path) -> str:
    path = root / "clickhouse/readings.tsv.enc"
    chunks = records_of(path)
    assert len(chunks) > 2
    chunks[0], chunks[1] = chunks[1], chunks[0]
    path.write_bytes(b"".join(chunks))
    return "clickhouse/readings.tsv"


def drop_file(root: Path) -> str:
    (root / "relational/tenants.jsonl.enc").unlink()
    return "relational/tenants.jsonl"


def edit_manifest(root: Path) -> str:
    path = root / archive_format.MANIFEST
    manifest = json.loads(path.read_text())
    for entry in manifest["body"]["files"]:
        if entry["name"] == "relational/tenants.jsonl":
            entry["rows"] += 1
    path.write_text(json.dumps(manifest))
    return archive_format.MANIFEST


def add_file(root: Path) -> str:
    (root / "relational/extra.jsonl.enc").write_bytes(b"\0" * 64)
    return "relational/extra.jsonl.enc"


@pytest.mark.parametrize("tamper", [flip_byte, swap_chunks, drop_file, edit_manifest, add_file])
def test_tampered_archive_is_refused_naming_the_file(
    source: Source, tmp_path: Path, tamper: Any
) -> None:
    copy = copy_archive(source, tmp_path)
    named = tamper(copy)
    keyring = load_keyring(source.settings.master_key_file, create=False)
    with pytest.raises(BackupRefused) as refused:
        open_archive(copy, keyring)
    assert named in refused.value.message


def test_tampered_restore_exits_2_and_leaves_the_target_untouched(
    source: Source, target: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, target_url = target
    copy = copy_archive(source, tmp_path)
    flip_byte(copy)
    result = CliRunner().invoke(main, ["backup", "restore", "--from", str(copy)], env=env)
    assert result.exit_code == 2
    assert "clickhouse/readings.tsv" in result.stderr
    assert "篡改" in result.stderr
    assert sorted(p.name for p in Path(env["ANJIAN_DATA_DIR"]).iterdir()) == ["keyring.json"]
    if target_url.startswith("postgresql"):
        engine = sync_engine(target_url)
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
        engine.dispose()


def test_chunks_are_bound_to_their_file_position_and_end(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below the file checksums: each chunk authenticates its place, so a reordered, moved or
    cut-off chunk fails even if the manifest's SHA-256 were not checked."""
    monkeypatch.setattr(archive_format, "CHUNK_BYTES", 16)
    keyring = load_keyring(source.settings.master_key_file, create=False)
    keys = archive_format.ArchiveKeys.derive(keyring, 1, os.urandom(16))
    writer = archive_format.EncryptedWriter(tmp_path, "clickhouse/t.tsv", keys)
    writer.write(b"".join(b"row %d\n" % i for i in range(40)))
    writer.close()
    path = tmp_path / "clickhouse/t.tsv.enc"
    original = records_of(path)
    plain = b"".join(archive_format.read_chunks(tmp_path, "clickhouse/t.tsv", keys))
    assert plain == b"".join(b"row %d\n" % i for i in range(40))

    def refused(chunks: list[bytes], name: str = "clickhouse/t.tsv") -> str:
        (tmp_path / (name + ".enc")).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / (name + ".enc")).write_bytes(b"".join(chunks))
        with pytest.raises(BackupRefused) as caught:
            b"".join(archive_format.read_chunks(tmp_path, name, keys))
        return caught.value.message

    assert "chunk 0" in refused([original[1], original[0], *original[2:]])
    assert "cut short" in refused(original[:-1])  # the new last chunk was not sealed as last
    assert "chunk 1" in refused([original[0], original[0], *original[1:]])
    assert "clickhouse/u.tsv" in refused(original, "clickhouse/u.tsv")  # moved to another file
    other = archive_format.ArchiveKeys.derive(keyring, 1, os.urandom(16))
    with pytest.raises(BackupRefused, match="chunk 0"):
        (tmp_path / "clickhouse/t.tsv.enc").write_bytes(b"".join(original))
        list(archive_format.read_chunks(tmp_path, "clickhouse/t.tsv", other))


# --- keyrings -------------------------------------------------------------------------------


def test_wrong_keyring_is_refused(source: Source, tmp_path: Path) -> None:
    stranger = load_keyring(tmp_path / "other-keyring.json")  # a new random version 1
    with pytest.raises(BackupRefused, match="does not open this backup"):
        open_archive(source.archive, stranger)


async def test_missing_keyring_is_refused(source: Source, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data",
        Path("/nonexistent-chdb"),
        ANJIAN_MASTER_KEY_FILE=str(tmp_path / "keys" / "keyring.json"),
    )
    rt = Runtime(settings)
    with pytest.raises(BackupRefused, match="keyring"):
        restore_backup(stores=backup_stores(rt), source=source.archive)
    await rt.close()
    assert not settings.master_key_file.exists()
    assert not settings.data_dir.exists()


async def test_backup_after_rotation_uses_the_new_version_and_needs_it(
    source: Source, tmp_path: Path
) -> None:
    rotated_path = tmp_path / "rotated.json"
    shutil.copy2(source.settings.master_key_file, rotated_path)
    add_version(rotated_path)
    settings = dataclasses.replace(
        source.settings, master_key_file=rotated_path, spool_dir=tmp_path / "spool"
    )
    rt = Runtime(settings)
    try:
        report = create_backup(stores=backup_stores(rt), target=tmp_path / "after-rotation")
    finally:
        await rt.close()
    assert report.key_version == 2
    assert open_archive(report.archive, load_keyring(rotated_path)).key_version == 2
    old = load_keyring(source.settings.master_key_file, create=False)
    with pytest.raises(BackupRefused, match="key version 2"):
        open_archive(report.archive, old)
    # ... while the keyring rotated after the first backup opens that one too.
    assert open_archive(source.archive, load_keyring(rotated_path)).key_version == 1


# --- targets --------------------------------------------------------------------------------


def fresh_settings(tmp_path: Path, source: Source, chdb: str, **overrides: str) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy2(source.settings.master_key_file, data_dir / "keyring.json")
    return make_settings(data_dir, Path(chdb), **overrides)


async def refused_restore(source: Source, settings: Settings, match: str) -> None:
    rt = Runtime(settings)
    try:
        with pytest.raises(BackupRefused, match=match):
            restore_backup(stores=backup_stores(rt), source=source.archive)
    finally:
        await rt.close()


async def test_restore_refuses_a_non_empty_data_dir(source: Source) -> None:
    await refused_restore(source, source.settings, "data directory .* is not empty")


async def test_restore_refuses_a_database_with_tables(source: Source, tmp_path: Path) -> None:
    settings = fresh_settings(
        tmp_path, source, "/unused-chdb", ANJIAN_DATABASE_URL=source.settings.database_url
    )
    await refused_restore(source, settings, "database already has tables")


async def test_restore_refuses_a_clickhouse_with_tables(
    source: Source, tmp_path: Path, chdb_dir: Path
) -> None:
    settings = fresh_settings(tmp_path, source, str(chdb_dir))  # the session's engine has data
    await refused_restore(source, settings, "ClickHouse already has tables")


async def test_restore_refuses_a_backup_from_a_newer_schema(source: Source, tmp_path: Path) -> None:
    copy = copy_archive(source, tmp_path)
    keyring = load_keyring(source.settings.master_key_file, create=False)
    opened = open_archive(copy, keyring)
    body = {**opened.body, "relational": {**opened.body["relational"], "revision": "9999"}}
    archive_format.write_manifest(copy, opened.keys, opened.key_version, body)  # re-signed
    settings = fresh_settings(tmp_path, source, "/unused-chdb")
    rt = Runtime(settings)
    try:
        with pytest.raises(BackupRefused, match="9999 is newer"):
            restore_backup(stores=backup_stores(rt), source=copy)
    finally:
        await rt.close()


def test_backup_goes_into_a_new_or_empty_directory(source: Source, tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(main, ["backup", "create", "--to", str(occupied)], env=source.env)
    assert result.exit_code == 2
    assert "not empty" in result.stderr
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]
    inside = source.settings.data_dir / "backups"
    result = CliRunner().invoke(main, ["backup", "create", "--to", str(inside)], env=source.env)
    assert result.exit_code == 2
    assert "inside the data directory" in result.stderr
    assert not inside.exists()


# --- the embedded engine's owner ------------------------------------------------------------


@pytest.mark.slow
def test_backup_with_the_engine_owned_elsewhere_says_to_stop_the_server(
    source: Source, tmp_path: Path, chdb_dir: Path
) -> None:
    """This test process owns the session's chdb directory, as a running server would."""
    Runtime(source.settings).clickhouse  # noqa: B018  (opened here, if no test did yet)
    env = {**source.env, "ANJIAN_DATA_DIR": str(tmp_path / "data")}
    env["ANJIAN_MASTER_KEY_FILE"] = str(source.settings.master_key_file)
    env["ANJIAN_DATABASE_URL"] = source.settings.database_url  # a migrated store, as a server's
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from backend.cli import main\nfrom backend.cli.backup import backup\n"
            "main.add_command(backup)\nmain()",
            "backup",
            "create",
            "--to",
            str(tmp_path / "archive"),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert str(chdb_dir) in done.stderr
    assert "stop `anjian serve`" in done.stderr
    assert not (tmp_path / "archive").exists()


# --- the relational line format -------------------------------------------------------------


def test_relational_values_keep_their_types_through_a_line() -> None:
    values = [
        None,
        True,
        -(2**63),
        0.1 + 0.2,
        float("inf"),
        "张三 \n\t\"'",
        uuid.UUID("0f8e4c5a-9d1b-4b7e-8a55-6b2f0c3d4e5f"),
        datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 3, 1, 8, 30),
        date(2026, 3, 1),
        time(23, 59, 59, 999999),
        bytes(range(256)),
        Decimal("12345678901234567890.000000001"),
        {"z": [1, {"$uuid": "not a tag, a document"}], "a": None},
        ["b", "a"],
    ]
    line = relational.row_line(values)
    assert b"\n" not in line
    decoded = [relational.decode_value(v) for v in json.loads(line)]
    assert decoded == values
    assert [type(v) for v in decoded] == [type(v) for v in values]
    assert list(decoded[13]) == ["z", "a"]  # a document's key order is kept in the file
    assert relational.row_line(values, canonical=True) != line  # ... and sorted for fingerprints

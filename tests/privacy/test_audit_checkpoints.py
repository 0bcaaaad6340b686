"""Signed checkpoints, purging behind them, and exports for an inspection.

Each test works on a trail of its own (a fresh SQLite file, or a fresh PostgreSQL database
where the application role's grants matter), with a clock it sets, so entries can be older than
the six-month floor without waiting.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

import privacy.audit._export as audit_export
import privacy.audit._purge as audit_purge
import privacy.audit._record as audit_record
import privacy.checkpoints as checkpoints_module
from backend.cli._support import parse_instant
from backend.core.errors import BadInput, ConfigurationError, Conflict
from backend.migrate import upgrade_relational
from backend.runtime import Runtime
from privacy.audit import (
    EXPORT_COLUMNS,
    GENESIS,
    Actor,
    AuditChainBroken,
    AuditEntry,
    ChainReport,
    PurgeReport,
    create_checkpoint,
    entry_hash,
    export_entries,
    purge_before_in_own_transaction,
    record,
    record_read,
    retention_floor,
    verify_chain,
)
from privacy.checkpoints import AuditCheckpoint, public_keys
from privacy.keyring import Keyring, KeyVersion
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database, make_settings
from tests.server import anjian

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
OPERATOR = Actor("system", "cli:test")


class Clock:
    """Stands in for ``utcnow`` in the audit modules."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(NOW)
    for module in (audit_record, audit_purge, audit_export):
        monkeypatch.setattr(module, "utcnow", fake)
    monkeypatch.setattr(checkpoints_module, "utcnow", fake)
    return fake


async def open_trail(backend: str, tmp_path: Path, chdb_dir: Path) -> tuple[Runtime, str | None]:
    url = create_pg_database(PG_ADMIN_URL) if backend == "postgres" else None
    overrides = {} if url is None else {"ANJIAN_DATABASE_URL": url}
    rt = Runtime(make_settings(tmp_path, chdb_dir, **overrides))
    upgrade_relational(owner_engine=rt.owner_engine, keyring=rt.keyring)
    return rt, url


@pytest.fixture
async def trail(tmp_path: Path, chdb_dir: Path) -> AsyncIterator[Runtime]:
    rt, _ = await open_trail("sqlite", tmp_path, chdb_dir)
    yield rt
    await rt.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_trail(
    request: pytest.FixtureRequest, tmp_path: Path, chdb_dir: Path
) -> AsyncIterator[Runtime]:
    rt, url = await open_trail(request.param, tmp_path, chdb_dir)
    try:
        yield rt
    finally:
        await rt.close()
        if url is not None:
            drop_pg_database(PG_ADMIN_URL, url)


async def append(
    rt: Runtime, count: int, clock: Clock | None = None, at: datetime | None = None
) -> list[int]:
    if clock is not None and at is not None:
        clock.now = at
    seqs = []
    for i in range(count):
        async with rt.sessions() as session, session.begin():
            entry = await record(
                session,
                Actor("user", str(uuid.uuid4()), "safety_manager"),
                "test.entry",
                domain="tenant:00000000-0000-0000-0000-000000000001",
                object_type="worker",
                object_id=uuid.uuid4(),
                detail={"i": i, "note": '巡检记录, "quoted", =SUM(A1)'},
            )
            seqs.append(entry.seq)
    return seqs


async def checkpoint(rt: Runtime, keyring: Keyring | None = None) -> int:
    async with rt.sessions() as session, session.begin():
        result = await create_checkpoint(session=session, keyring=keyring or rt.keyring)
    return result.checkpoint.seq


async def verify(rt: Runtime, keyring: Keyring | None = None) -> ChainReport:
    async with rt.sessions() as session:
        return await verify_chain(session=session, keyring=keyring or rt.keyring)


def purge(rt: Runtime, before: datetime) -> PurgeReport:
    return purge_before_in_own_transaction(
        engine=rt.owner_engine, keyring=rt.keyring, before=before, actor=OPERATOR, now=NOW
    )


def owner_sql(rt: Runtime, sql: str, **params: object) -> None:
    """Tampering as the schema owner: what the application role may not do."""
    with rt.owner_engine.begin() as conn:
        conn.execute(text(sql), params)


def seqs_kept(rt: Runtime) -> list[int]:
    with rt.owner_engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT seq FROM audit_entries ORDER BY seq"))]


def months_ago(months: int) -> datetime:
    return NOW - timedelta(days=31 * months)


# --- checkpoints -------------------------------------------------------------------------------


async def test_checkpoint_signs_the_head_and_verifies(trail: Runtime, clock: Clock) -> None:
    seqs = await append(trail, 5)
    async with trail.sessions() as session, session.begin():
        result = await create_checkpoint(session=session, keyring=trail.keyring)
    view = result.checkpoint
    assert result.created and view.seq == seqs[-1]
    async with trail.sessions() as session:
        stored = await session.get(AuditEntry, view.seq)
        assert stored is not None and stored.hash.hex() == view.hash
    # An independent check with the published key and message format.
    key = Ed25519PublicKey.from_public_bytes(public_keys(trail.keyring)[view.key_version])
    message = f"anjian-audit-checkpoint/1\n{view.seq}\n{view.hash}\n{view.at}\n{view.key_version}"
    key.verify(bytes.fromhex(view.signature), message.encode())
    report = await verify(trail)
    assert report.ok and report.checkpoints == 1 and report.entries == 5
    # Nothing new: the head's checkpoint is returned, not signed again.
    async with trail.sessions() as session, session.begin():
        again = await create_checkpoint(session=session, keyring=trail.keyring)
    assert not again.created and again.checkpoint == view


async def test_checkpoint_of_an_empty_trail_is_refused(trail: Runtime) -> None:
    async with trail.sessions() as session, session.begin():
        with pytest.raises(BadInput, match="empty"):
            await create_checkpoint(session=session, keyring=trail.keyring)


async def test_checkpoint_refuses_to_sign_a_broken_chain(trail: Runtime) -> None:
    seqs = await append(trail, 4)
    owner_sql(trail, "UPDATE audit_entries SET action = 'x' WHERE seq = :s", s=seqs[2])
    async with trail.sessions() as session, session.begin():
        with pytest.raises(AuditChainBroken, match=f"entry {seqs[2]}"):
            await create_checkpoint(session=session, keyring=trail.keyring)
    with trail.owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_checkpoints")).scalar() == 0


async def test_forged_checkpoint_signature_is_named(trail: Runtime) -> None:
    seqs = await append(trail, 6)
    at = await checkpoint(trail)
    owner_sql(
        trail,
        "UPDATE audit_checkpoints SET signature = :sig WHERE seq = :s",
        sig=bytes(64),
        s=at,
    )
    report = await verify(trail)
    assert not report.ok
    assert report.first_broken_seq == seqs[-1] == at
    assert report.reason is not None and "signature does not verify" in report.reason


async def test_checkpoint_signed_with_another_key_is_refused(trail: Runtime) -> None:
    await append(trail, 3)
    stranger = Keyring([KeyVersion(1, os.urandom(32), "now")])
    await checkpoint(trail, stranger)
    report = await verify(trail)
    assert not report.ok and "signature does not verify" in (report.reason or "")
    assert (await verify(trail, stranger)).ok


async def test_rewritten_chain_is_caught_by_a_checkpoint(trail: Runtime) -> None:
    """Whoever can write the tables can recompute every hash; only the signature holds."""
    seqs = await append(trail, 8)
    signed_at = await checkpoint(trail)
    await append(trail, 2)
    rewrite_from(trail, seqs[2], action="test.innocent")
    report = await verify(trail)
    assert not report.ok
    assert report.first_broken_seq == signed_at
    assert "rewritten" in (report.reason or "")
    # Without the checkpoint the same rewrite would pass: that is what the signature adds.
    owner_sql(trail, "DELETE FROM audit_checkpoints")
    assert (await verify(trail)).ok


def rewrite_from(rt: Runtime, seq: int, **changes: Any) -> None:
    """Alter one entry and recompute every later hash and the head, as an attacker would."""
    with rt.owner_engine.begin() as conn:
        rows = conn.execute(
            select(*AuditEntry.__table__.c)
            .where(AuditEntry.__table__.c.seq >= seq)
            .order_by(AuditEntry.__table__.c.seq)
        ).all()
        prev = conn.execute(
            select(AuditEntry.__table__.c.hash).where(AuditEntry.__table__.c.seq == seq - 1)
        ).scalar_one()
        for row in rows:
            fields = {**row._asdict(), **(changes if row.seq == seq else {}), "prev_hash": prev}
            digest = entry_hash(SimpleNamespace(**fields))
            conn.execute(
                AuditEntry.__table__.update()
                .where(AuditEntry.__table__.c.seq == row.seq)
                .values(
                    **{k: v for k, v in fields.items() if k not in ("seq", "hash")}, hash=digest
                )
            )
            prev = digest
        conn.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})


async def test_truncation_with_a_reset_head_is_caught_by_a_checkpoint(trail: Runtime) -> None:
    seqs = await append(trail, 10)
    await checkpoint(trail)
    keep = seqs[5]
    owner_sql(trail, "DELETE FROM audit_entries WHERE seq > :s", s=keep)
    owner_sql(
        trail,
        "UPDATE audit_head SET seq = :s, hash = (SELECT hash FROM audit_entries WHERE seq = :s) "
        "WHERE id = 1",
        s=keep,
    )
    report = await verify(trail)
    assert not report.ok
    assert report.first_broken_seq == keep + 1
    assert "were removed" in (report.reason or "")


async def test_verifying_checkpoints_needs_the_keyring(trail: Runtime) -> None:
    await append(trail, 2)
    async with trail.sessions() as session:
        assert (await verify_chain(session=session)).ok  # no checkpoints yet: no key needed
    await checkpoint(trail)
    async with trail.sessions() as session:
        with pytest.raises(ConfigurationError, match="keyring"):
            await verify_chain(session=session)


async def test_checkpoints_survive_a_key_rotation(trail: Runtime) -> None:
    old = trail.keyring
    await append(trail, 3)
    await checkpoint(trail, old)
    rotated = Keyring([*old.versions, KeyVersion(2, os.urandom(32), "later")])
    await append(trail, 3)
    await checkpoint(trail, rotated)
    async with trail.sessions() as session:
        versions = (
            await session.scalars(select(AuditCheckpoint.key_version).order_by(AuditCheckpoint.seq))
        ).all()
    assert versions == [1, 2]
    report = await verify(trail, rotated)
    assert report.ok and report.checkpoints == 2
    without_v1 = Keyring([rotated.versions[-1]])
    report = await verify(trail, without_v1)
    assert not report.ok and "key version 1" in (report.reason or "")


# --- purging -----------------------------------------------------------------------------------


def test_retention_floor_is_six_calendar_months_in_china_time() -> None:
    assert retention_floor(datetime(2026, 11, 28, 9, 30, tzinfo=UTC)).isoformat() == (
        "2026-05-28T17:30:00+08:00"
    )
    # 31 August less six months is the end of February; the date changes in China time first.
    assert retention_floor(datetime(2026, 8, 30, 18, 0, tzinfo=UTC)).isoformat() == (
        "2026-02-28T02:00:00+08:00"
    )
    assert retention_floor(datetime(2026, 3, 15, tzinfo=UTC)).date().isoformat() == "2025-09-15"


async def test_purge_behind_a_checkpoint_still_verifies(any_trail: Runtime, clock: Clock) -> None:
    rt = any_trail
    old = await append(rt, 10, clock, months_ago(9))
    older_than_floor = await append(rt, 5, clock, months_ago(7))
    signed_at = await checkpoint(rt)
    clock.now = NOW
    recent = await append(rt, 3)
    before = months_ago(8)

    report = purge(rt, before)

    assert (report.deleted, report.through_seq) == (10, old[-1])
    assert report.checkpoint_created and report.checkpoint_seq == old[-1]
    assert seqs_kept(rt)[:-1] == [*older_than_floor, *recent]
    chain = await verify(rt)
    assert chain.ok, chain
    assert chain.first_seq == older_than_floor[0] and chain.anchor_seq == old[-1]
    assert chain.checkpoints == 2  # the new anchor and the one it was derived from
    async with rt.sessions() as session:
        purge_entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "audit.purge")
        )
    assert purge_entry is not None and purge_entry.actor_id == "cli:test"
    assert purge_entry.detail["deleted"] == 10 and purge_entry.detail["through_seq"] == old[-1]

    # The trail goes on, and a second purge reaches the checkpoint that already exists.
    await append(rt, 2)
    again = purge(rt, months_ago(6))
    assert (again.deleted, again.through_seq) == (5, signed_at)
    assert not again.checkpoint_created
    chain = await verify(rt)
    assert chain.ok and chain.anchor_seq == signed_at


async def test_purge_without_a_checkpoint_is_refused(any_trail: Runtime, clock: Clock) -> None:
    rt = any_trail
    await append(rt, 6, clock, months_ago(9))
    clock.now = NOW
    await append(rt, 2)
    kept = seqs_kept(rt)
    with pytest.raises(Conflict, match="anjian audit checkpoint"):
        purge(rt, months_ago(8))
    assert seqs_kept(rt) == kept


async def test_a_checkpoint_older_than_the_cut_does_not_cover_it(
    trail: Runtime, clock: Clock
) -> None:
    await append(trail, 4, clock, months_ago(10))
    await checkpoint(trail)
    await append(trail, 4, clock, months_ago(9))
    clock.now = NOW
    kept = seqs_kept(trail)
    with pytest.raises(Conflict, match="no signed checkpoint covers the entries up to 8"):
        purge(trail, months_ago(8))
    assert seqs_kept(trail) == kept


@pytest.mark.parametrize("months", [5, 0])
async def test_purge_inside_the_six_month_floor_is_refused(
    trail: Runtime, clock: Clock, months: int
) -> None:
    await append(trail, 3, clock, months_ago(12))
    await checkpoint(trail)
    kept = seqs_kept(trail)
    with pytest.raises(BadInput, match=r"Cybersecurity Law art\. 21"):
        purge(trail, months_ago(months))
    assert seqs_kept(trail) == kept
    # The floor itself is allowed.
    done = purge(trail, retention_floor(NOW))
    assert done.deleted == 3


async def test_purge_refuses_a_broken_chain(trail: Runtime, clock: Clock) -> None:
    seqs = await append(trail, 5, clock, months_ago(9))
    await checkpoint(trail)
    owner_sql(trail, "UPDATE audit_entries SET actor_id = 'x' WHERE seq = :s", s=seqs[1])
    with pytest.raises(AuditChainBroken, match=f"entry {seqs[1]}"):
        purge(trail, months_ago(8))
    assert seqs_kept(trail) == seqs


async def test_purge_with_nothing_old_deletes_nothing(trail: Runtime, clock: Clock) -> None:
    await append(trail, 3)
    await checkpoint(trail)
    report = purge(trail, months_ago(7))
    assert report.deleted == 0 and report.through_seq is None
    assert len(seqs_kept(trail)) == 3


async def purged_trail(rt: Runtime, clock: Clock) -> tuple[list[int], list[int]]:
    gone = await append(rt, 6, clock, months_ago(9))
    kept = await append(rt, 4, clock, months_ago(3))
    await checkpoint(rt)
    clock.now = NOW
    purge(rt, months_ago(8))
    assert (await verify(rt)).ok
    return gone, kept


async def test_after_a_purge_a_missing_anchor_is_named(trail: Runtime, clock: Clock) -> None:
    gone, _ = await purged_trail(trail, clock)
    owner_sql(trail, "DELETE FROM audit_checkpoints WHERE seq = :s", s=gone[-1])
    report = await verify(trail)
    assert not report.ok
    assert report.first_broken_seq == gone[0]
    assert f"entries {gone[0]}–{gone[-1]} are missing" in (report.reason or "")


async def test_after_a_purge_a_forged_anchor_is_named(trail: Runtime, clock: Clock) -> None:
    gone, kept = await purged_trail(trail, clock)
    forged = bytes(32)
    owner_sql(trail, "UPDATE audit_checkpoints SET hash = :h WHERE seq = :s", h=forged, s=gone[-1])
    owner_sql(trail, "UPDATE audit_entries SET prev_hash = :h WHERE seq = :s", h=forged, s=kept[0])
    report = await verify(trail)
    assert not report.ok
    assert report.first_broken_seq == gone[-1]
    assert "signature does not verify" in (report.reason or "")


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_entries SET detail = '{\"i\": 7}' WHERE seq = :s",
        "UPDATE audit_entries SET prev_hash = :zero WHERE seq = :s",
        "UPDATE audit_entries SET hash = :zero WHERE seq = :s",
        "DELETE FROM audit_entries WHERE seq = :s",
    ],
)
async def test_after_a_purge_tampering_is_still_located(
    trail: Runtime, clock: Clock, tamper: str
) -> None:
    _, kept = await purged_trail(trail, clock)
    target = kept[1]
    owner_sql(trail, tamper, s=target, zero=bytes(32))
    report = await verify(trail)
    assert not report.ok
    assert report.first_broken_seq == target, report


@pytest.mark.postgres
async def test_app_role_cannot_delete_or_change_the_trail_on_postgres(
    tmp_path: Path, chdb_dir: Path
) -> None:
    rt, url = await open_trail("postgres", tmp_path, chdb_dir)
    try:
        await append(rt, 2)
        await checkpoint(rt)
        for sql in (
            "DELETE FROM audit_entries",
            "UPDATE audit_entries SET action = 'x'",
            "DELETE FROM audit_checkpoints",
            "UPDATE audit_checkpoints SET signature = ''",
        ):
            async with rt.sessions() as session:
                with pytest.raises(DBAPIError, match="permission denied"):
                    await session.execute(text(sql))
        assert (await verify(rt)).ok
    finally:
        await rt.close()
        assert url is not None
        drop_pg_database(PG_ADMIN_URL, url)


# --- sensitive reads ---------------------------------------------------------------------------


async def test_record_read_says_who_what_why_and_when(trail: Runtime, clock: Clock) -> None:
    worker = uuid.uuid4()
    inspector = Actor("user", str(uuid.uuid4()), "inspector")
    async with trail.sessions() as session, session.begin():
        entry = await record_read(
            session,
            inspector,
            purpose="regulator.inspection",
            object_type="worker",
            object_id=worker,
            fields=["heart_rate", "position", "heart_rate"],
            domain="gov:320100",
        )
    async with trail.sessions() as session:
        stored = await session.get(AuditEntry, entry.seq)
    assert stored is not None
    assert (stored.actor_id, stored.role, stored.domain) == (
        inspector.id,
        "inspector",
        "gov:320100",
    )
    assert (stored.action, stored.object_type, stored.object_id) == (
        "data.read",
        "worker",
        str(worker),
    )
    assert stored.detail == {
        "purpose": "regulator.inspection",
        "fields": ["heart_rate", "position"],
    }
    assert stored.at == NOW
    assert (await verify(trail)).ok


async def test_record_read_needs_a_purpose_and_fields(trail: Runtime) -> None:
    async with trail.sessions() as session, session.begin():
        with pytest.raises(BadInput, match="purpose"):
            await record_read(
                session, OPERATOR, purpose=" ", object_type="worker", object_id=None,
                fields=["name"], domain=None,
            )  # fmt: skip
        with pytest.raises(BadInput, match="fields"):
            await record_read(
                session, OPERATOR, purpose="roster", object_type="worker", object_id=None,
                fields=[], domain=None,
            )  # fmt: skip


# --- export ------------------------------------------------------------------------------------


async def export(rt: Runtime, out: Path, fmt: str, **window: datetime) -> Any:
    async with rt.sessions() as session, session.begin():
        return await export_entries(
            session=session,
            out=out,
            fmt=fmt,  # type: ignore[arg-type]
            keyring=rt.keyring,
            actor=OPERATOR,
            **window,  # type: ignore[arg-type]
        )


def db_rows(rt: Runtime) -> dict[int, Any]:
    with rt.owner_engine.connect() as conn:
        return {r.seq: r for r in conn.execute(select(*AuditEntry.__table__.c))}


async def test_csv_export_round_trip(any_trail: Runtime, tmp_path: Path) -> None:
    rt = any_trail
    await append(rt, 5)
    out = tmp_path / "审计.csv"
    report = await export(rt, out, "csv")
    assert report.entries == 5
    assert out.stat().st_mode & 0o777 == 0o600
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM for Excel and WPS
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    stored = db_rows(rt)
    for row in rows:
        original = stored[int(row["seq"])]
        parsed = SimpleNamespace(
            seq=int(row["seq"]),
            at=datetime.fromisoformat(row["at"]),
            actor_kind=row["actor_kind"],
            actor_id=row["actor_id"] or None,
            role=row["role"] or None,
            domain=row["domain"] or None,
            action=row["action"],
            object_type=row["object_type"] or None,
            object_id=row["object_id"] or None,
            detail=json.loads(row["detail"]),
            prev_hash=bytes.fromhex(row["prev_hash"]),
        )
        assert entry_hash(parsed) == bytes.fromhex(row["hash"]) == original.hash
        assert parsed.detail == original.detail
        assert parsed.at == original.at
    # The export is itself on the record.
    async with rt.sessions() as session:
        last = await session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    assert last is not None and last.action == "audit.export" and last.detail["entries"] == 5


async def test_json_export_carries_what_an_inspector_needs(trail: Runtime, tmp_path: Path) -> None:
    await append(trail, 4)
    signed_at = await checkpoint(trail)
    await append(trail, 2)
    out = tmp_path / "audit.json"
    report = await export(trail, out, "json")
    data = json.loads(out.read_text(encoding="utf-8"))
    entries = data["entries"]
    assert report.entries == len(entries) == 6
    assert [e["seq"] for e in entries] == sorted(db_rows(trail))[:6]
    prev = GENESIS
    for entry in entries:
        fields = {
            **entry,
            "at": datetime.fromisoformat(entry["at"]),
            "prev_hash": bytes.fromhex(entry["prev_hash"]),
        }
        assert fields["prev_hash"] == prev
        prev = entry_hash(SimpleNamespace(**fields))
        assert prev.hex() == entry["hash"]
    [cp] = data["checkpoints"]
    assert cp["seq"] == signed_at and cp["hash"] == entries[signed_at - 1]["hash"]
    key = Ed25519PublicKey.from_public_bytes(
        bytes.fromhex(data["public_keys"][str(cp["key_version"])])
    )
    message = data["checkpoint_message"].format(
        seq=cp["seq"], hash_hex=cp["hash"], at_iso=cp["at"], key_version=cp["key_version"]
    )
    key.verify(bytes.fromhex(cp["signature"]), message.encode())
    with pytest.raises(InvalidSignature):
        key.verify(bytes.fromhex(cp["signature"]), message.replace(cp["hash"], "00" * 32).encode())


async def test_export_window(trail: Runtime, clock: Clock, tmp_path: Path) -> None:
    early = await append(trail, 2, clock, datetime(2026, 3, 1, 15, 59, tzinfo=UTC))
    middle = await append(trail, 3, clock, datetime(2026, 3, 1, 16, 0, tzinfo=UTC))
    await append(trail, 2, clock, datetime(2026, 3, 2, 16, 0, tzinfo=UTC))
    # 2 March in China time runs from 1 March 16:00 UTC to 2 March 16:00 UTC.
    start = parse_instant("2026-03-02", option="--from")
    end = parse_instant("2026-03-02", option="--to", end_of_day=True)
    report = await export(trail, tmp_path / "day.json", "json", start=start, end=end)
    data = json.loads((tmp_path / "day.json").read_text(encoding="utf-8"))
    assert [e["seq"] for e in data["entries"]] == middle
    assert (report.first_seq, report.last_seq) == (middle[0], middle[-1])
    assert early[-1] < middle[0]


async def test_export_refuses_bad_input(trail: Runtime, tmp_path: Path) -> None:
    await append(trail, 1)
    with pytest.raises(BadInput, match="--from must be earlier"):
        await export(trail, tmp_path / "x.csv", "csv", start=NOW, end=NOW)
    with pytest.raises(BadInput, match="does not exist"):
        await export(trail, tmp_path / "no" / "x.csv", "csv")
    with pytest.raises(BadInput, match="csv or json"):
        await export(trail, tmp_path / "x.xml", "xml")
    with pytest.raises(BadInput, match="YYYY-MM-DD"):
        parse_instant("2026-02-30", option="--from")
    assert not (tmp_path / "x.csv").exists()


# --- the CLI -----------------------------------------------------------------------------------


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return anjian(data_dir, *args, check=False)


def cli_json(data_dir: Path, *args: str) -> dict[str, Any]:
    done = cli(data_dir, *args, "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert isinstance(payload, dict)
    return payload


@pytest.fixture
async def old_trail_dir(tmp_path: Path, chdb_dir: Path, clock: Clock) -> AsyncIterator[Path]:
    """A data dir whose trail starts a year ago, written in-process with the fake clock."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    rt, _ = await open_trail("sqlite", data_dir, chdb_dir)
    now = datetime.now(UTC)
    await append(rt, 4, clock, now - timedelta(days=400))
    await append(rt, 3, clock, now - timedelta(days=300))
    clock.now = now
    await rt.close()
    yield data_dir


@pytest.mark.slow
def test_cli_checkpoint_purge_verify_export(old_trail_dir: Path, tmp_path: Path) -> None:
    data = old_trail_dir
    cut = (datetime.now(UTC) - timedelta(days=350)).date().isoformat()
    refused = cli(data, "audit", "purge", "--before", cut)
    assert refused.returncode == 2 and "anjian audit checkpoint" in refused.stderr

    signed = cli_json(data, "audit", "checkpoint")
    assert signed["seq"] == 7 and signed["created"] is True and len(signed["signature"]) == 128
    purged = cli_json(data, "audit", "purge", "--before", cut)
    assert purged["deleted"] == 4 and purged["through_seq"] == 4
    report = cli_json(data, "audit", "verify")
    assert report["ok"] is True and report["anchor_seq"] == 4 and report["first_seq"] == 5

    out = tmp_path / "export.csv"
    exported = cli_json(data, "audit", "export", "--format", "csv", "--out", str(out))
    assert exported["entries"] == 4  # three kept entries and the purge's own
    assert out.read_text(encoding="utf-8-sig").splitlines()[0] == ",".join(EXPORT_COLUMNS)

    # Tampering after the purge: verify exits 1 and names the entry.
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(data / "anjian.db")) as conn, conn:
        conn.execute("UPDATE audit_entries SET role = 'owner' WHERE seq = 6")
    done = cli(data, "audit", "verify", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["first_broken_seq"] == 6


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "purge", "--before", "yesterday"], "YYYY-MM-DD"),
        (["audit", "purge", "--before", "2026-13-01"], "YYYY-MM-DD"),
        (["audit", "purge", "--before", datetime.now(UTC).date().isoformat()], "art. 21"),
        (["audit", "export", "--format", "xml", "--out", "x"], "xml"),
        (["audit", "export", "--format", "csv", "--out", "x", "--from", "2026-02-30"], "--from"),
        (
            [
                "audit",
                "export",
                "--format",
                "csv",
                "--out",
                "x",
                "--from",
                "2026-03-02",
                "--to",
                "2026-03-01",
            ],
            "earlier",
        ),
    ],
)
def test_cli_bad_input_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = cli(tmp_path, *(str(tmp_path / "x") if a == "x" else a for a in args))
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""

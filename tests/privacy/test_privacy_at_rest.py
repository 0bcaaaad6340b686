"""Personal data at rest: free text sealed or stripped of identifiers as the catalog says, and
the data dir readable by its owner only (issue 9, item 8)."""

from __future__ import annotations

import os
import random
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import LargeBinary, Uuid, bindparam, text

import backend.models  # noqa: F401  (fills the metadata)
from backend.core.db import Base
from backend.core.mail import FileMailer, Message
from backend.migrate import migrate
from backend.runtime import Runtime
from privacy import pii
from privacy.catalog import AtRest, DataClass, Kind, catalog
from privacy.crypto import Sealed
from tenants.scope import unscoped_session
from tests.alarm_helpers import ACKNOWLEDGE
from tests.conftest import make_settings
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_site
from tests.pii_corpus import valid_mobile
from tests.privacy.test_privacy_pipeline import (
    CREATE_SILENCE,
    M_PERMIT,
    an_alarm,
    runtime_zone,
)

PERMITS = """query($site: ID) { workPermits(siteId: $site) { id note } }"""


def test_every_personal_free_text_column_says_how_it_is_stored() -> None:
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    classes = {m.local_table.name: m.class_ for m in Base.registry.mappers}
    declared = 0
    for table, columns in catalog().tables.items():
        for column, policy in columns.items():
            if policy.kind is not Kind.TEXT or policy.data_class not in (
                DataClass.PERSONAL,
                DataClass.SENSITIVE,
            ):
                continue
            declared += 1
            assert policy.at_rest is not None, f"{table}.{column}: at_rest=seal|mask missing"
            if policy.at_rest is AtRest.SEAL:
                assert column.endswith("_enc"), (table, column)
                assert isinstance(tables[table].c[column].type, LargeBinary), (table, column)
                sealed = [
                    f
                    for f in getattr(classes[table], "__sealed_fields__", ())
                    if f.column == column
                ]
                assert sealed and isinstance(sealed[0], Sealed), (table, column)
    assert declared >= 5


def _mobile(seed: int) -> str:
    return valid_mobile(random.Random(seed))


async def _raw(rt: Runtime, sql: str, id: uuid.UUID) -> object:
    """One stored value, read past the ORM (what a copy of the database holds)."""
    query = text(sql).bindparams(bindparam("id", type_=Uuid()))
    async with unscoped_session(rt.sessions) as session:
        return (await session.execute(query, {"id": id})).scalar_one()


async def test_a_permit_note_is_sealed_and_read_in_full_by_managers(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    mobile = _mobile(21)
    note = f"动火监护人 李四 {mobile}"
    zone = await runtime_zone(runtime, world, world.a.sensor_ids["GT-101"])
    expires = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    made = await api.query(
        M_PERMIT, {"z": str(zone), "e": expires, "n": note}, as_user=world.a.users["owner"]
    )
    assert made.data is not None, made.body
    permit_id = made.data["openWorkPermit"]["id"]

    blob = await _raw(
        runtime, "SELECT note_enc FROM work_permits WHERE id = :id", id=uuid.UUID(permit_id)
    )
    assert isinstance(blob, bytes | memoryview)
    stored = bytes(blob)
    assert mobile.encode() not in stored and "李四".encode() not in stored

    listed = await api.query(
        PERMITS, {"site": str(world.a.site_id)}, as_user=world.a.users["safety_manager"]
    )
    assert listed.data is not None, listed.body
    (row,) = [p for p in listed.data["workPermits"] if p["id"] == permit_id]
    assert row["note"] == note


async def test_identifiers_in_notes_and_reasons_are_never_stored(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = world.a
    alarm = await an_alarm(runtime, a.tenant_id, a.site_id, a.sensor_ids["GT-101"], a.device_id)
    mobile, other = _mobile(31), _mobile(32)
    note = f"已电话通知张工 {mobile}，邮箱 zhang.gong@example.cn"
    acked = await api.query(
        ACKNOWLEDGE, {"id": str(alarm.id), "note": note}, as_user=a.users["operator"]
    )
    assert acked.data is not None, acked.body
    stored_note = await _raw(
        runtime,
        "SELECT note FROM alarm_transitions WHERE alarm_id = :id AND kind = 'ACKNOWLEDGED'",
        id=alarm.id,
    )
    assert stored_note == pii.redact_text(note)
    assert mobile not in str(stored_note) and "zhang.gong" not in str(stored_note)

    reason = f"检修，值班电话 {other}"
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    quiet_site = await new_site(runtime, a.tenant_id)  # the shared site stays unsilenced
    made = await api.query(
        CREATE_SILENCE,
        {"site": str(quiet_site), "reason": reason, "expires": expires},
        as_user=a.users["safety_manager"],
    )
    assert made.data is not None, made.body
    stored_reason = await _raw(
        runtime,
        "SELECT reason FROM alarm_silences WHERE id = :id",
        id=uuid.UUID(made.data["createSilence"]["id"]),
    )
    assert stored_reason == pii.redact_text(reason) and other not in str(stored_reason)


# --- the data dir -----------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_data_dir_is_the_owners_alone_whatever_the_umask(
    tmp_path: Path, chdb_dir: Path
) -> None:
    data_dir = tmp_path / "fresh" / "var"
    previous = os.umask(0)  # the most permissive: every mode below is set, not inherited
    try:
        settings = make_settings(data_dir, chdb_dir)
        rt = Runtime(settings)
        try:
            migrate(
                owner_engine=rt.owner_engine,
                keyring=rt.keyring,
                clickhouse=rt.clickhouse,
                cluster=settings.clickhouse_cluster,
            )
            mailer = FileMailer(settings.mail_dir)
            mailer.send(Message("a@example.cn", "邀请 / invitation", "token: secret", "k-1"))
            rt.spool  # noqa: B018 - opens the spool: LOCK, SPOOL_ID, first segment
            rt.ledger  # noqa: B018
            rt.ingest.objects.put("snapshots/t/x.jpg", b"\xff\xd8jpeg", "image/jpeg")
            from backend.alarms.notify import LogSmsProvider

            LogSmsProvider(settings.data_dir / "sms.log").send("+8613800000000", "报警", "k")
        finally:
            await rt.close()
    finally:
        os.umask(previous)

    assert _mode(data_dir) == 0o700
    assert _mode(data_dir.parent) == 0o700  # a missing parent is created private too
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    folders = [p for p in data_dir.rglob("*") if p.is_dir()]
    names = {p.name for p in files}
    assert {"anjian.db", "keyring.json", "sms.log", "x.jpg", "batches.sqlite"} <= names
    assert any(p.suffix == ".eml" for p in files)
    assert any(p.parent.name == "spool" for p in files)
    loose = {str(p.relative_to(data_dir)): oct(_mode(p)) for p in files if _mode(p) != 0o600}
    assert loose == {}
    open_folders = {
        str(p.relative_to(data_dir)): oct(_mode(p)) for p in folders if _mode(p) != 0o700
    }
    assert open_folders == {}

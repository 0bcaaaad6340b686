"""The master keyring file and ``anjian keys``: rotation re-wraps every data key, old data
stays readable, new writes use the new key versions, and the keyring stays private.

Rotation changes every key row of its database, so those tests run on a database of their
own (SQLite and PostgreSQL), never on the session's shared one.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from backend.auth import service as auth_service
from backend.cli.keys import keys
from backend.core.errors import ConfigurationError
from backend.migrate import seed, upgrade_relational
from backend.runtime import Runtime
from privacy.audit import Actor
from privacy.crypto import (
    KeyStore,
    PlatformDataKey,
    TenantDataKey,
    destroy_tenant_key,
    rotate_data_keys,
    sealed_version,
    unwrap_data_key,
    wrap_data_key,
)
from privacy.keyring import add_version, load_keyring
from tenants.scope import unscoped_session
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database, make_settings
from tests.factories import PASSWORD
from tests.privacy.test_crypto import add_worker, load_worker, new_tenant, raw_row

# --- the keyring file ----------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keyring_is_created_private_and_rotation_keeps_old_versions(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "keyring.json"
    first = load_keyring(path)
    assert mode(path) == 0o600
    assert [v.version for v in first.versions] == [1]

    rotated = add_version(path)
    assert [v.version for v in rotated.versions] == [1, 2]
    assert rotated.versions[0].key == first.versions[0].key
    assert rotated.current.key != first.current.key
    assert mode(path) == 0o600
    assert load_keyring(path).current.version == 2
    # Material derived from the old version is unchanged: what it protected stays readable.
    assert rotated.derive("data-key-wrap", 1) == first.derive("data-key-wrap")
    assert not list(path.parent.glob("*.tmp"))


def test_a_keyring_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    load_keyring(path)
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_keyring(path)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        add_version(path)


def test_rotating_a_missing_keyring_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        add_version(tmp_path / "absent.json")


def test_concurrent_rotations_lose_no_version(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    load_keyring(path)
    threads = [threading.Thread(target=add_version, args=(path,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keyring = load_keyring(path)
    assert [v.version for v in keyring.versions] == list(range(1, 8))
    assert len({v.key for v in keyring.versions}) == 7


def test_a_store_reads_keys_wrapped_under_a_version_added_after_it_started(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keyring.json"
    store = KeyStore(load_keyring(path), path)  # a server started before the rotation
    rotated = add_version(path)  # `anjian keys rotate` in another process
    data_key = os.urandom(32)
    wrapped = wrap_data_key(rotated.derive("data-key-wrap", 2), data_key, None, 1)
    assert store._wrapping_key(2) == rotated.derive("data-key-wrap", 2)
    assert unwrap_data_key(store._wrapping_key(2), wrapped, None, 1) == data_key
    with pytest.raises(ConfigurationError, match="version 3"):
        store._wrapping_key(3)


# --- rotation on a database of its own -----------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def own_db(
    request: pytest.FixtureRequest, tmp_path: Path, chdb_dir: Path
) -> AsyncIterator[Runtime]:
    url = create_pg_database(PG_ADMIN_URL) if request.param == "postgres" else None
    overrides = {} if url is None else {"ANJIAN_DATABASE_URL": url}
    rt = Runtime(make_settings(tmp_path, chdb_dir, **overrides))
    upgrade_relational(owner_engine=rt.owner_engine, keyring=rt.keyring)
    seed(owner_engine=rt.owner_engine)
    try:
        yield rt
    finally:
        await rt.close()
        if url is not None:
            drop_pg_database(PG_ADMIN_URL, url)


async def cli(rt: Runtime, *args: str) -> Result:
    """``anjian keys …`` as another process would run it: its own runtime and event loop."""
    return await asyncio.to_thread(CliRunner().invoke, keys, list(args), obj=rt.settings)


async def cli_json(rt: Runtime, *args: str) -> dict[str, Any]:
    done = await cli(rt, *args, "--json")
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert isinstance(payload, dict)
    return payload


async def key_rows(rt: Runtime) -> list[tuple[Any, ...]]:
    async with unscoped_session(rt.sessions) as session:
        tenant = await session.execute(
            select(
                TenantDataKey.tenant_id,
                TenantDataKey.version,
                TenantDataKey.master_version,
                TenantDataKey.wrapped_key,
            )
        )
        platform = await session.execute(
            select(
                PlatformDataKey.version,
                PlatformDataKey.master_version,
                PlatformDataKey.wrapped_key,
            )
        )
        return [tuple(r) for r in tenant] + [(None, *r) for r in platform]


async def test_rotation_rewraps_and_new_writes_use_new_keys(own_db: Runtime) -> None:
    rt = own_db
    tenant_id, owner = await new_tenant(rt, "rot")
    old_worker = await add_worker(rt, tenant_id, "旧员工", mobile="13800000111")
    before = {(t, v): w for t, v, _, w in await key_rows(rt)}
    assert set(before) == {(tenant_id, 1), (None, 1)}

    status = await cli_json(rt, "status")
    assert status["master"]["current"] == 1
    assert status["data_keys"]["by_master_version"] == {"1": 2}

    report = await cli_json(rt, "rotate")
    assert report == {
        "keyring": str(rt.settings.master_key_file),
        "master_version": 2,
        "rewrapped": 2,
        "issued": 2,
        "destroyed_tenants": 0,
    }
    keyring = load_keyring(rt.settings.master_key_file)
    assert [v.version for v in keyring.versions] == [1, 2]
    assert mode(rt.settings.master_key_file) == 0o600

    after = await key_rows(rt)
    assert {(t, v) for t, v, _, _ in after} == {
        (tenant_id, 1),
        (tenant_id, 2),
        (None, 1),
        (None, 2),
    }
    assert {m for _, _, m, _ in after} == {2}
    # Version 1 of each key was re-wrapped, not replaced: same key, new wrapping.
    assert all(w != before[(t, v)] for t, v, _, w in after if (t, v) in before)

    # This runtime started before the rotation; once its cache lapses it re-reads the keyring.
    rt.keys.forget_all()
    assert (await load_worker(rt, tenant_id, old_worker)).mobile == "13800000111"
    assert sealed_version((await raw_row(rt, "workers", old_worker))["name_enc"]) == 1
    new_worker = await add_worker(rt, tenant_id, "新员工")
    assert sealed_version((await raw_row(rt, "workers", new_worker))["name_enc"]) == 2
    assert (await load_worker(rt, tenant_id, new_worker)).name == "新员工"
    # The blind index is bound to the unchanging platform key version 1: sign-in still works.
    assert await auth_service.unscoped_login_in_own_transaction(
        sessions=rt.sessions, codec=rt.tokens, email=owner, password=PASSWORD, log2_n=rt.log2_n
    )
    newcomer = f"new.{uuid.uuid4().hex[:8]}@example.cn"
    async with rt.sessions() as session, session.begin():
        user = await auth_service.create_user(
            session=session, email=newcomer, password=PASSWORD, actor=Actor.system(), log2_n=10
        )
    assert sealed_version((await raw_row(rt, "users", user.id))["email_enc"]) == 2
    assert await auth_service.unscoped_login_in_own_transaction(
        sessions=rt.sessions, codec=rt.tokens, email=newcomer, password=PASSWORD, log2_n=rt.log2_n
    )

    status = await cli_json(rt, "status")
    assert status["master"]["current"] == 2
    assert status["data_keys"] | {"by_master_version": None} == {
        "tenants": 1,
        "tenant_key_versions": 2,
        "platform_key_versions": 2,
        "destroyed_tenants": 0,
        "by_master_version": None,
        "not_under_current_master": 0,
    }
    assert status["data_keys"]["by_master_version"] == {"2": 4}
    # No key material, only versions and dates.
    assert all(set(v) == {"version", "created_at"} for v in status["master"]["versions"])


async def test_rotation_skips_shredded_tenants_and_can_only_rewrap(own_db: Runtime) -> None:
    rt = own_db
    kept, _ = await new_tenant(rt, "kept")
    gone, _ = await new_tenant(rt, "gone")
    kept_worker = await add_worker(rt, kept, "留下")
    await add_worker(rt, gone, "离开")
    async with unscoped_session(rt.sessions) as session, session.begin():
        await destroy_tenant_key(session=session, tenant_id=gone, actor=Actor.system())

    report = await cli_json(rt, "rotate", "--rewrap-only")
    assert (report["master_version"], report["rewrapped"], report["issued"]) == (2, 2, 0)
    assert report["destroyed_tenants"] == 1
    rows = await key_rows(rt)
    assert [(v, m, w) for t, v, m, w in rows if t == gone] == [(1, None, None)]
    assert {(t, v) for t, v, _, _ in rows if t != gone} == {(kept, 1), (None, 1)}

    rt.keys.forget_all()
    assert (await load_worker(rt, kept, kept_worker)).name == "留下"
    added = await add_worker(rt, kept, "又来")
    assert sealed_version((await raw_row(rt, "workers", added))["name_enc"]) == 1

    text = await cli(rt, "status")
    assert text.exit_code == 0, text.output
    assert "current master version: 2" in text.stdout
    assert "crypto-shredded: 1" in text.stdout


async def test_in_process_rotation_takes_effect_at_once(own_db: Runtime) -> None:
    rt = own_db
    tenant_id, _ = await new_tenant(rt, "now")
    await add_worker(rt, tenant_id, "甲")
    add_version(rt.settings.master_key_file)
    async with unscoped_session(rt.sessions) as session, session.begin():
        report = await rotate_data_keys(session=session)
    assert (report.master_version, report.rewrapped, report.issued) == (2, 2, 2)
    worker = await add_worker(rt, tenant_id, "乙")  # no cache lapse needed here
    assert sealed_version((await raw_row(rt, "workers", worker))["name_enc"]) == 2


async def test_rotate_without_a_keyring_fails_clearly(tmp_path: Path, chdb_dir: Path) -> None:
    rt = Runtime(make_settings(tmp_path, chdb_dir))
    done = await cli(rt, "rotate")
    assert done.exit_code == 1
    assert "does not exist" in done.stderr
    assert done.stdout == ""
    assert not rt.settings.master_key_file.exists()

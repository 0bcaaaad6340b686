"""What creating and restoring a backup share: the stores they work on, progress, the keyring,
the audit entry and the refusals both make."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from backend.backup.archive import BackupRefused
from backend.core.errors import ConfigurationError
from backend.core.settings import Settings
from backend.telemetry.flusher import Flusher
from backend.telemetry.store import ClickHouseClient
from privacy.audit import Actor, record_sync
from privacy.keyring import Keyring, load_keyring


@dataclass(frozen=True)
class Stores:
    """The stores a backup reads and a restore fills, as the command line wires them.

    Each is opened by its function when the command gets to it (every call returns the same
    one), because the order matters: opening the SQLite database or embedded ClickHouse
    creates their files, which a restore first checks are absent; opening embedded ClickHouse
    is where a running server shows; and a running server holds the ingest spool."""

    settings: Settings
    owner_engine: Callable[[], Engine]
    clickhouse: Callable[[], ClickHouseClient]
    flusher: Callable[[], Flusher]


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


def record_backup_event(owner_engine: Engine, action: str, detail: dict[str, Any]) -> None:
    """A backup reads, and a restore writes, every tenant's data: both are on the trail."""
    with Session(owner_engine) as session, session.begin():
        record_sync(session, Actor.system(), action, object_type="backup", detail=detail)


def sealing_keyring(settings: Settings) -> Keyring:
    """The master keyring a backup is sealed with (and a restore opened with), which must
    exist; refused for a ClickHouse cluster, which has its own backups."""
    if settings.clickhouse_cluster:
        raise BackupRefused(
            "集群模式请使用 ClickHouse 自带的备份 / anjian backup covers a single ClickHouse "
            f"node; for a cluster ({settings.clickhouse_cluster}) use ClickHouse's own "
            "BACKUP ... ON CLUSTER for the telemetry"
        )
    try:
        return load_keyring(settings.master_key_file, create=False)
    except ConfigurationError as exc:
        raise BackupRefused(
            f"需要主密钥环文件 / {exc.message}. A backup is sealed with the master keyring: put "
            "the keyring file there, or point ANJIAN_MASTER_KEY_FILE at it"
        ) from None


def object_digest(key: bytes) -> Any:
    """The keyed fingerprint of one stored object's bytes."""
    return hashlib.blake2b(key=key, digest_size=16)

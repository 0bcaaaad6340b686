"""Which batches each device already delivered, remembered for 25 hours.

A batch id is *pending* from the moment a request reserves it until the flusher has written it
to ClickHouse; then it is recorded in a small SQLite file next to the spool. Pending ids are
rebuilt from the unflushed spool on start, so together the two sets cover every acknowledged
batch, and a crash between "in ClickHouse" and "recorded" only means the record is written
again on replay (the insert itself is deduplicated by ClickHouse).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from backend.core.files import touch_private

Key = tuple[bytes, bytes]  # (device id, batch id), raw UUID bytes
RETENTION_SECONDS = 25 * 3600


class BatchLedger:
    def __init__(self, path: Path) -> None:
        touch_private(path)  # its WAL and shared-memory files take the same 0600
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS batches (device BLOB NOT NULL, batch BLOB NOT NULL, "
            "accepted_at REAL NOT NULL, PRIMARY KEY (device, batch)) WITHOUT ROWID"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS batches_age ON batches (accepted_at)")
        self._lock = threading.Lock()
        self._pending: set[Key] = set()

    def reserve(self, key: Key) -> bool:
        """Claim a batch id for this request; False when the device already sent it."""
        with self._lock:
            if key in self._pending:
                return False
            row = self._db.execute(
                "SELECT 1 FROM batches WHERE device = ? AND batch = ?", key
            ).fetchone()
            if row is not None:
                return False
            self._pending.add(key)
            return True

    def unreserve(self, key: Key) -> None:
        """The request that reserved ``key`` was not acknowledged: the device may retry it."""
        with self._lock:
            self._pending.discard(key)

    def restore_pending(self, keys: Iterable[Key]) -> None:
        with self._lock:
            self._pending.update(keys)

    def record(self, keys: Iterable[Key], now: float | None = None) -> None:
        """Batches now in ClickHouse: remember them on disk and stop holding them in memory."""
        stamp = time.time() if now is None else now
        rows = [(device, batch, stamp) for device, batch in keys]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO batches VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")
            self._pending.difference_update((device, batch) for device, batch, _ in rows)

    def purge(self, now: float | None = None) -> int:
        cutoff = (time.time() if now is None else now) - RETENTION_SECONDS
        with self._lock:
            return self._db.execute("DELETE FROM batches WHERE accepted_at < ?", (cutoff,)).rowcount

    @property
    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        with self._lock:
            self._db.close()

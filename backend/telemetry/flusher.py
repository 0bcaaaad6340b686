"""The flusher: spool → ClickHouse, in large columnar inserts, exactly once.

It reads durable records from its checkpoint, builds one Native (columnar) block per table
from a run of records, and inserts it with a deduplication token derived from the run's spool
positions. Before inserting it writes that run down as its *intent*; after, it advances the
checkpoint. A crash in between replays exactly the same run with the same token, which
ClickHouse (``non_replicated_deduplication_window`` on every table, and
``deduplicate_blocks_in_dependent_materialized_views`` for the rollups) stores once.

While ClickHouse is unreachable the flusher retries with back-off and the spool grows; ingest
answers 503 once the spool reaches its limit, and everything drains by itself on recovery.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from clickhouse_connect.driver.client import Client

from backend.core.files import open_private
from backend.telemetry import records
from backend.telemetry.batches import BatchLedger
from backend.telemetry.spool import Position, Spool

log = logging.getLogger("anjian.flusher")

_DEDUP = {
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}


@dataclass
class FlusherStatus:
    healthy: bool = True
    last_error: str | None = None
    last_flush_at: float | None = None
    rows_flushed: int = 0
    inserts: int = 0


@dataclass
class _Run:
    spool_id: str
    start: Position
    end: Position
    readings: list[records.ReadingsRecord] = field(default_factory=list)
    events: list[records.EventsRecord] = field(default_factory=list)
    heartbeats: list[records.HeartbeatRecord] = field(default_factory=list)

    @property
    def token(self) -> str:
        return f"spool:{self.spool_id}:{self.start}-{self.end}"

    def batch_keys(self) -> list[tuple[bytes, bytes]]:
        keys = [(r.device_id, r.batch_id) for r in self.readings]
        keys += [(e.device_id, e.batch_id) for e in self.events]
        return keys

    @property
    def rows(self) -> int:
        return sum(len(r) for r in self.readings) + sum(len(e.events) for e in self.events)


class Checkpoint:
    """The flushed position and the run in flight, in a small file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.flushed = Position(1, 0)
        self.intent: tuple[Position, Position] | None = None
        if path.exists():
            data = json.loads(path.read_text())
            self.flushed = Position.parse(data["flushed"])
            if data.get("intent"):
                self.intent = (Position.parse(data["intent"][0]), Position.parse(data["intent"][1]))

    def save(self) -> None:
        data = {
            "flushed": str(self.flushed),
            "intent": None if self.intent is None else [str(p) for p in self.intent],
        }
        tmp = self.path.with_suffix(".tmp")
        with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_TRUNC), "w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


def _clickhouse_uuids(raw: np.ndarray) -> np.ndarray:
    """Big-endian UUID bytes → ClickHouse's wire layout (each 64-bit half little-endian)."""
    halves = raw.view(np.uint8).reshape(-1, 2, 8)[:, :, ::-1]
    return np.ascontiguousarray(halves).reshape(-1).view("V16")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode()
    return _varint(len(data)) + data


def native_block(rows: int, columns: list[tuple[str, str, np.ndarray]]) -> bytes:
    """A ClickHouse Native-format block: column after column, fixed-width values."""
    parts = [_varint(len(columns)), _varint(rows)]
    for name, type_name, values in columns:
        parts += [_string(name), _string(type_name), np.ascontiguousarray(values).tobytes()]
    return b"".join(parts)


def readings_block(run: list[records.ReadingsRecord]) -> tuple[int, bytes]:
    counts = np.fromiter((len(r) for r in run), dtype=np.int64, count=len(run))
    per_record = np.frombuffer(b"".join(r.tenant_id + r.site_id for r in run), dtype="V16").reshape(
        -1, 2
    )
    tenants = np.repeat(_clickhouse_uuids(np.ascontiguousarray(per_record[:, 0])), counts)
    sites = np.repeat(_clickhouse_uuids(np.ascontiguousarray(per_record[:, 1])), counts)
    sensors = _clickhouse_uuids(np.concatenate([r.sensor_ids for r in run]))
    stamps = np.concatenate([r.ts_ms for r in run]).astype("<i8", copy=False)
    values = np.concatenate([r.values for r in run]).astype("<f8", copy=False)
    retention = np.repeat(np.array([r.retention_days for r in run], dtype="<u2"), counts)
    total = int(counts.sum())
    return total, native_block(
        total,
        [
            ("tenant_id", "UUID", tenants),
            ("site_id", "UUID", sites),
            ("sensor_id", "UUID", sensors),
            ("ts", "DateTime64(3, 'UTC')", stamps),
            ("value", "Float64", values),
            ("retention_days", "UInt16", retention),
        ],
    )


def seen_block(
    readings: list[records.ReadingsRecord],
    events: list[records.EventsRecord],
    heartbeats: list[records.HeartbeatRecord],
) -> tuple[int, bytes]:
    """One "device seen" row per heartbeat and per batch of data."""
    ids: list[bytes] = []
    stamps: list[int] = []
    sources: list[str] = []
    for r in readings:
        ids.append(r.tenant_id + r.site_id + r.device_id)
        stamps.append(int(r.ts_ms.max()))
        sources.append("data")
    for e in events:
        ids.append(e.tenant_id + e.site_id + e.device_id)
        stamps.append(max(row.ts_ms for row in e.events))
        sources.append("data")
    for h in heartbeats:
        ids.append(h.tenant_id + h.site_id + h.device_id)
        stamps.append(h.ts_ms)
        sources.append("heartbeat")
    raw = np.frombuffer(b"".join(ids), dtype="V16").reshape(-1, 3)
    source_bytes = b"".join(_string(s) for s in sources)
    block = b"".join(
        [
            _varint(5),
            _varint(len(ids)),
            _string("tenant_id"),
            _string("UUID"),
            _clickhouse_uuids(np.ascontiguousarray(raw[:, 0])).tobytes(),
            _string("site_id"),
            _string("UUID"),
            _clickhouse_uuids(np.ascontiguousarray(raw[:, 1])).tobytes(),
            _string("device_id"),
            _string("UUID"),
            _clickhouse_uuids(np.ascontiguousarray(raw[:, 2])).tobytes(),
            _string("ts"),
            _string("DateTime64(3, 'UTC')"),
            np.asarray(stamps, dtype="<i8").tobytes(),
            _string("source"),
            _string("String"),
            source_bytes,
        ]
    )
    return len(ids), block


def insert_readings(client: Client, run: list[records.ReadingsRecord], token: str) -> int:
    """Insert a run of readings records as the flusher does: one Native block into
    ``readings`` (and, through its views, the rollups and latest values) and a device-seen
    row per record, each deduplicated by ``token``. Returns the readings inserted.

    ``anjian bench oversight`` writes its synthetic history through this, so what it measures
    was stored the way served readings are."""
    rows = _insert_readings(client, run, token)
    _insert_seen(client, run, [], [], token)
    return rows


def _insert_readings(client: Client, run: list[records.ReadingsRecord], token: str) -> int:
    rows, block = readings_block(run)
    client.raw_insert(
        "readings",
        None,
        insert_block=block,
        fmt="Native",
        settings={**_DEDUP, "insert_deduplication_token": f"{token}/readings"},
    )
    return rows


def _insert_seen(
    client: Client,
    readings: list[records.ReadingsRecord],
    events: list[records.EventsRecord],
    heartbeats: list[records.HeartbeatRecord],
    token: str,
) -> None:
    rows, block = seen_block(readings, events, heartbeats)
    if rows:
        client.raw_insert(
            "device_seen",
            None,
            insert_block=block,
            fmt="Native",
            settings={**_DEDUP, "insert_deduplication_token": f"{token}/seen"},
        )


class Flusher:
    def __init__(
        self,
        spool: Spool,
        client: Client,
        ledger: BatchLedger,
        state_path: Path,
        *,
        max_bytes: int = 16 << 20,
        linger: float = 0.2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spool = spool
        self.client = client  # replaceable: tests swap in a failing client
        self.ledger = ledger
        self.checkpoint = Checkpoint(state_path)
        self.max_bytes = max_bytes
        self.linger = linger
        self.status = FlusherStatus()
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._flushing = threading.Lock()  # one run at a time, whoever calls
        self._owners = 0
        self._owners_lock = threading.Lock()
        spool.release(self.checkpoint.flushed)
        self.ledger.restore_pending(self._unflushed_keys())

    def _unflushed_keys(self) -> list[tuple[bytes, bytes]]:
        keys = []
        for _, _, payload in self.spool.read(self.checkpoint.flushed, max_bytes=1 << 62):
            key = records.batch_key(records.decode(payload))
            if key is not None:
                keys.append(key)
        return keys

    def start(self) -> None:
        """Start the flushing thread; several owners may start it, the last stop stops it."""
        with self._owners_lock:
            self._owners += 1
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="flusher", daemon=True)
            self._thread.start()

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop after flushing what is durable (for at most ``drain_seconds``)."""
        with self._owners_lock:
            self._owners = max(0, self._owners - 1)
            if self._owners:
                return
        deadline = time.monotonic() + drain_seconds
        while (
            time.monotonic() < deadline
            and self.status.healthy
            and self.checkpoint.flushed < self.spool.durable
        ):
            time.sleep(0.05)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        backoff = 0.5
        next_purge = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_purge:  # forget batch ids older than the ledger keeps
                self.ledger.purge()
                next_purge = time.monotonic() + 600
            try:
                flushed = self.flush_once(wait=self.linger)
            except Exception as exc:  # ClickHouse down, disk trouble: keep the run, retry
                self.status.healthy = False
                self.status.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("flush failed, retrying in %.1f s: %s", backoff, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            if flushed:
                self.status.healthy = True
                self.status.last_error = None

    def flush_once(self, wait: float = 0.0) -> int:
        """Flush one run (the pending intent first); returns rows flushed."""
        with self._flushing:
            return self._flush_once(wait)

    def _flush_once(self, wait: float) -> int:
        if self.checkpoint.intent is None:
            if not self.spool.wait_for_data(self.checkpoint.flushed, timeout=max(wait, 0.001)):
                return 0
            if wait:
                self._stop.wait(wait)  # let a group of requests land in one insert
            run = self._collect(self.checkpoint.flushed, None)
            if run is None:
                return 0
            self.checkpoint.intent = (run.start, run.end)
            self.checkpoint.save()
        else:
            start, end = self.checkpoint.intent
            run = self._collect(start, end)
            if run is None or run.end != end:
                raise RuntimeError(f"spool run {start}-{end} cannot be read back whole")
        self._insert(run)
        self.ledger.record(run.batch_keys())
        self.checkpoint.flushed = run.end
        self.checkpoint.intent = None
        self.checkpoint.save()
        self.spool.release(run.end)
        self.status.last_flush_at = self._clock()
        self.status.rows_flushed += run.rows
        return run.rows

    def _collect(self, start: Position, until: Position | None) -> _Run | None:
        run: _Run | None = None
        for begin, end, payload in self.spool.read(start, until=until, max_bytes=self.max_bytes):
            if run is None:
                run = _Run(self.spool.id, begin, end)
            run.end = end
            record = records.decode(payload)
            if isinstance(record, records.ReadingsRecord):
                run.readings.append(record)
            elif isinstance(record, records.EventsRecord):
                run.events.append(record)
            else:
                run.heartbeats.append(record)
        return run

    def _insert(self, run: _Run) -> None:
        settings = {**_DEDUP}
        if run.readings:
            _insert_readings(self.client, run.readings, run.token)
            self.status.inserts += 1
        if run.events:
            self._insert_events(run, settings)
        _insert_seen(self.client, run.readings, run.events, run.heartbeats, run.token)

    def _insert_events(self, run: _Run, settings: dict[str, object]) -> None:
        columns: list[list[object]] = [[] for _ in range(10)]
        for record in run.events:
            for row in record.events:
                values = (
                    uuid.UUID(bytes=record.tenant_id),
                    uuid.UUID(bytes=record.site_id),
                    uuid.UUID(bytes=record.device_id),
                    None if row.sensor_id is None else uuid.UUID(bytes=row.sensor_id),
                    row.type,
                    datetime.fromtimestamp(row.ts_ms / 1000, UTC),
                    row.attributes,
                    row.snapshot,
                    uuid.UUID(bytes=record.batch_id),
                    record.retention_days,
                )
                for column, value in zip(columns, values, strict=True):
                    column.append(value)
        self.client.insert(
            "events",
            columns,
            column_oriented=True,
            column_names=[
                "tenant_id",
                "site_id",
                "device_id",
                "sensor_id",
                "type",
                "ts",
                "attributes",
                "snapshot",
                "batch_id",
                "retention_days",
            ],
            settings={**settings, "insert_deduplication_token": f"{run.token}/events"},
        )

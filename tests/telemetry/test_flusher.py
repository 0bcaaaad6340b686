"""The flusher: spool → ClickHouse exactly once, through crashes and an unreachable store.

Each test has a spool of its own in tmp and writes into the session's ClickHouse under fresh
tenant, device and sensor ids, so it counts only its own rows.

Every spool here starts at a random segment number. Flush runs are deduplicated by a token made
of spool positions only (``spool:<start>-<end>/<table>``), and every fresh spool starts at 1:0,
so two spools writing the same ClickHouse can mint the same token for different data: that is
``test_two_spools_never_share_a_dedup_token``. The random start keeps the other tests about
what they test.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backend.runtime import Runtime
from backend.telemetry import records
from backend.telemetry.batches import BatchLedger
from backend.telemetry.flusher import Checkpoint, Flusher
from backend.telemetry.spool import Spool
from tests.ingest_helpers import FailingClient

Stats = tuple[int, float, float, float, float]  # count, sum, min, max, last


@dataclass
class Source:
    """A device of a tenant of its own, with ``sensors`` sensors, and what it sent."""

    sensors: int = 2
    tenant: uuid.UUID = field(default_factory=uuid.uuid4)
    site: uuid.UUID = field(default_factory=uuid.uuid4)
    device: uuid.UUID = field(default_factory=uuid.uuid4)
    sent: dict[uuid.UUID, list[tuple[int, float]]] = field(default_factory=dict)
    batches: list[bytes] = field(default_factory=list)
    events: int = 0
    seen: int = 0  # device_seen rows: one per record

    def __post_init__(self) -> None:
        self.ids = [uuid.uuid4() for _ in range(self.sensors)]
        self.clock = int(time.time() * 1000) - 120_000

    def readings(self, per_sensor: int) -> bytes:
        sensor_ids, stamps, values = [], [], []
        for sensor in self.ids:
            for _ in range(per_sensor):
                self.clock += 1
                value = float(len(stamps) % 97) / 4
                sensor_ids.append(sensor.bytes)
                stamps.append(self.clock)
                values.append(value)
                self.sent.setdefault(sensor, []).append((self.clock, value))
        batch = uuid.uuid4()
        self.batches.append(batch.bytes)
        self.seen += 1
        return records.encode_readings(
            tenant_id=self.tenant,
            site_id=self.site,
            device_id=self.device,
            batch_id=batch,
            retention_days=365,
            sensor_ids=sensor_ids,
            ts_ms=stamps,
            values=values,
        )

    def event_batch(self, count: int) -> bytes:
        batch = uuid.uuid4()
        self.batches.append(batch.bytes)
        self.events += count
        self.seen += 1
        rows = [
            records.EventRow(
                "ppe.no_helmet", self.ids[0].bytes, self.clock - i, '{"zone":"A"}', None
            )
            for i in range(count)
        ]
        return records.encode_events(
            records.EventsRecord(
                self.tenant.bytes, self.site.bytes, self.device.bytes, batch.bytes, 365, rows
            )
        )

    def heartbeat(self) -> bytes:
        self.seen += 1
        return records.encode_heartbeat(
            tenant_id=self.tenant, site_id=self.site, device_id=self.device, ts_ms=self.clock
        )

    def expected(self) -> dict[uuid.UUID, Stats]:
        out = {}
        for sensor, rows in self.sent.items():
            values = [v for _, v in rows]
            last = max(rows)[1]
            out[sensor] = (len(rows), sum(values), min(values), max(values), last)
        return out

    @property
    def keys(self) -> list[tuple[bytes, bytes]]:
        return [(self.device.bytes, batch) for batch in self.batches]


@dataclass
class Rig:
    """One spool, ledger and flusher on a directory; ``restart`` is a new process on it."""

    directory: Path
    rt: Runtime
    max_bytes: int = 16 << 20

    def __post_init__(self) -> None:
        self._open()

    def _open(self) -> None:
        self.spool = Spool(self.directory)
        self.ledger = BatchLedger(self.directory / "batches.sqlite")
        self.flusher = Flusher(
            self.spool,
            self.rt.clickhouse,
            self.ledger,
            self.directory / "flushed.json",
            max_bytes=self.max_bytes,
        )

    def restart(self) -> None:
        self.close()
        self._open()

    def close(self) -> None:
        self.spool.close()
        self.ledger.close()

    def drain(self) -> int:
        """Flush until nothing is left; returns the number of runs."""
        runs = 0
        while self.flusher.flush_once():
            runs += 1
        return runs


def seed_random_start(directory: Path) -> None:
    """Start the spool at a random segment (see the module docstring)."""
    directory.mkdir(parents=True)
    number = secrets.randbelow(10**9) + 10
    (directory / f"{number:010d}.spool").touch()
    (directory / "flushed.json").write_text(json.dumps({"flushed": f"{number}:0", "intent": None}))


@pytest.fixture
def rig(tmp_path: Path, runtime: Runtime) -> Iterator[Rig]:
    seed_random_start(tmp_path / "spool")
    rig = Rig(tmp_path / "spool", runtime, max_bytes=6000)  # a few records per run
    yield rig
    rig.close()


def rows(rt: Runtime, sql: str, sensors: list[uuid.UUID]) -> dict[uuid.UUID, tuple[Any, ...]]:
    result = rt.clickhouse.query(sql, parameters={"s": [str(s) for s in sensors]}).result_rows
    return {row[0]: tuple(row[1:]) for row in result}


def stored(rt: Runtime, source: Source) -> dict[str, dict[uuid.UUID, tuple[Any, ...]]]:
    """Per-sensor (count, sum, min, max, last) from raw, both rollups and sensor_latest."""
    where = "WHERE sensor_id IN {s:Array(UUID)} GROUP BY sensor_id"
    rollup = (
        "SELECT sensor_id, sum(count), sum(sum_value), min(min_value), max(max_value), "
        "argMaxMerge(last_value) FROM {table} " + where
    )
    return {
        "readings": rows(
            rt,
            "SELECT sensor_id, count(), sum(value), min(value), max(value), argMax(value, ts) "
            "FROM readings " + where,
            source.ids,
        ),
        "readings_1m": rows(rt, rollup.replace("{table}", "readings_1m"), source.ids),
        "readings_1h": rows(rt, rollup.replace("{table}", "readings_1h"), source.ids),
        "sensor_latest": rows(
            rt,
            "SELECT sensor_id, toUnixTimestamp64Milli(max(last_ts)), argMaxMerge(last_value) "
            "FROM sensor_latest " + where,
            source.ids,
        ),
    }


def device_counts(rt: Runtime, source: Source) -> tuple[int, int]:
    """(events rows, device_seen rows) of the source's device."""
    query = "SELECT count() FROM {table} WHERE device_id = {d:UUID}"
    counts = [
        rt.clickhouse.query(query.replace("{table}", table), parameters={"d": str(source.device)})
        for table in ("events", "device_seen")
    ]
    return int(counts[0].result_rows[0][0]), int(counts[1].result_rows[0][0])


def assert_exactly_once(rt: Runtime, source: Source) -> None:
    expected = source.expected()
    tables = stored(rt, source)
    for table in ("readings", "readings_1m", "readings_1h"):
        assert tables[table] == expected, table
    latest = {s: (max(r)[0], max(r)[1]) for s, r in source.sent.items()}
    assert tables["sensor_latest"] == latest
    assert device_counts(rt, source) == (source.events, source.seen)


async def fill(rig: Rig, source: Source, records_: int = 6) -> None:
    for i in range(records_):
        await rig.spool.append(source.readings(per_sensor=40 + i))
        if i % 3 == 1:
            await rig.spool.append(source.event_batch(3))
            await rig.spool.append(source.heartbeat())


# --- the happy path -----------------------------------------------------------------------------


async def test_records_land_exactly_once_in_every_table(rig: Rig) -> None:
    source = Source()
    await fill(rig, source)
    assert rig.drain() > 1  # several runs, several inserts
    assert_exactly_once(rig.rt, source)
    assert rig.spool.unflushed_bytes() == 0
    assert rig.flusher.checkpoint.flushed == rig.spool.durable
    assert rig.flusher.flush_once() == 0
    assert_exactly_once(rig.rt, source)


async def test_batch_ids_move_from_pending_to_the_ledger(rig: Rig) -> None:
    source = Source()
    payloads = [source.readings(10), source.event_batch(2)]
    for key, payload in zip(source.keys, payloads, strict=True):
        assert rig.ledger.reserve(key)  # as ingest does before appending
        await rig.spool.append(payload)
    assert rig.ledger.pending == 2
    rig.drain()
    assert rig.ledger.pending == 0
    assert not any(rig.ledger.reserve(key) for key in source.keys)  # now from the file
    rig.restart()
    assert not any(rig.ledger.reserve(key) for key in source.keys)


async def test_a_restart_remembers_batches_still_in_the_spool(rig: Rig) -> None:
    source = Source()
    for _ in range(2):
        payload = source.readings(5)
        assert rig.ledger.reserve(source.keys[-1])
        await rig.spool.append(payload)
    rig.restart()  # nothing was flushed; the ledger file knows none of them
    assert rig.ledger.pending == 2
    assert not any(rig.ledger.reserve(key) for key in source.keys)
    rig.drain()
    assert_exactly_once(rig.rt, source)


# --- crashes ------------------------------------------------------------------------------------


async def test_a_crash_between_insert_and_checkpoint_replays_exactly_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Source()
    await rig.spool.append(source.readings(per_sensor=20))
    await rig.spool.append(source.event_batch(2))
    saves = 0
    real_save = Checkpoint.save

    def crash_after_insert(self: Checkpoint) -> None:
        nonlocal saves
        saves += 1
        if saves == 2:  # 1: the intent, before the insert; 2: the checkpoint, after it
            raise OSError("killed before the checkpoint was written")
        real_save(self)

    monkeypatch.setattr(Checkpoint, "save", crash_after_insert)
    with pytest.raises(OSError, match="killed"):
        rig.flusher.flush_once()
    monkeypatch.setattr(Checkpoint, "save", real_save)

    await fill(rig, source)  # more arrives before the restart: the replayed run must not grow
    rig.restart()
    assert rig.drain() > 1
    assert_exactly_once(rig.rt, source)
    rig.restart()  # and once more from the final checkpoint: nothing is flushed again
    assert rig.drain() == 0
    assert_exactly_once(rig.rt, source)


class FailsEventInserts:
    """Readings and device_seen go in; the events insert fails (a crash mid-run)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def raw_insert(self, *args: Any, **kwargs: Any) -> Any:
        return self.real.raw_insert(*args, **kwargs)

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("connection reset during the events insert")


async def test_a_run_half_inserted_is_replayed_exactly_once(rig: Rig) -> None:
    source = Source()
    await rig.spool.append(source.readings(50))
    await rig.spool.append(source.event_batch(4))
    await rig.spool.append(source.heartbeat())
    rig.flusher.client = FailsEventInserts(rig.rt.clickhouse)  # type: ignore[assignment]
    with pytest.raises(ConnectionError):
        rig.flusher.flush_once()
    rig.restart()
    rig.drain()
    assert_exactly_once(rig.rt, source)


# --- ClickHouse unavailable ---------------------------------------------------------------------


async def test_clickhouse_down_keeps_everything_until_it_returns(rig: Rig) -> None:
    source = Source()
    failing = FailingClient()
    rig.flusher.client = failing  # type: ignore[assignment]
    for _ in range(3):  # ingest goes on: every append is acknowledged
        await fill(rig, source, records_=3)
        with pytest.raises(ConnectionError):
            rig.flusher.flush_once()
        assert rig.spool.unflushed_bytes() > 0
    assert failing.attempts >= 3
    assert stored(rig.rt, source)["readings"] == {}
    rig.flusher.client = rig.rt.clickhouse
    rig.drain()
    assert_exactly_once(rig.rt, source)
    assert rig.spool.unflushed_bytes() == 0


# --- dedup tokens across spools -----------------------------------------------------------------


async def test_two_spools_never_share_a_dedup_token(tmp_path: Path, runtime: Runtime) -> None:
    """Two ingest processes (or one whose spool directory was recreated) writing the same
    ClickHouse: identical positions in their spools must not make ClickHouse drop data."""
    sources = [Source(sensors=1), Source(sensors=1)]
    for number, source in enumerate(sources):
        rig = Rig(tmp_path / f"spool-{number}", runtime)
        try:
            await rig.spool.append(source.readings(per_sensor=7))  # same size, other data
            await rig.spool.append(source.heartbeat())
            rig.drain()
        finally:
            rig.close()
    for source in sources:
        assert_exactly_once(runtime, source)

"""The write-ahead spool under ingest: what it hands back, what survives a crash, its limits."""

from __future__ import annotations

import asyncio
import itertools
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from backend.telemetry import spool as spool_module
from backend.telemetry.spool import Position, Spool, SpoolClosed, SpoolFull

HEADER = 8  # length + crc32


def payloads(count: int, size: Callable[[int], int] = lambda i: 10 + 7 * i) -> list[bytes]:
    return [bytes([i % 251]) * size(i) for i in range(count)]


@contextmanager
def opened(directory: Path, **options: int) -> Iterator[Spool]:
    spool = Spool(directory, **options)
    try:
        yield spool
    finally:
        spool.close()


START = Position(1, 0)


def everything(spool: Spool, start: Position = START) -> list[bytes]:
    return [payload for _, _, payload in spool.read(start, max_bytes=1 << 40)]


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.spool"))


async def test_round_trip_across_segments_and_a_reopen(tmp_path: Path) -> None:
    records = payloads(40)
    with opened(tmp_path, segment_bytes=300) as spool:
        ends = [await spool.append(p) for p in records]
        read = list(spool.read(Position(1, 0), max_bytes=1 << 40))
        durable = spool.durable
    assert len(segment_files(tmp_path)) > 3
    assert [p for _, _, p in read] == records
    assert [end for _, end, _ in read] == ends
    assert durable == ends[-1]
    for (_, end, _), (start, _, _) in itertools.pairwise(read):
        # the next record starts where this one ended, or at the top of the next segment
        assert start == end or start == Position(end.segment + 1, 0)
    with opened(tmp_path, segment_bytes=300) as again:
        assert again.durable == durable
        assert everything(again) == records
        await again.append(b"after the reopen")
        assert everything(again) == [*records, b"after the reopen"]


async def test_read_stops_at_until_and_after_max_bytes(tmp_path: Path) -> None:
    records = payloads(10, size=lambda i: 100)
    with opened(tmp_path, segment_bytes=350) as spool:
        ends = [await spool.append(p) for p in records]
        assert [p for _, _, p in spool.read(Position(1, 0), until=ends[3])] == records[:4]
        # at least one whole record, never a partial one, stopping once the budget is spent
        assert [p for _, _, p in spool.read(Position(1, 0), max_bytes=250)] == records[:3]
        assert [p for _, _, p in spool.read(ends[4], max_bytes=1 << 30)] == records[5:]


async def test_concurrent_appends_share_a_sync_and_keep_their_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: appends arriving while one sync runs go out together with the next."""
    gate = threading.Event()
    syncs = 0
    real_sync = os.fdatasync

    def gated_sync(fd: int) -> None:
        nonlocal syncs
        syncs += 1
        assert gate.wait(10), "the test never opened the gate"
        real_sync(fd)

    monkeypatch.setattr(spool_module.os, "fdatasync", gated_sync)
    records = payloads(200, size=lambda i: 50)
    with opened(tmp_path) as spool:
        tasks = [asyncio.create_task(spool.append(p)) for p in records]
        await asyncio.sleep(0)  # every task has queued its record; the first sync is held
        gate.set()
        ends = await asyncio.gather(*tasks)
        assert everything(spool) == records
    assert ends == sorted(ends) and len(set(ends)) == len(ends)
    assert 1 <= syncs <= 2, f"{syncs} syncs for {len(records)} appends: no group commit"


async def test_an_append_waits_for_its_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acknowledged means on disk: ``append`` does not return before the data is synced."""
    gate = threading.Event()
    real_sync = os.fdatasync

    def gated_sync(fd: int) -> None:
        assert gate.wait(10)
        real_sync(fd)

    monkeypatch.setattr(spool_module.os, "fdatasync", gated_sync)
    with opened(tmp_path) as spool:
        task = asyncio.create_task(spool.append(b"reading"))
        done, _ = await asyncio.wait([task], timeout=0.3)
        assert not done, "append returned before its data was synced"
        assert everything(spool) == []  # nothing durable is visible to the flusher yet
        gate.set()
        await task
        assert everything(spool) == [b"reading"]


@pytest.mark.parametrize(
    "tail",
    [
        struct.pack("<II", 100, 0) + b"cut short",  # header promises more than was written
        b"\x07\x00\x00",  # a partial header
        struct.pack("<II", 5, zlib.crc32(b"right") ^ 1) + b"wrong",  # whole, bad checksum
    ],
    ids=["partial-payload", "partial-header", "bad-crc"],
)
async def test_a_torn_tail_is_truncated_on_reopen(tmp_path: Path, tail: bytes) -> None:
    records = payloads(5)
    with opened(tmp_path) as spool:
        for p in records:
            await spool.append(p)
        durable = spool.durable
    last = segment_files(tmp_path)[-1]
    with last.open("ab") as handle:
        handle.write(tail)
    with opened(tmp_path) as spool:
        assert spool.durable == durable
        assert last.stat().st_size == durable.offset
        assert everything(spool) == records
        end = await spool.append(b"next")
        assert end == Position(durable.segment, durable.offset + HEADER + 4)
        assert everything(spool) == [*records, b"next"]


async def test_corruption_in_the_middle_raises_on_read(tmp_path: Path) -> None:
    records = payloads(12, size=lambda i: 100)
    with opened(tmp_path, segment_bytes=300) as spool:
        for p in records:
            await spool.append(p)
        first = segment_files(tmp_path)[0]
        data = bytearray(first.read_bytes())
        data[HEADER + 100 + HEADER + 5] ^= 0xFF  # a payload byte of the second record
        first.write_bytes(bytes(data))
        with pytest.raises(ValueError, match="corrupt"):
            everything(spool)
    with opened(tmp_path, segment_bytes=300) as again, pytest.raises(ValueError, match="corrupt"):
        everything(again)  # an older segment is not "a torn tail": never silently dropped


async def test_release_deletes_only_wholly_flushed_segments(tmp_path: Path) -> None:
    records = payloads(12, size=lambda i: 100)
    with opened(tmp_path, segment_bytes=300) as spool:
        ends = [await spool.append(p) for p in records]
        segments = spool.segments()
        assert segments == [1, 2, 3, 4]  # three records of 108 bytes per segment
        flushed = ends[7]  # the second record of segment 3
        assert flushed.segment == 3
        spool.release(flushed)
        assert spool.segments() == [3, 4]
        assert [p for _, _, p in spool.read(flushed)] == records[8:]
        spool.release(spool.durable)  # all flushed: the segment being written stays
        assert spool.segments() == [4]
        await spool.append(b"more")
        assert [p for _, _, p in spool.read(ends[-1])] == [b"more"]


async def test_unflushed_bytes(tmp_path: Path) -> None:
    records = payloads(12, size=lambda i: 100)
    with opened(tmp_path, segment_bytes=300) as spool:
        assert spool.unflushed_bytes() == 0
        ends = [await spool.append(p) for p in records]
        assert spool.unflushed_bytes() == 12 * (HEADER + 100)
        spool.release(ends[4])
        assert spool.unflushed_bytes() == 7 * (HEADER + 100)
        spool.release(ends[-1])
        assert spool.unflushed_bytes() == 0


async def test_the_spool_refuses_appends_at_its_limit(tmp_path: Path) -> None:
    record = b"x" * 292  # 300 bytes on disk
    with opened(tmp_path, max_unflushed_bytes=1000) as spool:
        for _ in range(4):  # 0, 300, 600, 900 unflushed before each: all below the limit
            await spool.append(record)
        with pytest.raises(SpoolFull):
            await spool.append(record)
        assert everything(spool) == [record] * 4
        spool.release(spool.durable)  # the flusher caught up
        await spool.append(record)
        assert spool.unflushed_bytes() == 300


async def test_a_closed_spool_refuses_appends(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.close()
    with pytest.raises(SpoolClosed):
        await spool.append(b"late")

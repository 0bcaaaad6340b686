"""The write-ahead spool: what "acknowledged" stands on.

Records are appended to numbered segment files as ``[length u32][crc32 u32][payload]`` and
made durable with ``fdatasync`` before the caller is answered. One writer thread does all the
writing and group-commits: every append waiting while one sync runs goes out with the next
sync, so throughput holds while each request still waits for its own data to reach the disk.

A reader (the flusher) reads only what is durable, from a position ``(segment, offset)``;
``release`` deletes segments that are wholly behind a flushed position. On start the last
segment is scanned and a torn tail (a record cut short by a crash) is truncated: that record
was never acknowledged.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import queue
import struct
import threading
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from backend.core.errors import Overloaded, StoreUnavailable
from backend.core.files import open_private, private_dir

_HEADER = struct.Struct("<II")  # payload length, crc32 of the payload
_SEGMENT = "{:010d}.spool"
MAX_RECORD_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, order=True)
class Position:
    segment: int
    offset: int

    def __str__(self) -> str:
        return f"{self.segment}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> Position:
        segment, offset = text.split(":")
        return cls(int(segment), int(offset))


class SpoolFull(Overloaded):
    """The spool holds its limit of unflushed bytes; ingest must wait for the flusher."""


class SpoolClosed(Exception):
    pass


class SpoolBusy(StoreUnavailable):
    """Another process has this spool open: one writer per spool directory."""


@dataclass
class _Append:
    payload: bytes
    future: asyncio.Future[Position]
    loop: asyncio.AbstractEventLoop


def _segment_path(directory: Path, number: int) -> Path:
    return directory / _SEGMENT.format(number)


def _open_segment(path: Path) -> BinaryIO:
    return os.fdopen(open_private(path, os.O_WRONLY | os.O_APPEND), "ab")


def _scan_valid_end(path: Path) -> int:
    """Offset just past the last whole, checksummed record of a segment file."""
    end = 0
    with path.open("rb") as handle:
        while True:
            header = handle.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return end
            length, crc = _HEADER.unpack(header)
            payload = handle.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return end
            end += _HEADER.size + length


class Spool:
    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        max_unflushed_bytes: int = 1024 * 1024 * 1024,
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.max_unflushed_bytes = max_unflushed_bytes
        private_dir(directory)  # readings waiting for the store: the owner's alone
        self._lock_file = os.fdopen(open_private(directory / "LOCK", os.O_RDWR | os.O_APPEND), "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise SpoolBusy(
                f"the ingest spool {directory} is in use by another Anjian process"
            ) from None
        self.id = self._identity()
        segments = self.segments()
        if segments:
            last = segments[-1]
            path = _segment_path(directory, last)
            end = _scan_valid_end(path)
            if end != path.stat().st_size:
                with path.open("r+b") as handle:
                    handle.truncate(end)
                    os.fsync(handle.fileno())
            self._segment, self._offset = last, end
        else:
            self._segment, self._offset = 1, 0
        self._durable = Position(self._segment, self._offset)
        self._flushed = Position(segments[0] if segments else 1, 0)
        self._file = _open_segment(_segment_path(directory, self._segment))
        self._queue: queue.Queue[_Append | None] = queue.Queue()
        self._changed = threading.Condition()
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name="spool-writer", daemon=True)
        self._writer.start()

    def _identity(self) -> str:
        """A random id made once per spool directory: it tells two spools' positions apart
        wherever they meet (ClickHouse deduplication tokens)."""
        path = self.directory / "SPOOL_ID"
        if path.exists():
            return path.read_text().strip()
        identity = uuid.uuid4().hex
        tmp = path.with_suffix(".tmp")
        with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_TRUNC), "w") as handle:
            handle.write(identity)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return identity

    # -- writing -----------------------------------------------------------------------------

    async def append(self, payload: bytes) -> Position:
        """Append one record; returns once it is on disk (its end position)."""
        if self._closed:
            raise SpoolClosed("the spool is closed")
        if len(payload) > MAX_RECORD_BYTES:
            raise ValueError("record too large for the spool")
        if self.unflushed_bytes() >= self.max_unflushed_bytes:
            raise SpoolFull(f"spool holds {self.unflushed_bytes()} unflushed bytes")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Position] = loop.create_future()
        self._queue.put(_Append(payload, future, loop))
        return await future

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while True:  # everything that queued up while the last sync ran
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                group.append(item)
            try:
                ends = self._write_group(group)
            except Exception as exc:  # a disk error fails every waiting append
                for item in group:
                    item.loop.call_soon_threadsafe(_fail, item.future, exc)
                continue
            for item, end in zip(group, ends, strict=True):
                item.loop.call_soon_threadsafe(_resolve, item.future, end)

    def _write_group(self, group: list[_Append]) -> list[Position]:
        ends: list[Position] = []
        for item in group:
            if self._offset >= self.segment_bytes:
                self._rotate()
            record = _HEADER.pack(len(item.payload), zlib.crc32(item.payload)) + item.payload
            self._file.write(record)
            self._offset += len(record)
            ends.append(Position(self._segment, self._offset))
        self._file.flush()
        os.fdatasync(self._file.fileno())
        with self._changed:
            self._durable = Position(self._segment, self._offset)
            self._changed.notify_all()
        return ends

    def _rotate(self) -> None:
        self._file.flush()
        os.fdatasync(self._file.fileno())
        self._file.close()
        self._segment += 1
        self._offset = 0
        self._file = _open_segment(_segment_path(self.directory, self._segment))
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new file's name is durable too
        finally:
            os.close(dir_fd)

    # -- reading -----------------------------------------------------------------------------

    def segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob("*.spool"))

    @property
    def durable(self) -> Position:
        return self._durable

    def wait_for_data(self, after: Position, timeout: float) -> bool:
        """Block until something durable lies beyond ``after`` (or the timeout passes)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._durable > after or self._closed, timeout)

    def read(
        self, start: Position, *, until: Position | None = None, max_bytes: int = 32 << 20
    ) -> Iterator[tuple[Position, Position, bytes]]:
        """Durable records from ``start`` as ``(start, end, payload)``, stopping at ``until``
        (exclusive, a record boundary) or once ``max_bytes`` of payload have been read."""
        limit = self._durable if until is None else min(until, self._durable)
        position, read_bytes = start, 0
        while position < limit and read_bytes < max_bytes:
            path = _segment_path(self.directory, position.segment)
            segment_end = limit.offset if position.segment == limit.segment else None
            if not path.exists():
                raise FileNotFoundError(f"spool segment {path.name} is missing")
            with path.open("rb") as handle:
                handle.seek(position.offset)
                offset = position.offset
                while (segment_end is None or offset < segment_end) and read_bytes < max_bytes:
                    header = handle.read(_HEADER.size)
                    if len(header) < _HEADER.size:
                        break
                    length, crc = _HEADER.unpack(header)
                    payload = handle.read(length)
                    if len(payload) < length or zlib.crc32(payload) != crc:
                        raise ValueError(f"spool segment {path.name} is corrupt at {offset}")
                    end = offset + _HEADER.size + length
                    yield (
                        Position(position.segment, offset),
                        Position(position.segment, end),
                        payload,
                    )
                    offset, read_bytes = end, read_bytes + length
            if position.segment == limit.segment or read_bytes >= max_bytes:
                return
            position = Position(position.segment + 1, 0)

    def release(self, flushed: Position) -> None:
        """Everything before ``flushed`` is in ClickHouse: drop the segments wholly behind it."""
        self._flushed = flushed
        for number in self.segments():
            if number < flushed.segment and number != self._segment:
                _segment_path(self.directory, number).unlink(missing_ok=True)

    def unflushed_bytes(self) -> int:
        if self._flushed.segment == self._durable.segment:
            return max(0, self._durable.offset - self._flushed.offset)
        total = self._durable.offset
        for number in range(self._flushed.segment, self._durable.segment):
            path = _segment_path(self.directory, number)
            if path.exists():
                size = path.stat().st_size
                total += size - (self._flushed.offset if number == self._flushed.segment else 0)
        return total

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join(timeout=10)
        with self._changed:
            self._changed.notify_all()
        self._file.close()
        self._lock_file.close()


def _resolve(future: asyncio.Future[Position], value: Position) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Position], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)

"""Spool record codec: what one accepted request becomes on disk, and back.

Readings are stored column-wise (sensor ids, epoch-millisecond timestamps, values as packed
arrays), so the flusher turns a run of records into ClickHouse columns with numpy, without a
Python object per reading.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

import msgspec
import numpy as np

KIND_READINGS = 1
KIND_EVENTS = 2
KIND_HEARTBEAT = 3

_READINGS = struct.Struct("<B16s16s16s16sHI")  # kind, tenant, site, device, batch, retention, n
_HEARTBEAT = struct.Struct("<B16s16s16sq")  # kind, tenant, site, device, ts (epoch ms)


@dataclass(frozen=True)
class ReadingsRecord:
    tenant_id: bytes  # 16 raw UUID bytes
    site_id: bytes
    device_id: bytes
    batch_id: bytes
    retention_days: int
    sensor_ids: np.ndarray  # V16, big-endian UUID bytes
    ts_ms: np.ndarray  # int64
    values: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.ts_ms)


class EventRow(msgspec.Struct, array_like=True):
    type: str
    sensor_id: bytes | None
    ts_ms: int
    attributes: str  # JSON text
    snapshot: str | None


class EventsRecord(msgspec.Struct, array_like=True):
    tenant_id: bytes
    site_id: bytes
    device_id: bytes
    batch_id: bytes
    retention_days: int
    events: list[EventRow]


@dataclass(frozen=True)
class HeartbeatRecord:
    tenant_id: bytes
    site_id: bytes
    device_id: bytes
    ts_ms: int


Record = ReadingsRecord | EventsRecord | HeartbeatRecord


def encode_readings(
    *,
    tenant_id: uuid.UUID,
    site_id: uuid.UUID,
    device_id: uuid.UUID,
    batch_id: uuid.UUID,
    retention_days: int,
    sensor_ids: list[bytes],
    ts_ms: list[int],
    values: list[float],
) -> bytes:
    header = _READINGS.pack(
        KIND_READINGS,
        tenant_id.bytes,
        site_id.bytes,
        device_id.bytes,
        batch_id.bytes,
        retention_days,
        len(values),
    )
    return b"".join(
        (
            header,
            b"".join(sensor_ids),
            np.asarray(ts_ms, dtype="<i8").tobytes(),
            np.asarray(values, dtype="<f8").tobytes(),
        )
    )


_EVENTS_ENCODER = msgspec.msgpack.Encoder()
_EVENTS_DECODER = msgspec.msgpack.Decoder(EventsRecord)


def encode_events(record: EventsRecord) -> bytes:
    return bytes([KIND_EVENTS]) + _EVENTS_ENCODER.encode(record)


def encode_heartbeat(
    *, tenant_id: uuid.UUID, site_id: uuid.UUID, device_id: uuid.UUID, ts_ms: int
) -> bytes:
    return _HEARTBEAT.pack(KIND_HEARTBEAT, tenant_id.bytes, site_id.bytes, device_id.bytes, ts_ms)


def decode(payload: bytes) -> Record:
    kind = payload[0]
    if kind == KIND_READINGS:
        _, tenant, site, device, batch, retention, n = _READINGS.unpack_from(payload)
        offset = _READINGS.size
        sensors = np.frombuffer(payload, dtype="V16", count=n, offset=offset)
        offset += 16 * n
        ts = np.frombuffer(payload, dtype="<i8", count=n, offset=offset)
        offset += 8 * n
        values = np.frombuffer(payload, dtype="<f8", count=n, offset=offset)
        return ReadingsRecord(tenant, site, device, batch, retention, sensors, ts, values)
    if kind == KIND_EVENTS:
        return _EVENTS_DECODER.decode(payload[1:])
    if kind == KIND_HEARTBEAT:
        _, tenant, site, device, ts = _HEARTBEAT.unpack(payload)
        return HeartbeatRecord(tenant, site, device, ts)
    raise ValueError(f"unknown spool record kind {kind}")


def batch_key(record: Record) -> tuple[bytes, bytes] | None:
    """The (device, batch) a record answers for, when it has a batch id."""
    if isinstance(record, ReadingsRecord | EventsRecord):
        return record.device_id, record.batch_id
    return None

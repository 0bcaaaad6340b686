"""Decoding and validating device bodies: the shapes of CONTRACT.md, reading by reading.

msgspec decodes a body into its struct (an unknown field is an error); then every reading or
event is checked against the device's sensors and the site's retention, and all problems are
reported together: an invalid batch stores nothing and tells the device every mistake at once.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from backend.telemetry import records
from backend.telemetry.ingest._refusals import InvalidBatch
from backend.telemetry.registry import DeviceInfo

T = TypeVar("T")

MAX_FUTURE_MS = 5 * 60 * 1000
DAY_MS = 86_400_000
MAX_ATTRIBUTES_BYTES = 4096


class Reading(msgspec.Struct, forbid_unknown_fields=True):
    sensor: str
    ts: datetime | int
    value: float


class TelemetryBody(msgspec.Struct, forbid_unknown_fields=True):
    batch_id: uuid.UUID
    readings: list[Reading]


class Event(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    ts: datetime | int
    sensor: str | None = None
    attributes: dict[str, str | int | float | bool | list[float]] = {}
    snapshot: str | None = None


class EventsBody(msgspec.Struct, forbid_unknown_fields=True):
    batch_id: uuid.UUID
    events: list[Event]


class HeartbeatBody(msgspec.Struct, forbid_unknown_fields=True):
    ts: datetime | int | None = None


TELEMETRY = msgspec.json.Decoder(TelemetryBody)
EVENTS = msgspec.json.Decoder(EventsBody)
HEARTBEAT = msgspec.json.Decoder(HeartbeatBody)
_PATH = re.compile(r"`\$((?:\.[a-z_]+|\[\d+\])*)`")


def decode(decoder: msgspec.json.Decoder[T], body: bytes, items: str) -> T:
    """The body as ``decoder``'s type, or the contract's 400. msgspec checks UTF-8 only when
    it builds a string, and reports a bad byte as ``UnicodeDecodeError``, not a decode
    error: both are the device's malformed input."""
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise _decode_error(exc, items) from None
    except UnicodeDecodeError as exc:
        raise InvalidBatch.one(f"malformed JSON: not valid UTF-8 at byte {exc.start}") from None


def _decode_error(exc: msgspec.DecodeError, items: str) -> InvalidBatch:
    """msgspec's first error, as the contract's per-item error list."""
    message = str(exc)
    match = _PATH.search(message)
    index, field = None, None
    if match:
        parts = re.findall(r"\.([a-z_]+)|\[(\d+)\]", match.group(1))
        if len(parts) >= 2 and parts[0][0] == items and parts[1][1]:
            index = int(parts[1][1])
            field = parts[2][0] if len(parts) > 2 else None
        elif parts:
            field = parts[0][0] or None
    text = message.split(" - at ")[0]
    unknown = re.search(r"(?:unknown|missing required) field `([^`]+)`", message)
    if unknown:
        field = unknown.group(1)
    if isinstance(exc, msgspec.ValidationError):
        return InvalidBatch.one(text, field=field, index=index)
    return InvalidBatch.one(f"malformed JSON: {text}")


def epoch_ms(value: datetime | int) -> int | None:
    """Milliseconds since the epoch, or None for a timestamp without a zone."""
    if isinstance(value, int):
        return value
    if value.tzinfo is None:
        return None
    return round(value.timestamp() * 1000)


def ts_error(ms: int | None, *, now: int, retention_days: int, what: str) -> str | None:
    """Why a timestamp will not be stored, or None. Each table's TTL drops rows older than
    its retention on arrival, so accepting them would answer 202 for data that never appears;
    0 and earlier is a device whose clock was never set."""
    if ms is None:
        return "timestamp has no time zone (add Z or an offset)"
    if ms > now + MAX_FUTURE_MS:
        return "timestamp is more than 5 minutes in the future"
    if ms <= 0:
        return "timestamp is at or before 1970-01-01T00:00:00Z: the device clock is not set"
    if ms < now - retention_days * DAY_MS:
        return (
            f"timestamp is older than the {retention_days} days {what} are kept, so it "
            "would not be stored"
        )
    return None


def validate_readings(
    device: DeviceInfo, readings: list[Reading], *, now: int
) -> tuple[list[bytes], list[int], list[float]]:
    """The batch as columns (sensor ids, epoch ms, values), or every reading's problem."""
    sensors = device.sensors
    errors: list[dict[str, Any]] = []
    sensor_ids: list[bytes] = []
    stamps: list[int] = []
    values: list[float] = []
    for index, reading in enumerate(readings):
        sensor = sensors.get(reading.sensor)
        if sensor is None:
            errors.append(
                {
                    "index": index,
                    "field": "sensor",
                    "message": f"unknown sensor code {reading.sensor!r}",
                }
            )
            continue
        value = reading.value
        if not math.isfinite(value):
            errors.append({"index": index, "field": "value", "message": "not a finite number"})
        elif not sensor.min_value <= value <= sensor.max_value:
            errors.append(
                {
                    "index": index,
                    "field": "value",
                    "message": f"{value} is outside the sensor's range "
                    f"[{sensor.min_value}, {sensor.max_value}]",
                }
            )
        ms = epoch_ms(reading.ts)
        problem = ts_error(
            ms, now=now, retention_days=device.retention_days, what="this site's readings"
        )
        if problem is not None:
            errors.append({"index": index, "field": "ts", "message": problem})
        sensor_ids.append(sensor.id_bytes)
        stamps.append(ms or 0)
        values.append(value)
    if errors:
        raise InvalidBatch(errors)
    return sensor_ids, stamps, values


def validate_events(
    device: DeviceInfo,
    events: list[Event],
    *,
    event_types: dict[str, set[str]],
    snapshot_known: Callable[[str], bool],
    now: int,
) -> list[records.EventRow]:
    """The events as rows, or every event's problem. ``event_types`` maps each type of the
    catalog to its declared attributes; ``snapshot_known`` says whether a referenced
    snapshot was uploaded by this device's tenant."""
    errors: list[dict[str, Any]] = []
    rows: list[records.EventRow] = []
    for index, event in enumerate(events):
        allowed = event_types.get(event.type)
        if allowed is None:
            errors.append(
                {
                    "index": index,
                    "field": "type",
                    "message": f"unknown event type {event.type!r}",
                }
            )
            continue
        extra = sorted(set(event.attributes) - allowed)
        if extra:
            errors.append(
                {
                    "index": index,
                    "field": "attributes",
                    "message": f"attributes not declared for {event.type}: {', '.join(extra)}",
                }
            )
        attributes = json.dumps(event.attributes, ensure_ascii=False, sort_keys=True)
        if len(attributes.encode()) > MAX_ATTRIBUTES_BYTES:
            errors.append({"index": index, "field": "attributes", "message": "too large"})
        sensor_id = None
        if event.sensor is not None:
            sensor = device.sensors.get(event.sensor)
            if sensor is None:
                errors.append(
                    {
                        "index": index,
                        "field": "sensor",
                        "message": f"unknown sensor code {event.sensor!r}",
                    }
                )
            else:
                sensor_id = sensor.id_bytes
        if event.snapshot is not None and not snapshot_known(event.snapshot):
            errors.append(
                {
                    "index": index,
                    "field": "snapshot",
                    "message": "unknown snapshot; upload it to /api/v1/snapshots first",
                }
            )
        ms = epoch_ms(event.ts)
        problem = ts_error(
            ms, now=now, retention_days=device.retention_days, what="this site's events"
        )
        if problem is not None:
            errors.append({"index": index, "field": "ts", "message": problem})
        rows.append(records.EventRow(event.type, sensor_id, ms or 0, attributes, event.snapshot))
    if errors:
        raise InvalidBatch(errors)
    return rows

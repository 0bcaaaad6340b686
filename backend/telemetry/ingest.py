"""Device ingestion: one code path for every transport (HTTP and MQTT).

A request is checked against the device's registry entry (authenticated, site active), decoded
with msgspec, validated reading by reading (an invalid batch stores nothing and gets every
reading's error), de-duplicated by batch id, held to the site's plan rate, and appended to the
durable spool. Only then is it acknowledged; the flusher takes it on to ClickHouse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, Protocol, TypeVar

import msgspec

from backend.core.errors import BadInput
from backend.core.objects import ObjectStore
from backend.telemetry import records
from backend.telemetry.batches import BatchLedger
from backend.telemetry.quota import RateLimiter
from backend.telemetry.registry import DeviceInfo, DeviceRegistry
from backend.telemetry.spool import Spool, SpoolFull
from privacy import images

log = logging.getLogger("anjian.ingest")
T = TypeVar("T")

MAX_READINGS = 10_000
MAX_EVENTS = 1_000
MAX_FUTURE_MS = 5 * 60 * 1000
DAY_MS = 86_400_000
# ``device_seen`` keeps presence 30 days (migrations/clickhouse/0002_ingest_tables.sql): an
# older heartbeat would be dropped by the TTL on arrival, so it is refused instead.
HEARTBEAT_RETENTION_DAYS = 30
MAX_ATTRIBUTES_BYTES = 4096
SNAPSHOT_TYPES = {"image/jpeg": "jpg", "image/png": "png"}  # extension of the stored object
MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024
# 25 megapixels holds any surveillance or phone camera's frame; past it a small file could
# still decode into gigabytes (a decompression bomb), so it is refused from the header.
MAX_SNAPSHOT_PIXELS = 25_000_000
ORIGINAL_SUFFIX = ".original"  # the unredacted copy of a snapshot sits beside it


class IngestError(Exception):
    """A refusal with its HTTP status and JSON body (MQTT logs it instead)."""

    def __init__(self, status: int, body: dict[str, Any], retry_after: int | None = None) -> None:
        super().__init__(body.get("error") or body)
        self.status = status
        self.body = body
        self.retry_after = retry_after


def _error(status: int, message: str, retry_after: int | None = None) -> IngestError:
    return IngestError(status, {"error": message}, retry_after)


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


_TELEMETRY = msgspec.json.Decoder(TelemetryBody)
_EVENTS = msgspec.json.Decoder(EventsBody)
_HEARTBEAT = msgspec.json.Decoder(HeartbeatBody)
_PATH = re.compile(r"`\$((?:\.[a-z_]+|\[\d+\])*)`")


def _decode(decoder: msgspec.json.Decoder[T], body: bytes, items: str) -> T:
    """The body as ``decoder``'s type, or the contract's 400. msgspec checks UTF-8 only when
    it builds a string, and reports a bad byte as ``UnicodeDecodeError``, not a decode
    error: both are the device's malformed input."""
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise _decode_error(exc, items) from None
    except UnicodeDecodeError as exc:
        raise IngestError(
            400,
            {
                "errors": [
                    {
                        "index": None,
                        "field": None,
                        "message": f"malformed JSON: not valid UTF-8 at byte {exc.start}",
                    }
                ]
            },
        ) from None


def _ts_error(ms: int | None, *, now: int, retention_days: int, what: str) -> str | None:
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


def _decode_error(exc: msgspec.DecodeError, items: str) -> IngestError:
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
        return IngestError(400, {"errors": [{"index": index, "field": field, "message": text}]})
    return IngestError(
        400, {"errors": [{"index": None, "field": None, "message": f"malformed JSON: {text}"}]}
    )


def epoch_ms(value: datetime | int) -> int | None:
    """Milliseconds since the epoch, or None for a timestamp without a zone."""
    if isinstance(value, int):
        return value
    if value.tzinfo is None:
        return None
    return round(value.timestamp() * 1000)


def _event_catalog() -> dict[str, set[str]]:
    text = resources.files("backend.telemetry").joinpath("event_types.json").read_text("utf-8")
    return {name: set(spec["attributes"]) for name, spec in json.loads(text)["types"].items()}


class IngestSubscriber(Protocol):
    """Told of every batch once it is durable (the rule engine is one). Telemetry does not
    know who listens: subscribers are registered at start-up."""

    def readings_accepted(
        self, device: DeviceInfo, sensor_ids: list[bytes], ts_ms: list[int], values: list[float]
    ) -> None: ...

    def events_accepted(self, device: DeviceInfo, events: list[records.EventRow]) -> None: ...

    def heartbeat_accepted(self, device: DeviceInfo, ts_ms: int) -> None: ...


@dataclass(frozen=True)
class Accepted:
    accepted: int
    duplicates: int

    def as_json(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates}


class Ingest:
    def __init__(
        self,
        registry: DeviceRegistry,
        spool: Spool,
        ledger: BatchLedger,
        limiter: RateLimiter,
        objects: ObjectStore,
    ) -> None:
        self.registry = registry
        self.spool = spool
        self.ledger = ledger
        self.limiter = limiter
        self.objects = objects
        self.event_types = _event_catalog()
        self.subscribers: list[IngestSubscriber] = []

    # -- who is sending ----------------------------------------------------------------------

    async def authenticate(self, token: str | None) -> DeviceInfo:
        if not token:
            raise _error(401, "missing device token: send Authorization: Bearer <token>")
        # The lookup is by SHA-256 of a 256-bit token: equal hashes, not a string comparison
        # of secrets, so timing tells nothing about the stored token.
        device = await self.registry.by_token_hash(hashlib.sha256(token.encode()).digest())
        return self._admit(device)

    async def device(self, device_id: uuid.UUID) -> DeviceInfo:
        """For MQTT, where the broker authenticated the device and the topic names it."""
        return self._admit(await self.registry.by_id(device_id))

    @staticmethod
    def _admit(device: DeviceInfo | None) -> DeviceInfo:
        if device is None or device.revoked:
            raise _error(401, "unknown or revoked device token")
        if not device.site_active:
            raise _error(403, "the site's subscription is suspended")
        return device

    # -- readings ----------------------------------------------------------------------------

    async def telemetry(self, device: DeviceInfo, body: bytes) -> Accepted:
        batch = _decode(_TELEMETRY, body, "readings")
        count = len(batch.readings)
        if count > MAX_READINGS:
            raise _error(413, f"a batch holds at most {MAX_READINGS} readings, got {count}")
        if count == 0:
            raise IngestError(
                400,
                {
                    "errors": [
                        {
                            "index": None,
                            "field": "readings",
                            "message": "a batch needs at least one reading",
                        }
                    ]
                },
            )
        sensor_ids, stamps, values = self._validate(device, batch.readings)
        return await self.store_readings(device, batch.batch_id, sensor_ids, stamps, values)

    async def store_readings(
        self,
        device: DeviceInfo,
        batch_id: uuid.UUID,
        sensor_ids: list[bytes],
        ts_ms: list[int],
        values: list[float],
    ) -> Accepted:
        """Spool validated readings and tell the subscribers: the path every reading takes,
        from a device or from the demo's simulator."""
        payload = records.encode_readings(
            tenant_id=device.tenant_id,
            site_id=device.site_id,
            device_id=device.id,
            batch_id=batch_id,
            retention_days=device.retention_days,
            sensor_ids=sensor_ids,
            ts_ms=ts_ms,
            values=values,
        )
        count = len(values)
        accepted = await self._store(device, batch_id, count, payload, count)
        if accepted.accepted:
            for subscriber in self.subscribers:
                try:
                    subscriber.readings_accepted(device, sensor_ids, ts_ms, values)
                except Exception:  # a listener's failure must not un-acknowledge data
                    log.exception("ingest subscriber failed on a readings batch")
        return accepted

    def _validate(
        self, device: DeviceInfo, readings: list[Reading]
    ) -> tuple[list[bytes], list[int], list[float]]:
        sensors = device.sensors
        now = int(time.time() * 1000)
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
            problem = _ts_error(
                ms, now=now, retention_days=device.retention_days, what="this site's readings"
            )
            if problem is not None:
                errors.append({"index": index, "field": "ts", "message": problem})
            sensor_ids.append(sensor.id_bytes)
            stamps.append(ms or 0)
            values.append(value)
        if errors:
            raise IngestError(400, {"errors": errors})
        return sensor_ids, stamps, values

    async def _store(
        self, device: DeviceInfo, batch_id: uuid.UUID, count: int, payload: bytes, quota_cost: int
    ) -> Accepted:
        key = (device.id.bytes, batch_id.bytes)
        if not self.ledger.reserve(key):
            return Accepted(0, count)
        try:
            wait = self.limiter.take(device.site_id, quota_cost, device.readings_per_minute)
            if wait:
                raise _error(
                    429,
                    f"over the plan's {device.readings_per_minute} readings per "
                    "minute for this site",
                    retry_after=int(wait),
                )
            try:
                await self.spool.append(payload)
            except SpoolFull:
                raise _error(
                    503, "ingest is backed up while the telemetry store catches up", retry_after=5
                ) from None
        except BaseException:
            self.ledger.unreserve(key)
            raise
        return Accepted(count, 0)

    # -- heartbeats and events ---------------------------------------------------------------

    async def heartbeat(self, device: DeviceInfo, body: bytes) -> None:
        beat = _decode(_HEARTBEAT, body, "") if body.strip() else HeartbeatBody()
        now = int(time.time() * 1000)
        ms = now if beat.ts is None else epoch_ms(beat.ts)
        problem = _ts_error(ms, now=now, retention_days=HEARTBEAT_RETENTION_DAYS, what="heartbeats")
        if problem is not None:
            raise IngestError(400, {"errors": [{"index": None, "field": "ts", "message": problem}]})
        assert ms is not None
        payload = records.encode_heartbeat(
            tenant_id=device.tenant_id, site_id=device.site_id, device_id=device.id, ts_ms=ms
        )
        try:
            await self.spool.append(payload)
        except SpoolFull:
            raise _error(503, "ingest is backed up", retry_after=5) from None
        for subscriber in self.subscribers:
            try:
                subscriber.heartbeat_accepted(device, ms)
            except Exception:  # a subscriber's bug must not fail the device's request
                log.exception("ingest subscriber failed on a heartbeat")

    async def events(self, device: DeviceInfo, body: bytes) -> Accepted:
        batch = _decode(_EVENTS, body, "events")
        if len(batch.events) > MAX_EVENTS:
            raise _error(413, f"a batch holds at most {MAX_EVENTS} events")
        if not batch.events:
            raise IngestError(
                400,
                {
                    "errors": [
                        {
                            "index": None,
                            "field": "events",
                            "message": "a batch needs at least one event",
                        }
                    ]
                },
            )
        rows = self._validate_events(device, batch.events)
        payload = records.encode_events(
            records.EventsRecord(
                tenant_id=device.tenant_id.bytes,
                site_id=device.site_id.bytes,
                device_id=device.id.bytes,
                batch_id=batch.batch_id.bytes,
                retention_days=device.retention_days,
                events=rows,
            )
        )
        accepted = await self._store(device, batch.batch_id, len(rows), payload, len(rows))
        if accepted.accepted:
            for subscriber in self.subscribers:
                try:
                    subscriber.events_accepted(device, rows)
                except Exception:
                    log.exception("ingest subscriber failed on an events batch")
        return accepted

    def _validate_events(self, device: DeviceInfo, events: list[Event]) -> list[records.EventRow]:
        now = int(time.time() * 1000)
        errors: list[dict[str, Any]] = []
        rows: list[records.EventRow] = []
        for index, event in enumerate(events):
            allowed = self.event_types.get(event.type)
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
            if event.snapshot is not None and not (
                event.snapshot.startswith(snapshot_prefix(device))
                and self.objects.exists(event.snapshot)
            ):
                errors.append(
                    {
                        "index": index,
                        "field": "snapshot",
                        "message": "unknown snapshot; upload it to /api/v1/snapshots first",
                    }
                )
            ms = epoch_ms(event.ts)
            problem = _ts_error(
                ms, now=now, retention_days=device.retention_days, what="this site's events"
            )
            if problem is not None:
                errors.append({"index": index, "field": "ts", "message": problem})
            rows.append(
                records.EventRow(event.type, sensor_id, ms or 0, attributes, event.snapshot)
            )
        if errors:
            raise IngestError(400, {"errors": errors})
        return rows

    def snapshot(self, device: DeviceInfo, content_type: str, data: bytes) -> str:
        """Store an uploaded camera image twice, both re-encoded without metadata: whole
        (``….original.<ext>``) and with faces pixelated (the returned key). Events reference
        the redacted one, so a reader that forgets to check permissions still sees no face.

        CPU-bound (decoding, face detection): call it from a worker thread."""
        declared = content_type.split(";")[0].strip().lower()
        extension = SNAPSHOT_TYPES.get(declared)
        if extension is None:
            raise _error(415, "snapshots are image/jpeg or image/png")
        if len(data) > MAX_SNAPSHOT_BYTES:
            raise _error(413, "a snapshot is at most 8 MiB")
        try:
            actual = images.sniff(data)
            if actual != declared:
                raise BadInput(f"the body is {actual}")
            image = images.sanitize(
                data, max_bytes=MAX_SNAPSHOT_BYTES, max_pixels=MAX_SNAPSHOT_PIXELS
            )
        except BadInput as exc:
            raise _error(400, f"the body is not a usable {declared} image: {exc.message}") from None
        base = f"{snapshot_prefix(device)}{device.site_id}/{uuid.uuid4()}"
        # The original first: the returned key exists only once both are stored.
        self.objects.put(f"{base}{ORIGINAL_SUFFIX}.{extension}", image.clean, declared)
        self.objects.put(f"{base}.{extension}", image.redacted, declared)
        return f"{base}.{extension}"


def snapshot_prefix(device: DeviceInfo) -> str:
    return f"snapshots/{device.tenant_id}/"

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
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

from backend.core.clock import WALL_CLOCK, Clock, now_ms
from backend.core.errors import BadInput
from backend.core.objects import ObjectStore
from backend.telemetry import records
from backend.telemetry.batches import BatchLedger
from backend.telemetry.ingest._refusals import (
    IngestBackedUp,
    IngestError,
    InvalidBatch,
    OverPlanRate,
    SiteSuspended,
    TooLarge,
    UnknownDevice,
    UnsupportedSnapshotType,
    UnusableSnapshot,
)
from backend.telemetry.ingest._validation import (
    EVENTS,
    HEARTBEAT,
    TELEMETRY,
    HeartbeatBody,
    decode,
    epoch_ms,
    ts_error,
    validate_events,
    validate_readings,
)
from backend.telemetry.quota import RateLimiter
from backend.telemetry.registry import DeviceInfo, DeviceRegistry
from backend.telemetry.spool import Spool, SpoolFull
from privacy import images

__all__ = [
    "HEARTBEAT_RETENTION_DAYS",
    "MAX_EVENTS",
    "MAX_READINGS",
    "MAX_SNAPSHOT_BYTES",
    "ORIGINAL_SUFFIX",
    "SNAPSHOT_TYPES",
    "Accepted",
    "Ingest",
    "IngestBackedUp",
    "IngestError",
    "IngestSubscriber",
    "InvalidBatch",
    "OverPlanRate",
    "SiteSuspended",
    "TooLarge",
    "UnknownDevice",
    "UnsupportedSnapshotType",
    "UnusableSnapshot",
    "snapshot_prefix",
]

log = logging.getLogger("anjian.ingest")

MAX_READINGS = 10_000
MAX_EVENTS = 1_000
# ``device_seen`` keeps presence 30 days (migrations/clickhouse/0002_ingest_tables.sql): an
# older heartbeat would be dropped by the TTL on arrival, so it is refused instead.
HEARTBEAT_RETENTION_DAYS = 30
SNAPSHOT_TYPES = {"image/jpeg": "jpg", "image/png": "png"}  # extension of the stored object
MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024
# 25 megapixels holds any surveillance or phone camera's frame; past it a small file could
# still decode into gigabytes (a decompression bomb), so it is refused from the header.
MAX_SNAPSHOT_PIXELS = 25_000_000
ORIGINAL_SUFFIX = ".original"  # the unredacted copy of a snapshot sits beside it
# How long a device waits when the spool is full: about the flusher's catching up.
BACKED_UP_RETRY_SECONDS = 5


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
        *,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        self.registry = registry
        self.spool = spool
        self.ledger = ledger
        self.limiter = limiter
        self.objects = objects
        self.clock = clock  # what "too far in the future" and "past retention" are measured from
        self.event_types = _event_catalog()
        self.subscribers: list[IngestSubscriber] = []

    # -- who is sending ----------------------------------------------------------------------

    async def authenticate(self, token: str | None) -> DeviceInfo:
        if not token:
            raise UnknownDevice("missing device token: send Authorization: Bearer <token>")
        # The lookup is by SHA-256 of a 256-bit token: equal hashes, not a string comparison
        # of secrets, so timing tells nothing about the stored token.
        device = await self.registry.unscoped_by_token_hash(hashlib.sha256(token.encode()).digest())
        return self._admit(device)

    async def device(self, device_id: uuid.UUID) -> DeviceInfo:
        """For MQTT, where the broker authenticated the device and the topic names it."""
        return self._admit(await self.registry.unscoped_by_id(device_id))

    @staticmethod
    def _admit(device: DeviceInfo | None) -> DeviceInfo:
        if device is None or device.revoked:
            raise UnknownDevice("unknown or revoked device token")
        if not device.site_active:
            raise SiteSuspended("the site's subscription is suspended")
        return device

    # -- readings ----------------------------------------------------------------------------

    async def telemetry(self, device: DeviceInfo, body: bytes) -> Accepted:
        batch = decode(TELEMETRY, body, "readings")
        count = len(batch.readings)
        if count > MAX_READINGS:
            raise TooLarge(f"a batch holds at most {MAX_READINGS} readings, got {count}")
        if count == 0:
            raise InvalidBatch.one("a batch needs at least one reading", field="readings")
        sensor_ids, stamps, values = validate_readings(
            device, batch.readings, now=now_ms(self.clock)
        )
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

    async def _store(
        self, device: DeviceInfo, batch_id: uuid.UUID, count: int, payload: bytes, quota_cost: int
    ) -> Accepted:
        key = (device.id.bytes, batch_id.bytes)
        if not self.ledger.reserve(key):
            return Accepted(0, count)
        try:
            wait = self.limiter.take(device.site_id, quota_cost, device.readings_per_minute)
            if wait:
                raise OverPlanRate(
                    f"over the plan's {device.readings_per_minute} readings per "
                    "minute for this site",
                    retry_after_seconds=int(wait),
                )
            try:
                await self.spool.append(payload)
            except SpoolFull:
                raise IngestBackedUp(
                    "ingest is backed up while the telemetry store catches up",
                    retry_after_seconds=BACKED_UP_RETRY_SECONDS,
                ) from None
        except BaseException:
            self.ledger.unreserve(key)
            raise
        return Accepted(count, 0)

    # -- heartbeats and events ---------------------------------------------------------------

    async def heartbeat(self, device: DeviceInfo, body: bytes) -> None:
        beat = decode(HEARTBEAT, body, "") if body.strip() else HeartbeatBody()
        now = now_ms(self.clock)
        ms = now if beat.ts is None else epoch_ms(beat.ts)
        problem = ts_error(ms, now=now, retention_days=HEARTBEAT_RETENTION_DAYS, what="heartbeats")
        if problem is not None:
            raise InvalidBatch.one(problem, field="ts")
        assert ms is not None
        payload = records.encode_heartbeat(
            tenant_id=device.tenant_id, site_id=device.site_id, device_id=device.id, ts_ms=ms
        )
        try:
            await self.spool.append(payload)
        except SpoolFull:
            raise IngestBackedUp(
                "ingest is backed up", retry_after_seconds=BACKED_UP_RETRY_SECONDS
            ) from None
        for subscriber in self.subscribers:
            try:
                subscriber.heartbeat_accepted(device, ms)
            except Exception:  # a subscriber's bug must not fail the device's request
                log.exception("ingest subscriber failed on a heartbeat")

    async def events(self, device: DeviceInfo, body: bytes) -> Accepted:
        batch = decode(EVENTS, body, "events")
        if len(batch.events) > MAX_EVENTS:
            raise TooLarge(f"a batch holds at most {MAX_EVENTS} events")
        if not batch.events:
            raise InvalidBatch.one("a batch needs at least one event", field="events")
        prefix = snapshot_prefix(device)
        rows = validate_events(
            device,
            batch.events,
            event_types=self.event_types,
            snapshot_known=lambda key: key.startswith(prefix) and self.objects.exists(key),
            now=now_ms(self.clock),
        )
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

    # -- snapshots ---------------------------------------------------------------------------

    def snapshot(self, device: DeviceInfo, content_type: str, data: bytes) -> str:
        """Store an uploaded camera image twice, both re-encoded without metadata: whole
        (``….original.<ext>``) and with faces pixelated (the returned key). Events reference
        the redacted one, so a reader that forgets to check permissions still sees no face.

        CPU-bound (decoding, face detection): call it from a worker thread."""
        declared = content_type.split(";")[0].strip().lower()
        extension = SNAPSHOT_TYPES.get(declared)
        if extension is None:
            raise UnsupportedSnapshotType("snapshots are image/jpeg or image/png")
        if len(data) > MAX_SNAPSHOT_BYTES:
            raise TooLarge("a snapshot is at most 8 MiB")
        try:
            actual = images.sniff(data)
            if actual != declared:
                raise BadInput(f"the body is {actual}")
            image = images.sanitize(
                data, max_bytes=MAX_SNAPSHOT_BYTES, max_pixels=MAX_SNAPSHOT_PIXELS
            )
        except BadInput as exc:
            raise UnusableSnapshot(
                f"the body is not a usable {declared} image: {exc.message}"
            ) from None
        base = f"{snapshot_prefix(device)}{device.site_id}/{uuid.uuid4()}"
        # The original first: the returned key exists only once both are stored.
        self.objects.put(f"{base}{ORIGINAL_SUFFIX}.{extension}", image.clean, declared)
        self.objects.put(f"{base}.{extension}", image.redacted, declared)
        return f"{base}.{extension}"


def snapshot_prefix(device: DeviceInfo) -> str:
    return f"snapshots/{device.tenant_id}/"

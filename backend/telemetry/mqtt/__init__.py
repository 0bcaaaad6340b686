"""MQTT ingest: devices publish through Mosquitto, Anjian consumes into the same ingest path.

Devices connect with username = device id and password = device token and publish the HTTP
bodies to ``v1/devices/<device_id>/telemetry|heartbeat|events``. The broker (dynamic-security
plugin, see ``_mqtt_dynsec``) lets a device publish only to its own topics. ``MqttConsumer``
subscribes for Anjian with QoS 1 on a persistent MQTT v5 session and hands every message to
``Ingest`` exactly as the HTTP handlers do: one code path, two transports.

Acknowledged means durable, hop by hop: the broker acknowledges the device, and the consumer
acknowledges the broker (manual PUBACK) only once the batch is in the spool, or was refused.
Until then the broker keeps the message in the consumer's session and redelivers it after a
reconnect or an Anjian restart; a redelivered batch is a duplicate by its batch id.

A refusal (invalid batch, suspended site, over quota) cannot ride on the device's PUBACK (the
broker sends that); it is published as JSON, the HTTP status and body plus the topic and batch
id, to ``v1/devices/<device_id>/errors``, which only that device may subscribe to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core.errors import AnjianError, ConfigurationError
from backend.core.settings import Settings
from backend.telemetry._mqtt_dynsec import (
    BrokerFiles,
    DynsecError,
    MqttDirectory,
    SyncReport,
    data_topic,
    device_acls,
    errors_topic,
    prepare_broker_dir,
    render_mosquitto_config,
    write_dynsec_file,
)
from backend.telemetry.flusher import Flusher
from backend.telemetry.ingest import Ingest
from backend.telemetry.models import Device
from backend.telemetry.mqtt._consumer import (
    ConsumerStats,
    MqttConsumer,
    data_topic_filter,
    parse_topic,
)
from backend.telemetry.store import ClickHouseClient
from tenants.scope import unscoped_session

__all__ = [
    "BrokerFiles",
    "ConsumerProcess",
    "ConsumerStats",
    "DynsecError",
    "MqttConsumer",
    "MqttDirectory",
    "RegistryStores",
    "SyncReport",
    "data_topic",
    "data_topic_filter",
    "device_acls",
    "errors_topic",
    "parse_topic",
    "prepare_broker_dir",
    "render_mosquitto_config",
    "run_mqtt_consumer",
    "sync_from_registry",
    "unscoped_active_device_ids",
    "write_dynsec_file",
]

log = logging.getLogger("anjian.mqtt")


class RegistryStores(Protocol):
    """What the registry sync reads: the relational store."""

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...


class ConsumerProcess(RegistryStores, Protocol):
    """What ``anjian mqtt`` runs on: the settings, the stores, ingest and the flusher."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clickhouse(self) -> ClickHouseClient: ...

    @property
    def ingest(self) -> Ingest: ...

    @property
    def flusher(self) -> Flusher: ...


async def unscoped_active_device_ids(sessions: async_sessionmaker[AsyncSession]) -> set[uuid.UUID]:
    """Registered devices that are not revoked (all tenants: this is the operator's view)."""
    async with unscoped_session(sessions) as session:
        rows = await session.scalars(select(Device.id).where(Device.revoked_at.is_(None)))
        return set(rows)


async def sync_from_registry(directory: MqttDirectory, runtime: RegistryStores) -> SyncReport:
    """Delete broker clients of revoked or unknown devices; report active ones it lacks."""
    report = await directory.sync(await unscoped_active_device_ids(runtime.sessions))
    if report.removed:
        log.info(
            "MQTT: removed %d revoked or unknown device(s) from the broker", len(report.removed)
        )
    if report.missing:
        log.warning(
            "MQTT: %d registered device(s) cannot connect over MQTT (no broker client; issue "
            "them a new token): %s",
            len(report.missing),
            ", ".join(str(d) for d in report.missing[:20]),
        )
    return report


async def run_mqtt_consumer(
    runtime: ConsumerProcess,
    *,
    refusal_status: Callable[[AnjianError], int],
    admin_url: str | None = None,
    stop: asyncio.Event | None = None,
    client_id: str = "anjian-ingest",
    forget_session: bool = False,
) -> ConsumerStats:
    """``anjian mqtt``: the consumer and the flusher, until SIGINT/SIGTERM (or ``stop``).

    For a process beside a ClickHouse server; in embedded mode the server process runs the
    consumer itself (the chdb engine has one owner). It needs a spool of its own
    (``ANJIAN_SPOOL_DIR``): a spool directory is locked by the process that opens it.
    ``admin_url`` (the dynsec admin account) first removes revoked devices from the broker;
    ``refusal_status`` is the consumer's (see ``MqttConsumer``).
    """
    url = runtime.settings.mqtt_url
    if not url:
        raise ConfigurationError("ANJIAN_MQTT_URL is not set: mqtt://user:password@host:port")
    runtime.clickhouse  # noqa: B018 - open (and own) the store first, failing fast
    if admin_url:
        directory = MqttDirectory(admin_url)
        try:
            await sync_from_registry(directory, runtime)
        finally:
            directory.close()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    runtime.flusher.start()
    consumer = MqttConsumer(url, runtime.ingest, refusal_status=refusal_status, client_id=client_id)
    await consumer.start()
    started = time.monotonic()
    try:
        await stop.wait()
    finally:
        await consumer.stop(forget_session=forget_session)
        await asyncio.to_thread(runtime.flusher.stop)
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
    log.info(
        "MQTT consumer stopped after %.0f s: %d accepted, %d refused",
        time.monotonic() - started,
        consumer.stats.accepted,
        consumer.stats.refused,
    )
    return consumer.stats

"""``anjian mqtt``: the MQTT consumer and the spool's flusher as a process of their own, beside
a ClickHouse server (in embedded mode the server runs the consumer itself)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from typing import Protocol

from backend.core.errors import AnjianError, ConfigurationError
from backend.core.settings import Settings
from backend.telemetry.flusher import Flusher
from backend.telemetry.ingest import Ingest
from backend.telemetry.mqtt import (
    ConsumerStats,
    MqttConsumer,
    MqttDirectory,
    RegistryStores,
    sync_from_registry,
)
from backend.telemetry.store import ClickHouseClient

log = logging.getLogger("anjian.mqtt")


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

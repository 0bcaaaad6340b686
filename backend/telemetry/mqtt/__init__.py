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

import logging
import uuid
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
from backend.telemetry.models import Device
from backend.telemetry.mqtt._consumer import (
    ConsumerStats,
    MqttConsumer,
    data_topic_filter,
    parse_topic,
)
from tenants.scope import unscoped_session

__all__ = [
    "BrokerFiles",
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
    "sync_from_registry",
    "unscoped_active_device_ids",
    "write_dynsec_file",
]

log = logging.getLogger("anjian.mqtt")


class RegistryStores(Protocol):
    """What the registry sync reads: the relational store."""

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...


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

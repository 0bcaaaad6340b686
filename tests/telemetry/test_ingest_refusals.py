"""Ingest refuses what it would not store, with a reason per item in the contract's 400 format:
bytes that are not UTF-8, readings and events older than the site's retention or at epoch 0,
heartbeats from before 1970, year 1 or further back than device presence is kept. Over HTTP
and over MQTT (refusals on the device's errors topic). Each refusal is one INFO line."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.auth.principal import Principal
from backend.auth.provisioning import unscoped_provision_tenant_in_own_transaction
from backend.runtime import Runtime
from backend.telemetry.ingest import HEARTBEAT_RETENTION_DAYS
from backend.telemetry.mqtt import MqttConsumer, MqttDirectory
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient
from tests.ingest_helpers import (
    GAS,
    MARK,
    Client,
    IngestDevice,
    iso_z,
    new_device,
    new_site,
    post,
    raw_count,
    settle,
)

DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def http(api: GraphQLClient) -> Client:
    return api.http


@pytest.fixture(scope="module")
async def dev(runtime: Runtime) -> IngestDevice:
    tenant = await unscoped_provision_tenant_in_own_transaction(
        sessions=runtime.sessions,
        authz=runtime.authz,
        principal=Principal.system(),
        name=unique("拒收"),
        division_code="320102",
        industry="chemical",
        owner_email=f"{unique('owner')}@example.cn",
        owner_password=PASSWORD,
        log2_n=runtime.log2_n,
    )
    site = await new_site(runtime, tenant.id)
    return await new_device(runtime, tenant.id, site, (GAS, MARK))


def body(*stamps: object, code: str = "GT-1") -> bytes:
    readings = [{"sensor": code, "ts": ts, "value": 1.0} for ts in stamps]
    return json.dumps({"batch_id": str(uuid.uuid4()), "readings": readings}).encode()


def errors(response: Any) -> list[tuple[int | None, str | None, str]]:
    assert response.status_code == 400, response.text
    return [(e["index"], e["field"], e["message"]) for e in response.json()["errors"]]


# --- bytes that are not UTF-8 -------------------------------------------------------------------


async def test_a_non_utf8_byte_inside_a_string_is_a_400_logged_as_info(
    http: Client, dev: IngestDevice, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    now = iso_z(datetime.now(UTC))
    bodies = {
        "telemetry": body(now).replace(b'"GT-1"', b'"GT-\xff"'),
        "events": json.dumps(
            {"batch_id": str(uuid.uuid4()), "events": [{"type": "ppe.no_helmet", "ts": now}]}
        )
        .encode()
        .replace(b"ppe.no_helmet", b"ppe.no_\xffhelmet"),
    }
    for path, payload in bodies.items():
        [(index, field, message)] = errors(await post(http, dev, path, payload))
        assert (index, field) == (None, None)
        assert "UTF-8" in message
    # msgspec reads a timestamp from the raw bytes: the byte makes it no timestamp.
    [(_, field, _)] = errors(await post(http, dev, "heartbeat", b'{"ts": "\xff"}'))
    assert field == "ts"
    refusals = [r for r in caplog.records if r.name == "anjian.ingest"]
    assert len(refusals) == 3
    assert {r.levelno for r in refusals} == {logging.INFO}
    assert all(r.exc_info is None for r in refusals)
    assert str(dev.id) in refusals[0].getMessage() and "UTF-8" in refusals[0].getMessage()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


# --- readings the retention would drop ----------------------------------------------------------


async def test_readings_older_than_the_retention_or_at_epoch_0_are_refused_one_by_one(
    http: Client, runtime: Runtime, dev: IngestDevice
) -> None:
    device = await runtime.ingest.device(dev.id)
    kept = device.retention_days
    now = datetime.now(UTC)
    response = await post(
        http,
        dev,
        "telemetry",
        body(
            iso_z(now),  # fine
            0,  # epoch 0: a device whose clock was never set
            iso_z(now - (kept + 1) * DAY),  # already past the retention
            "1970-01-01T00:00:00Z",
            iso_z(now - (kept - 1) * DAY),  # old, but still kept: fine
        ),
    )
    refused = errors(response)
    assert [(i, f) for i, f, _ in refused] == [(1, "ts"), (2, "ts"), (3, "ts")]
    assert "1970" in refused[0][2] and "clock" in refused[0][2]
    assert f"{kept} days" in refused[1][2]
    await settle(http, runtime, dev)
    assert raw_count(runtime, dev.sensors["GT-1"]) == 0  # an invalid batch stores nothing


async def test_old_events_are_refused_like_old_readings(
    http: Client, runtime: Runtime, dev: IngestDevice
) -> None:
    kept = (await runtime.ingest.device(dev.id)).retention_days
    stale = iso_z(datetime.now(UTC) - (kept + 1) * DAY)
    events = {"batch_id": str(uuid.uuid4()), "events": [{"type": "ppe.no_helmet", "ts": stale}]}
    [(index, field, message)] = errors(await post(http, dev, "events", events))
    assert (index, field) == (0, "ts") and f"{kept} days" in message


@pytest.mark.parametrize(
    "ts",
    [-5, 0, "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"],
    ids=["minus-5", "epoch-0", "year-1", "1969"],
)
async def test_heartbeats_from_an_unset_clock_are_refused(
    http: Client, dev: IngestDevice, ts: object
) -> None:
    [(index, field, message)] = errors(await post(http, dev, "heartbeat", {"ts": ts}))
    assert (index, field) == (None, "ts")
    assert "1970" in message


async def test_heartbeats_older_than_presence_is_kept_are_refused(
    http: Client, dev: IngestDevice
) -> None:
    stale = iso_z(datetime.now(UTC) - (HEARTBEAT_RETENTION_DAYS + 1) * DAY)
    [(_, field, message)] = errors(await post(http, dev, "heartbeat", {"ts": stale}))
    assert field == "ts" and f"{HEARTBEAT_RETENTION_DAYS} days" in message
    recent = iso_z(datetime.now(UTC) - timedelta(hours=1))
    assert (await post(http, dev, "heartbeat", {"ts": recent})).status_code == 202
    assert (await post(http, dev, "heartbeat", b"")).status_code == 202


# --- the same over MQTT ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.mosquitto import mosquitto

    with mosquitto(tmp_path_factory.mktemp("mosquitto")) as running:
        yield running


@pytest.fixture
async def mq_consumer(
    runtime: Runtime, world: World, broker: Any, tmp_path: Path
) -> AsyncIterator[tuple[Any, MqttConsumer]]:
    from tests.mosquitto import Setup, make_pipeline, started

    directory = MqttDirectory(broker.admin_url)
    pipeline = make_pipeline(runtime, tmp_path)
    setup = Setup(runtime, world, broker, directory, pipeline)
    consumer = await started(setup.consumer())
    try:
        yield setup, consumer
    finally:
        await consumer.stop(forget_session=True)
        pipeline.close()
        directory.close()


@pytest.mark.slow
async def test_mqtt_refusals_reach_the_devices_errors_topic(
    mq_consumer: tuple[Any, MqttConsumer],
) -> None:
    from tests.mosquitto import handled, topic

    mq, consumer = mq_consumer
    device = await mq.device()
    client = await mq.connect(device)
    batch_id = uuid.uuid4()
    stale = {"batch_id": str(batch_id), "readings": [{"sensor": "GT-101", "ts": 0, "value": 1}]}
    try:
        assert not (await client.subscribe(topic(device, "errors"))).is_failure
        await client.publish(topic(device, "telemetry"), json.dumps(stale).encode())
        old = json.loads((await client.next_message()).payload)
        garbled = json.dumps(stale).encode().replace(b'"GT-101"', b'"GT-\xff"')
        await client.publish(topic(device, "telemetry"), garbled)
        not_utf8 = json.loads((await client.next_message()).payload)
        await client.publish(topic(device, "heartbeat"), b'{"ts": -5}')
        beat = json.loads((await client.next_message()).payload)
        await handled(consumer, 3)
    finally:
        client.close()
    assert old["status"] == 400 and old["batch_id"] == str(batch_id)
    assert [(e["index"], e["field"]) for e in old["errors"]] == [(0, "ts")]
    assert not_utf8["status"] == 400 and "UTF-8" in not_utf8["errors"][0]["message"]
    assert beat["status"] == 400 and beat["errors"][0]["field"] == "ts"
    assert consumer.stats.refused == 3 and consumer.stats.failed == 0

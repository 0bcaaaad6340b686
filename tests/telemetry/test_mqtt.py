"""MQTT ingest end to end: a real Mosquitto with Anjian's generated configuration and
dynamic-security file, devices registered through the service, a real MQTT client publishing,
the consumer feeding the same ingest path as HTTP, and the readings landing in ClickHouse."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from backend.api.errors import http_status_for
from backend.core.errors import ConfigurationError
from backend.jobs.mqtt_consumer import run_mqtt_consumer
from backend.runtime import Runtime
from backend.telemetry.mqtt import (
    DynsecError,
    MqttConsumer,
    MqttDirectory,
    render_mosquitto_config,
    sync_from_registry,
)
from tests.conftest import make_settings
from tests.factories import World
from tests.mosquitto import (
    Broker,
    Setup,
    eventually,
    handled,
    make_pipeline,
    mosquitto,
    now_iso,
    self_signed,
    started,
    telemetry,
    topic,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with mosquitto(tmp_path_factory.mktemp("mosquitto")) as running:
        yield running


@pytest.fixture(scope="module")
def directory(broker: Broker) -> Iterator[MqttDirectory]:
    admin = MqttDirectory(broker.admin_url)
    yield admin
    admin.close()


@pytest.fixture
def mq(
    runtime: Runtime, world: World, broker: Broker, directory: MqttDirectory, tmp_path: Path
) -> Iterator[Setup]:
    pipeline = make_pipeline(runtime, tmp_path)
    yield Setup(runtime, world, broker, directory, pipeline)
    pipeline.close()


@pytest.fixture
async def consumer(mq: Setup) -> AsyncIterator[MqttConsumer]:
    running = await started(mq.consumer())
    yield running
    await running.stop(forget_session=True)


# -- the one ingest path -----------------------------------------------------------------------


async def test_a_device_publishes_a_batch_that_lands(mq: Setup, consumer: MqttConsumer) -> None:
    device = await mq.device()
    client = await mq.connect(device)
    try:
        body = telemetry({"GT-101": 12.5, "TT-201": 31.0})
        assert not (await client.publish(topic(device, "telemetry"), body)).is_failure
        await handled(consumer, 1)
    finally:
        client.close()
    assert consumer.stats.accepted == 2
    mq.pipeline.flush()
    assert mq.readings(device) == {"GT-101": [12.5], "TT-201": [31.0]}


async def test_heartbeats_and_events_take_the_same_path(mq: Setup, consumer: MqttConsumer) -> None:
    device = await mq.device()
    client = await mq.connect(device)
    events = {
        "batch_id": str(uuid.uuid4()),
        "events": [{"type": "zone.enter", "ts": now_iso(), "attributes": {"zone": "罐区A"}}],
    }
    try:
        assert not (await client.publish(topic(device, "heartbeat"), b"")).is_failure
        body = json.dumps(events).encode()
        assert not (await client.publish(topic(device, "events"), body)).is_failure
        await handled(consumer, 2)
    finally:
        client.close()
    assert (consumer.stats.heartbeats, consumer.stats.accepted, consumer.stats.refused) == (1, 1, 0)
    mq.pipeline.flush()
    assert mq.count("events", "device_id", device.device.id) == 1
    sources = mq.runtime.clickhouse.query(
        "SELECT DISTINCT source FROM device_seen WHERE device_id = {d:UUID}",
        parameters={"d": str(device.device.id)},
    ).result_rows
    assert {row[0] for row in sources} == {"heartbeat", "data"}


async def test_a_repeated_batch_id_is_stored_once(mq: Setup, consumer: MqttConsumer) -> None:
    device = await mq.device()
    body = telemetry({"GT-101": 3.0, "TT-201": 4.0})
    client = await mq.connect(device)
    try:
        for _ in range(2):
            assert not (await client.publish(topic(device, "telemetry"), body)).is_failure
        await handled(consumer, 2)
    finally:
        client.close()
    assert (consumer.stats.accepted, consumer.stats.duplicates) == (2, 2)
    mq.pipeline.flush()
    assert mq.readings(device) == {"GT-101": [3.0], "TT-201": [4.0]}


async def test_an_invalid_batch_is_refused_stores_nothing_and_the_device_is_told(
    mq: Setup, consumer: MqttConsumer
) -> None:
    device = await mq.device()
    client = await mq.connect(device)
    batch_id = uuid.uuid4()
    try:
        assert not (await client.subscribe(topic(device, "errors"))).is_failure
        body = telemetry({"GT-101": 5.0, "TT-201": 1e9}, batch_id)
        await client.publish(topic(device, "telemetry"), body)
        reply = json.loads((await client.next_message()).payload)
        await client.publish(topic(device, "telemetry"), b"{not json")
        malformed = json.loads((await client.next_message()).payload)
        # The consumer goes on after refusals: a valid batch still lands.
        await client.publish(topic(device, "telemetry"), telemetry({"GT-101": 6.0}))
        await handled(consumer, 3)
    finally:
        client.close()
    assert reply["status"] == 400 and reply["batch_id"] == str(batch_id)
    assert reply["topic"] == topic(device, "telemetry")
    assert [(e["index"], e["field"]) for e in reply["errors"]] == [(1, "value")]
    assert malformed["status"] == 400 and "malformed JSON" in malformed["errors"][0]["message"]
    assert consumer.stats.refused == 2
    mq.pipeline.flush()
    assert mq.readings(device) == {"GT-101": [6.0], "TT-201": []}


# -- who may connect and publish ---------------------------------------------------------------


async def test_a_wrong_token_or_unknown_device_cannot_connect(mq: Setup) -> None:
    device = await mq.device()
    assert (await mq.client(device.device.id, device.token[:-2] + "xx").connect()).is_failure
    assert (await mq.client(uuid.uuid4(), device.token).connect()).is_failure
    # Registered, but never pushed to the broker (created while MQTT was off).
    unpushed = await mq.device(pushed=False)
    assert (await mq.client(unpushed.device.id, unpushed.token).connect()).is_failure


@pytest.mark.parametrize("protocol", [mqtt.MQTTv5, mqtt.MQTTv311], ids=["v5", "v3.1.1"])
async def test_a_device_cannot_publish_to_another_devices_topics(
    mq: Setup, consumer: MqttConsumer, protocol: int
) -> None:
    a, b = await mq.device(), await mq.device()
    client = await mq.connect(a, protocol)
    try:
        for kind in ("telemetry", "heartbeat", "events"):
            reason = await client.publish(topic(b, kind), telemetry({"GT-101": 99.0}))
            if protocol == mqtt.MQTTv5:  # v3.1.1 has no reason codes: the broker drops silently
                assert reason.getName() == "Not authorized"
        # Nor may it read another device's errors, nor everyone's data.
        assert (await client.subscribe(topic(b, "errors"))).is_failure
        assert (await client.subscribe("v1/devices/+/telemetry")).is_failure
        # A marker on its own topic, after the forbidden ones, on the same connection.
        await client.publish(topic(a, "telemetry"), telemetry({"GT-101": 1.0}))
        await handled(consumer, 1)
    finally:
        client.close()
    assert consumer.stats.received == 1
    mq.pipeline.flush()
    assert mq.readings(a)["GT-101"] == [1.0]
    assert mq.readings(b) == {"GT-101": [], "TT-201": []}
    assert mq.count("device_seen", "device_id", b.device.id) == 0


async def test_a_revoked_device_is_disconnected_and_cannot_reconnect(mq: Setup) -> None:
    device = await mq.device()
    client = await mq.connect(device)
    await mq.revoke(device)
    assert await mq.directory.remove_device(device.device.id)
    try:
        assert (await client.disconnected()).getName() == "Administrative action"
    finally:
        client.close()
    assert (await mq.client(device.device.id, device.token).connect()).is_failure


async def test_sync_removes_revoked_and_unknown_clients_and_reports_missing_ones(
    mq: Setup,
) -> None:
    kept, revoked = await mq.device(), await mq.device()
    await mq.revoke(revoked)  # the broker is not told
    stranger = uuid.uuid4()  # a broker client for no registered device
    await mq.directory.ensure_device(stranger, "left-over")
    unpushed = await mq.device(pushed=False)

    report = await sync_from_registry(mq.directory, mq.runtime)

    assert {revoked.device.id, stranger} <= set(report.removed)
    assert kept.device.id not in report.removed
    assert unpushed.device.id in report.missing
    present = await mq.directory.device_ids()
    assert kept.device.id in present and revoked.device.id not in present
    assert (await mq.client(revoked.device.id, revoked.token).connect()).is_failure
    (await mq.connect(kept)).close()


async def test_ensure_device_is_idempotent_and_takes_the_latest_token(mq: Setup) -> None:
    device = await mq.device()
    await mq.directory.ensure_device(device.device.id, "rotated-token")
    assert (await mq.client(device.device.id, device.token).connect()).is_failure
    rotated = mq.client(device.device.id, "rotated-token")
    assert not (await rotated.connect()).is_failure
    rotated.close()


# -- acknowledged means durable ----------------------------------------------------------------


async def test_a_full_spool_holds_batches_back_until_it_drains(
    mq: Setup, consumer: MqttConsumer
) -> None:
    mq.pipeline.spool.max_unflushed_bytes = 1  # full after one batch
    device = await mq.device()
    client = await mq.connect(device)
    try:
        await client.publish(topic(device, "telemetry"), telemetry({"GT-101": 1.0}))
        await handled(consumer, 1)
        await client.publish(topic(device, "telemetry"), telemetry({"GT-101": 2.0}))
        await eventually(lambda: consumer.stats.retries >= 1, "a retry on the full spool")
        assert consumer.stats.handled == 1  # the second is neither refused nor acknowledged
        mq.pipeline.flush()  # the telemetry store catches up
        await handled(consumer, 2)
    finally:
        client.close()
    mq.pipeline.flush()
    assert consumer.stats.refused == 0
    assert mq.readings(device)["GT-101"] == [1.0, 2.0]


async def test_a_batch_not_yet_in_the_spool_when_anjian_stops_is_redelivered(mq: Setup) -> None:
    """The consumer acknowledges the broker only once a batch is durable: one held back by a
    full spool when Anjian stops comes back to the next session and lands, once."""
    client_id = f"anjian-test-{uuid.uuid4().hex[:8]}"
    first = await started(mq.consumer(client_id))
    mq.pipeline.spool.max_unflushed_bytes = 1
    device = await mq.device()
    client = await mq.connect(device)
    try:
        await client.publish(topic(device, "telemetry"), telemetry({"GT-101": 1.5}))
        await handled(first, 1)
        await client.publish(topic(device, "telemetry"), telemetry({"GT-101": 2.5}))
        await eventually(lambda: first.stats.retries >= 1, "a retry on the full spool")
    finally:
        client.close()
    await first.stop()  # Anjian stops with the second batch unacknowledged
    mq.pipeline.flush()
    second = mq.consumer(client_id)
    await second.start()
    try:
        await handled(second, 1)
    finally:
        await second.stop(forget_session=True)
    mq.pipeline.flush()
    assert mq.readings(device)["GT-101"] == [1.5, 2.5]


async def test_batches_published_while_anjian_is_down_land_when_it_returns(mq: Setup) -> None:
    client_id = f"anjian-test-{uuid.uuid4().hex[:8]}"
    await (await started(mq.consumer(client_id))).stop()  # its session stays with the broker
    device = await mq.device()
    client = await mq.connect(device)
    try:
        reason = await client.publish(topic(device, "telemetry"), telemetry({"TT-201": 20.5}))
        assert reason.getName() == "Success"  # queued for the absent consumer's session
    finally:
        client.close()
    second = mq.consumer(client_id)
    await second.start()
    try:
        await handled(second, 1)
    finally:
        await second.stop(forget_session=True)
    mq.pipeline.flush()
    assert mq.readings(device)["TT-201"] == [20.5]


async def test_the_consumer_reconnects_after_a_broker_restart(
    mq: Setup, consumer: MqttConsumer
) -> None:
    device = await mq.device()
    mq.broker.stop()
    mq.broker.start()  # same port; devices and sessions were persisted
    await eventually(lambda: consumer.stats.connects >= 2 and consumer.stats.connected, "reconnect")
    async with asyncio.timeout(10):
        await consumer.wait_connected()
    client = await mq.connect(device)
    try:
        await client.publish(topic(device, "telemetry"), telemetry({"GT-101": 7.0}))
        await handled(consumer, 1)
    finally:
        client.close()
    mq.pipeline.flush()
    assert mq.readings(device)["GT-101"] == [7.0]


# -- deployment --------------------------------------------------------------------------------


async def test_run_mqtt_consumer_ingests_and_flushes_until_stopped(
    mq: Setup, tmp_path: Path, chdb_dir: Path
) -> None:
    """``anjian mqtt``: a data dir (spool) of its own, the shared database and ClickHouse."""
    settings = make_settings(
        tmp_path / "beside",
        chdb_dir,
        ANJIAN_DATABASE_URL=mq.runtime.settings.database_url,
        ANJIAN_MQTT_URL=mq.broker.consumer_url,
    )
    process = Runtime(settings)
    device = await mq.device()
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_mqtt_consumer(
            process,
            refusal_status=http_status_for,
            admin_url=mq.broker.admin_url,
            stop=stop,
            client_id=f"anjian-{uuid.uuid4()}",
            forget_session=True,
        )
    )
    client = await mq.connect(device)
    body = telemetry({"GT-101": 8.5, "TT-201": 18.0})
    try:
        # Until the consumer has subscribed the broker answers "No matching subscribers";
        # the repeats carry one batch id, so they are stored once.
        for _ in range(200):
            if (await client.publish(topic(device, "telemetry"), body)).getName() == "Success":
                break
            await asyncio.sleep(0.05)
        await eventually(
            lambda: mq.count("readings", "sensor_id", device.sensors["TT-201"]) == 1,
            "the flusher of `anjian mqtt` to land the batch",
        )
    finally:
        client.close()
        stop.set()
        stats = await task
        await process.close()
    assert stats.accepted == 2
    assert mq.readings(device) == {"GT-101": [8.5], "TT-201": [18.0]}


async def test_two_spools_feeding_one_clickhouse_both_land(mq: Setup, tmp_path: Path) -> None:
    """`anjian serve` (HTTP) and `anjian mqtt` beside it: two processes, two fresh spools, one
    ClickHouse. Every acknowledged reading must land, whichever spool carried it."""
    server = make_pipeline(mq.runtime, tmp_path / "serve")
    beside = make_pipeline(mq.runtime, tmp_path / "mqtt")
    over_http, over_mqtt = await mq.device(), await mq.device()
    consumer = await started(mq.consumer(ingest=beside.ingest))
    try:
        device = await server.ingest.authenticate(over_http.token)
        await server.ingest.telemetry(device, telemetry({"GT-101": 11.0}))
        server.flush()
        client = await mq.connect(over_mqtt)
        try:
            await client.publish(topic(over_mqtt, "telemetry"), telemetry({"GT-101": 22.0}))
            await handled(consumer, 1)
        finally:
            client.close()
        beside.flush()
    finally:
        await consumer.stop(forget_session=True)
        server.close()
        beside.close()
    assert mq.readings(over_http)["GT-101"] == [11.0]
    assert mq.readings(over_mqtt)["GT-101"] == [22.0]


def test_the_generated_config_requires_authentication_and_the_plugin(tmp_path: Path) -> None:
    config = render_mosquitto_config(
        8883,
        tmp_path / "dynsec.json",
        "/etc/anjian/mqtt.crt",
        "/etc/anjian/mqtt.key",
        bind="0.0.0.0",
        plugin_path="/usr/lib/mosquitto_dynamic_security.so",
    )
    lines = config.splitlines()
    assert "allow_anonymous false" in lines
    assert "plugin /usr/lib/mosquitto_dynamic_security.so" in lines
    assert f"plugin_opt_config_file {tmp_path / 'dynsec.json'}" in lines
    assert lines.index("listener 8883 0.0.0.0") < lines.index("certfile /etc/anjian/mqtt.crt")
    assert "keyfile /etc/anjian/mqtt.key" in lines
    with pytest.raises(ConfigurationError):
        render_mosquitto_config(8883, tmp_path / "d.json", tls_cert="/c.crt")


async def test_a_tls_broker_carries_devices_the_consumer_and_the_directory(
    mq: Setup, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    with mosquitto(tmp_path / "tls", tls_cert=cert, tls_key=key) as tls:
        assert tls.consumer_url.startswith("mqtts://")
        admin = MqttDirectory(f"{tls.admin_url}?cafile={cert}")
        consumer = MqttConsumer(
            f"{tls.consumer_url}?cafile={cert}", mq.pipeline.ingest, refusal_status=http_status_for
        )
        try:
            device = await Setup(mq.runtime, mq.world, tls, admin, mq.pipeline).device()
            await started(consumer)
            plain = mq.client(device.device.id, device.token)
            plain.port = tls.port
            assert (await plain.connect()).is_failure  # no TLS, no session of any kind
            plain.close()
            client = mq.client(device.device.id, device.token, cafile=cert)
            client.port = tls.port
            assert not (await client.connect()).is_failure
            await client.publish(topic(device, "telemetry"), telemetry({"TT-201": 42.0}))
            await handled(consumer, 1)
            client.close()
        finally:
            await consumer.stop(forget_session=True)
            admin.close()
    mq.pipeline.flush()
    assert mq.readings(device)["TT-201"] == [42.0]


async def test_the_directory_refuses_wrong_admin_credentials(broker: Broker) -> None:
    wrong = MqttDirectory(broker.admin_url.replace("anjian-admin:", "anjian-admin:x"), timeout=5)
    try:
        with pytest.raises(DynsecError, match="refused"):
            await wrong.device_ids()
    finally:
        wrong.close()

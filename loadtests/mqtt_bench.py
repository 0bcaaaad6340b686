"""MQTT ingest throughput: N devices publish 500-reading batches through Mosquitto for T seconds.

Everything runs on this machine in a scratch directory: a migrated embedded store (SQLite and
chdb), a private Mosquitto with Anjian's generated configuration, the devices registered through
the registry service and pushed to the broker, the consumer and the flusher in this process,
and the devices in publisher processes (paho, QoS 1, a bounded number of batches in flight per
device). Prints one JSON object on stdout and a summary on stderr.

    .venv/bin/python loadtests/mqtt_bench.py --devices 8 --duration 30

``accepted_per_s`` counts readings newly in the durable spool during the load window (the
consumer acknowledges the broker only after that); ``landed`` counts rows in ClickHouse after
the flusher drained.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec
import paho.mqtt.client as mqtt

from backend.api.errors import http_status_for
from backend.auth.principal import Principal
from backend.auth.provisioning import unscoped_provision_tenant_in_own_transaction
from backend.core.settings import load_settings
from backend.migrate import migrate
from backend.runtime import Runtime
from backend.telemetry._mqtt_dynsec import mosquitto_binary
from backend.telemetry.kinds import parse_sensors
from backend.telemetry.mqtt import MqttConsumer, MqttDirectory
from backend.telemetry.service import create_device
from tenants.scope import Scope, scoped_session
from tenants.service import create_site_in_own_transaction

# -- the device side (publisher processes) ---------------------------------------------------


def _publish_device(
    port: int,
    device_id: str,
    token: str,
    codes: list[str],
    batch: int,
    inflight: int,
    rate: float,
    start_at: float,
    end_at: float,
    counts: list[int],
    slot: int,
) -> None:
    encoder = msgspec.json.Encoder()
    window = threading.Semaphore(inflight)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{device_id}", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(device_id, token)
    client.max_inflight_messages_set(inflight)
    client.on_publish = lambda *_: window.release()
    client.connect("127.0.0.1", port, keepalive=60)
    client.loop_start()
    topic = f"v1/devices/{device_id}/telemetry"
    sent = 0
    time.sleep(max(0.0, start_at - time.time()))
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = start_at
    while time.time() < end_at:
        if interval:
            next_at += interval
            time.sleep(max(0.0, next_at - time.time()))
        if not window.acquire(timeout=1.0):
            continue
        now = int(time.time() * 1000)
        readings = [
            {"sensor": codes[i % len(codes)], "ts": now - (i // len(codes)), "value": 20.0 + i % 7}
            for i in range(batch)
        ]
        client.publish(
            topic, encoder.encode({"batch_id": str(uuid.uuid4()), "readings": readings}), qos=1
        )
        sent += 1
    for _ in range(inflight):  # every batch acknowledged by the broker
        window.acquire(timeout=30)
    client.disconnect()
    client.loop_stop()
    counts[slot] = sent


def _publisher(
    port: int,
    devices: list[tuple[str, str]],
    codes: list[str],
    batch: int,
    inflight: int,
    rate: float,
    start_at: float,
    end_at: float,
    results: Any,
) -> None:
    counts = [0] * len(devices)
    threads = [
        threading.Thread(
            target=_publish_device,
            args=(port, d, t, codes, batch, inflight, rate, start_at, end_at, counts, i),
        )
        for i, (d, t) in enumerate(devices)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(sum(counts))


# -- setup -----------------------------------------------------------------------------------


async def _register(
    rt: Runtime, directory: MqttDirectory, devices: int, codes: list[str]
) -> list[tuple[str, str]]:
    system = Principal.system()
    tenant = await unscoped_provision_tenant_in_own_transaction(
        sessions=rt.sessions,
        authz=rt.authz,
        principal=system,
        name=f"MQTT 压测 {uuid.uuid4().hex[:6]}",
        division_code="320102",
        industry="chemical",
        owner_email=f"bench.{uuid.uuid4().hex[:6]}@example.cn",
        owner_password="bench-password-1",
        log2_n=rt.log2_n,
    )
    scope = Scope.for_tenant(tenant.id)
    sensors = parse_sensors([{"code": c, "kind": "temperature", "unit": "°C"} for c in codes])
    fleet = []
    for n in range(devices):
        # A site each: the plan's rate (200k readings/s a site) must not be what is measured.
        site = await create_site_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=Principal.system(scope),
            tenant_id=tenant.id,
            name=f"压测厂区 {n}",
            division_code="320102",
            plan="enterprise",
        )
        async with scoped_session(rt.sessions, scope) as session, session.begin():
            created = await create_device(
                session=session,
                authz=rt.authz,
                principal=Principal.system(scope),
                site_id=site.id,
                name=f"bench {n}",
                sensors=sensors,
            )
        await directory.ensure_device(created.device.id, created.token)
        fleet.append((str(created.device.id), created.token))
    return fleet


async def _bench(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    from tests.mosquitto import mosquitto

    settings = load_settings(
        {
            "ANJIAN_DATA_DIR": str(scratch / "data"),
            "ANJIAN_CLICKHOUSE_URL": f"chdb://{scratch / 'clickhouse'}",
            "ANJIAN_PASSWORD_SCRYPT_LOG2N": "10",
            "ANJIAN_ENV_FILE": str(scratch / "none.env"),
        }
    )
    rt = Runtime(settings)
    migrate(
        owner_engine=rt.owner_engine,
        keyring=rt.keyring,
        clickhouse=rt.clickhouse,
        cluster=settings.clickhouse_cluster,
    )
    codes = [f"TT-{i:03d}" for i in range(args.sensors)]
    with mosquitto(scratch / "mosquitto") as broker:
        directory = MqttDirectory(broker.admin_url)
        fleet = await _register(rt, directory, args.devices, codes)
        directory.close()
        consumer = MqttConsumer(
            broker.consumer_url,
            rt.ingest,
            refusal_status=http_status_for,
            receive_maximum=args.receive_max,
        )
        await consumer.start()
        async with asyncio.timeout(10):
            await consumer.wait_connected()
        rt.flusher.start()

        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        start_at = time.time() + 3.0  # processes up and connected
        end_at = start_at + args.duration
        groups = [fleet[i :: args.processes] for i in range(args.processes)]
        processes = [
            context.Process(
                target=_publisher,
                args=(
                    broker.port,
                    g,
                    codes,
                    args.batch,
                    args.inflight,
                    args.rate,
                    start_at,
                    end_at,
                    results,
                ),
            )
            for g in groups
            if g
        ]
        for process in processes:
            process.start()
        await asyncio.sleep(max(0.0, start_at - time.time()))
        accepted_at_start, window_start = consumer.stats.accepted, time.monotonic()
        last_report = 0.0
        while time.time() < end_at:
            await asyncio.sleep(0.5)
            if time.monotonic() - last_report >= 5:
                last_report = time.monotonic()
                rate = (consumer.stats.accepted - accepted_at_start) / (
                    time.monotonic() - window_start
                )
                print(f"  … {rate:,.0f} readings/s accepted", file=sys.stderr)
        accepted_in_window = consumer.stats.accepted - accepted_at_start
        window = time.monotonic() - window_start
        published = 0
        for _ in processes:
            published += await asyncio.to_thread(results.get, True, 120)
        for process in processes:
            process.join(30)
        for _ in range(12_000):  # what the broker queued during the window: at most 120 s
            if consumer.stats.handled >= published:
                break
            await asyncio.sleep(0.01)
        all_handled = time.monotonic() - window_start
        await consumer.stop()
        await asyncio.to_thread(rt.flusher.stop, 120.0)
        landed = int(rt.clickhouse.command("SELECT count() FROM readings"))
        stats = consumer.stats
    await rt.close()
    return {
        "devices": args.devices,
        "batch": args.batch,
        "duration_s": round(window, 1),
        "publisher_processes": len(processes),
        "batches_published": published,
        "readings_published": published * args.batch,
        "readings_accepted": stats.accepted,
        "published_per_s": round(published * args.batch / window),
        "accepted_per_s": round(accepted_in_window / window),
        "drain_s": round(all_handled - window, 1),
        "end_to_end_per_s": round(stats.accepted / all_handled),
        "refused": stats.refused,
        "failed": stats.failed,
        "spool_retries": stats.retries,
        "last_error": stats.last_error,
        "landed": landed,
        "target_per_s": 20_000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--sensors", type=int, default=50, help="sensors per device")
    parser.add_argument("--inflight", type=int, default=4, help="unacknowledged batches/device")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="batches/s per device (0: as fast as it can)"
    )
    parser.add_argument("--processes", type=int, default=1, help="publisher processes")
    parser.add_argument("--receive-max", type=int, default=200, help="consumer's window")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    if mosquitto_binary() is None:
        sys.exit("no mosquitto binary: apt-get install mosquitto")
    scratch = Path(tempfile.mkdtemp(prefix="anjian-mqtt-bench-"))
    try:
        figures = asyncio.run(_bench(args, scratch))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(figures))
    print(
        f"MQTT: {figures['accepted_per_s']:,} readings/s accepted into the spool while "
        f"publishing ({figures['published_per_s']:,}/s offered), {figures['end_to_end_per_s']:,}"
        f"/s including the drain (target {figures['target_per_s']:,}); "
        f"{figures['readings_accepted']:,} accepted, "
        f"{figures['landed']:,} landed, {figures['refused']} refused, "
        f"{figures['batches_published']:,} batches published by {args.devices} devices",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

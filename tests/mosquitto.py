"""A private Mosquitto for tests and benchmarks, and a device-side MQTT client.

``mosquitto(directory)`` writes Anjian's generated config and dynamic-security file into a
temporary directory, starts the broker on a free loopback port, and stops it at the end.
Without a ``mosquitto`` binary the calling test is skipped (fails under CI=true).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import queue
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.reasoncodes import ReasonCode

from backend.api.errors import http_status_for
from backend.auth.principal import Principal
from backend.core.objects import FileObjectStore
from backend.runtime import Runtime
from backend.telemetry._mqtt_dynsec import BrokerFiles, mosquitto_binary, prepare_broker_dir
from backend.telemetry.batches import BatchLedger
from backend.telemetry.flusher import Flusher
from backend.telemetry.ingest import Ingest
from backend.telemetry.kinds import parse_sensors
from backend.telemetry.mqtt import MqttConsumer, MqttDirectory
from backend.telemetry.quota import RateLimiter
from backend.telemetry.registry import DeviceRegistry
from backend.telemetry.service import NewDevice, create_device, revoke_device
from backend.telemetry.spool import Spool
from tenants.scope import Scope, scoped_session
from tests.factories import SENSORS, World
from tests.server import free_port


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Broker:
    binary: str
    directory: Path
    port: int
    files: BrokerFiles
    process: subprocess.Popen[bytes] | None = None

    @property
    def consumer_url(self) -> str:
        return self.files.consumer_url

    @property
    def admin_url(self) -> str:
        return self.files.admin_url

    @property
    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, timeout: float = 10.0) -> None:
        with (self.directory / "mosquitto.log").open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.files.config)], stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if self.process.poll() is not None:
                raise AssertionError(f"mosquitto exited {self.process.returncode}: {self.log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"mosquitto did not listen in time: {self.log}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()  # SIGTERM: the broker saves its persistent sessions
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def broker_binary() -> str | None:
    return mosquitto_binary()


@contextmanager
def mosquitto(directory: Path, **options: Any) -> Iterator[Broker]:
    """A running broker with Anjian's generated configuration; stopped at the end."""
    binary = mosquitto_binary()
    if binary is None:
        from tests.conftest import service_unavailable

        service_unavailable("mosquitto", "no mosquitto binary (apt-get install mosquitto)")
        raise AssertionError("unreachable")
    port = free_port()
    if os.geteuid() == 0:  # else Mosquitto drops to its own user, locked out of the tmp dir
        options.setdefault("user", "root")
    broker = Broker(binary, directory, port, prepare_broker_dir(directory, port, **options))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


# -- the device side -------------------------------------------------------------------------


@dataclass
class DeviceClient:
    """A device's MQTT v5 connection (its own paho network thread). Blocking waits run in a
    worker thread so the asyncio loop (where the consumer lives) keeps going."""

    port: int
    username: str
    password: str
    protocol: int = mqtt.MQTTv5
    cafile: Path | None = None
    messages: queue.Queue[mqtt.MQTTMessage] = field(default_factory=queue.Queue)
    _client: mqtt.Client | None = None
    _connack: queue.Queue[ReasonCode] = field(default_factory=queue.Queue)
    _disconnects: queue.Queue[ReasonCode] = field(default_factory=queue.Queue)
    _acks: dict[int, ReasonCode] = field(default_factory=dict)
    _subacks: dict[int, list[ReasonCode]] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _connected_once: bool = False

    async def connect(self, seconds: float = 10.0) -> ReasonCode:
        """The broker's CONNACK reason (success or refusal)."""
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"test-{uuid.uuid4().hex[:10]}",
            protocol=self.protocol,
        )
        client.username_pw_set(self.username, self.password)
        if self.cafile is not None:
            client.tls_set(ca_certs=str(self.cafile))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = lambda c, u, m: self.messages.put(m)
        client.connect("127.0.0.1", self.port, keepalive=30)
        client.loop_start()
        self._client = client
        reason = await asyncio.to_thread(self._connack.get, True, seconds)
        if reason.is_failure:
            client.loop_stop()
        return reason

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self._connected_once = True
        self._connack.put(reason)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if self._connack.empty() and not self._connected_once:
            self._connack.put(reason)  # closed before any CONNACK (e.g. no TLS on a TLS port)
        self._disconnects.put(reason)

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        with self._changed:
            self._acks[mid] = reason
            self._changed.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[ReasonCode], _p: Any) -> None:
        with self._changed:
            self._subacks[mid] = reasons
            self._changed.notify_all()

    def _wait_for(self, table: dict[int, Any], mid: int, timeout: float) -> Any:
        with self._changed:
            if not self._changed.wait_for(lambda: mid in table, timeout):
                raise AssertionError(f"no acknowledgement for message {mid} in {timeout} s")
            return table.pop(mid)

    async def publish(self, topic: str, payload: bytes, seconds: float = 10.0) -> ReasonCode:
        """Publish with QoS 1; returns the broker's PUBACK reason."""
        assert self._client is not None
        info = self._client.publish(topic, payload, qos=1)
        return await asyncio.to_thread(self._wait_for, self._acks, info.mid, seconds)  # type: ignore[no-any-return]

    async def subscribe(self, topic: str, seconds: float = 10.0) -> ReasonCode:
        assert self._client is not None
        _, mid = self._client.subscribe(topic, qos=1)
        reasons = await asyncio.to_thread(self._wait_for, self._subacks, mid, seconds)
        return reasons[0]  # type: ignore[no-any-return]

    async def next_message(self, seconds: float = 10.0) -> mqtt.MQTTMessage:
        return await asyncio.to_thread(self.messages.get, True, seconds)

    async def disconnected(self, seconds: float = 10.0) -> ReasonCode:
        """The reason the broker (or the network) gave for ending the connection."""
        return await asyncio.to_thread(self._disconnects.get, True, seconds)

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None


async def eventually(predicate: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


# -- a private ingest pipeline ---------------------------------------------------------------


@dataclass
class Pipeline:
    """Ingest with its own spool, ledger and flusher in a temporary directory, writing to the
    session's ClickHouse: tests flush it themselves and never race the session's flusher."""

    ingest: Ingest
    spool: Spool
    ledger: BatchLedger
    flusher: Flusher

    def flush(self) -> int:
        total = 0
        while rows := self.flusher.flush_once():
            total += rows
        return total

    def close(self) -> None:
        self.spool.close()
        self.ledger.close()


def make_pipeline(runtime: Runtime, directory: Path) -> Pipeline:
    spool_dir = directory / "spool"
    spool = Spool(spool_dir)
    ledger = BatchLedger(spool_dir / "batches.sqlite")
    flusher = Flusher(spool, runtime.clickhouse, ledger, spool_dir / "flushed.json")
    ingest = Ingest(
        DeviceRegistry(runtime.sessions),
        spool,
        ledger,
        RateLimiter(),
        FileObjectStore(directory / "objects"),
    )
    return Pipeline(ingest, spool, ledger, flusher)


# -- the test bench: registry, broker, consumer, ClickHouse ------------------------------------


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def telemetry(values: dict[str, float], batch_id: uuid.UUID | None = None) -> bytes:
    """A telemetry body as over HTTP: one reading per sensor code, stamped now."""
    readings = [{"sensor": code, "ts": now_iso(), "value": v} for code, v in values.items()]
    return json.dumps({"batch_id": str(batch_id or uuid.uuid4()), "readings": readings}).encode()


def topic(device: NewDevice, kind: str) -> str:
    return f"v1/devices/{device.device.id}/{kind}"


async def started(consumer: MqttConsumer) -> MqttConsumer:
    await consumer.start()
    async with asyncio.timeout(10):
        await consumer.wait_connected()
    return consumer


async def handled(consumer: MqttConsumer, at_least: int) -> None:
    await eventually(lambda: consumer.stats.handled >= at_least, f"{at_least} handled message(s)")


@dataclass
class Setup:
    """Tenant A of the session's world, a broker, its admin connection and a private pipeline."""

    runtime: Runtime
    world: World
    broker: Broker
    directory: MqttDirectory
    pipeline: Pipeline

    async def device(self, *, pushed: bool = True) -> NewDevice:
        """A device created through the registry service; its token pushed to the broker. Each
        on a new site of tenant A: sensor codes are unique per site."""
        from tests.ingest_helpers import new_site

        scope = Scope.for_tenant(self.world.a.tenant_id)
        site_id = await new_site(self.runtime, self.world.a.tenant_id)
        async with scoped_session(self.runtime.sessions, scope) as session, session.begin():
            created = await create_device(
                session=session,
                authz=self.runtime.authz,
                principal=Principal.system(scope),
                site_id=site_id,
                name=f"mqtt {uuid.uuid4().hex[:6]}",
                sensors=parse_sensors(SENSORS),
            )
        if pushed:
            await self.directory.ensure_device(created.device.id, created.token)
        return created

    async def revoke(self, device: NewDevice) -> None:
        scope = Scope.for_tenant(self.world.a.tenant_id)
        async with scoped_session(self.runtime.sessions, scope) as session, session.begin():
            await revoke_device(
                session=session,
                authz=self.runtime.authz,
                principal=Principal.system(scope),
                device_id=device.device.id,
            )

    def client(self, username: object, password: str, **options: Any) -> DeviceClient:
        return DeviceClient(self.broker.port, str(username), password, **options)

    async def connect(self, device: NewDevice, protocol: int = mqtt.MQTTv5) -> DeviceClient:
        client = self.client(device.device.id, device.token, protocol=protocol)
        reason = await client.connect()
        assert not reason.is_failure, f"device could not connect: {reason}"
        return client

    def consumer(self, client_id: str | None = None, ingest: Ingest | None = None) -> MqttConsumer:
        return MqttConsumer(
            self.broker.consumer_url,
            ingest or self.pipeline.ingest,
            refusal_status=http_status_for,
            client_id=client_id or f"anjian-test-{uuid.uuid4().hex[:8]}",
        )

    def count(self, table: str, column: str, value: uuid.UUID) -> int:
        result = self.runtime.clickhouse.query(
            f"SELECT count() FROM {table} WHERE {column} = {{v:UUID}}",
            parameters={"v": str(value)},
        )
        return int(result.result_rows[0][0])

    def readings(self, device: NewDevice) -> dict[str, list[float]]:
        """Each sensor's stored values, oldest first."""
        found: dict[str, list[float]] = {}
        for code, sensor_id in device.sensors.items():
            rows = self.runtime.clickhouse.query(
                "SELECT value FROM readings WHERE sensor_id = {s:UUID} ORDER BY ts",
                parameters={"s": str(sensor_id)},
            ).result_rows
            found[code] = [row[0] for row in rows]
        return found


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "mqtt.crt", directory / "mqtt.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path

"""The consumer of MQTT ingest: Anjian's persistent session on the broker, feeding ``Ingest``.

Acknowledged means durable, hop by hop: the consumer acknowledges the broker (manual PUBACK)
only once the batch is in the spool, or was refused. A refusal is published to the device's
errors topic; a full spool is waited out, the message kept unacknowledged meanwhile.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy.exc import DBAPIError

from backend.core.errors import AnjianError, Overloaded
from backend.telemetry._mqtt_dynsec import DATA_KINDS, MqttUrl, errors_topic, new_client
from backend.telemetry.ingest import Ingest, IngestError

log = logging.getLogger("anjian.mqtt")
_json = msgspec.json.Encoder()
SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
# Faults of the machinery rather than of the message: retried until they pass.
_TRANSIENT = (OSError, DBAPIError, ConnectionError)


class _BatchRef(msgspec.Struct):
    batch_id: str | None = None


_BATCH_REF = msgspec.json.Decoder(_BatchRef)


@dataclass
class ConsumerStats:
    received: int = 0
    handled: int = 0  # acknowledged to the broker (stored, duplicate or refused)
    accepted: int = 0  # readings and events newly in the spool
    duplicates: int = 0
    heartbeats: int = 0
    refused: int = 0
    failed: int = 0  # unexpected errors: logged, acknowledged, dropped
    retries: int = 0
    connects: int = 0
    connected: bool = False
    last_error: str | None = None


def parse_topic(topic: str) -> tuple[uuid.UUID, str] | None:
    """``v1/devices/<id>/<kind>`` → (id, kind); None for anything else."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "v1" or parts[1] != "devices" or parts[3] not in DATA_KINDS:
        return None
    try:
        device_id = uuid.UUID(parts[2])
    except ValueError:
        return None
    return (device_id, parts[3]) if str(device_id) == parts[2] else None


class MqttConsumer:
    """Subscribes for Anjian and feeds ``Ingest``.

    paho runs the connection in its own thread (reconnecting with back-off); each message is
    handled as a task on the asyncio loop that called ``start``, so spool appends of many
    messages share one group commit. The broker sends at most ``receive_maximum``
    unacknowledged messages at a time: that is the back-pressure.

    ``refusal_status`` gives the status a refusal's reply carries: the one the same refusal
    gets over HTTP (the API's table), so a device reads both transports' refusals alike.
    """

    def __init__(
        self,
        url: str,
        ingest: Ingest,
        *,
        refusal_status: Callable[[AnjianError], int],
        client_id: str = "anjian-ingest",
        receive_maximum: int = 200,
        report_errors: bool = True,
        retry_max_seconds: float = 10.0,
    ) -> None:
        self.url = MqttUrl.parse(url)
        self.ingest = ingest
        self.refusal_status = refusal_status
        self.client_id = client_id
        self.receive_maximum = receive_maximum
        self.report_errors = report_errors
        self.retry_max_seconds = retry_max_seconds
        self.stats = ConsumerStats()
        self._generation = 0  # message ids belong to one connection
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._tasks: set[concurrent.futures.Future[None]] = set()
        self._stopping = False
        self._connected = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background; returns at once (see ``wait_connected``)."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        client = new_client(self.url, self.client_id)
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.reconnect_delay_set(0.5, 30)
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
        properties.ReceiveMaximum = self.receive_maximum
        client.connect_async(
            self.url.host,
            self.url.port,
            keepalive=30,
            clean_start=False,  # keep the session: unacknowledged messages survive a restart
            properties=properties,
        )
        client.loop_start()
        self._client = client

    async def wait_connected(self) -> None:
        """Until subscribed on a live connection (wrap in ``asyncio.timeout``)."""
        await self._connected.wait()

    async def stop(self, drain_seconds: float = 10.0, *, forget_session: bool = False) -> None:
        """Finish the messages in hand (acknowledging them), then disconnect. Messages not
        yet handled stay with the broker for the next session with this client id, unless
        ``forget_session`` ends the session (for a client id that will not come back)."""
        self._stopping = True
        in_hand = [asyncio.wrap_future(task) for task in list(self._tasks)]
        if in_hand:
            await asyncio.wait(in_hand, timeout=drain_seconds)
        client, self._client = self._client, None
        if client is not None:
            properties = None
            if forget_session:
                properties = Properties(PacketTypes.DISCONNECT)
                properties.SessionExpiryInterval = 0
            client.disconnect(properties=properties)
            await asyncio.to_thread(client.loop_stop)
        self._connected.clear()
        self.stats.connected = False

    # -- paho callbacks (network thread) -------------------------------------------------

    def _call_soon(self, callback: Any, *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is shutting down
                loop.call_soon_threadsafe(callback, *args)

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: ReasonCode, _p: Any
    ) -> None:
        if reason.is_failure:
            self.stats.last_error = f"broker refused the connection: {reason}"
            log.error("MQTT: %s", self.stats.last_error)
            return
        self._generation += 1
        self.stats.connects += 1
        self.stats.connected = True
        client.subscribe([(data_topic_filter(kind), 1) for kind in DATA_KINDS])
        log.info("MQTT consumer connected (session present: %s)", flags.session_present)

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: list[ReasonCode], _p: Any
    ) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:  # the service account lacks its role: nothing will arrive
            self.stats.last_error = f"broker refused the subscriptions: {', '.join(refused)}"
            log.error("MQTT: %s", self.stats.last_error)
            return
        self._call_soon(self._connected.set)

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _p: Any
    ) -> None:
        self.stats.connected = False
        self._call_soon(self._connected.clear)
        if not self._stopping:
            self.stats.last_error = f"disconnected: {reason}"
            log.warning("MQTT consumer disconnected (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not acknowledged: the broker redelivers to the next session
        generation = self._generation
        try:
            future = asyncio.run_coroutine_threadsafe(self._handle(msg, generation), loop)
        except RuntimeError:
            return
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)

    # -- handling (event loop) -----------------------------------------------------------

    async def _handle(self, msg: mqtt.MQTTMessage, generation: int) -> None:
        parsed = parse_topic(msg.topic)
        if parsed is None:  # the ACLs make this impossible; never let it stall the session
            log.warning("MQTT: ignoring a message on %r", msg.topic)
            self._ack(msg, generation)
            return
        device_id, kind = parsed
        delay = 0.2
        while True:
            try:
                await self._ingest(device_id, kind, msg.payload)
                break
            except IngestError as exc:
                if not isinstance(exc, Overloaded):  # the device's doing: tell it, go on
                    self.stats.refused += 1
                    self._report(device_id, msg, exc)
                    break
                wait = exc.retry_after_seconds or delay
            except _TRANSIENT as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                wait = delay
            except Exception:  # a bug must not stall the session: log, acknowledge, go on
                self.stats.failed += 1
                log.exception("MQTT: cannot handle a message on %s", msg.topic)
                break
            if self._stopping:
                return  # not acknowledged: redelivered to the next session
            self.stats.retries += 1
            await asyncio.sleep(min(wait, delay))
            delay = min(delay * 2, self.retry_max_seconds)
        self._ack(msg, generation)

    async def _ingest(self, device_id: uuid.UUID, kind: str, payload: bytes) -> None:
        device = await self.ingest.device(device_id)
        if kind == "telemetry":
            accepted = await self.ingest.telemetry(device, payload)
        elif kind == "events":
            accepted = await self.ingest.events(device, payload)
        else:
            await self.ingest.heartbeat(device, payload)
            self.stats.heartbeats += 1
            return
        self.stats.accepted += accepted.accepted
        self.stats.duplicates += accepted.duplicates

    def _ack(self, msg: mqtt.MQTTMessage, generation: int) -> None:
        client = self._client
        # A message id means nothing on a later connection; the broker redelivers the message
        # there (a duplicate by batch id, stored once).
        if client is not None and generation == self._generation and msg.qos > 0:
            client.ack(msg.mid, msg.qos)
        self.stats.handled += 1

    def _report(self, device_id: uuid.UUID, msg: mqtt.MQTTMessage, exc: IngestError) -> None:
        if not self.report_errors or self._client is None:
            return
        reply: dict[str, Any] = {"topic": msg.topic, "status": self.refusal_status(exc)}
        if msg.topic.endswith(("/telemetry", "/events")):
            # The payload was refused, perhaps for not being UTF-8: its batch id is a courtesy.
            with contextlib.suppress(msgspec.DecodeError, UnicodeDecodeError):
                reply["batch_id"] = _BATCH_REF.decode(msg.payload).batch_id
        if exc.retry_after_seconds is not None:
            reply["retry_after"] = exc.retry_after_seconds
        reply.update(exc.body)
        properties = None
        correlation = getattr(msg.properties, "CorrelationData", None)
        if correlation is not None:
            properties = Properties(PacketTypes.PUBLISH)
            properties.CorrelationData = correlation
        self._client.publish(
            errors_topic(device_id), _json.encode(reply), qos=1, properties=properties
        )


def data_topic_filter(kind: str) -> str:
    return f"v1/devices/+/{kind}"

"""The broker side of MQTT ingest: Mosquitto's dynamic-security plugin, kept in step with the
device registry.

Each device is a broker *client* whose username is its id and whose password is its token, with
a role of its own that lets it publish to its three topics and subscribe to its errors topic,
nothing else. Anjian's service account (the consumer) may subscribe to every device's data
topics and publish to their errors topics; the admin account may only talk to the plugin's
control topic. The plugin stores PBKDF2 hashes, never the token.

Anjian keeps only a SHA-256 of each token, so a token can reach the broker only when it is
known in clear: at device creation (``ensure_device``). ``sync`` can therefore only *delete*
(revoked or unknown devices); a registered device missing from the broker is reported, and the
way back is a new token for it.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import itertools
import json
import os
import secrets
import shutil
import ssl
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from backend.core.errors import ConfigurationError, StoreUnavailable
from privacy.tls import load_server_tls

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
DATA_KINDS = ("telemetry", "heartbeat", "events")
DEVICE_ROLE_PREFIX = "anjian-device-"
ADMIN_ROLE = "anjian-admin"
SERVICE_ROLE = "anjian-ingest"
PLUGIN_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)
_PBKDF2_ITERATIONS = 101  # what mosquitto_ctrl writes; the broker reads it from each entry
# One MQTT packet carries at most a 4 MiB body (as over HTTP) plus topic and properties.
MAX_PACKET_BYTES = 4 * 1024 * 1024 + 64 * 1024


def data_topic(device_id: uuid.UUID, kind: str) -> str:
    return f"v1/devices/{device_id}/{kind}"


def errors_topic(device_id: uuid.UUID | str) -> str:
    return f"v1/devices/{device_id}/errors"


def device_role(device_id: uuid.UUID) -> str:
    return f"{DEVICE_ROLE_PREFIX}{device_id}"


def device_acls(device_id: uuid.UUID) -> list[dict[str, Any]]:
    """Publish to its own data topics, subscribe to its own errors topic; all else is denied
    by the default ACL access (publishClientSend and subscribe default to deny)."""
    acls: list[dict[str, Any]] = [
        {"acltype": "publishClientSend", "topic": data_topic(device_id, kind), "allow": True}
        for kind in DATA_KINDS
    ]
    acls.append({"acltype": "subscribeLiteral", "topic": errors_topic(device_id), "allow": True})
    return acls


# -- connection settings -------------------------------------------------------------------


@dataclass(frozen=True)
class MqttUrl:
    """``mqtt://user:password@host:port`` (``mqtts://`` for TLS; ``?cafile=`` for a private CA)."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool = False
    cafile: str | None = None

    @classmethod
    def parse(cls, url: str) -> MqttUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ConfigurationError(f"an MQTT URL starts with mqtt:// or mqtts://, got {url!r}")
        if not parts.hostname:
            raise ConfigurationError(f"the MQTT URL {url!r} names no host")
        tls = parts.scheme == "mqtts"
        query = parse_qs(parts.query)
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            cafile=query.get("cafile", [None])[0],
        )

    def configure(self, client: mqtt.Client) -> None:
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set(ca_certs=self.cafile, tls_version=ssl.PROTOCOL_TLS_CLIENT)


def new_client(url: MqttUrl, client_id: str = "") -> mqtt.Client:
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    url.configure(client)
    return client


# -- broker files --------------------------------------------------------------------------


def find_dynsec_plugin() -> str:
    for candidate in PLUGIN_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise ConfigurationError(
        "mosquitto_dynamic_security.so not found; install Debian's mosquitto package"
    )


def _password_entry(password: str) -> dict[str, Any]:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ITERATIONS)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": _PBKDF2_ITERATIONS,
    }


def initial_dynsec_config(
    *, admin_user: str, admin_password: str, service_user: str, service_password: str
) -> dict[str, Any]:
    """The plugin's starting state: an admin for the control topic and Anjian's consumer."""
    service_acls = [
        {"acltype": "subscribeLiteral", "topic": f"v1/devices/+/{kind}", "allow": True}
        for kind in DATA_KINDS
    ]
    service_acls.append(
        {"acltype": "publishClientSend", "topic": "v1/devices/+/errors", "allow": True}
    )
    control = "$CONTROL/dynamic-security/#"
    return {
        "clients": [
            {
                "username": admin_user,
                "textName": "Anjian registry sync",
                **_password_entry(admin_password),
                "roles": [{"rolename": ADMIN_ROLE}],
            },
            {
                "username": service_user,
                "textName": "Anjian ingest consumer",
                **_password_entry(service_password),
                "roles": [{"rolename": SERVICE_ROLE}],
            },
        ],
        "roles": [
            {
                "rolename": ADMIN_ROLE,
                "acls": [
                    {"acltype": "publishClientSend", "topic": control, "allow": True},
                    {"acltype": "publishClientReceive", "topic": control, "allow": True},
                    {"acltype": "subscribePattern", "topic": control, "allow": True},
                ],
            },
            {"rolename": SERVICE_ROLE, "acls": service_acls},
        ],
        "groups": [],
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
    }


def write_dynsec_file(path: Path, **accounts: str) -> None:
    """Create the plugin's JSON file (owner-only; the broker rewrites it on every change).
    Same result as ``mosquitto_ctrl dynsec init``, plus the service account, with no tool."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(initial_dynsec_config(**accounts), indent=1)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(data)


def render_mosquitto_config(
    port: int,
    dynsec_json_path: Path | str,
    tls_cert: Path | str | None = None,
    tls_key: Path | str | None = None,
    *,
    bind: str = "127.0.0.1",
    persistence_dir: Path | str | None = None,
    plugin_path: str | None = None,
    max_queued_messages: int = 100_000,
    user: str | None = None,
) -> str:
    """A ``mosquitto.conf`` for Anjian: one authenticated listener, the dynsec plugin, and a
    queue deep enough for the consumer's persistent session to ride out an Anjian restart.

    Started as root, Mosquitto drops to the ``mosquitto`` user unless ``user`` says otherwise:
    that user must be able to read and write the dynsec file and the persistence directory.
    """
    if (tls_cert is None) != (tls_key is None):
        raise ConfigurationError("TLS needs both a certificate and its key")
    lines = [
        "# Generated by Anjian: device clients and ACLs live in the dynamic-security file.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"plugin {plugin_path or find_dynsec_plugin()}",
        f"plugin_opt_config_file {dynsec_json_path}",
        f"max_packet_size {MAX_PACKET_BYTES}",
        f"max_queued_messages {max_queued_messages}",
        # A retained batch would be ingested again at every (re)subscription.
        "retain_available false",
        "max_inflight_messages 100",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages false",
    ]
    if user is not None:
        lines.append(f"user {user}")
    if persistence_dir is None:
        lines.append("persistence false")
    else:
        lines += ["persistence true", f"persistence_location {str(persistence_dir).rstrip('/')}/"]
    lines += ["", f"listener {port} {bind}", "protocol mqtt"]
    if tls_cert is not None:
        lines += [f"certfile {tls_cert}", f"keyfile {tls_key}", "tls_version tlsv1.2"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BrokerFiles:
    """A broker's configuration under one directory, and the URLs Anjian uses with it."""

    config: Path
    dynsec: Path
    consumer_url: str  # ANJIAN_MQTT_URL
    admin_url: str  # for the registry sync (see MqttDirectory)


def prepare_broker_dir(
    directory: Path,
    port: int,
    *,
    host: str = "127.0.0.1",
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    persistence: bool = True,
    user: str | None = None,
) -> BrokerFiles:
    """Write ``mosquitto.conf`` and a fresh dynsec file with random admin and service
    passwords (kept only in the returned URLs). Run ``mosquitto -c <config>`` on it.

    A TLS pair gets the checks of the HTTPS listener (``privacy.tls.load_server_tls``): both or
    neither, readable, matching, currently valid (BadInput otherwise), so a broker is never
    configured with a pair it would refuse at start-up. Mosquitto reads the key as the user it
    runs as (see ``user``), so that user needs read access to it.
    """
    checked = load_server_tls(tls_cert, tls_key)
    if checked is not None:
        # Mosquitto resolves relative paths from its working directory, not the config's.
        tls_cert, tls_key = checked.certificate.resolve(), checked.key.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    dynsec = directory / "dynamic-security.json"
    admin_password, service_password = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    write_dynsec_file(
        dynsec,
        admin_user="anjian-admin",
        admin_password=admin_password,
        service_user="anjian-ingest",
        service_password=service_password,
    )
    persist = directory / "persist" if persistence else None
    if persist is not None:
        persist.mkdir(exist_ok=True)
    config = directory / "mosquitto.conf"
    config.write_text(
        render_mosquitto_config(
            port, dynsec, tls_cert, tls_key, bind=host, persistence_dir=persist, user=user
        )
    )
    scheme = "mqtts" if tls_cert else "mqtt"
    return BrokerFiles(
        config,
        dynsec,
        f"{scheme}://anjian-ingest:{service_password}@{host}:{port}",
        f"{scheme}://anjian-admin:{admin_password}@{host}:{port}",
    )


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).is_file()),
        None,
    )


# -- the registry sync ---------------------------------------------------------------------


class DynsecError(StoreUnavailable):
    code = "MQTT_BROKER_ERROR"


@dataclass
class SyncReport:
    removed: list[uuid.UUID] = field(default_factory=list)
    # Registered, not revoked, but unknown to the broker: only a new token can fix these.
    missing: list[uuid.UUID] = field(default_factory=list)


def _device_username(name: str) -> uuid.UUID | None:
    try:
        parsed = uuid.UUID(name)
    except ValueError:
        return None
    return parsed if str(parsed) == name else None


class MqttDirectory:
    """Anjian's admin connection to the dynamic-security plugin.

    Commands go to ``$CONTROL/dynamic-security/v1``; the answers come back, in order, on its
    ``/response`` topic, matched here by ``correlationData``. Thread-safe; the async methods
    never block the event loop.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = MqttUrl.parse(url)
        self.timeout = timeout
        self._prefix = uuid.uuid4().hex[:12]
        self._ids = itertools.count(1)
        self._pending: dict[str, concurrent.futures.Future[list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._refused: str | None = None
        self._client: mqtt.Client | None = None

    # -- connection ----------------------------------------------------------------------

    def _connect(self) -> mqtt.Client:
        with self._lock:
            if self._client is not None:
                return self._client
            client = new_client(self.url, f"anjian-dynsec-{self._prefix}")
            client.on_connect = self._on_connect
            client.on_message = self._on_message
            client.on_subscribe = self._on_subscribe
            client.on_disconnect = self._on_disconnect
            client.reconnect_delay_set(0.2, 5)
            try:
                client.connect(self.url.host, self.url.port, keepalive=30)
            except OSError as exc:
                raise DynsecError(f"MQTT broker {self.url.host}:{self.url.port}: {exc}") from exc
            client.loop_start()
            if not self._ready.wait(self.timeout) or self._refused:
                client.loop_stop()
                client.disconnect()
                raise DynsecError(
                    f"MQTT broker refused the admin account: {self._refused or 'no answer'}"
                )
            self._client = client
            return client

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _p: Any
    ) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            self._ready.set()
            return
        self._refused = None
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: list[ReasonCode], _p: Any
    ) -> None:
        # Commands wait for this: an answer published before the subscription would be lost.
        if any(r.is_failure for r in reasons):
            self._refused = f"may not subscribe to {RESPONSE_TOPIC}: {reasons[0]}"
        self._ready.set()

    def _on_disconnect(self, *_args: Any) -> None:
        self._ready.clear()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(msg.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return
        if not responses:
            return
        future = self._pending.pop(str(responses[0].get("correlationData")), None)
        if future is not None and not future.done():
            future.set_result(responses)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.disconnect()
                self._client.loop_stop()
                self._client = None

    # -- commands ------------------------------------------------------------------------

    def _submit(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        client = self._connect()
        if not self._ready.is_set():
            self._ready.wait(self.timeout)
        key = f"{self._prefix}:{next(self._ids)}"
        commands = [dict(c) for c in commands]
        commands[0]["correlationData"] = key
        future: concurrent.futures.Future[list[dict[str, Any]]] = concurrent.futures.Future()
        self._pending[key] = future
        client.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1)
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            self._pending.pop(key, None)
            raise DynsecError(
                f"no answer from the broker's dynamic-security plugin in {self.timeout} s"
            ) from None

    async def command(self, *commands: dict[str, Any]) -> list[dict[str, Any]]:
        """Send commands in one message; returns one response (``error``/``data``) each."""
        return await asyncio.to_thread(self._submit, list(commands))

    @staticmethod
    def _check(responses: list[dict[str, Any]], tolerated: Iterable[str] = ()) -> None:
        allowed = set(tolerated)
        for response in responses:
            error = response.get("error")
            if error and error not in allowed:
                raise DynsecError(f"dynamic-security {response.get('command')}: {error}")

    async def ensure_device(self, device_id: uuid.UUID, token: str) -> None:
        """The device may connect with its token and publish to its own topics (idempotent:
        an existing entry gets this token and exactly these ACLs)."""
        role, username = device_role(device_id), str(device_id)
        acls = device_acls(device_id)
        created = await self.command(
            {"command": "createRole", "rolename": role, "acls": acls},
            {
                "command": "createClient",
                "username": username,
                "password": token,
                "textname": "Anjian device",
                "roles": [{"rolename": role}],
            },
        )
        self._check(created, {"Role already exists", "Client already exists"})
        fixes: list[dict[str, Any]] = []
        if created[0].get("error"):
            fixes.append({"command": "modifyRole", "rolename": role, "acls": acls})
        if created[1].get("error"):
            fixes += [
                {
                    "command": "modifyClient",
                    "username": username,
                    "password": token,
                    "roles": [{"rolename": role}],
                },
                {"command": "enableClient", "username": username},
            ]
        if fixes:
            self._check(await self.command(*fixes))

    async def remove_device(self, device_id: uuid.UUID) -> bool:
        """Delete the device's client (the broker disconnects it at once) and its role.
        Returns whether the broker knew it."""
        responses = await self.command(
            {"command": "deleteClient", "username": str(device_id)},
            {"command": "deleteRole", "rolename": device_role(device_id)},
        )
        self._check(responses, {"Client not found", "Role not found"})
        return not responses[0].get("error")

    async def device_ids(self) -> set[uuid.UUID]:
        """Devices the broker has a client for (other usernames are not devices)."""
        (clients,) = await self.command(
            {"command": "listClients", "verbose": False, "count": -1, "offset": 0}
        )
        self._check([clients])
        names = clients.get("data", {}).get("clients", [])
        return {d for d in (_device_username(n) for n in names) if d is not None}

    async def _device_roles(self) -> set[uuid.UUID]:
        (roles,) = await self.command(
            {"command": "listRoles", "verbose": False, "count": -1, "offset": 0}
        )
        self._check([roles])
        found = set()
        for name in roles.get("data", {}).get("roles", []):
            if name.startswith(DEVICE_ROLE_PREFIX):
                device = _device_username(name.removeprefix(DEVICE_ROLE_PREFIX))
                if device is not None:
                    found.add(device)
        return found

    async def sync(self, active: Iterable[uuid.UUID]) -> SyncReport:
        """Reconcile the broker with the registry: ``active`` are the registered devices that
        are not revoked. Broker clients (and roles) of any other device are deleted. Active
        devices missing from the broker cannot be created (the clear token is gone) and are
        reported instead."""
        wanted = set(active)
        present = await self.device_ids()
        report = SyncReport(missing=sorted(wanted - present))
        for device_id in sorted((present | await self._device_roles()) - wanted):
            if await self.remove_device(device_id):
                report.removed.append(device_id)
        return report

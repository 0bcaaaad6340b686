"""The registry sync: Anjian's admin connection to the dynamic-security plugin."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from backend.core.errors import StoreUnavailable
from backend.telemetry._mqtt_dynsec._client import (
    CONTROL_TOPIC,
    DEVICE_ROLE_PREFIX,
    RESPONSE_TOPIC,
    MqttUrl,
    device_acls,
    device_role,
    new_client,
)


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

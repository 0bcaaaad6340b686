"""Topics, roles and connections of MQTT ingest: what both the consumer and the broker's
admin account need to know."""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as mqtt

from backend.core.errors import ConfigurationError

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
DATA_KINDS = ("telemetry", "heartbeat", "events")
DEVICE_ROLE_PREFIX = "anjian-device-"
ADMIN_ROLE = "anjian-admin"
SERVICE_ROLE = "anjian-ingest"


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

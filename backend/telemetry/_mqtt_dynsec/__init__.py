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

from backend.telemetry._mqtt_dynsec._broker import (
    BrokerFiles,
    find_dynsec_plugin,
    initial_dynsec_config,
    mosquitto_binary,
    prepare_broker_dir,
    render_mosquitto_config,
    write_dynsec_file,
)
from backend.telemetry._mqtt_dynsec._client import (
    DATA_KINDS,
    MqttUrl,
    data_topic,
    device_acls,
    device_role,
    errors_topic,
    new_client,
)
from backend.telemetry._mqtt_dynsec._directory import DynsecError, MqttDirectory, SyncReport

__all__ = [
    "DATA_KINDS",
    "BrokerFiles",
    "DynsecError",
    "MqttDirectory",
    "MqttUrl",
    "SyncReport",
    "data_topic",
    "device_acls",
    "device_role",
    "errors_topic",
    "find_dynsec_plugin",
    "initial_dynsec_config",
    "mosquitto_binary",
    "new_client",
    "prepare_broker_dir",
    "render_mosquitto_config",
    "write_dynsec_file",
]

"""The ClickHouse client: embedded chdb or a server, through one ``clickhouse-connect`` API.

Only one process may open a chdb data directory. chdb reports a second opener with a vague
``Error initializing EmbeddedServer``; this module turns that into a message that says which
directory is busy and what to do.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from backend.core.errors import StoreUnavailable
from backend.core.native_stderr import native_stderr
from backend.core.settings import Settings
from backend.telemetry import query

ClickHouseClient = Client  # for type hints elsewhere: only this package speaks to ClickHouse


class EngineBusy(StoreUnavailable):
    code = "CLICKHOUSE_ENGINE_BUSY"


_clients: dict[str, Client] = {}
_lock = threading.Lock()


def open_client(settings: Settings) -> Client:
    """The process-wide client for the configured ClickHouse (opened once, then shared).
    The settings' limits apply to every query sent through the scoped builder from now on."""
    query.configure(settings.limits)
    with _lock:
        client = _clients.get(settings.clickhouse_url)
        if client is None:
            client = _connect(settings)
            _clients[settings.clickhouse_url] = client
        return client


def _connect(settings: Settings) -> Client:
    path = settings.chdb_path
    if path is not None:
        return _connect_embedded(path)
    try:
        return clickhouse_connect.get_client(dsn=settings.clickhouse_url, tz_mode="aware")
    except Exception as exc:  # the driver raises several unrelated types for "unreachable"
        raise StoreUnavailable(
            f"ClickHouse at {settings.clickhouse_url} is unreachable: {exc}"
        ) from exc


def _connect_embedded(path: Path) -> Client:
    path.mkdir(parents=True, exist_ok=True)
    try:
        # chdb prints its exception to fd 2 before raising it: kept out of the way of the
        # explanation below, and put back on stderr when the engine opens.
        with native_stderr() as chdb_said:
            client = clickhouse_connect.get_client(dsn=f"chdb://{path}", tz_mode="aware")
        chdb_said.replay()
        return client
    except Exception as exc:
        if "EmbeddedServer" in str(exc) or "lock" in str(exc).lower():
            raise EngineBusy(
                f"the embedded ClickHouse data directory {path} is in use by another Anjian "
                "process (is `anjian serve` or `anjian demo` running?). Stop it first, or point "
                "ANJIAN_CLICKHOUSE_URL at a ClickHouse server."
            ) from exc
        raise StoreUnavailable(f"cannot open the embedded ClickHouse at {path}: {exc}") from exc


def close_clients() -> None:
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def ping(client: Client) -> dict[str, Any]:
    version = client.command("SELECT version()")
    return {"clickhouse": str(version)}

"""``anjian bench alarms``: a scripted gas leak under background ingest load.

A server runs with every sensor on its default rules. N background devices post readings at a
fixed rate while a "leak" device, one sensor after another, reports 55 %LEL (RED, over the
50 %LEL second level of GB/T 50493) and later 1 %LEL (clear). A GraphQL subscription client
(graphql-transport-ws, as the alarm console) records when each alarm event arrives. Reported:
reading accepted → RAISED event latency p50/p99, and alarms raised versus expected, with misses
and duplicates counted.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

from backend.bench.harness import BenchmarkFailed, anjian_json
from backend.bench.ingest import post_batches, provision_fleet, served

SUBSCRIPTION = "subscription { alarmEvents { kind alarm { id severity status sensorId } } }"


@dataclass
class AlarmFigures:
    background_readings_per_s: float
    leaks: int
    raised: int
    missed: int
    duplicated: int
    cleared: int
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float


def _leak_device(data_dir: Path, leaks: int) -> tuple[str, dict[str, str]]:
    site = json.loads((data_dir / "bench-site.json").read_text())["site"]
    sensors = data_dir / "leak-sensors.json"
    sensors.write_text(
        json.dumps(
            [
                {"code": f"LK-{i:03d}", "kind": "combustible_gas", "unit": "%LEL", "zone": "罐区A"}
                for i in range(leaks)
            ]
        )
    )
    device = anjian_json(
        data_dir,
        "device",
        "create",
        "--site",
        str(site),
        "--name",
        "leak",
        "--sensors",
        str(sensors),
    )
    return str(device["token"]), {code: str(i) for code, i in device["sensors"].items()}


async def _subscribe(
    url: str,
    token: str,
    events: list[tuple[float, dict[str, Any]]],
    ready: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        ack = json.loads(await socket.recv())
        if ack.get("type") != "connection_ack":
            raise BenchmarkFailed(f"subscription refused: {ack}")
        await socket.send(
            json.dumps({"id": "alarms", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        ready.set()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(socket.recv(), timeout=0.5)
            except TimeoutError:
                continue
            message = json.loads(raw)
            if message.get("type") == "next":
                events.append((time.perf_counter(), message["payload"]["data"]["alarmEvents"]))
            elif message.get("type") == "ping":
                await socket.send(json.dumps({"type": "pong"}))


async def _leak(
    url: str, token: str, codes: list[str], duration: float, accepted_at: dict[str, float]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    gap = duration / (len(codes) + 2)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for value_for in ("leak", "clear"):
            for code in codes:
                await asyncio.sleep(gap / 2)
                value = 55.0 if value_for == "leak" else 1.0
                body = {
                    "batch_id": str(uuid.uuid4()),
                    "readings": [
                        {"sensor": code, "ts": datetime.now(UTC).isoformat(), "value": value}
                    ],
                }
                response = await client.post("/api/v1/telemetry", json=body, headers=headers)
                if response.status_code != 202:
                    raise BenchmarkFailed(f"leak reading refused: {response.text}")
                if value_for == "leak":
                    accepted_at[code] = time.perf_counter()


async def _scenario(
    url: str,
    owner_token: str,
    fleet: list[tuple[str, list[str]]],
    leak_token: str,
    leak_sensors: dict[str, str],
    rate: float,
    duration: float,
) -> tuple[list[tuple[float, dict[str, Any]]], dict[str, float], int, float]:
    events: list[tuple[float, dict[str, Any]]] = []
    accepted_at: dict[str, float] = {}
    ready, stop = asyncio.Event(), asyncio.Event()
    listener = asyncio.create_task(_subscribe(url, owner_token, events, ready, stop))
    await asyncio.wait_for(ready.wait(), timeout=30)
    load = asyncio.create_task(
        post_batches(url, fleet, 500, duration, rate=rate, progress_label="alarms")
    )
    await _leak(url, leak_token, sorted(leak_sensors), duration, accepted_at)
    _, _, accepted, elapsed = await load
    deadline = time.monotonic() + 10
    wanted = set(leak_sensors.values())
    while time.monotonic() < deadline:
        cleared = {e["alarm"]["sensorId"] for _, e in events if e["kind"] == "CLEARED"}
        if wanted <= cleared:
            break
        await asyncio.sleep(0.2)
    stop.set()
    await listener
    return events, accepted_at, accepted, elapsed


def run(devices: int, rate: float, leaks: int, duration: float) -> AlarmFigures:
    scratch = Path(tempfile.mkdtemp(prefix="anjian-bench-alarms-"))
    try:
        fleet = provision_fleet(scratch, devices, 50)
        leak_token, leak_sensors = _leak_device(scratch, leaks)
        with served(scratch) as (url, token, _):
            events, accepted_at, accepted, elapsed = asyncio.run(
                _scenario(url, token, fleet, leak_token, leak_sensors, rate, duration)
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    by_sensor = {sensor_id: code for code, sensor_id in leak_sensors.items()}
    raised: dict[str, list[float]] = {}
    cleared = 0
    for at, event in events:
        code = by_sensor.get(event["alarm"]["sensorId"] or "")
        if code is None:
            continue
        if event["kind"] == "RAISED":
            raised.setdefault(code, []).append(at)
        elif event["kind"] == "CLEARED":
            cleared += 1
    latencies = sorted(
        1000 * (times[0] - accepted_at[code])
        for code, times in raised.items()
        if code in accepted_at
    )

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    return AlarmFigures(
        background_readings_per_s=round(accepted / elapsed),
        leaks=leaks,
        raised=sum(len(t) for t in raised.values()),
        missed=leaks - len(raised),
        duplicated=sum(len(t) - 1 for t in raised.values()),
        cleared=cleared,
        latency_p50_ms=pct(0.5),
        latency_p99_ms=pct(0.99),
        latency_max_ms=pct(1.0),
    )


def as_dict(figures: AlarmFigures) -> dict[str, object]:
    return asdict(figures)

"""Locust scenario: devices posting 500-reading batches to ``POST /api/v1/telemetry``.

Provision devices first (for example with ``anjian bench ingest --keep`` or ``anjian device
create``) and list their tokens and sensor codes in a JSON file:

    [{"token": "…", "sensors": ["TT-000", "TT-001", …]}, …]

then run, from the project root (``pip install -e '.[load]'`` brings Locust):

    ANJIAN_DEVICES=devices.json locust -f loadtests/locustfile_ingest.py \
        --host http://127.0.0.1:8000 --users 20 --spawn-rate 20 --run-time 60s --headless

``anjian bench ingest`` measures the same load without Locust and adds the landed count, the
server's peak RSS and the raw ClickHouse insert rate for comparison.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from pathlib import Path

from locust import FastHttpUser, between, task

BATCH = 500
_DEVICES = json.loads(Path(os.environ.get("ANJIAN_DEVICES", "devices.json")).read_text())
_NEXT_DEVICE = itertools.cycle(_DEVICES)


class Device(FastHttpUser):
    wait_time = between(0, 0.01)

    def on_start(self) -> None:
        device = next(_NEXT_DEVICE)
        self.headers = {
            "Authorization": f"Bearer {device['token']}",
            "Content-Type": "application/json",
        }
        self.sensors = device["sensors"]
        self.sequence = 0

    def _batch(self) -> bytes:
        self.sequence += 1
        base = int(time.time() * 1000) - 60_000 + self.sequence % 50_000
        readings = [
            {"sensor": code, "ts": base - step * 60_000, "value": 20.0 + (i % 40)}
            for step in range(max(1, BATCH // len(self.sensors)))
            for i, code in enumerate(self.sensors)
        ][:BATCH]
        return json.dumps({"batch_id": str(uuid.uuid4()), "readings": readings}).encode()

    @task
    def post_batch(self) -> None:
        with self.client.post(
            "/api/v1/telemetry", data=self._batch(), headers=self.headers, catch_response=True
        ) as response:
            if response.status_code != 202:
                response.failure(f"{response.status_code}: {response.text[:200]}")

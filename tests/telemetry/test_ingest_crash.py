"""kill -9 of the server during a sustained load, then a restart: every acknowledged reading is
in ClickHouse exactly once, in the raw table and in both rollups.

The server is the real ``anjian serve`` on a data directory of its own. Devices do what a device
does after a lost answer: send the same batch again. The counts are read afterwards by a
separate process that opens the (then stopped) server's chdb directory.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.server import anjian, anjian_json, served

pytestmark = pytest.mark.slow

SENSORS = 10
PER_BATCH = 500
SENDERS = 4
KILL_AFTER = 3.0  # seconds of load before the kill

COUNTS = """
import json, sys
import clickhouse_connect
client = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])
tenant = {"t": sys.argv[2]}
one = lambda sql: client.query(sql, parameters=tenant).result_rows[0][0]
print(json.dumps({
    "raw": one("SELECT count() FROM readings WHERE tenant_id = {t:UUID}"),
    "distinct": one("SELECT uniqExact(sensor_id, ts) FROM readings WHERE tenant_id = {t:UUID}"),
    "minute": one("SELECT sum(count) FROM readings_1m WHERE tenant_id = {t:UUID}"),
    "hour": one("SELECT sum(count) FROM readings_1h WHERE tenant_id = {t:UUID}"),
}))
"""


@dataclass
class Load:
    token: str
    codes: list[str]
    base_ms: int = field(default_factory=lambda: int(time.time() * 1000) - 10 * 60_000)
    next_reading: int = 0
    acknowledged: dict[str, bytes] = field(default_factory=dict)  # batch id -> body
    unanswered: dict[str, bytes] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)

    def batch(self) -> tuple[str, bytes]:
        """500 readings; (sensor, ts) is unique over the whole test."""
        batch_id = str(uuid.uuid4())
        items = []
        for _ in range(PER_BATCH):
            k = self.next_reading
            self.next_reading += 1
            sensor = self.codes[k % len(self.codes)]
            items.append(
                {"sensor": sensor, "ts": self.base_ms + k // len(self.codes), "value": k % 90}
            )
        return batch_id, json.dumps({"batch_id": batch_id, "readings": items}).encode()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}


async def sender(client: httpx.AsyncClient, url: str, load: Load, stop: asyncio.Event) -> None:
    while not stop.is_set():
        batch_id, body = load.batch()
        try:
            response = await client.post(
                f"{url}/api/v1/telemetry", content=body, headers=load.headers
            )
        except httpx.TransportError:
            load.unanswered[batch_id] = body  # the server died under this request
            continue
        if response.status_code == 202:
            assert response.json() == {"accepted": PER_BATCH, "duplicates": 0}
            load.acknowledged[batch_id] = body
        else:
            load.refused.append(f"{response.status_code} {response.text[:200]}")


async def run_and_kill(url: str, load: Load, process: subprocess.Popen[bytes]) -> None:
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=30) as client:
        tasks = [asyncio.create_task(sender(client, url, load, stop)) for _ in range(SENDERS)]
        await asyncio.sleep(KILL_AFTER)  # the load runs for this long before the kill
        process.kill()  # SIGKILL: no shutdown, no drain
        await asyncio.to_thread(process.wait)
        stop.set()
        await asyncio.gather(*tasks)


async def resend(url: str, load: Load) -> dict[str, dict[str, int]]:
    """After the restart: every unanswered batch, and some acknowledged ones again."""
    again = list(load.acknowledged.items())[:: max(1, len(load.acknowledged) // 20)]
    answers: dict[str, dict[str, int]] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for batch_id, body in [*load.unanswered.items(), *again]:
            response = await client.post(
                f"{url}/api/v1/telemetry", content=body, headers=load.headers
            )
            assert response.status_code == 202, response.text
            answers[batch_id] = response.json()
    for batch_id, _ in again:
        assert answers[batch_id] == {"accepted": 0, "duplicates": PER_BATCH}, batch_id
    for batch_id in load.unanswered:
        # spooled before the kill (answer lost) or not: either way it is now stored once
        assert sum(answers[batch_id].values()) == PER_BATCH, answers[batch_id]
    return answers


ADMIN = ("admin@crash.example.cn", "crash-admin-pass-9")


def wait_until_drained(url: str, within: float = 30.0) -> dict[str, object]:
    """/readyz's checks, which it shows the platform administrator only."""
    signed_in = httpx.post(
        f"{url}/graphql",
        json={
            "query": "mutation($e: String!, $p: String!) "
            "{ login(email: $e, password: $p) { token } }",
            "variables": {"e": ADMIN[0], "p": ADMIN[1]},
        },
        timeout=30,
    ).json()
    assert signed_in.get("data"), signed_in
    headers = {"Authorization": f"Bearer {signed_in['data']['login']['token']}"}
    deadline = time.monotonic() + within
    while True:
        body = httpx.get(f"{url}/readyz", headers=headers, timeout=5).json()
        if body["checks"]["spool"]["unflushed_bytes"] == 0 or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_kill_9_under_load_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    anjian(data, "migrate")
    anjian(data, "admin", "create", "--email", ADMIN[0], "--password", ADMIN[1])
    tenant_id = anjian_json(
        data,
        *("tenant", "create", "--name", "崩溃测试化工", "--division", "320100"),
        *("--industry", "chemical", "--owner-email", "owner@crash.example.cn"),
        *("--owner-password", "correct-horse-9"),
    )["tenant_id"]
    site_id = anjian_json(
        data,
        *("site", "create", "--tenant", tenant_id, "--name", "一厂", "--division", "320102"),
        *("--plan", "enterprise"),
    )["site_id"]
    codes = [f"GT-{n:03d}" for n in range(SENSORS)]
    sensors_file = tmp_path / "sensors.json"
    sensors_file.write_text(
        json.dumps([{"code": c, "kind": "combustible_gas", "unit": "%LEL"} for c in codes])
    )
    device = anjian_json(
        data,
        "device",
        "create",
        "--site",
        site_id,
        "--name",
        "探测器",
        "--sensors",
        str(sensors_file),
    )
    load = Load(device["token"], codes)

    with served(data) as server:
        asyncio.run(run_and_kill(server.url, load, server.process))
        assert server.process.returncode == -9
    assert not load.refused, load.refused[:5]
    assert load.acknowledged, "nothing was acknowledged before the kill"

    with served(data) as server:
        asyncio.run(resend(server.url, load))
        ready = wait_until_drained(server.url)
        assert ready["checks"]["spool"]["unflushed_bytes"] == 0, ready  # type: ignore[index]
    expected = PER_BATCH * (len(load.acknowledged) + len(load.unanswered))

    result = subprocess.run(
        [sys.executable, "-c", COUNTS, str(data / "clickhouse"), tenant_id],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    counts = json.loads(result.stdout)
    assert counts == {"raw": expected, "distinct": expected, "minute": expected, "hour": expected}

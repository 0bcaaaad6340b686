"""The test clock (issue 10, item 9): a served process started with ``ANJIAN_ENV=test`` and
``ANJIAN_TEST_CLOCK=1`` runs its timers on a clock that ``POST /api/v1/test/clock`` moves ahead,
so an escalation or offline deadline falls due without waiting for it; the same setting in a
process not in test mode refuses to start, and without it the route does not exist."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.graphql import GraphQLClient
from tests.server import ANJIAN, anjian, anjian_json, cli_env, free_port

OWNER, PASSWORD = "owner@clock.example.cn", "correct-horse-9"
TEST_CLOCK = {"ANJIAN_ENV": "test", "ANJIAN_TEST_CLOCK": "1"}
ALARMS = "{ alarms { id level escalationStep sensor { code } } }"


@contextmanager
def serving(data: Path, env: dict[str, str], timeout: float = 60) -> Iterator[str]:
    """``anjian serve`` with extra settings until the block ends; yields its URL."""
    port = free_port()
    log_path = data / f"server-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [ANJIAN, "serve", "--port", str(port)],
            env=cli_env(data, **env),
            stdout=log,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise AssertionError(f"server exited with {process.returncode}: {tail}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not become healthy in time"
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def provision(data: Path, tmp_path: Path) -> str:
    """A chemical tenant with one gas detector; returns the device's token."""
    anjian(data, "migrate")
    tenant_id = anjian_json(
        data,
        *("tenant", "create", "--name", "时钟测试化工", "--division", "320100"),
        *("--industry", "chemical", "--owner-email", OWNER, "--owner-password", PASSWORD),
    )["tenant_id"]
    site_id = anjian_json(
        data,
        *("site", "create", "--tenant", tenant_id, "--name", "一厂", "--division", "320102"),
    )["site_id"]
    sensors = tmp_path / "sensors.json"
    sensors.write_text(json.dumps([{"code": "GT-1", "kind": "combustible_gas", "unit": "%LEL"}]))
    device = anjian_json(
        data, "device", "create", "--site", site_id, "--name", "探测器", "--sensors", str(sensors)
    )
    return str(device["token"])


def graphql(url: str, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


def alarms_until(
    url: str, token: str, done: Callable[[list[dict[str, Any]]], bool], within: float
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    while True:
        alarms: list[dict[str, Any]] = graphql(url, ALARMS, token)["alarms"]
        if done(alarms) or time.monotonic() > deadline:
            return alarms
        time.sleep(0.2)


def test_an_advanced_clock_makes_escalation_and_offline_deadlines_fall_due(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    device_token = provision(data, tmp_path)
    with serving(data, TEST_CLOCK) as url:
        login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }"
        token = graphql(url, login, e=OWNER, p=PASSWORD)["login"]["token"]
        batch = {
            "batch_id": str(uuid.uuid4()),
            "readings": [{"sensor": "GT-1", "ts": int(time.time() * 1000), "value": 30.0}],
        }
        sent = httpx.post(
            f"{url}/api/v1/telemetry",
            json=batch,
            headers={"Authorization": f"Bearer {device_token}"},
        )
        assert sent.status_code == 202, sent.text
        (leak,) = alarms_until(url, token, bool, within=30)
        assert (leak["sensor"]["code"], leak["escalationStep"]) == ("GT-1", 0)

        # The leak's acknowledgement deadline is 600 s, the device is offline after 300 s of
        # silence: both fall due at once, without waiting.
        moved = httpx.post(f"{url}/api/v1/test/clock", json={"seconds": 601})
        assert moved.status_code == 200, moved.text
        assert moved.json()["offset_seconds"] == 601

        def escalated_and_offline(alarms: list[dict[str, Any]]) -> bool:
            by_id = {a["id"]: a for a in alarms}
            offline = [a for a in alarms if a["level"] == "offline" and a["sensor"] is None]
            return by_id[leak["id"]]["escalationStep"] == 1 and bool(offline)

        alarms = alarms_until(url, token, escalated_and_offline, within=10)
        assert escalated_and_offline(alarms), alarms

        backwards = httpx.post(f"{url}/api/v1/test/clock", json={"seconds": -5})
        assert backwards.status_code == 400, backwards.text


def test_the_test_clock_outside_test_mode_refuses_to_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = subprocess.run(
        [ANJIAN, "serve", "--port", str(free_port())],
        env=cli_env(data, ANJIAN_TEST_CLOCK="1"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "ANJIAN_TEST_CLOCK" in done.stderr and "ANJIAN_ENV=test" in done.stderr
    assert "Traceback" not in done.stderr


async def test_without_the_setting_there_is_no_clock_route(api: GraphQLClient) -> None:
    response = await api.http.post("/api/v1/test/clock", json={"seconds": 60})
    assert response.status_code in (404, 405), response.text

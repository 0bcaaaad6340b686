"""One real server and one Chromium for the whole enterprise-console suite.

The server is ``anjian serve`` on a scratch data directory, filled through the CLI as an
administrator would: two tenants with names, sites and sensor codes that cannot be mistaken for
each other, every enterprise role in tenant A and an owner in tenant B, devices with sensors
in both, readings for every sensor and an alarm already raised in each tenant (so the other
tenant's alarm console has something to leak).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.console.pages import CHROMIUM_ARGS, post_readings
from tests.browser.console.world import (
    DIST_INDEX,
    PASSWORD,
    ROLES,
    SENSORS_A,
    SENSORS_B,
    SITE_A,
    SITES_B,
    TENANT_A,
    TENANT_B,
    WORKER_A,
    WORKER_B,
    World,
    graphql,
)
from tests.conftest import service_unavailable
from tests.server import ANJIAN, anjian_json, cli_env, served

playwright = pytest.importorskip("playwright.async_api")


def _parallel(data_dir: Path, commands: list[list[str]]) -> list[dict[str, Any]]:
    """Several independent CLI commands at once: each is a Python start-up of its own."""
    running = [
        subprocess.Popen(
            [ANJIAN, *args, "--json"],
            env=cli_env(data_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    answers = []
    for args, process in zip(commands, running, strict=True):
        out, err = process.communicate(timeout=120)
        if process.returncode != 0:
            raise AssertionError(f"anjian {' '.join(args)} failed: {err}")
        answers.append(json.loads(out))
    return answers


def _tenant(name: str, industry: str, owner: str) -> list[str]:
    return [
        *("tenant", "create", "--name", name, "--division", "320100"),
        *("--industry", industry, "--owner-email", owner, "--owner-password", PASSWORD),
    ]


def _site(tenant: str, name: str) -> list[str]:
    return ["site", "create", "--tenant", tenant, "--name", name, "--division", "320102"]


def _history(device_token: str, url: str, code: str, base: float) -> None:
    """An hour of readings every five minutes, so the history chart has a line to draw."""
    now = datetime.now(UTC)
    post_readings(
        url,
        device_token,
        [(code, base + (i % 4) * 0.5, now - timedelta(minutes=60 - 5 * i)) for i in range(12)],
    )


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not DIST_INDEX.is_file():
        service_unavailable("the portal build", "portal/web/dist is missing (run make portal)")
    data_dir: Path = tmp_path_factory.mktemp("console")
    anjian_json(data_dir, "migrate")
    users = {role: f"{role.replace('_', '-')}@dongjiang.example.cn" for role in ROLES}
    owner_b = "owner@xiling.example.cn"
    tenant_a, tenant_b = (
        answer["tenant_id"]
        for answer in _parallel(
            data_dir,
            [
                _tenant(TENANT_A, "chemical", users["owner"]),
                _tenant(TENANT_B, "mining", owner_b),
            ],
        )
    )
    site_a, *sites_b = (
        answer["site_id"]
        for answer in _parallel(
            data_dir, [_site(tenant_a, SITE_A), *(_site(tenant_b, name) for name in SITES_B)]
        )
    )
    (data_dir / "sensors-a.json").write_text(json.dumps(SENSORS_A, ensure_ascii=False))
    (data_dir / "sensors-b.json").write_text(json.dumps(SENSORS_B, ensure_ascii=False))
    members = [
        [
            *("member", "add", "--domain", f"tenant:{tenant_a}", "--email", users[role]),
            *("--role", role, "--password", PASSWORD),
        ]
        for role in ROLES
        if role != "owner"
    ]
    devices = [
        ["device", "create", "--site", site_a, "--name", "东江一号采集器"],
        ["device", "create", "--site", sites_b[0], "--name", "西岭井下采集器"],
    ]
    devices[0] += ["--sensors", str(data_dir / "sensors-a.json")]
    devices[1] += ["--sensors", str(data_dir / "sensors-b.json")]
    _parallel(data_dir, members)
    # One at a time: once, created beside the member commands, a device the CLI had printed
    # a token for was missing from the store afterwards.
    device_a, device_b = (anjian_json(data_dir, *args) for args in devices)

    # The devices report once, here: a suite that outlasts the default offline window (five
    # minutes on a busy machine) would see BLUE offline alarms no test raised.
    with served(data_dir, env={"ANJIAN_OFFLINE_AFTER_SECONDS": "3600"}) as running:
        now = datetime.now(UTC)
        # Ordinary values everywhere, and one alarm in each tenant: B's RED must never show
        # in A's console, A's ORANGE gives every role of A a row to look at.
        post_readings(
            running.url,
            device_a["token"],
            [
                ("DJ-GT-101", 3.0, now),
                ("DJ-GT-102", 30.0, now),
                ("DJ-TT-201", 41.5, now),
                ("DJ-PT-301", 180.0, now),
            ],
        )
        post_readings(
            running.url,
            device_b["token"],
            [("XL-GT-901", 58.0, now), ("XL-CH4-902", 0.3, now)],
        )
        _history(device_a["token"], running.url, "DJ-TT-201", 40.0)
        world = World(
            url=running.url,
            data_dir=data_dir,
            tenant_a=tenant_a,
            tenant_b=tenant_b,
            site_a=site_a,
            sites_b=sites_b,
            users=users,
            owner_b=owner_b,
            token_a=device_a["token"],
            token_b=device_b["token"],
            sensors_a=device_a["sensors"],
            sensors_b=device_b["sensors"],
            foreign=[
                TENANT_B,
                *SITES_B,
                *(s["code"] for s in SENSORS_B),
                *{s["zone"] for s in SENSORS_B},
                owner_b,
                WORKER_B["name"],
                WORKER_B["employeeNumber"],
            ],
        )
        world.owner_token = world.bearer(users["owner"])
        _add_worker(world, world.owner_token, tenant_a, WORKER_A)
        _add_worker(world, world.bearer(owner_b), tenant_b, WORKER_B)
        _wait_for_alarms(world)
        yield world


def _add_worker(world: World, token: str, tenant: str, worker: dict[str, str]) -> None:
    answer = graphql(
        world.url,
        """mutation($t: ID!, $n: String!, $e: String!, $m: String) {
            createWorker(tenantId: $t, name: $n, employeeNumber: $e, mobile: $m) { id }
        }""",
        {"t": tenant, "n": worker["name"], "e": worker["employeeNumber"], "m": worker["mobile"]},
        token=token,
    )
    assert not answer.get("errors"), answer


def _wait_for_alarms(world: World) -> None:
    """Both seeded alarms raised (the rule engine runs beside ingestion, not inside it)."""
    query = "{ alarms(status: ACTIVE, first: 50) { severity sensor { code } } }"
    for email, code in ((world.users["owner"], "DJ-GT-102"), (world.owner_b, "XL-GT-901")):
        token = world.bearer(email)
        deadline = time.monotonic() + 20
        while True:
            alarms = graphql(world.url, query, token=token)["data"]["alarms"]
            if any(a["sensor"] and a["sensor"]["code"] == code for a in alarms):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"no alarm on {code}: {alarms}")
            time.sleep(0.3)


@pytest.fixture(scope="package")
async def chromium() -> AsyncIterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        service_unavailable("Chromium", "not installed (scripts/ensure-chromium installs it)")
    async with playwright.async_playwright() as p:
        instance = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        await instance.close()

"""One real server and one Chromium for the whole government-portal suite.

The server is ``anjian serve`` on a scratch data directory, filled through the CLI as an
administrator would: an enterprise in Nanjing with a site in 玄武区 (sensors, readings, an
alarm, a registered major hazard unit) and its safety manager, an enterprise in Suzhou with a
site in 姑苏区, the three government roles of Nanjing and a director of Jiangsu.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser.console.conftest import _parallel
from tests.browser.console.pages import CHROMIUM_ARGS, post_readings
from tests.browser.gov.world import (
    DIST_INDEX,
    GOV_ROLES,
    HAZARD_UNIT,
    JIANGSU,
    NANJING,
    PASSWORD,
    RESPONSIBLE,
    SENSORS_A,
    SENSORS_S,
    SITE_A,
    SITE_A_DISTRICT,
    SITE_S,
    SITE_S_DISTRICT,
    TENANT_A,
    TENANT_S,
    GovWorld,
    graphql,
)
from tests.conftest import service_unavailable
from tests.server import anjian_json, served

playwright = pytest.importorskip("playwright.async_api")


def _tenant(name: str, industry: str, owner: str, division: str) -> list[str]:
    return [
        *("tenant", "create", "--name", name, "--division", division),
        *("--industry", industry, "--owner-email", owner, "--owner-password", PASSWORD),
    ]


def _site(tenant: str, name: str, division: str) -> list[str]:
    return ["site", "create", "--tenant", tenant, "--name", name, "--division", division]


def _regulator(division: str, email: str, role: str) -> list[str]:
    return [
        *("regulator", "create", "--division", division, "--email", email),
        *("--password", PASSWORD, "--role", role),
    ]


def _register_hazard_unit(world: GovWorld, owner: str, tenant: str) -> None:
    """The unit, and its principal in charge: a worker of the enterprise."""
    answer = graphql(
        world.url,
        """mutation($s: ID!, $n: String!) {
            registerHazardUnit(siteId: $s, name: $n, peopleWithin500m: 120,
                substances: [{ casNumber: "7782-50-5", quantityTonnes: 20 }]) { id grade }
        }""",
        {"s": world.site_a, "n": HAZARD_UNIT},
        token=world.bearer(owner),
    )
    assert not answer.get("errors"), answer
    unit = answer["data"]["registerHazardUnit"]["id"]
    worker = graphql(
        world.url,
        """mutation($t: ID!, $n: String!, $e: String!, $m: String, $s: ID) {
            createWorker(tenantId: $t, name: $n, employeeNumber: $e, mobile: $m, siteId: $s) { id }
        }""",
        {"t": tenant, "s": world.site_a, "n": RESPONSIBLE["name"],
         "e": RESPONSIBLE["employeeNumber"], "m": RESPONSIBLE["mobile"]},
        token=world.bearer(owner),
    )  # fmt: skip
    assert not worker.get("errors"), worker
    assigned = graphql(
        world.url,
        """mutation($u: ID!, $w: ID!) {
            assignHazardResponsible(unitId: $u, role: MAIN, workerId: $w) { id }
        }""",
        {"u": unit, "w": worker["data"]["createWorker"]["id"]},
        token=world.bearer(owner),
    )
    assert not assigned.get("errors"), assigned


def _wait_for_alarm(world: GovWorld, owner: str, code: str) -> None:
    """The seeded alarm raised (the rule engine runs beside ingestion, not inside it)."""
    query = "{ alarms(status: ACTIVE, first: 50) { sensor { code } } }"
    token = world.bearer(owner)
    deadline = time.monotonic() + 20
    while True:
        alarms = graphql(world.url, query, token=token)["data"]["alarms"]
        if any(a["sensor"] and a["sensor"]["code"] == code for a in alarms):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no alarm on {code}: {alarms}")
        time.sleep(0.3)


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GovWorld]:
    if not DIST_INDEX.is_file():
        service_unavailable("the portal build", "portal/web/dist is missing (run make portal)")
    data_dir: Path = tmp_path_factory.mktemp("gov")
    anjian_json(data_dir, "migrate")
    owner_a, owner_s = "owner@dongjiang.example.cn", "owner@gusu.example.cn"
    regulators = {role: f"{role}@nanjing.gov.example.cn" for role in GOV_ROLES}
    provincial = "director@jiangsu.gov.example.cn"
    # The regulators are created beside the tenants: each command is a Python start-up.
    created = _parallel(
        data_dir,
        [
            _tenant(TENANT_A, "chemical", owner_a, NANJING),
            _tenant(TENANT_S, "chemical", owner_s, "320500"),
            *(_regulator(NANJING, email, role) for role, email in regulators.items()),
            _regulator(JIANGSU, provincial, "director"),
        ],
    )
    tenant_a, tenant_s = created[0]["tenant_id"], created[1]["tenant_id"]
    safety_manager = "safety@dongjiang.example.cn"
    site_answer_a, site_answer_s, _ = _parallel(
        data_dir,
        [
            _site(tenant_a, SITE_A, SITE_A_DISTRICT),
            _site(tenant_s, SITE_S, SITE_S_DISTRICT),
            [
                *("member", "add", "--domain", f"tenant:{tenant_a}", "--email", safety_manager),
                *("--role", "safety_manager", "--password", PASSWORD),
            ],
        ],
    )
    site_a, site_s = site_answer_a["site_id"], site_answer_s["site_id"]
    (data_dir / "sensors-a.json").write_text(json.dumps(SENSORS_A, ensure_ascii=False))
    (data_dir / "sensors-s.json").write_text(json.dumps(SENSORS_S, ensure_ascii=False))
    device_a = anjian_json(
        data_dir, "device", "create", "--site", site_a, "--name", "东江一号采集器",
        "--sensors", str(data_dir / "sensors-a.json"),
    )  # fmt: skip
    device_s = anjian_json(
        data_dir, "device", "create", "--site", site_s, "--name", "姑苏采集器",
        "--sensors", str(data_dir / "sensors-s.json"),
    )  # fmt: skip
    with served(data_dir, env={"ANJIAN_OFFLINE_AFTER_SECONDS": "3600"}) as running:
        now = datetime.now(UTC)
        post_readings(
            running.url,
            device_a["token"],
            [("DJ-GT-101", 3.0, now), ("DJ-GT-102", 30.0, now), ("DJ-TT-201", 41.5, now)],
        )
        post_readings(running.url, device_s["token"], [("GS-GT-701", 58.0, now)])
        world = GovWorld(
            url=running.url,
            data_dir=data_dir,
            site_a=site_a,
            site_s=site_s,
            regulators=regulators,
            provincial=provincial,
            safety_manager=safety_manager,
            foreign=[TENANT_S, SITE_S, *(s["code"] for s in SENSORS_S), owner_s],
            device_a=device_a["token"],
        )
        _register_hazard_unit(world, owner_a, tenant_a)
        _wait_for_alarm(world, owner_a, "DJ-GT-102")
        _wait_for_alarm(world, owner_s, "GS-GT-701")
        yield world


@pytest.fixture(scope="package")
async def chromium() -> AsyncIterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        service_unavailable("Chromium", "not installed (scripts/ensure-chromium installs it)")
    async with playwright.async_playwright() as p:
        instance = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        await instance.close()

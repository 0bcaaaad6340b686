"""The devices page: a site's devices with their sensors and presence, and the sensor kinds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from backend.runtime import Runtime
from tests.factories import TenantWorld, World, build_tenant
from tests.graphql import GraphQLClient
from tests.telemetry.test_device_status import install, revoke
from tests.telemetry.test_telemetry_query import Pipeline, instant

DEVICES = """
query($s: ID!, $r: Boolean) {
  devices(siteId: $s, includeRevoked: $r) {
    id name revoked siteId online lastSeen sensors { id code kind deviceId }
  }
}"""
KINDS = "{ sensorKinds { kind unit min max nameZh nameEn requiresGas gases { gas min max } } }"


@pytest.fixture(scope="module")
async def tenant_l(runtime: Runtime) -> TenantWorld:
    return await build_tenant(runtime, "L", "320100", "320104")


@pytest.fixture
async def pipeline(runtime: Runtime, tmp_path: Path) -> AsyncIterator[Pipeline]:
    pipe = Pipeline(runtime.clickhouse, tmp_path)
    yield pipe
    pipe.close()


async def test_devices_of_a_site_with_sensors_and_presence(
    api: GraphQLClient,
    runtime: Runtime,
    pipeline: Pipeline,
    world: World,
    tenant_l: TenantWorld,
) -> None:
    site = await install(
        runtime, tenant_l, {"B-gateway": ["T1", "T2"], "A-quiet": ["T3"], "C-old": ["T4"]}
    )
    await revoke(runtime, site, "C-old")
    now = datetime.now(UTC).replace(microsecond=0)
    t, s, d = site.tenant_id, site.site_id, site.devices
    await pipeline.heartbeat(t, s, d["B-gateway"], now - timedelta(seconds=2))
    await pipeline.heartbeat(t, s, d["C-old"], now - timedelta(seconds=1))
    # Another tenant's rows under this site's ids say nothing about it.
    await pipeline.heartbeat(world.b.tenant_id, s, d["A-quiet"], now)
    pipeline.flush()

    listed = await api.query(DEVICES, {"s": str(s)}, as_user=tenant_l.users["viewer"])
    assert listed.code is None, listed.body
    devices = listed.data["devices"]
    assert [x["name"] for x in devices] == ["A-quiet", "B-gateway"]
    quiet, gateway = devices
    assert (quiet["online"], quiet["lastSeen"], quiet["revoked"]) == (False, None, False)
    assert gateway["online"] is True
    assert instant(gateway["lastSeen"]) == now - timedelta(seconds=2)
    assert [x["code"] for x in gateway["sensors"]] == ["T1", "T2"]
    assert {x["deviceId"] for x in gateway["sensors"]} == {str(d["B-gateway"])}
    assert [x["id"] for x in quiet["sensors"]] == [str(site.sensors["T3"])]
    assert {x["siteId"] for x in devices} == {str(s)}

    # Revoked ones on request: heard from a second ago, yet not online.
    every = await api.query(DEVICES, {"s": str(s), "r": True}, as_user=tenant_l.users["owner"])
    assert every.code is None, every.body
    old = every.data["devices"][-1]
    assert (old["name"], old["revoked"], old["online"]) == ("C-old", True, False)
    assert instant(old["lastSeen"]) == now - timedelta(seconds=1)
    assert [x["code"] for x in old["sensors"]] == ["T4"]

    # The province's regulator sees them; another tenant's members and another city do not.
    director = await api.query(DEVICES, {"s": str(s)}, as_user=world.regulators["320000"])
    assert director.code is None and len(director.data["devices"]) == 2, director.body
    for user in (*world.a.users.values(), world.regulators["320500"]):
        hidden = await api.query(DEVICES, {"s": str(s)}, as_user=user)
        assert hidden.code == "NOT_FOUND", (user, hidden.body)
    bad = await api.query(DEVICES, {"s": "nope"}, as_user=tenant_l.users["owner"])
    assert bad.code == "NOT_FOUND", bad.body


async def test_sensor_kinds_are_the_catalogue(api: GraphQLClient, world: World) -> None:
    text = resources.files("backend.telemetry").joinpath("kinds.json").read_text("utf-8")
    stored = json.loads(text)["kinds"]
    result = await api.query(KINDS, as_user=world.a.users["viewer"])
    assert result.code is None, result.body
    kinds = {k["kind"]: k for k in result.data["sensorKinds"]}
    assert list(kinds) == list(stored)
    assert kinds["oxygen"] == {
        "kind": "oxygen",
        "unit": "%VOL",
        "min": 0.0,
        "max": 30.0,
        "nameZh": "氧气",
        "nameEn": "Oxygen",
        "requiresGas": False,
        "gases": [],
    }
    toxic = kinds["toxic_gas"]
    assert toxic["requiresGas"] is True
    assert {"gas": "H2S", "min": 0.0, "max": 100.0} in toxic["gases"]
    assert {g["gas"] for g in toxic["gases"]} == set(stored["toxic_gas"]["gases"])
    assert (await api.query(KINDS)).code == "UNAUTHENTICATED"

"""Device and sensor online status, each site's sensor online rate (在线率), and the site-level
telemetry queries over GraphQL with their permissions.

Heartbeats and readings go through the production write path (spool → flusher), see
``tests.telemetry.test_telemetry_query.Pipeline``; every test uses a site of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.auth.principal import Principal
from backend.core.clock import SimulatedClock
from backend.runtime import Runtime
from backend.telemetry import status
from backend.telemetry.kinds import parse_sensors
from backend.telemetry.service import create_device, revoke_device
from tenants.scope import Scope, scoped_session
from tenants.service import create_site_in_own_transaction, get_site
from tests.factories import TenantWorld, World, build_tenant
from tests.graphql import GraphQLClient
from tests.telemetry.test_telemetry_query import Pipeline, instant, iso_z

SITE_STATUS = """
query($s: ID!) {
  siteStatus(siteId: $s) {
    siteId asOf offlineAfterSeconds sensorsTotal sensorsOnline onlineRate devicesTotal
    devicesOnline devices { id name online lastSeen }
  }
}"""
READING_COUNT = """
query($s: ID!, $f: DateTime!, $t: DateTime!) { siteReadingCount(siteId: $s, from: $f, to: $t) }
"""


def sensor_spec(code: str) -> dict[str, Any]:
    return {"code": code, "kind": "temperature", "unit": "°C"}


@dataclass
class Installation:
    tenant_id: uuid.UUID
    site_id: uuid.UUID
    devices: dict[str, uuid.UUID]  # name -> id
    sensors: dict[str, uuid.UUID]  # code -> id (codes unique across the site here)


async def install(rt: Runtime, tenant: TenantWorld, layout: dict[str, list[str]]) -> Installation:
    """A new site of ``tenant`` (in its division) with devices named by ``layout``'s keys
    carrying the sensors listed."""
    scope = Scope.for_tenant(tenant.tenant_id)
    site = await create_site_in_own_transaction(
        sessions=rt.sessions,
        authz=rt.authz,
        principal=Principal.system(scope),
        tenant_id=tenant.tenant_id,
        name=f"站点 {uuid.uuid4().hex[:8]}",
        division_code=tenant.division,
    )
    devices, sensors = {}, {}
    async with scoped_session(rt.sessions, scope) as session, session.begin():
        for name, codes in layout.items():
            created = await create_device(
                session=session,
                authz=rt.authz,
                principal=Principal.system(scope),
                site_id=site.id,
                name=name,
                sensors=parse_sensors([sensor_spec(c) for c in codes]),
            )
            devices[name] = created.device.id
            sensors.update(created.sensors)
    return Installation(tenant.tenant_id, site.id, devices, sensors)


async def revoke(rt: Runtime, where: Installation, device: str) -> None:
    scope = Scope.for_tenant(where.tenant_id)
    async with scoped_session(rt.sessions, scope) as session, session.begin():
        await revoke_device(
            session=session,
            authz=rt.authz,
            principal=Principal.system(scope),
            device_id=where.devices[device],
        )


@pytest.fixture(scope="module")
async def tenant_s(runtime: Runtime) -> TenantWorld:
    """A tenant of this module's own, in Nanjing (inside director 320000's province)."""
    return await build_tenant(runtime, "S", "320100", "320104")


@pytest.fixture
async def pipeline(runtime: Runtime, tmp_path: Path) -> AsyncIterator[Pipeline]:
    pipe = Pipeline(runtime.clickhouse, tmp_path)
    yield pipe
    pipe.close()


async def test_online_rate_counts_registered_sensors_reporting_recently(
    api: GraphQLClient,
    runtime: Runtime,
    pipeline: Pipeline,
    world: World,
    tenant_s: TenantWorld,
) -> None:
    site = await install(
        runtime,
        tenant_s,
        {"D1": ["S1", "S2"], "D2": ["S3"], "D3": ["S4"], "D4": ["S5"]},
    )
    await revoke(runtime, site, "D4")  # decommissioned: counts in neither total
    now = datetime.now(UTC).replace(microsecond=0)
    old = now - timedelta(hours=2)
    t, s, d, sensor = site.tenant_id, site.site_id, site.devices, site.sensors
    await pipeline.readings(
        t,
        s,
        [
            (sensor["S1"], now - timedelta(seconds=10), 1.0),
            (sensor["S2"], now - timedelta(seconds=20), 2.0),
        ],
        device_id=d["D1"],
    )
    await pipeline.heartbeat(t, s, d["D1"], now - timedelta(seconds=1))
    await pipeline.readings(
        t, s, [(sensor["S3"], now - timedelta(seconds=5), 3.0)], device_id=d["D2"]
    )
    await pipeline.readings(t, s, [(sensor["S4"], old, 4.0)], device_id=d["D3"])
    await pipeline.heartbeat(t, s, d["D3"], old - timedelta(minutes=1))
    await pipeline.readings(t, s, [(sensor["S5"], now, 5.0)], device_id=d["D4"])
    # Another tenant's fresh rows under this site's ids are not this site's news.
    other = world.b.tenant_id
    await pipeline.readings(other, s, [(sensor["S4"], now, 9.0)], device_id=d["D3"])
    await pipeline.heartbeat(other, s, d["D3"], now)
    pipeline.flush()

    result = await api.query(SITE_STATUS, {"s": str(s)}, as_user=tenant_s.users["viewer"])
    assert result.code is None, result.body
    got = result.data["siteStatus"]
    assert got["siteId"] == str(s)
    assert got["offlineAfterSeconds"] == runtime.settings.offline_after_seconds
    assert (got["sensorsTotal"], got["sensorsOnline"], got["onlineRate"]) == (4, 3, 0.75)
    assert (got["devicesTotal"], got["devicesOnline"]) == (3, 2)
    devices = {x["name"]: x for x in got["devices"]}
    assert set(devices) == {"D1", "D2", "D3"}
    assert {n: x["id"] for n, x in devices.items()} == {n: str(d[n]) for n in devices}
    assert {n: x["online"] for n, x in devices.items()} == {"D1": True, "D2": True, "D3": False}
    # Last seen: the later of heartbeat and data.
    assert instant(devices["D1"]["lastSeen"]) == now - timedelta(seconds=1)
    assert instant(devices["D2"]["lastSeen"]) == now - timedelta(seconds=5)
    assert instant(devices["D3"]["lastSeen"]) == old

    # The regulator of the province sees the same figures; the neighbouring city's does not.
    director = await api.query(SITE_STATUS, {"s": str(s)}, as_user=world.regulators["320000"])
    assert director.code is None, director.body
    assert director.data["siteStatus"]["onlineRate"] == 0.75
    assert director.data["siteStatus"]["devicesOnline"] == 2
    suzhou = await api.query(SITE_STATUS, {"s": str(s)}, as_user=world.regulators["320500"])
    assert suzhou.codes == ["NOT_FOUND"], suzhou.body


async def test_heartbeats_make_devices_online_but_not_their_sensors(
    api: GraphQLClient, runtime: Runtime, pipeline: Pipeline, tenant_s: TenantWorld
) -> None:
    site = await install(runtime, tenant_s, {"gateway": ["G1", "G2"], "silent": ["Q1"]})
    now = datetime.now(UTC)
    await pipeline.heartbeat(site.tenant_id, site.site_id, site.devices["gateway"], now)
    pipeline.flush()
    result = await api.query(SITE_STATUS, {"s": str(site.site_id)}, as_user=tenant_s.users["owner"])
    assert result.code is None, result.body
    got = result.data["siteStatus"]
    assert (got["sensorsTotal"], got["sensorsOnline"], got["onlineRate"]) == (3, 0, 0.0)
    devices = {x["name"]: x for x in got["devices"]}
    assert devices["gateway"]["online"] is True
    assert devices["silent"] == {
        "id": str(site.devices["silent"]),
        "name": "silent",
        "online": False,
        "lastSeen": None,
    }

    # Data comes in: the sensors that reported are online now.
    readings = [(site.sensors["G1"], now, 1.0), (site.sensors["Q1"], now, 2.0)]
    await pipeline.readings(
        site.tenant_id, site.site_id, readings[:1], device_id=site.devices["gateway"]
    )
    await pipeline.readings(
        site.tenant_id, site.site_id, readings[1:], device_id=site.devices["silent"]
    )
    pipeline.flush()
    again = await api.query(SITE_STATUS, {"s": str(site.site_id)}, as_user=tenant_s.users["owner"])
    got = again.data["siteStatus"]
    assert (got["sensorsOnline"], got["devicesOnline"]) == (2, 2)
    assert got["onlineRate"] == pytest.approx(2 / 3)


async def test_a_site_without_devices_has_no_rate(
    api: GraphQLClient, runtime: Runtime, tenant_s: TenantWorld
) -> None:
    site = await install(runtime, tenant_s, {})
    result = await api.query(SITE_STATUS, {"s": str(site.site_id)}, as_user=tenant_s.users["owner"])
    assert result.code is None, result.body
    got = result.data["siteStatus"]
    assert (got["sensorsTotal"], got["onlineRate"], got["devicesTotal"], got["devices"]) == (
        0,
        None,
        0,
        [],
    )


async def test_the_offline_timeout_is_configurable(
    runtime: Runtime, pipeline: Pipeline, tenant_s: TenantWorld
) -> None:
    site = await install(runtime, tenant_s, {"D": ["T1"]})
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=100)
    await pipeline.readings(
        site.tenant_id, site.site_id, [(site.sensors["T1"], at, 1.0)], device_id=site.devices["D"]
    )
    pipeline.flush()
    scope = Scope.for_tenant(site.tenant_id)

    async def check(offline_after: int, now: datetime) -> tuple[int, int]:
        async with scoped_session(runtime.sessions, scope) as session:
            value = await status.site_status(
                session=session,
                client=runtime.clickhouse,
                scope=scope,
                site=await get_site(session=session, site_id=site.site_id),
                offline_after_seconds=offline_after,
                clock=SimulatedClock(now),
            )
        assert value.offline_after_seconds == offline_after
        return value.sensors_online, value.devices_online

    assert await check(300, at + timedelta(seconds=100)) == (1, 1)
    assert await check(60, at + timedelta(seconds=100)) == (0, 0)
    assert await check(60, at + timedelta(seconds=60)) == (1, 1)  # exactly the timeout: online
    assert await check(60, at + timedelta(seconds=60, milliseconds=1)) == (0, 0)
    seen = status.devices_last_seen(runtime.clickhouse, scope, site.site_id, owner=site.tenant_id)
    assert seen == {site.devices["D"]: at}
    # Another tenant's scope sees none of it, even naming the owner.
    outsider = Scope.for_tenant(uuid.uuid4())
    assert (
        status.devices_last_seen(runtime.clickhouse, outsider, site.site_id, owner=site.tenant_id)
        == {}
    )


async def test_site_status_is_not_found_outside_the_scope(api: GraphQLClient, world: World) -> None:
    a_site = str(world.a.site_id)
    owner = await api.query(SITE_STATUS, {"s": a_site}, as_user=world.a.users["owner"])
    assert owner.code is None, owner.body
    director = await api.query(SITE_STATUS, {"s": a_site}, as_user=world.regulators["320000"])
    assert director.code is None, director.body
    for field in ("sensorsTotal", "devicesTotal", "siteId"):
        assert director.data["siteStatus"][field] == owner.data["siteStatus"][field]
    assert owner.data["siteStatus"]["sensorsTotal"] >= 2

    for user in (world.b.users["owner"], world.regulators["320500"], world.platform_admin):
        result = await api.query(SITE_STATUS, {"s": a_site}, as_user=user)
        assert result.codes == ["NOT_FOUND"], (user, result.body)
        assert result.data == {"siteStatus": None}
    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        result = await api.query(SITE_STATUS, {"s": missing}, as_user=world.a.users["owner"])
        assert result.codes == ["NOT_FOUND"], result.body
    anonymous = await api.query(SITE_STATUS, {"s": a_site})
    assert anonymous.codes == ["UNAUTHENTICATED"], anonymous.body


# --- siteReadingCount ---------------------------------------------------------------------------


async def test_site_reading_count(
    api: GraphQLClient,
    runtime: Runtime,
    pipeline: Pipeline,
    world: World,
    tenant_s: TenantWorld,
) -> None:
    site = await install(runtime, tenant_s, {"D": ["C1", "C2"]})
    other = await install(runtime, tenant_s, {"E": ["C3"]})
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    end = start + timedelta(minutes=30)
    sensor = site.sensors
    await pipeline.readings(
        site.tenant_id,
        site.site_id,
        [(sensor["C1"], start + timedelta(seconds=i), float(i)) for i in range(250)]
        + [(sensor["C2"], end - timedelta(milliseconds=1), 1.0), (sensor["C2"], end, 1.0)],
        device_id=site.devices["D"],
    )
    await pipeline.readings(
        other.tenant_id,
        other.site_id,
        [(other.sensors["C3"], start, 1.0)],
        device_id=other.devices["E"],
    )
    pipeline.flush()
    variables = {"s": str(site.site_id), "f": iso_z(start), "t": iso_z(end)}
    for user in (tenant_s.users["viewer"], world.regulators["320000"]):
        result = await api.query(READING_COUNT, variables, as_user=user)
        assert result.code is None, result.body
        assert result.data == {"siteReadingCount": 251}

    widest = {"s": str(site.site_id), "f": "1900-01-01T00:00:00Z", "t": "2200-01-01T00:00:00Z"}
    result = await api.query(READING_COUNT, widest, as_user=tenant_s.users["owner"])
    assert result.data == {"siteReadingCount": 252}, result.body

    for user in (world.b.users["owner"], world.regulators["320500"], world.platform_admin):
        result = await api.query(READING_COUNT, variables, as_user=user)
        assert result.codes == ["NOT_FOUND"], (user, result.body)
    backwards = await api.query(
        READING_COUNT,
        {**variables, "f": variables["t"], "t": variables["f"]},
        as_user=tenant_s.users["owner"],
    )
    assert backwards.codes == ["BAD_USER_INPUT"], backwards.body

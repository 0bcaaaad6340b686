"""The regulators' data quality list (GraphQL ``dataQuality``): each problem point listed
under its problem, counts that match the list, pages that join up, nothing of another city
and nothing for enterprise members or the platform, a cost that does not grow with the sites.

The points are made in a county no other test uses (320111, Pukou), so its list is exactly
what is made here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.oversight.quality import FLATLINE_MIN_READINGS
from backend.runtime import Runtime
from tests.alarms.test_query_counts import counted_statements
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import GAS, TEMP, eventually, new_device, new_site, now_ms, post

COUNTY = "320111"
QUALITY = """query($code: String, $first: Int, $after: ID) {
  dataQuality(divisionCode: $code, first: $first, after: $after) {
    divisionCode sensors stale flatline outOfRange offlineDevices
    points { sensor { id code kind unit deviceId } site { id name } problem since lastSeen
             lastValue } } }"""
LEVEL = {"code": "LV-1", "kind": "level", "unit": "%"}  # range 0..100


def _temp(code: str) -> dict[str, Any]:
    return {**TEMP, "code": code}


@dataclass
class Made:
    site: uuid.UUID
    expected: dict[uuid.UUID, str]  # sensor → problem
    healthy: set[uuid.UUID]
    offline_devices: set[uuid.UUID]
    old_reading: datetime  # the stale sensor's only reading
    heard: datetime  # when the silent device was last heard from
    suzhou_site: uuid.UUID


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


@pytest.fixture(scope="module")
async def made(api: GraphQLClient, runtime: Runtime, world: World) -> Made:
    rt, a, b = runtime, world.a.tenant_id, world.b.tenant_id
    site = await new_site(rt, a, division=COUNTY)
    sensors = (GAS, _temp("TT-1"), _temp("TT-2"), _temp("TT-3"), _temp("TT-4"), LEVEL)
    live = await new_device(rt, a, site, sensors)
    now = now_ms()
    old = now - 3_600_000  # an hour ago: stale
    readings: list[dict[str, Any]] = [
        {"sensor": "GT-1", "ts": now, "value": 5.0},
        {"sensor": "TT-1", "ts": old, "value": 20.0},
        {"sensor": "LV-1", "ts": now, "value": 100.0},  # full scale: saturated
    ]
    # Twelve equal readings over the last two hours up to now: flat; twelve varying: healthy.
    for i in range(FLATLINE_MIN_READINGS + 2):
        ts = now - (FLATLINE_MIN_READINGS + 1 - i) * 600_000
        readings.append({"sensor": "TT-3", "ts": ts, "value": 21.5})
        readings.append({"sensor": "TT-4", "ts": ts, "value": 20.0 + i})
    body = {"batch_id": str(uuid.uuid4()), "readings": readings}
    response = await post(api.http, live, "telemetry", body)
    assert response.status_code == 202, response.text
    never = await new_device(rt, a, site, (_temp("TT-7"),))  # never heard from
    silent = await new_device(rt, a, site, (_temp("TT-8"), _temp("TT-9")))
    heard = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    rt.clickhouse.insert(
        "device_seen",
        [[a, site, silent.id, heard, "heartbeat"]],
        column_names=["tenant_id", "site_id", "device_id", "ts", "source"],
    )
    suzhou = await new_device(rt, b, await new_site(rt, b, division="320505"), (_temp("TT-5"),))

    def landed() -> bool:
        rows = rt.clickhouse.query(
            "SELECT sum(count) FROM readings_1m WHERE sensor_id = {s:UUID}",
            parameters={"s": str(live.sensors["TT-3"])},
        ).result_rows
        seen = rt.clickhouse.query(
            "SELECT count() FROM device_last_seen WHERE device_id = {d:UUID}",
            parameters={"d": str(live.id)},
        ).result_rows
        return bool(rows[0][0] == FLATLINE_MIN_READINGS + 2 and seen[0][0])

    assert await eventually(landed, bool, within=30), "the readings never reached the rollups"
    return Made(
        site=site,
        expected={
            live.sensors["TT-1"]: "STALE",
            live.sensors["TT-2"]: "STALE",
            live.sensors["TT-3"]: "FLATLINE",
            live.sensors["LV-1"]: "OUT_OF_RANGE",
            never.sensors["TT-7"]: "OFFLINE_DEVICE",
            silent.sensors["TT-8"]: "OFFLINE_DEVICE",
            silent.sensors["TT-9"]: "OFFLINE_DEVICE",
        },
        healthy={live.sensors["GT-1"], live.sensors["TT-4"]},
        offline_devices={never.id, silent.id},
        old_reading=datetime.fromtimestamp(old / 1000, UTC),
        heard=heard,
        suzhou_site=suzhou.site_id,
    )


async def quality(api: GraphQLClient, user: str, **variables: Any) -> dict[str, Any]:
    result = await api.query(QUALITY, variables, as_user=user)
    assert result.status == 200 and not result.codes, result.body
    assert result.data is not None
    return dict(result.data["dataQuality"])


def _ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_each_point_is_listed_with_its_problem_and_the_counts_match(
    api: GraphQLClient, world: World, made: Made
) -> None:
    found = await quality(api, world.regulators["320100"], code=COUNTY, first=500)
    assert found["divisionCode"] == COUNTY
    points = {uuid.UUID(p["sensor"]["id"]): p for p in found["points"]}
    assert {s: p["problem"] for s, p in points.items()} == made.expected
    assert not made.healthy & set(points)
    assert found["sensors"] == len(made.expected) + len(made.healthy)
    problems = [p["problem"] for p in found["points"]]
    assert (
        (found["stale"], found["flatline"], found["outOfRange"])
        == (
            problems.count("STALE"),
            problems.count("FLATLINE"),
            problems.count("OUT_OF_RANGE"),
        )
        == (2, 1, 1)
    )
    offline = {p["sensor"]["deviceId"] for p in found["points"] if p["problem"] == "OFFLINE_DEVICE"}
    assert found["offlineDevices"] == len(offline) == 2
    assert offline == {str(d) for d in made.offline_devices}
    # What each point says about when.
    by_code = {p["sensor"]["code"]: p for p in found["points"]}
    assert _ts(by_code["TT-1"]["since"]) == made.old_reading == _ts(by_code["TT-1"]["lastSeen"])
    assert by_code["TT-1"]["lastValue"] == 20.0
    assert by_code["TT-2"]["since"] is None and by_code["TT-2"]["lastSeen"] is None
    assert by_code["LV-1"]["lastValue"] == 100.0
    assert by_code["TT-3"]["lastValue"] == 21.5 and by_code["TT-3"]["since"] is not None
    assert by_code["TT-7"]["since"] is None
    assert _ts(by_code["TT-8"]["since"]) == made.heard
    assert all(p["site"]["id"] == str(made.site) for p in found["points"])
    # Ordered by problem, then site name and sensor code.
    order = ["OFFLINE_DEVICE", "STALE", "OUT_OF_RANGE", "FLATLINE"]
    keys = [(order.index(p["problem"]), p["sensor"]["code"]) for p in found["points"]]
    assert keys == sorted(keys)


async def test_pages_join_up_and_bad_pages_are_refused(
    api: GraphQLClient, world: World, made: Made
) -> None:
    director = world.regulators["320100"]
    whole = (await quality(api, director, code=COUNTY, first=500))["points"]
    paged: list[Any] = []
    after = None
    while True:
        variables: dict[str, Any] = {"code": COUNTY, "first": 2}
        if after is not None:
            variables["after"] = after
        page = (await quality(api, director, **variables))["points"]
        paged.extend(page)
        if len(page) < 2:
            break
        after = page[-1]["sensor"]["id"]
    assert [p["sensor"]["id"] for p in paged] == [p["sensor"]["id"] for p in whole]
    for first in (0, 501):
        result = await api.query(QUALITY, {"code": COUNTY, "first": first}, as_user=director)
        assert result.code == "BAD_USER_INPUT", result.body
    result = await api.query(
        QUALITY, {"code": COUNTY, "after": str(uuid.uuid4())}, as_user=director
    )
    assert result.code == "NOT_FOUND", result.body


async def test_a_city_never_sees_another_citys_points(
    api: GraphQLClient, world: World, made: Made
) -> None:
    nanjing = await quality(api, world.regulators["320100"], first=500)
    assert nanjing["divisionCode"] == "320100"
    assert str(made.suzhou_site) not in {p["site"]["id"] for p in nanjing["points"]}
    assert set(made.expected) <= {uuid.UUID(p["sensor"]["id"]) for p in nanjing["points"]}
    for code in ("320500", "320505", "320000"):
        result = await api.query(QUALITY, {"code": code}, as_user=world.regulators["320100"])
        assert result.code == "NOT_FOUND", result.body
    suzhou = await quality(api, world.regulators["320500"], code="320505", first=500)
    sites = {p["site"]["id"] for p in suzhou["points"]}
    assert str(made.suzhou_site) in sites and str(made.site) not in sites


async def test_enterprise_members_and_the_platform_are_not_found(
    api: GraphQLClient, world: World, made: Made
) -> None:
    callers = [*world.a.users.values(), *world.b.users.values(), world.platform_admin]
    for user in callers:
        for variables in ({}, {"code": COUNTY}, {"code": world.a.division}):
            result = await api.query(QUALITY, variables, as_user=user)
            assert result.code == "NOT_FOUND", (user, result.body)
            assert result.data is None or result.data.get("dataQuality") is None


async def test_the_cost_in_queries_does_not_grow_with_the_sites(
    api: GraphQLClient,
    runtime: Runtime,
    world: World,
    made: Made,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    director = world.regulators["320100"]
    await api.token_for(director)
    clickhouse: list[str] = []
    real_query = runtime.clickhouse.query

    def counting_query(sql: str, *args: Any, **kwargs: Any) -> Any:
        clickhouse.append(sql)
        return real_query(sql, *args, **kwargs)

    monkeypatch.setattr(runtime.clickhouse, "query", counting_query)

    async def cost() -> tuple[int, int]:
        clickhouse.clear()
        with counted_statements(runtime) as statements:
            await quality(api, director, code=COUNTY, first=500)
        return len(statements), len(clickhouse)

    before = await cost()
    for _ in range(4):
        site = await new_site(runtime, world.a.tenant_id, division=COUNTY)
        await new_device(runtime, world.a.tenant_id, site, (GAS, TEMP))
    after = await cost()
    assert before[0] > 0 and after == before, (before, after)
    assert after[1] == 3  # devices heard, latest readings, flat lines

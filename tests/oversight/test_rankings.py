"""The regulators' enterprise rankings (GraphQL ``enterpriseRankings``): MTTA, MTTR and the
false-positive rate of constructed alarms equal hand computations, each order key ranks worst
first, another city's enterprises never show, enterprise members and the platform get none.

The sites are made in a county no other test uses (320115, Jiangning). The alarms' times and
verdicts are written as the lifecycle would leave them, at known instants. The engine's own
no-data alarms on these silent sensors may join them while the tests run: those are never
acknowledged, cleared or closed, so they move only the alarm counts, which are compared with
what the store holds there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.alarms.models import Alarm, AlarmRule, AlarmStatus, Verdict
from backend.alarms.rules import Severity
from backend.runtime import Runtime
from tenants.models import Site
from tenants.scope import unscoped_session
from tests.alarm_helpers import next_ts
from tests.alarms.test_query_counts import counted_statements
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import GAS, TEMP, eventually, new_device, new_site, post

COUNTY = "320115"
RANKINGS = """query($code: String, $days: Int, $orderBy: EnterpriseRankingOrder, $first: Int) {
  enterpriseRankings(divisionCode: $code, days: $days, orderBy: $orderBy, first: $first) {
    tenant { id name } sites sensors onlineRate alarms mttaSeconds mttrSeconds
    falsePositiveRate } }"""


@dataclass
class Made:
    a_sites: list[uuid.UUID]
    b_sites: list[uuid.UUID]
    constructed: set[uuid.UUID]


async def _alarm(
    rt: Runtime,
    dev: Any,
    *,
    raised: datetime,
    ack: float | None = None,
    cleared: float | None = None,
    verdict: Verdict | None = None,
) -> uuid.UUID:
    """An alarm of the device's gas threshold rule raised at ``raised``, acknowledged and
    cleared that many seconds later, closed with ``verdict``."""
    async with unscoped_session(rt.sessions) as session, session.begin():
        rule = await session.scalar(
            select(AlarmRule.id)
            .where(AlarmRule.device_id == dev.id, AlarmRule.kind == "threshold")
            .limit(1)
        )
        if rule is None:
            rule = await session.scalar(
                select(AlarmRule.id).where(AlarmRule.site_id == dev.site_id).limit(1)
            )
        assert rule is not None
        if verdict is not None:
            status = AlarmStatus.CLOSED
        elif cleared is not None:
            status = AlarmStatus.CLEARED
        elif ack is not None:
            status = AlarmStatus.ACKNOWLEDGED
        else:
            status = AlarmStatus.ACTIVE_UNACKNOWLEDGED
        cleared_at = None if cleared is None else raised + timedelta(seconds=cleared)
        alarm = Alarm(
            tenant_id=dev.tenant_id,
            site_id=dev.site_id,
            rule_id=rule,
            device_id=dev.id,
            severity=Severity.ORANGE,
            level="constructed",
            status=status,
            value=30.0,
            raised_at=raised,
            refreshed_at=raised,
            acknowledged_at=None if ack is None else raised + timedelta(seconds=ack),
            cleared_at=cleared_at,
            closed_at=None if verdict is None else cleared_at,
            verdict=verdict,
            cause=None if verdict is None else "test",
        )
        session.add(alarm)
        await session.flush()
        return alarm.id


async def _rules_loaded(rt: Runtime, dev: Any) -> bool:
    async with unscoped_session(rt.sessions) as session:
        n = await session.scalar(
            select(func.count()).select_from(AlarmRule).where(AlarmRule.site_id == dev.site_id)
        )
    return bool(n)


@pytest.fixture(scope="module")
async def made(api: GraphQLClient, runtime: Runtime, world: World) -> Made:
    rt, a, b = runtime, world.a.tenant_id, world.b.tenant_id
    dev_a = await new_device(rt, a, await new_site(rt, a, division=COUNTY), (GAS, TEMP))
    dev_b = await new_device(rt, b, await new_site(rt, b, division=COUNTY), (GAS, TEMP))
    # A's two sensors report, B's gas sensor only: online rates 1 and 0.5.
    for dev, codes in ((dev_a, ["GT-1", "TT-1"]), (dev_b, ["GT-1"])):
        body = {
            "batch_id": str(uuid.uuid4()),
            "readings": [{"sensor": c, "ts": next_ts(dev.id), "value": 5.0} for c in codes],
        }
        response = await post(api.http, dev, "telemetry", body)
        assert response.status_code == 202, response.text
    wanted = {dev_a.sensors["GT-1"], dev_a.sensors["TT-1"], dev_b.sensors["GT-1"]}

    def landed() -> bool:
        rows = rt.clickhouse.query(
            "SELECT DISTINCT sensor_id FROM sensor_latest WHERE sensor_id IN {s:Array(UUID)}",
            parameters={"s": [str(s) for s in wanted]},
        ).result_rows
        return len(rows) == len(wanted)

    assert await eventually(landed, bool, within=30), "the readings never reached the store"
    for dev in (dev_a, dev_b):
        assert await eventually(lambda d=dev: _rules_loaded(rt, d), bool, within=20)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    constructed = {
        # A: acknowledged after 600, 1200 and 1800 s (one never); cleared after 3600 and
        # 7200 s; two closed, one of them a false positive.
        await _alarm(rt, dev_a, raised=base, ack=600, cleared=3600, verdict=Verdict.TRUE_POSITIVE),
        await _alarm(
            rt, dev_a, raised=base, ack=1200, cleared=7200, verdict=Verdict.FALSE_POSITIVE
        ),
        await _alarm(rt, dev_a, raised=base, ack=1800),
        await _alarm(rt, dev_a, raised=base),
        # Forty days ago: outside the default 30 days.
        await _alarm(
            rt,
            dev_a,
            raised=base - timedelta(days=38),
            ack=60,
            cleared=120,
            verdict=Verdict.TRUE_POSITIVE,
        ),
        # B: one alarm, acknowledged after 300 s, cleared after 900 s, a false positive.
        await _alarm(rt, dev_b, raised=base, ack=300, cleared=900, verdict=Verdict.FALSE_POSITIVE),
    }
    return Made([dev_a.site_id], [dev_b.site_id], constructed)


async def rankings(api: GraphQLClient, user: str, **variables: Any) -> list[dict[str, Any]]:
    result = await api.query(RANKINGS, variables, as_user=user)
    assert result.status == 200 and not result.codes, result.body
    assert result.data is not None
    return list(result.data["enterpriseRankings"])


async def _alarms_held(rt: Runtime, tenant_id: uuid.UUID, days: int) -> int:
    """The alarms the store holds at the tenant's sites in the county, raised in ``days``."""
    since = datetime.now(UTC) - timedelta(days=days)
    async with unscoped_session(rt.sessions) as session:
        n = await session.scalar(
            select(func.count())
            .select_from(Alarm)
            .join(Site, Site.id == Alarm.site_id)
            .where(
                Alarm.tenant_id == tenant_id,
                Site.division_code == COUNTY,
                Alarm.raised_at >= since,
            )
        )
    return int(n or 0)


async def test_the_figures_equal_hand_computations(
    api: GraphQLClient, runtime: Runtime, world: World, made: Made
) -> None:
    director = world.regulators["320100"]
    rows = {r["tenant"]["id"]: r for r in await rankings(api, director, code=COUNTY)}
    a, b = rows[str(world.a.tenant_id)], rows[str(world.b.tenant_id)]
    assert set(rows) == {str(world.a.tenant_id), str(world.b.tenant_id)}
    assert a["tenant"]["name"] and b["tenant"]["name"]  # regulators see enterprise names
    assert (a["sites"], a["sensors"], a["onlineRate"]) == (1, 2, 1.0)
    assert (b["sites"], b["sensors"], b["onlineRate"]) == (1, 2, 0.5)
    assert a["mttaSeconds"] == pytest.approx((600 + 1200 + 1800) / 3)
    assert a["mttrSeconds"] == pytest.approx((3600 + 7200) / 2)
    assert a["falsePositiveRate"] == pytest.approx(1 / 2)
    assert (b["mttaSeconds"], b["mttrSeconds"], b["falsePositiveRate"]) == (300, 900, 1.0)
    assert a["alarms"] == await _alarms_held(runtime, world.a.tenant_id, 30) >= 4
    assert b["alarms"] == await _alarms_held(runtime, world.b.tenant_id, 30) >= 1
    # Sixty days take in the old alarm.
    rows = {r["tenant"]["id"]: r for r in await rankings(api, director, code=COUNTY, days=60)}
    a = rows[str(world.a.tenant_id)]
    assert a["mttaSeconds"] == pytest.approx((600 + 1200 + 1800 + 60) / 4)
    assert a["mttrSeconds"] == pytest.approx((3600 + 7200 + 120) / 3)
    assert a["falsePositiveRate"] == pytest.approx(1 / 3)
    assert a["alarms"] == await _alarms_held(runtime, world.a.tenant_id, 60) >= 5


async def test_each_order_ranks_worst_first(api: GraphQLClient, world: World, made: Made) -> None:
    director = world.regulators["320100"]
    a, b = str(world.a.tenant_id), str(world.b.tenant_id)
    expected = {
        "ONLINE_RATE": [b, a],  # 0.5 before 1
        "MTTA": [a, b],  # 1200 s before 300 s
        "ALARMS": [a, b],  # at least 4 (and at most 2 of the engine's per device) before 1
        "FALSE_POSITIVE_RATE": [b, a],  # 1 before 0.5
    }
    for order, ids in expected.items():
        rows = await rankings(api, director, code=COUNTY, orderBy=order)
        assert [r["tenant"]["id"] for r in rows] == ids, order
    assert [r["tenant"]["id"] for r in await rankings(api, director, code=COUNTY)] == [b, a]
    assert len(await rankings(api, director, code=COUNTY, first=1)) == 1
    for variables in ({"first": 0}, {"first": 501}, {"days": 0}, {"days": 367}):
        result = await api.query(RANKINGS, {"code": COUNTY, **variables}, as_user=director)
        assert result.code == "BAD_USER_INPUT", result.body


async def test_a_city_never_sees_another_citys_enterprises(
    api: GraphQLClient, runtime: Runtime, world: World, made: Made
) -> None:
    suzhou = await rankings(api, world.regulators["320500"], first=500)
    # B's Suzhou sites rank there; its Jiangning site counts only in Nanjing.
    async with unscoped_session(runtime.sessions) as session:
        sites = (await session.scalars(select(Site))).all()
    inside = [s for s in sites if s.division_code.startswith("3205")]
    assert {r["tenant"]["id"] for r in suzhou} == {str(s.tenant_id) for s in inside}
    b = next(r for r in suzhou if r["tenant"]["id"] == str(world.b.tenant_id))
    assert b["sites"] == sum(s.tenant_id == world.b.tenant_id for s in inside)
    for code in ("320100", COUNTY, "320000"):
        result = await api.query(RANKINGS, {"code": code}, as_user=world.regulators["320500"])
        assert result.code == "NOT_FOUND", result.body


async def test_enterprise_members_and_the_platform_get_none(
    api: GraphQLClient, world: World, made: Made
) -> None:
    callers = [*world.a.users.values(), *world.b.users.values(), world.platform_admin]
    for user in callers:
        for variables in ({}, {"code": COUNTY}, {"code": world.a.division}):
            result = await api.query(RANKINGS, variables, as_user=user)
            assert result.status == 200 and not result.codes, result.body
            assert result.data == {"enterpriseRankings": []}


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
            await rankings(api, director, code=COUNTY)
        return len(statements), len(clickhouse)

    before = await cost()
    for tenant in (world.a.tenant_id, world.b.tenant_id, world.a.tenant_id):
        site = await new_site(runtime, tenant, division=COUNTY)
        await new_device(runtime, tenant, site, (GAS, TEMP))
    after = await cost()
    assert before[0] > 0 and after == before, (before, after)
    assert after[1] == 1  # the sensors online

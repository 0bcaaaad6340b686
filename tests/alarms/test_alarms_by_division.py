"""``alarms(divisionCode:)`` and the alarm stream as a regulator of a county sees them (辖区报警):
the alarms of sites coded in the division or below it, never a division outside the caller's
jurisdiction (another county of the same city, another city), a clear error for a code that
names no division, and an enterprise's own list unchanged by the filter.

The module raises its alarms on sites of its own: two of tenant A, in 玄武区 (320102) and in
秦淮区 (320104), both in Nanjing, and tenant B's site in Suzhou. A county regulator of 玄武区
is made here; the Nanjing director is the world's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import update

from backend.alarms.models import Alarm
from backend.auth.principal import Principal
from backend.oversight.service import create_regulator_in_own_transaction
from backend.runtime import Runtime
from tenants.scope import unscoped_session
from tests.alarm_helpers import ACKNOWLEDGE, gas_device, ok, raise_alarm
from tests.alarms.test_alarm_subscriptions import of, subscribed, tenants_of
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient
from tests.ingest_helpers import IngestDevice, new_site

XUANWU, QINHUAI = "320102", "320104"
LIST = """query($code: String, $first: Int, $after: ID) {
  alarms(status: ALL, divisionCode: $code, first: $first, after: $after) {
    id overdue site { id divisionCode name tenant { name } } } }"""


@dataclass
class Districts:
    xuanwu_site: uuid.UUID
    qinhuai_site: uuid.UUID
    qinhuai_dev: IngestDevice
    xuanwu_dev: IngestDevice
    xuanwu: str  # alarm id
    qinhuai: str
    suzhou: str
    county: str  # the director of 玄武区


@pytest.fixture(scope="module")
async def districts(api: GraphQLClient, runtime: Runtime, world: World) -> Districts:
    a_owner, b_owner = world.a.users["owner"], world.b.users["owner"]
    xuanwu_site = await new_site(runtime, world.a.tenant_id, division=XUANWU)
    qinhuai_site = await new_site(runtime, world.a.tenant_id, division=QINHUAI)
    xuanwu_dev = await gas_device(api, runtime, world.a.tenant_id, xuanwu_site)
    qinhuai_dev = await gas_device(api, runtime, world.a.tenant_id, qinhuai_site)
    suzhou_site = await new_site(runtime, world.b.tenant_id, division="320505")
    suzhou_dev = await gas_device(api, runtime, world.b.tenant_id, suzhou_site)
    xuanwu = await raise_alarm(api, a_owner, xuanwu_dev, 30.0)
    qinhuai = await raise_alarm(api, a_owner, qinhuai_dev, 30.0)
    suzhou = await raise_alarm(api, b_owner, suzhou_dev, 30.0)
    county = f"gov.{XUANWU}.{unique('r')}@example.gov.cn"
    await create_regulator_in_own_transaction(
        sessions=runtime.sessions,
        authz=runtime.authz,
        principal=Principal.system(),
        division_code=XUANWU,
        email=county,
        password=PASSWORD,
        role="inspector",
        log2_n=runtime.log2_n,
    )
    return Districts(
        xuanwu_site,
        qinhuai_site,
        qinhuai_dev,
        xuanwu_dev,
        xuanwu["id"],
        qinhuai["id"],
        suzhou["id"],
        county,
    )


async def _listed(
    api: GraphQLClient, user: str, code: str | None, **extra: object
) -> list[dict[str, object]]:
    variables = {"code": code, "first": 1000, **extra}
    result = await api.query(LIST, variables, as_user=user)
    assert result.status == 200 and not result.codes, result.body
    assert result.data is not None
    return list(result.data["alarms"])


def _ids(rows: list[dict[str, object]]) -> set[object]:
    return {r["id"] for r in rows}


async def test_a_city_director_narrows_to_a_district(
    api: GraphQLClient, world: World, districts: Districts
) -> None:
    director = world.regulators["320100"]
    everything = _ids(await _listed(api, director, None))
    assert {districts.xuanwu, districts.qinhuai} <= everything
    assert districts.suzhou not in everything

    qinhuai = await _listed(api, director, QINHUAI)
    assert districts.qinhuai in _ids(qinhuai) and districts.xuanwu not in _ids(qinhuai)
    assert {r["site"]["divisionCode"] for r in qinhuai} == {QINHUAI}  # type: ignore[index]
    # The site and its enterprise come with the alarm: what the page shows beside it.
    row = next(r for r in qinhuai if r["id"] == districts.qinhuai)
    assert row["site"]["tenant"]["name"]  # type: ignore[index]

    # The city itself is inside the jurisdiction too: the same as no filter.
    assert _ids(await _listed(api, director, "320100")) == everything


async def test_a_division_filter_pages_like_the_list(
    api: GraphQLClient, world: World, districts: Districts
) -> None:
    director = world.regulators["320100"]
    whole = await _listed(api, director, XUANWU)
    pages: list[object] = []
    after = None
    while True:
        page = await _listed(api, director, XUANWU, first=1, after=after)
        if not page:
            break
        pages.extend(r["id"] for r in page)
        after = page[-1]["id"]
    assert pages == [r["id"] for r in whole]


async def test_a_county_regulator_cannot_ask_for_another_division(
    api: GraphQLClient, world: World, districts: Districts
) -> None:
    county = districts.county
    own = _ids(await _listed(api, county, XUANWU))
    assert districts.xuanwu in own and districts.qinhuai not in own
    assert _ids(await _listed(api, county, None)) == own
    for foreign in (QINHUAI, "320100", "320500", "320505"):
        result = await api.query(LIST, {"code": foreign}, as_user=county)
        assert result.code == "NOT_FOUND", (foreign, result.body)
        assert result.data is None
        assert "jurisdiction" in result.body["errors"][0]["message"]
    for bad in ("320199", "32010", "abcdef", ""):
        result = await api.query(LIST, {"code": bad}, as_user=county)
        assert result.code == "BAD_USER_INPUT", (bad, result.body)
        assert result.data is None


async def test_enterprise_roles_keep_their_own_alarms(
    api: GraphQLClient, world: World, districts: Districts
) -> None:
    a_owner, b_owner = world.a.users["owner"], world.b.users["owner"]
    mine = _ids(await _listed(api, a_owner, None))
    assert {districts.xuanwu, districts.qinhuai} <= mine and districts.suzhou not in mine
    assert districts.qinhuai in _ids(await _listed(api, a_owner, QINHUAI))
    assert districts.xuanwu not in _ids(await _listed(api, a_owner, QINHUAI))
    # Another company's division is no way into its alarms.
    assert await _listed(api, b_owner, QINHUAI) == []
    assert districts.suzhou not in _ids(await _listed(api, a_owner, "320505"))
    result = await api.query(LIST, {"code": "320199"}, as_user=a_owner)
    assert result.code == "BAD_USER_INPUT"


async def test_an_alarm_nobody_acknowledged_in_time_is_overdue(
    api: GraphQLClient, runtime: Runtime, world: World, districts: Districts
) -> None:
    director = world.regulators["320100"]
    rows = {r["id"]: r for r in await _listed(api, director, QINHUAI)}
    assert rows[districts.qinhuai]["overdue"] is False
    async with unscoped_session(runtime.sessions) as session, session.begin():
        await session.execute(
            update(Alarm).where(Alarm.id == uuid.UUID(districts.qinhuai)).values(escalation_step=1)
        )
    rows = {r["id"]: r for r in await _listed(api, director, QINHUAI)}
    assert rows[districts.qinhuai]["overdue"] is True
    await ok(api, world.a.users["owner"], ACKNOWLEDGE, id=districts.qinhuai)
    rows = {r["id"]: r for r in await _listed(api, director, QINHUAI)}
    assert rows[districts.qinhuai]["overdue"] is False


async def test_a_county_regulator_receives_no_other_countys_events(
    api: GraphQLClient, runtime: Runtime, world: World, districts: Districts
) -> None:
    a_owner = world.a.users["owner"]
    async with subscribed(api, runtime, districts.county) as county:
        # The same company, the next district: raised first, so it would arrive first.
        other = await raise_alarm(api, a_owner, districts.qinhuai_dev, 30.0, 70.0)
        own = await raise_alarm(api, a_owner, districts.xuanwu_dev, 30.0, 70.0)
        events = await county.until(of(own["id"], "SEVERITY_CHANGED"))
    ids = {e["alarm"]["id"] for e in events}
    assert other["id"] not in ids and districts.qinhuai not in ids and districts.suzhou not in ids
    assert await tenants_of(runtime, events) == {world.a.tenant_id}

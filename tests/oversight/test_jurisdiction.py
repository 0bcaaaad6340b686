"""The regulators' jurisdiction overview and site risk list (GraphQL ``jurisdiction`` and
``siteRisks``): figures that add up, counted against a brute-force count of the same data,
colours by the documented rule, and nothing for enterprise members or the platform.

The session's world is shared with other tests, so the figures are compared with a count
made from the stores at the same moment, and colours are checked on sites made here.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from backend.alarms.models import Alarm
from backend.auth import service as auth_service
from backend.auth.principal import Principal
from backend.oversight.hazards.models import HazardUnit
from backend.oversight.notices.models import RectificationNotice
from backend.oversight.notices.service import is_overdue
from backend.oversight.service import create_regulator_in_own_transaction
from backend.runtime import Runtime
from backend.telemetry.models import Device, Sensor
from backend.telemetry.status import is_online
from tenants.divisions import division_prefix
from tenants.models import Site
from tenants.scope import unscoped_session
from tests.alarm_helpers import drain, gas_alarms, gas_device, next_ts, send
from tests.alarms.test_query_counts import counted_statements
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient
from tests.ingest_helpers import GAS, TEMP, eventually, new_device, new_site, post

FIGURES = (
    "divisionCode name enterprises sites majorHazardSources onlineRate riskColor "
    "activeAlarms { severity count } majorHazardSourcesByGrade { grade count } "
    "overdueUnacknowledged overdueNotices"
)
JURISDICTION = f"""query($code: String) {{
  jurisdiction(divisionCode: $code) {{ {FIGURES} children {{ {FIGURES} }} }} }}"""
SITE_RISKS = """query($first: Int, $after: ID, $code: String) {
  siteRisks(first: $first, after: $after, divisionCode: $code) {
    site { id name divisionCode } riskColor onlineRate activeAlarmCount majorHazardGrade } }"""
RANK = {"RED": 0, "ORANGE": 1, "YELLOW": 2, "BLUE": 3}


@dataclass
class Sites:
    red: uuid.UUID  # an active RED alarm
    overdue_major: uuid.UUID  # grade IV, an ORANGE alarm nobody acknowledged in time: RED
    overdue_plain: uuid.UUID  # no grade, the same: stays ORANGE
    offline: uuid.UUID  # 1 of 2 sensors online: ORANGE
    nearly: uuid.UUID  # 10 of 11 sensors online: YELLOW
    grade3: uuid.UUID  # grade III, nothing else: YELLOW
    city_level: uuid.UUID  # coded at Nanjing itself, grade IV: BLUE
    province_level: uuid.UUID  # coded at Jiangsu itself: BLUE


async def _report(api: GraphQLClient, dev: Any, codes: list[str]) -> None:
    body = {
        "batch_id": str(uuid.uuid4()),
        "readings": [{"sensor": c, "ts": next_ts(dev.id), "value": 5.0} for c in codes],
    }
    response = await post(api.http, dev, "telemetry", body)
    assert response.status_code == 202, response.text
    await drain(api)


def _latest(rt: Runtime) -> dict[uuid.UUID, datetime]:
    rows = rt.clickhouse.query(
        "SELECT sensor_id, max(last_ts) FROM sensor_latest GROUP BY sensor_id"
    ).result_rows
    return {sensor: ts for sensor, ts in rows}


async def _overdue(rt: Runtime, site_id: uuid.UUID) -> None:
    """The site's active alarms' acknowledgement deadline passed (as the clock finds it)."""
    async with unscoped_session(rt.sessions) as session, session.begin():
        await session.execute(
            update(Alarm)
            .where(Alarm.site_id == site_id, Alarm.cleared_at.is_(None))
            .values(escalate_at=datetime.now(UTC) - timedelta(minutes=1))
        )


@pytest.fixture(scope="module")
async def sites(api: GraphQLClient, runtime: Runtime, world: World) -> Sites:
    rt, a, b = runtime, world.a.tenant_id, world.b.tenant_id
    red = await gas_device(api, rt, a, await new_site(rt, a, division="320102"))
    await send(api, red, 60.0)
    assert {x["severity"] for x in await gas_alarms(api, world.a.users["owner"], red)} == {"RED"}
    major = await gas_device(
        api, rt, a, await new_site(rt, a, division="320104", major_hazard_grade=4)
    )
    await send(api, major, 30.0)
    plain = await gas_device(api, rt, b, await new_site(rt, b, division="320505"))
    await send(api, plain, 30.0)
    for dev in (major, plain):
        await _overdue(rt, dev.site_id)
    offline = await new_device(rt, b, await new_site(rt, b, division="320506"), (GAS, TEMP))
    await _report(api, offline, ["GT-1"])
    many = [{**TEMP, "code": f"TT-{i}"} for i in range(1, 12)]
    nearly = await new_device(rt, a, await new_site(rt, a, division="320102"), many)
    await _report(api, nearly, [f"TT-{i}" for i in range(1, 11)])
    wanted = {offline.sensors["GT-1"], *(nearly.sensors[f"TT-{i}"] for i in range(1, 11))}
    landed = await eventually(lambda: wanted <= set(_latest(rt)), bool, within=30)
    assert landed, "the readings never reached sensor_latest"
    return Sites(
        red=red.site_id,
        overdue_major=major.site_id,
        overdue_plain=plain.site_id,
        offline=offline.site_id,
        nearly=nearly.site_id,
        grade3=await new_site(rt, b, division="320507", major_hazard_grade=3),
        city_level=await new_site(rt, a, division="320100", major_hazard_grade=4),
        province_level=await new_site(rt, b, division="320000"),
    )


# --- brute force ---------------------------------------------------------------------------


@dataclass
class Counted:
    enterprises: int
    sites: int
    major_hazard_sources: int
    sensors: int
    online: int
    alarms: dict[str, int]
    sources_by_grade: dict[int, int]
    overdue_unacknowledged: int
    overdue_notices: int


async def brute_force(rt: Runtime, code: str) -> Counted:
    """Every figure of a division counted site by site from the stores."""
    prefix = division_prefix(code)
    latest = _latest(rt)
    now = datetime.now(UTC)
    async with unscoped_session(rt.sessions) as session:
        inside = [
            s
            for s in (await session.scalars(select(Site))).all()
            if s.division_code.startswith(prefix)
        ]
        sensors = online = sources = late = late_notices = 0
        alarms: dict[str, int] = defaultdict(int)
        by_grade = dict.fromkeys((1, 2, 3, 4), 0)
        for site in inside:
            units = (
                await session.scalars(select(HazardUnit).where(HazardUnit.site_id == site.id))
            ).all()
            # Its major units; a site graded by hand before it registered any is one source.
            if units:
                sources += sum(u.is_major for u in units)
                for unit in units:
                    if unit.is_major:
                        by_grade[unit.grade] += 1
            elif site.major_hazard_grade is not None:
                sources += 1
                by_grade[site.major_hazard_grade] += 1
            late_notices += sum(
                is_overdue(n, now)
                for n in await session.scalars(
                    select(RectificationNotice).where(RectificationNotice.site_id == site.id)
                )
            )
            devices = (await session.scalars(select(Device).where(Device.site_id == site.id))).all()
            live = {d.id for d in devices if d.revoked_at is None}
            for sensor in (
                await session.scalars(select(Sensor).where(Sensor.site_id == site.id))
            ).all():
                if sensor.device_id in live:
                    sensors += 1
                    online += is_online(
                        latest.get(sensor.id), now, rt.settings.offline_after_seconds
                    )
            for alarm in (
                await session.scalars(select(Alarm).where(Alarm.site_id == site.id))
            ).all():
                if alarm.cleared_at is None:
                    alarms[alarm.severity.value] += 1
                    # Nobody acknowledged it within its deadline: it escalated, or is due to.
                    # An alarm past its chain's last step has no next deadline.
                    due = alarm.escalate_at is not None and alarm.escalate_at <= now
                    late += alarm.acknowledged_at is None and (alarm.escalation_step > 0 or due)
    return Counted(
        enterprises=len({s.tenant_id for s in inside}),
        sites=len(inside),
        major_hazard_sources=sources,
        sensors=sensors,
        online=online,
        alarms=dict(alarms),
        sources_by_grade=by_grade,
        overdue_unacknowledged=late,
        overdue_notices=late_notices,
    )


async def jurisdiction(api: GraphQLClient, user: str, code: str | None = None) -> dict[str, Any]:
    result = await api.query(JURISDICTION, {} if code is None else {"code": code}, as_user=user)
    assert result.status == 200 and not result.codes, result.body
    assert result.data is not None
    return dict(result.data["jurisdiction"])


async def all_site_risks(
    api: GraphQLClient, user: str, code: str | None = None, page_size: int = 7
) -> list[Any]:
    """Every page of ``siteRisks`` (pages of 7 by default, to cross page boundaries). Sites are
    ordered worst first, and colours change while readings age: counting the whole province
    takes one page, so that no site moves across a boundary between two of them."""
    rows: list[Any] = []
    after = None
    while True:
        variables: dict[str, Any] = {"first": page_size}
        if after is not None:
            variables["after"] = after
        if code is not None:
            variables["code"] = code
        result = await api.query(SITE_RISKS, variables, as_user=user)
        assert result.status == 200 and not result.codes, result.body
        assert result.data is not None
        page = result.data["siteRisks"]
        rows.extend(page)
        if len(page) < page_size:
            return rows
        after = page[-1]["site"]["id"]


def alarm_counts(figures: dict[str, Any]) -> dict[str, int]:
    return {c["severity"]: c["count"] for c in figures["activeAlarms"] if c["count"]}


def by_grade(figures: dict[str, Any]) -> dict[int, int]:
    return {c["grade"]: c["count"] for c in figures["majorHazardSourcesByGrade"]}


def assert_figures_as_counted(figures: dict[str, Any], before: Counted, after: Counted) -> None:
    """The figures equal a brute-force count of the same data; those that change with time
    alone lie between the counts before and after the answer (alarms are raised and cleared,
    alarms and notices only fall overdue, sensors only fall offline)."""
    assert (figures["sites"], figures["enterprises"], figures["majorHazardSources"]) == (
        after.sites,
        after.enterprises,
        after.major_hazard_sources,
    )
    # The rule engine may raise or clear a shared world's alarms while the answer is computed.
    shown = alarm_counts(figures)
    for severity in {*shown, *before.alarms, *after.alarms}:
        seen = (before.alarms.get(severity, 0), after.alarms.get(severity, 0))
        assert min(seen) <= shown.get(severity, 0) <= max(seen), (severity, shown, seen)
    assert by_grade(figures) == after.sources_by_grade
    assert sum(by_grade(figures).values()) == figures["majorHazardSources"]
    late = figures["overdueUnacknowledged"]
    assert before.overdue_unacknowledged <= late <= after.overdue_unacknowledged
    assert before.overdue_notices <= figures["overdueNotices"] <= after.overdue_notices
    assert_rate_within(figures["onlineRate"], before, after)


def assert_adds_up(top: dict[str, Any], coded_here: list[Any]) -> None:
    """Every count except enterprises is its children's sum plus the sites coded at it."""
    children = top["children"]
    assert top["sites"] == sum(c["sites"] for c in children) + len(coded_here)
    assert top["majorHazardSources"] == sum(c["majorHazardSources"] for c in children) + sum(
        r["majorHazardGrade"] is not None for r in coded_here
    )
    for grade in (1, 2, 3, 4):
        assert by_grade(top)[grade] == sum(by_grade(c)[grade] for c in children) + sum(
            r["majorHazardGrade"] == grade for r in coded_here
        )
    assert top["overdueUnacknowledged"] >= sum(c["overdueUnacknowledged"] for c in children)
    assert top["overdueNotices"] >= sum(c["overdueNotices"] for c in children)
    summed: dict[str, int] = defaultdict(int)
    for figures in children:
        for severity, n in alarm_counts(figures).items():
            summed[severity] += n
    for row in coded_here:
        assert row["activeAlarmCount"] == 0  # the sites coded at a division here have none
    assert alarm_counts(top) == dict(summed)
    assert top["enterprises"] <= sum(c["enterprises"] for c in children) + len(coded_here)
    assert [c["divisionCode"] for c in children] == sorted(c["divisionCode"] for c in children)


# --- tests ---------------------------------------------------------------------------------


def assert_rate_within(rate: float, before: Counted, after: Counted) -> None:
    """The server's online rate lies between the brute-force counts taken before and after
    its answer: readings only age meanwhile, so sensors can only fall offline."""
    assert before.sensors == after.sensors and before.sensors
    low, high = after.online / after.sensors, before.online / before.sensors
    assert low - 1e-9 <= rate <= high + 1e-9, (low, rate, high)


async def test_the_province_sees_both_cities_and_figures_that_add_up(
    api: GraphQLClient, runtime: Runtime, world: World, sites: Sites
) -> None:
    director = world.regulators["320000"]
    codes = ("320000", "320100", "320500")
    before = {code: await brute_force(runtime, code) for code in codes}
    top = await jurisdiction(api, director)
    after = {code: await brute_force(runtime, code) for code in codes}
    counted = after["320000"]
    assert top["divisionCode"] == "320000" and top["name"] == "江苏省"
    children = {c["divisionCode"]: c for c in top["children"]}
    # Every city of the province, named as GB/T 2260 names it, those without sites included.
    assert len(children) == 13
    assert children["320100"]["name"] == "南京市" and children["320500"]["name"] == "苏州市"
    assert children["321300"]["sites"] == 0 and children["321300"]["riskColor"] is None
    risks = await all_site_risks(api, director, page_size=500)
    coded_here = [r for r in risks if r["site"]["divisionCode"] == "320000"]
    assert str(sites.province_level) in {r["site"]["id"] for r in coded_here}
    assert_adds_up(top, coded_here)
    assert top["sites"] == counted.sites == len(risks)
    assert_figures_as_counted(top, before["320000"], counted)
    # The province's colour is its worst site's: the RED one made here.
    assert top["riskColor"] == "RED"
    for code in ("320100", "320500"):
        assert_figures_as_counted(children[code], before[code], after[code])


async def test_nanjing_sees_its_counties_and_nothing_of_suzhou(
    api: GraphQLClient, runtime: Runtime, world: World, sites: Sites
) -> None:
    director = world.regulators["320100"]
    before = await brute_force(runtime, "320100")
    top = await jurisdiction(api, director)
    counted = await brute_force(runtime, "320100")
    assert top["divisionCode"] == "320100"
    assert {c["divisionCode"] for c in top["children"]} >= {"320102", "320104"}
    assert all(c["divisionCode"].startswith("3201") for c in top["children"])
    risks = await all_site_risks(api, director)
    assert {r["site"]["divisionCode"][:4] for r in risks} == {"3201"}
    coded_here = [r for r in risks if r["site"]["divisionCode"] == "320100"]
    assert str(sites.city_level) in {r["site"]["id"] for r in coded_here}
    assert_adds_up(top, coded_here)
    assert_figures_as_counted(top, before, counted)
    # A county of its own, asked by code; Suzhou and its counties are not found.
    county = await jurisdiction(api, director, "320102")
    assert (
        county["children"] == [] and county["sites"] == (await brute_force(runtime, "320102")).sites
    )
    for code in ("320500", "320505", "320000"):
        result = await api.query(JURISDICTION, {"code": code}, as_user=director)
        assert result.code == "NOT_FOUND", result.body
        result = await api.query(SITE_RISKS, {"code": code}, as_user=director)
        assert result.code == "NOT_FOUND", result.body
    assert str(sites.offline) not in {r["site"]["id"] for r in risks}


async def test_online_rate_is_weighted_by_sensors(
    api: GraphQLClient, runtime: Runtime, world: World, sites: Sites
) -> None:
    rows = {r["site"]["id"]: r for r in await all_site_risks(api, world.regulators["320000"])}
    assert rows[str(sites.offline)]["onlineRate"] == pytest.approx(0.5)
    assert rows[str(sites.nearly)]["onlineRate"] == pytest.approx(10 / 11)
    assert rows[str(sites.grade3)]["onlineRate"] is None  # no sensors
    # A division's rate is its online sensors over its sensors, not the mean of its sites'.
    before = await brute_force(runtime, "320506")
    suzhou = await jurisdiction(api, world.regulators["320500"])
    county = next(c for c in suzhou["children"] if c["divisionCode"] == "320506")
    assert_rate_within(county["onlineRate"], before, await brute_force(runtime, "320506"))


async def test_a_revoked_devices_readings_count_for_no_site(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    """The telemetry store keeps what a revoked device reported; the site no longer has its
    sensors, so they neither count nor count as online."""
    site = await new_site(runtime, world.a.tenant_id, division="320104")
    silent = await new_device(runtime, world.a.tenant_id, site, (TEMP,))
    retired = await new_device(runtime, world.a.tenant_id, site, (GAS,))
    await _report(api, retired, ["GT-1"])
    landed = await eventually(lambda: retired.sensors["GT-1"] in _latest(runtime), bool, within=30)
    assert landed, "the reading never reached sensor_latest"
    async with unscoped_session(runtime.sessions) as session, session.begin():
        await session.execute(
            update(Device).where(Device.id == retired.id).values(revoked_at=datetime.now(UTC))
        )
    assert silent.sensors  # the site keeps one sensor, never heard from
    director = world.regulators["320100"]
    rows = {r["site"]["id"]: r for r in await all_site_risks(api, director, "320104")}
    assert rows[str(site)]["onlineRate"] == 0.0


async def test_site_risks_are_ordered_red_to_blue_with_the_colours_of_the_rule(
    api: GraphQLClient, world: World, sites: Sites
) -> None:
    risks = await all_site_risks(api, world.regulators["320000"])
    keys = [(RANK[r["riskColor"]], r["site"]["name"], r["site"]["id"]) for r in risks]
    assert keys == sorted(keys)
    colour = {r["site"]["id"]: r["riskColor"] for r in risks}
    assert colour[str(sites.red)] == "RED"
    assert colour[str(sites.overdue_major)] == "RED"
    assert colour[str(sites.overdue_plain)] == "ORANGE"
    assert colour[str(sites.offline)] == "ORANGE"
    assert colour[str(sites.nearly)] == "YELLOW"
    assert colour[str(sites.grade3)] == "YELLOW"
    assert colour[str(sites.city_level)] == "BLUE"
    assert colour[str(sites.province_level)] == "BLUE"
    by_id = {r["site"]["id"]: r for r in risks}
    assert by_id[str(sites.red)]["activeAlarmCount"] >= 1
    assert by_id[str(sites.grade3)]["majorHazardGrade"] == 3
    # first is 1 to 500; an unknown cursor is not found.
    for first in (0, 501):
        result = await api.query(SITE_RISKS, {"first": first}, as_user=world.regulators["320000"])
        assert result.code == "BAD_USER_INPUT", result.body
    result = await api.query(
        SITE_RISKS, {"after": str(uuid.uuid4())}, as_user=world.regulators["320000"]
    )
    assert result.code == "NOT_FOUND", result.body


async def test_a_regulator_of_several_divisions_must_name_one(
    api: GraphQLClient, runtime: Runtime, world: World, sites: Sites
) -> None:
    email = f"gov.two.{unique('r')}@example.gov.cn"
    user = await create_regulator_in_own_transaction(
        sessions=runtime.sessions,
        authz=runtime.authz,
        principal=Principal.system(),
        division_code="320100",
        email=email,
        password=PASSWORD,
        role="analyst",
        log2_n=runtime.log2_n,
    )
    async with runtime.sessions() as session, session.begin():
        await auth_service.grant_membership(
            session=session,
            user=user,
            domain="gov:320500",
            role="analyst",
            actor=Principal.system().actor(),
        )
    result = await api.query(JURISDICTION, {}, as_user=email)
    assert result.code == "BAD_USER_INPUT", result.body
    assert (await jurisdiction(api, email, "320500"))["divisionCode"] == "320500"
    result = await api.query(JURISDICTION, {"code": "320000"}, as_user=email)
    assert result.code == "NOT_FOUND", result.body


async def test_enterprise_members_and_the_platform_get_nothing(
    api: GraphQLClient, world: World, sites: Sites
) -> None:
    callers = [*world.a.users.values(), *world.b.users.values(), world.platform_admin]
    for user in callers:
        for variables in ({}, {"code": world.a.division}, {"code": "320102"}):
            result = await api.query(JURISDICTION, variables, as_user=user)
            assert result.code == "NOT_FOUND", (user, result.body)
            result = await api.query(SITE_RISKS, variables, as_user=user)
            assert result.status == 200 and not result.codes, result.body
            assert result.data == {"siteRisks": []}


async def test_the_cost_in_queries_does_not_grow_with_the_sites(
    api: GraphQLClient,
    runtime: Runtime,
    world: World,
    sites: Sites,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    director = world.regulators["320100"]
    await api.token_for(director)  # signing in is not part of what is counted
    clickhouse: list[str] = []
    real_query = runtime.clickhouse.query

    def counting_query(sql: str, *args: Any, **kwargs: Any) -> Any:
        clickhouse.append(sql)
        return real_query(sql, *args, **kwargs)

    monkeypatch.setattr(runtime.clickhouse, "query", counting_query)

    async def cost() -> tuple[int, int]:
        clickhouse.clear()
        with counted_statements(runtime) as statements:
            await jurisdiction(api, director)
            await api.query(SITE_RISKS, {"first": 500}, as_user=director)
        return len(statements), len(clickhouse)

    before = await cost()
    for _ in range(5):
        site = await new_site(runtime, world.a.tenant_id, division="320113")
        await new_device(runtime, world.a.tenant_id, site, (GAS, TEMP))
    after = await cost()
    assert before[0] > 0 and after == before, (before, after)
    assert after[1] == 2  # one ClickHouse query per field

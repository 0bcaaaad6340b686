"""The regulators' figures beyond the moment: a division's online rate day by day (GraphQL
``onlineRateHistory``), overdue rectification notices per division and per enterprise
(``overdueNotices`` in ``jurisdiction`` and ``enterpriseRankings``), and who gets none.

The sites are made in a county no other test uses (320114, Yuhuatai); the readings are
written at known hours two days ago, so the day's rate is a hand computation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from backend.oversight.notices.models import RectificationNotice
from backend.runtime import Runtime
from tenants.scope import unscoped_session
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_device, new_site

COUNTY = "320114"
CHINA = ZoneInfo("Asia/Shanghai")
HISTORY = """query($code: String, $days: Int) {
  onlineRateHistory(divisionCode: $code, days: $days) { day rate } }"""
RANKINGS = """query($code: String, $orderBy: EnterpriseRankingOrder) {
  enterpriseRankings(divisionCode: $code, orderBy: $orderBy) { tenant { id } overdueNotices } }"""
FIGURES = """query($code: String) { jurisdiction(divisionCode: $code) {
  overdueNotices overdueUnacknowledged majorHazardSourcesByGrade { grade count } } }"""
ISSUE = """mutation($site: ID!, $deadline: DateTime!, $items: [NoticeItemInput!]!) {
  issueRectificationNotice(siteId: $site, deadline: $deadline, items: $items) { id } }"""
COLUMNS = ["tenant_id", "site_id", "sensor_id", "ts", "value", "retention_days"]


@dataclass
class Made:
    day: date  # two days ago in China time, the day with readings
    late_notice: uuid.UUID


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA).astimezone(UTC)


@pytest.fixture(scope="module")
async def made(api: GraphQLClient, runtime: Runtime, world: World) -> Made:
    a, b = world.a.tenant_id, world.b.tenant_id
    a_site = await new_site(runtime, a, division=COUNTY)
    dev = await new_device(runtime, a, a_site)  # two sensors: GT-1 and TT-1
    await new_site(runtime, b, division=COUNTY)
    day = datetime.now(CHINA).date() - timedelta(days=2)
    gas, temp = dev.sensors["GT-1"], dev.sensors["TT-1"]
    # GT-1 reports in three hours of the day (twice in the first), TT-1 in one: 4 of 48.
    times = [(gas, _at(day, 1, 10)), (gas, _at(day, 1, 40)), (gas, _at(day, 5, 0))]
    times += [(gas, _at(day, 23, 59)), (temp, _at(day, 12, 30))]
    runtime.clickhouse.insert(
        "readings",
        [[a, dev.site_id, sensor, ts, 1.0, 365] for sensor, ts in times],
        column_names=COLUMNS,
    )
    # A later insert into an hour already reported: another rollup row until the engine
    # merges them, still one sensor-hour.
    runtime.clickhouse.insert(
        "readings", [[a, dev.site_id, gas, _at(day, 5, 30), 2.0, 365]], column_names=COLUMNS
    )
    result = await api.query(
        ISSUE,
        {
            "site": str(dev.site_id),
            "deadline": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
            "items": [{"finding": "可燃气体报警器未定期检定", "basis": "GB/T 50493-2019"}],
        },
        as_user=world.regulators["320100"],
    )
    assert result.status == 200 and not result.codes, result.body
    notice = uuid.UUID(result.data["issueRectificationNotice"]["id"])  # type: ignore[index]
    async with unscoped_session(runtime.sessions) as session, session.begin():
        await session.execute(
            update(RectificationNotice)
            .where(RectificationNotice.id == notice)
            .values(deadline=datetime.now(UTC) - timedelta(hours=1))
        )
    return Made(day=day, late_notice=notice)


async def _data(api: GraphQLClient, query: str, variables: dict[str, Any], user: str) -> Any:
    result = await api.query(query, variables, as_user=user)
    assert result.status == 200 and not result.codes, result.body
    return result.data


async def test_a_days_online_rate_is_sensor_hours_over_what_was_due(
    api: GraphQLClient, world: World, made: Made
) -> None:
    data = await _data(api, HISTORY, {"code": COUNTY, "days": 5}, world.regulators["320100"])
    days = data["onlineRateHistory"]
    today = datetime.now(CHINA).date()
    assert [d["day"] for d in days] == [str(today - timedelta(days=n)) for n in range(4, -1, -1)]
    rates = {d["day"]: d["rate"] for d in days}
    assert rates[str(made.day)] == pytest.approx(4 / 48)
    # The day before had nothing, nor has today: 0, not null (the sensors exist).
    assert rates[str(made.day - timedelta(days=1))] == 0
    assert rates[str(today)] == 0
    # The province sees the same county; thirty days by default.
    province = await _data(api, HISTORY, {"code": COUNTY}, world.regulators["320000"])
    assert len(province["onlineRateHistory"]) == 30
    assert {d["day"]: d["rate"] for d in province["onlineRateHistory"]}[
        str(made.day)
    ] == pytest.approx(4 / 48)


async def test_history_is_refused_outside_the_jurisdiction_and_for_bad_days(
    api: GraphQLClient, world: World, made: Made
) -> None:
    for user in (world.regulators["320500"], *world.a.users.values(), world.platform_admin):
        result = await api.query(HISTORY, {"code": COUNTY}, as_user=user)
        assert result.code == "NOT_FOUND", (user, result.body)
    for days in (0, 91):
        result = await api.query(
            HISTORY, {"code": COUNTY, "days": days}, as_user=world.regulators["320100"]
        )
        assert result.code == "BAD_USER_INPUT", result.body


async def test_overdue_notices_count_for_the_division_and_rank_their_enterprise(
    api: GraphQLClient, world: World, made: Made
) -> None:
    director = world.regulators["320100"]
    figures = (await _data(api, FIGURES, {"code": COUNTY}, director))["jurisdiction"]
    assert figures["overdueNotices"] == 1
    assert [g["grade"] for g in figures["majorHazardSourcesByGrade"]] == [1, 2, 3, 4]
    rows = (await _data(api, RANKINGS, {"code": COUNTY, "orderBy": "OVERDUE_NOTICES"}, director))[
        "enterpriseRankings"
    ]
    assert [(r["tenant"]["id"], r["overdueNotices"]) for r in rows] == [
        (str(world.a.tenant_id), 1),
        (str(world.b.tenant_id), 0),
    ]
    # Suzhou's regulator sees neither the county nor its notice.
    result = await api.query(FIGURES, {"code": COUNTY}, as_user=world.regulators["320500"])
    assert result.code == "NOT_FOUND", result.body

"""Alarm supervision (督办) through GraphQL: a regulator of the alarm's jurisdiction puts it
under supervision, the enterprise reports, the regulator returns or accepts; one open
supervision per alarm; past its deadline while it waits for the enterprise it is overdue; every
other role, tenant and jurisdiction is kept out; bad input changes nothing; each step is
audited."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.core.clock import AdjustableClock
from backend.core.errors import ScopeRequired
from backend.oversight.supervision.models import (
    AlarmSupervision,
    SupervisionEvent,
    SupervisionStatus,
)
from backend.runtime import Runtime
from tenants.scope import Scope, scoped_session, unscoped_session
from tests.alarms.test_query_counts import counted_statements
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_site
from tests.oversight.test_notices import changes_of, in_days, ok, photo, refused, regulator
from tests.response.helpers import add_alarm

FIELDS = """id status overdue deadline request requestedAt requestedBy { kind id }
  report reportedAt reportedBy { kind id } photos returnComment reviewedAt
  reviewedBy { kind id } alarm { id severity site { id } } site { id name }
  events { kind at comment actor { kind id } }"""
REQUEST = f"""mutation($alarm: ID!, $deadline: DateTime!, $request: String!) {{
  requestAlarmSupervision(alarmId: $alarm, deadline: $deadline, request: $request) {{
    {FIELDS} }} }}"""
REPORT = f"""mutation($id: ID!, $report: String!, $photos: [String!]) {{
  reportAlarmSupervision(id: $id, report: $report, photos: $photos) {{ {FIELDS} }} }}"""
REVIEW = f"""mutation($id: ID!, $accepted: Boolean!, $comment: String) {{
  reviewAlarmSupervision(id: $id, accepted: $accepted, comment: $comment) {{ {FIELDS} }} }}"""
LIST = """query($status: SupervisionStatus, $overdue: Boolean, $alarm: ID, $site: ID) {
  alarmSupervisions(status: $status, overdue: $overdue, alarmId: $alarm, siteId: $site) {
    id status overdue alarm { id } site { id } } }"""
ONE = f"""query($id: ID!) {{ alarmSupervision(id: $id) {{ {FIELDS} }} }}"""
ALARM = """query($id: ID!) { alarm(id: $id) { id supervisions { id status overdue } } }"""

ASK = "请于期限内报送该报警的处置情况及原因分析"


async def new_alarm(rt: Runtime, tenant_id: uuid.UUID, site_id: uuid.UUID) -> str:
    alarm, _ = await add_alarm(rt, tenant_id, site_id)
    return str(alarm)


async def request(
    api: GraphQLClient, user: str, alarm: str, days: float = 3, text: str = ASK
) -> dict[str, Any]:
    return await ok(  # type: ignore[no-any-return]
        api, user, REQUEST, alarm=alarm, deadline=in_days(days), request=text
    )


async def state(rt: Runtime) -> tuple[int, int]:
    """How many rows each supervision table holds (what a refusal must leave alone)."""
    async with unscoped_session(rt.sessions) as session:
        return (
            int(await session.scalar(select(func.count()).select_from(AlarmSupervision)) or 0),
            int(await session.scalar(select(func.count()).select_from(SupervisionEvent)) or 0),
        )


@pytest.fixture
def clock(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AdjustableClock:
    """The runtime's clock, one the test moves ahead."""
    adjustable = AdjustableClock()
    monkeypatch.setitem(runtime.__dict__, "clock", adjustable)
    return adjustable


# --- the lifecycle ----------------------------------------------------------------------------


async def test_request_report_return_report_accept(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)  # Nanjing, 320102
    alarm = await new_alarm(runtime, world.a.tenant_id, site)
    director = world.regulators["320100"]
    inspector = await regulator(runtime, "320100", "inspector")
    analyst = await regulator(runtime, "320000", "analyst")
    manager = world.a.users["safety_manager"]

    asked = await request(api, inspector, alarm)
    assert asked["status"] == "REQUESTED" and asked["overdue"] is False
    assert asked["request"] == ASK and asked["report"] is None and asked["photos"] == []
    assert asked["alarm"]["id"] == alarm and asked["site"]["id"] == str(site)
    assert asked["alarm"]["site"]["id"] == str(site)
    assert asked["requestedBy"]["kind"] == "USER" and asked["reportedBy"] is None
    assert asked["reviewedBy"] is None and asked["reviewedAt"] is None
    assert [e["kind"] for e in asked["events"]] == ["REQUESTED"]

    # Every role of the enterprise, and the regulators above the site, see it.
    for user in (*world.a.users.values(), director, analyst, world.regulators["320000"]):
        (seen,) = await ok(api, user, LIST, site=str(site))
        assert (seen["id"], seen["status"]) == (asked["id"], "REQUESTED"), user
        (on_alarm,) = (await ok(api, user, ALARM, id=alarm))["supervisions"]
        assert on_alarm["id"] == asked["id"], user
    (by_alarm,) = await ok(api, manager, LIST, alarm=alarm)
    assert by_alarm["id"] == asked["id"]

    key = await photo(api, manager)
    reported = await ok(
        api, manager, REPORT, id=asked["id"], report="已排查：阀门泄漏，已更换", photos=[key]
    )
    assert reported["status"] == "REPORTED" and reported["report"] == "已排查：阀门泄漏，已更换"
    assert reported["photos"] == [key] and reported["reportedBy"]["kind"] == "USER"
    # The regulators of the site see the photos it reported with; no one else does.
    for user, status in (
        (director, 200),
        (analyst, 200),
        (world.regulators["320500"], 404),
        (world.b.users["owner"], 404),
        (world.platform_admin, 404),
    ):
        token = await api.token_for(user)
        shown = await api.http.get(
            f"/api/v1/photos/{key}", headers={"Authorization": f"Bearer {token}"}
        )
        assert shown.status_code == status, (user, shown.text)

    returned = await ok(
        api, director, REVIEW, id=asked["id"], accepted=False, comment="缺少原因分析"
    )
    assert returned["status"] == "RETURNED" and returned["returnComment"] == "缺少原因分析"
    assert returned["reviewedBy"]["kind"] == "USER" and returned["reviewedAt"] is not None
    (seen,) = await ok(api, manager, LIST, status="RETURNED", site=str(site))
    assert seen["id"] == asked["id"]

    owner = world.a.users["owner"]
    again = await ok(api, owner, REPORT, id=asked["id"], report="原因：密封老化；已补充分析")
    assert again["status"] == "REPORTED" and again["photos"] == []
    assert again["reportedBy"]["id"] != reported["reportedBy"]["id"]

    accepted = await ok(api, inspector, REVIEW, id=asked["id"], accepted=True)
    assert accepted["status"] == "ACCEPTED" and accepted["overdue"] is False
    assert [(e["kind"], e["comment"]) for e in accepted["events"]] == [
        ("REQUESTED", None),
        ("REPORTED", "已排查：阀门泄漏，已更换"),
        ("RETURNED", "缺少原因分析"),
        ("REPORTED", "原因：密封老化；已补充分析"),
        ("ACCEPTED", None),
    ]
    # Closed: reported on and reviewed no more.
    assert await refused(api, manager, REPORT, id=asked["id"], report="x") == "BAD_USER_INPUT"
    assert await refused(api, director, REVIEW, id=asked["id"], accepted=True) == ("BAD_USER_INPUT")
    assert (await ok(api, analyst, ONE, id=asked["id"]))["status"] == "ACCEPTED"

    # Accepted, the alarm may be supervised again; the alarm lists both, newest first.
    second = await request(api, director, alarm)
    on_alarm = (await ok(api, owner, ALARM, id=alarm))["supervisions"]
    assert [s["id"] for s in on_alarm] == [second["id"], asked["id"]]

    entries = await changes_of(runtime, asked["id"])
    gov = "gov:320102"
    tenant = f"tenant:{world.a.tenant_id}"
    assert [(e.action, e.role, e.domain) for e in entries] == [
        ("supervision.request", "inspector", gov),
        ("supervision.report", "safety_manager", tenant),
        ("supervision.return", "director", gov),
        ("supervision.report", "owner", tenant),
        ("supervision.accept", "inspector", gov),
    ]
    assert entries[0].detail["alarm_id"] == alarm
    assert [entries[1].detail["round"], entries[3].detail["round"]] == [1, 2]


async def test_an_alarm_has_one_open_supervision_at_a_time(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    alarm = await new_alarm(runtime, world.a.tenant_id, site)
    director = world.regulators["320100"]
    province = world.regulators["320000"]
    first = await request(api, director, alarm)
    before = await state(runtime)

    result = await api.query(
        REQUEST, {"alarm": alarm, "deadline": in_days(2), "request": ASK}, as_user=province
    )
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert "already under supervision" in result.body["errors"][0]["message"]
    # Reported or returned, it is still open.
    await ok(api, world.a.users["owner"], REPORT, id=first["id"], report="已处置")
    assert await refused(api, province, REQUEST, alarm=alarm, deadline=in_days(2), request=ASK)
    await ok(api, director, REVIEW, id=first["id"], accepted=False, comment="补充")
    assert await refused(api, province, REQUEST, alarm=alarm, deadline=in_days(2), request=ASK)
    assert (await state(runtime))[0] == before[0]

    # Asked at once by two regulators, one supervision opens.
    other = await new_alarm(runtime, world.a.tenant_id, site)
    inspector = await regulator(runtime, "320100", "inspector")
    await api.token_for(inspector)
    await api.token_for(province)
    results = await asyncio.gather(
        *(
            api.query(
                REQUEST,
                {"alarm": other, "deadline": in_days(2), "request": ASK},
                as_user=user,
            )
            for user in (director, inspector, province)
        )
    )
    assert sorted(tuple(r.codes) for r in results) == [(), ("BAD_USER_INPUT",), ("BAD_USER_INPUT",)]
    assert len(await ok(api, director, LIST, alarm=other)) == 1


# --- overdue ----------------------------------------------------------------------------------


async def test_a_supervision_past_its_deadline_waiting_for_the_enterprise_is_overdue(
    api: GraphQLClient, runtime: Runtime, world: World, clock: AdjustableClock
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    director = world.regulators["320100"]
    owner = world.a.users["owner"]
    late = await request(api, director, await new_alarm(runtime, world.a.tenant_id, site), days=2)
    answered = await request(
        api, director, await new_alarm(runtime, world.a.tenant_id, site), days=2
    )
    await ok(api, owner, REPORT, id=answered["id"], report="已处置")
    assert await ok(api, director, LIST, site=str(site), overdue=True) == []

    clock.advance(3 * 86400)
    seen = await ok(api, world.a.users["viewer"], ONE, id=late["id"])
    assert seen["overdue"] is True and seen["status"] == "REQUESTED"
    assert (await ok(api, director, ONE, id=answered["id"]))["overdue"] is False
    overdue = await ok(api, director, LIST, site=str(site), overdue=True)
    assert [s["id"] for s in overdue] == [late["id"]]
    on_time = await ok(api, director, LIST, site=str(site), overdue=False)
    assert [s["id"] for s in on_time] == [answered["id"]]

    # Reported late, it waits for the regulator: overdue no more; returned, overdue again.
    await ok(api, owner, REPORT, id=late["id"], report="迟报")
    assert (await ok(api, director, ONE, id=late["id"]))["overdue"] is False
    entries = await changes_of(runtime, late["id"])
    assert entries[-1].detail["late"] is True
    returned = await ok(api, director, REVIEW, id=late["id"], accepted=False, comment="不完整")
    assert returned["overdue"] is True


# --- who may do what --------------------------------------------------------------------------


async def test_roles_that_may_not_act_are_forbidden_and_change_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    alarm = await new_alarm(runtime, world.a.tenant_id, site)
    other_alarm = await new_alarm(runtime, world.a.tenant_id, site)
    director = world.regulators["320100"]
    asked = await request(api, director, alarm)
    analyst = await regulator(runtime, "320100", "analyst")
    before = await state(runtime)

    # Analysts and the enterprise do not put alarms under supervision.
    for user in (analyst, *world.a.users.values()):
        code = await refused(
            api, user, REQUEST, alarm=other_alarm, deadline=in_days(3), request=ASK
        )
        assert code == "FORBIDDEN", user
    # Analysts read only: no report, no review.
    assert await refused(api, analyst, REPORT, id=asked["id"], report="x") == "FORBIDDEN"
    # Operators and viewers read; only the owner and the safety manager report.
    for role in ("operator", "viewer"):
        code = await refused(api, world.a.users[role], REPORT, id=asked["id"], report="x")
        assert code == "FORBIDDEN", role
    # Regulators do not report for the enterprise.
    assert await refused(api, director, REPORT, id=asked["id"], report="x") == "FORBIDDEN"
    await ok(api, world.a.users["safety_manager"], REPORT, id=asked["id"], report="已处置")
    before = await state(runtime)
    assert await refused(api, analyst, REVIEW, id=asked["id"], accepted=True) == "FORBIDDEN"
    for user in world.a.users.values():
        code = await refused(api, user, REVIEW, id=asked["id"], accepted=True)
        assert code == "FORBIDDEN", user
    assert await state(runtime) == before
    assert (await ok(api, analyst, ONE, id=asked["id"]))["status"] == "REPORTED"


async def test_other_tenants_jurisdictions_and_the_platform_see_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    alarm = await new_alarm(runtime, world.a.tenant_id, site)
    asked = await request(api, world.regulators["320100"], alarm)
    fresh = await new_alarm(runtime, world.a.tenant_id, site)
    county = await regulator(runtime, "320104", "director")  # another district of Nanjing
    suzhou_inspector = await regulator(runtime, "320500", "inspector")
    outsiders = [
        *world.b.users.values(),
        world.regulators["320500"],
        suzhou_inspector,
        county,
        world.platform_admin,
    ]
    before = await state(runtime)

    for user in outsiders:
        assert await refused(api, user, ONE, id=asked["id"]) == "NOT_FOUND", user
        assert await refused(api, user, REPORT, id=asked["id"], report="x") == "NOT_FOUND", user
        code = await refused(api, user, REVIEW, id=asked["id"], accepted=True)
        assert code == "NOT_FOUND", user
        code = await refused(api, user, REQUEST, alarm=fresh, deadline=in_days(3), request=ASK)
        assert code == "NOT_FOUND", user
        assert await refused(api, user, LIST, alarm=alarm) == "NOT_FOUND", user
        assert await refused(api, user, LIST, site=str(site)) == "NOT_FOUND", user
        listed = await ok(api, user, LIST)
        assert asked["id"] not in {s["id"] for s in listed}, user
    assert await ok(api, world.platform_admin, LIST) == []
    assert await state(runtime) == before


# --- bad input --------------------------------------------------------------------------------


async def test_bad_input_is_refused_and_changes_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    alarm = await new_alarm(runtime, world.a.tenant_id, site)
    fresh = await new_alarm(runtime, world.a.tenant_id, site)
    director = world.regulators["320100"]
    asked = await request(api, director, alarm)
    before = await state(runtime)

    for deadline, text in (
        (in_days(-1), ASK),  # a deadline in the past
        (in_days(3), "   "),  # an empty request
        (in_days(3), "x" * 2001),
    ):
        code = await refused(api, director, REQUEST, alarm=fresh, deadline=deadline, request=text)
        assert code == "BAD_USER_INPUT", (deadline, text)
    for unknown in (str(uuid.uuid4()), "not-an-id"):
        code = await refused(
            api, director, REQUEST, alarm=unknown, deadline=in_days(3), request=ASK
        )
        assert code == "NOT_FOUND", unknown
        assert await refused(api, director, ONE, id=unknown) == "NOT_FOUND"
        assert await refused(api, director, LIST, alarm=unknown) == "NOT_FOUND"

    manager = world.a.users["safety_manager"]
    other_tenant_key = await photo(api, world.b.users["owner"])
    not_uploaded = f"photos/{world.a.tenant_id}/{uuid.uuid4()}.jpg"
    key = await photo(api, manager)
    for report, photos in (
        (" ", []),  # an empty report
        ("x" * 4001, []),
        ("已处置", [not_uploaded]),
        ("已处置", [other_tenant_key]),
        ("已处置", [key, key]),
    ):
        code = await refused(api, manager, REPORT, id=asked["id"], report=report, photos=photos)
        assert code == "BAD_USER_INPUT", (report, photos)
    code = await refused(api, manager, REPORT, id=str(uuid.uuid4()), report="已处置")
    assert code == "NOT_FOUND"
    # Not reported yet: nothing to review; a return needs its comment.
    assert await refused(api, director, REVIEW, id=asked["id"], accepted=True) == ("BAD_USER_INPUT")
    await ok(api, manager, REPORT, id=asked["id"], report="已处置")
    before = await state(runtime)
    for comment in (None, "  "):
        code = await refused(api, director, REVIEW, id=asked["id"], accepted=False, comment=comment)
        assert code == "BAD_USER_INPUT", comment
    assert await state(runtime) == before
    assert (await ok(api, manager, ONE, id=asked["id"]))["status"] == "REPORTED"
    assert [e.action for e in await changes_of(runtime, asked["id"])] == [
        "supervision.request",
        "supervision.report",
    ]


async def test_identifiers_in_the_free_text_are_masked_at_rest(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    alarm = await new_alarm(runtime, world.a.tenant_id, site)
    director = world.regulators["320100"]
    asked = await request(api, director, alarm, text="请联系值班员 13812345678 报送")
    await ok(api, world.a.users["owner"], REPORT, id=asked["id"], report="已通知张工 13912345678")
    await ok(api, director, REVIEW, id=asked["id"], accepted=False, comment="打 13712345678 核实")
    async with unscoped_session(runtime.sessions) as session:
        row = await session.get(AlarmSupervision, uuid.UUID(asked["id"]))
        assert row is not None
        stored = [row.request, row.report, row.return_comment]
        events = await session.scalars(
            select(SupervisionEvent.comment).where(SupervisionEvent.supervision_id == row.id)
        )
        stored += [c for c in events if c]
    assert len(stored) == 5
    assert all("[手机号]" in text and not re.search(r"1[3-9]\d{9}", text) for text in stored)


async def test_the_supervisions_of_a_page_of_alarms_cost_the_same_for_2_and_6(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    director = world.regulators["320100"]
    for _ in range(6):
        asked = await request(api, director, await new_alarm(runtime, world.a.tenant_id, site))
        await ok(api, world.a.users["owner"], REPORT, id=asked["id"], report="已处置")
    page = """query($site: ID, $first: Int) { alarms(siteId: $site, first: $first) {
      id supervisions { id status requestedBy { id } events { kind actor { id } } } } }"""
    token = await api.token_for(director)
    counts: dict[int, int] = {}
    for first in (2, 6):
        with counted_statements(runtime) as statements:
            result = await api.query(page, {"site": str(site), "first": first}, token=token)
        assert not result.codes, result.body
        assert result.data is not None
        rows = result.data["alarms"]
        assert len(rows) == first
        assert all(len(r["supervisions"]) == 1 for r in rows)
        assert all(len(r["supervisions"][0]["events"]) == 2 for r in rows)
        counts[first] = len(statements)
    assert counts[2] == counts[6], counts


async def test_a_regulators_scope_writes_supervisions_of_its_jurisdiction_only(
    runtime: Runtime, world: World
) -> None:
    """The scope guard lets a regulator write supervision rows of a tenant with a site in its
    jurisdiction, and not another tenant's."""
    site = await new_site(runtime, world.a.tenant_id)
    mine = uuid.UUID(await new_alarm(runtime, world.a.tenant_id, site))
    theirs = uuid.UUID(await new_alarm(runtime, world.b.tenant_id, world.b.site_id))
    scope = Scope(
        jurisdictions=frozenset({"320100"}), jurisdiction_tenant_ids=frozenset({world.a.tenant_id})
    )
    now = datetime.now(UTC)

    def supervision(tenant: uuid.UUID, site_id: uuid.UUID, alarm: uuid.UUID) -> AlarmSupervision:
        return AlarmSupervision(
            tenant_id=tenant,
            site_id=site_id,
            alarm_id=alarm,
            status=SupervisionStatus.REQUESTED,
            deadline=now,
            request="x",
            requested_at=now,
            photos=[],
        )

    for row, allowed in (
        (supervision(world.a.tenant_id, site, mine), True),
        (supervision(world.b.tenant_id, world.b.site_id, theirs), False),
    ):
        async with scoped_session(runtime.sessions, scope) as session:
            await session.begin()
            session.add(row)
            if allowed:
                await session.flush()
            else:
                with pytest.raises(ScopeRequired):
                    await session.flush()
            await session.rollback()

"""Inspections (检查记录) through GraphQL: a regulator of the site's jurisdiction records one
with its findings and inspectors, the enterprise and the regulators of the site read it, a
rectification notice is issued from it once; every other role, tenant and jurisdiction is kept
out; bad input changes nothing; each step is audited."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.auth.models import User
from backend.auth.service import normalise_email
from backend.core.errors import ScopeRequired
from backend.oversight.inspections.models import Inspection, InspectionFinding
from backend.oversight.notices.models import RectificationNotice
from backend.oversight.notices.service import CHINA_TIME
from backend.runtime import Runtime
from tenants.scope import Scope, scoped_session, unscoped_session
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_site
from tests.oversight.test_notices import ITEMS, changes_of, in_days, ok, refused, regulator

FIELDS = """id inspectedOn divisionCode summary createdAt inspectors { kind id }
  createdBy { kind id } findings { finding basis } site { id }
  notice { id number status items { finding basis } }"""
CREATE = f"""mutation($site: ID!, $on: Date!, $findings: [NoticeItemInput!]!, $summary: String,
  $inspectors: [ID!]) {{
  createInspection(siteId: $site, inspectedOn: $on, findings: $findings, summary: $summary,
    inspectorIds: $inspectors) {{ {FIELDS} }} }}"""
ISSUE = """mutation($id: ID!, $deadline: DateTime!) {
  issueNoticeFromInspection(id: $id, deadline: $deadline) {
    id number serial divisionCode status deadline site { id } items { finding basis } } }"""
LIST = f"""query($site: ID, $first: Int) {{ inspections(siteId: $site, first: $first) {{
  {FIELDS} }} }}"""
IDS = """query($first: Int) { inspections(first: $first) { id } }"""
ONE = f"""query($id: ID!) {{ inspection(id: $id) {{ {FIELDS} }} }}"""
SUMMARY = "检查储罐区与中控室，发现问题两项，已当场告知企业负责人。"


def today() -> date:
    return datetime.now(CHINA_TIME).date()


def day(offset: int = 0) -> str:
    return (today() + timedelta(days=offset)).isoformat()


async def user_id(rt: Runtime, email: str) -> str:
    async with unscoped_session(rt.sessions) as session:
        found = await session.scalar(
            select(User.id).where(await User.email.matches(session, normalise_email(email)))
        )
    assert found is not None
    return str(found)


async def record(
    api: GraphQLClient, user: str, site: uuid.UUID, /, **variables: Any
) -> dict[str, Any]:
    values = {"site": str(site), "on": day(), "findings": ITEMS, "summary": SUMMARY}
    return await ok(api, user, CREATE, **(values | variables))  # type: ignore[no-any-return]


async def state(rt: Runtime) -> tuple[int, int, int]:
    """Inspections, findings and notices stored (what a refusal must leave alone)."""
    async with unscoped_session(rt.sessions) as session:
        inspections, findings, notices = [
            int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Inspection, InspectionFinding, RectificationNotice)
        ]
        return inspections, findings, notices


# --- the lifecycle ----------------------------------------------------------------------------


async def test_record_read_and_issue_a_notice_from_an_inspection(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)  # Nanjing, 320102
    director = world.regulators["320100"]
    inspector = await regulator(runtime, "320100", "inspector")
    province_inspector = await regulator(runtime, "320000", "inspector")
    analyst = await regulator(runtime, "320100", "analyst")
    ids = [await user_id(runtime, u) for u in (inspector, province_inspector)]

    made = await record(api, director, site, on=day(-2), inspectors=ids)
    assert made["inspectedOn"] == day(-2) and made["divisionCode"] == "320100"
    assert made["summary"] == SUMMARY and made["site"]["id"] == str(site)
    # People's ids leave as the tenant's data: regulators get pseudonyms, the owner the ids.
    assert len({i["id"] for i in made["inspectors"]}) == 2
    owner = world.a.users["owner"]
    seen = await ok(api, owner, ONE, id=made["id"])
    assert [i["id"] for i in seen["inspectors"]] == ids
    assert seen["createdBy"]["id"] == await user_id(runtime, director)
    assert made["findings"] == [
        {"finding": ITEMS[0]["finding"], "basis": ITEMS[0]["basis"]},
        {"finding": ITEMS[1]["finding"], "basis": None},
    ]
    assert made["notice"] is None
    # Left out, the inspectors are the recorder.
    alone = await record(api, inspector, site, findings=[], summary=None)
    assert [i["id"] for i in (await ok(api, owner, ONE, id=alone["id"]))["inspectors"]] == ids[:1]
    assert alone["findings"] == [] and alone["summary"] is None

    # The enterprise (every role of it) and the regulators over the site read them, the latest
    # inspected first.
    for user in (*world.a.users.values(), director, analyst, world.regulators["320000"]):
        listed = await ok(api, user, LIST, site=str(site))
        assert [i["id"] for i in listed] == [alone["id"], made["id"]], user
        assert (await ok(api, user, ONE, id=made["id"]))["summary"] == SUMMARY, user
    assert [i["id"] for i in await ok(api, director, LIST, site=str(site), first=1)] == [
        alone["id"]
    ]

    notice = await ok(api, inspector, ISSUE, id=made["id"], deadline=in_days(10))
    assert notice["status"] == "ISSUED" and notice["site"]["id"] == str(site)
    assert notice["divisionCode"] == "320100" and notice["number"].startswith("南京市")
    assert notice["items"] == made["findings"]
    linked = await ok(api, world.a.users["viewer"], ONE, id=made["id"])
    assert linked["notice"]["id"] == notice["id"] and linked["notice"]["items"] == notice["items"]
    # The enterprise answers it as any notice: it is in its list.
    notices = await ok(
        api,
        owner,
        "query($site: ID) { rectificationNotices(siteId: $site) { id } }",
        site=str(site),
    )
    assert [n["id"] for n in notices] == [notice["id"]]

    # Once per inspection; an inspection that found nothing issues none.
    before = await state(runtime)
    assert await refused(api, director, ISSUE, id=made["id"], deadline=in_days(3)) == (
        "BAD_USER_INPUT"
    )
    assert await refused(api, director, ISSUE, id=alone["id"], deadline=in_days(3)) == (
        "BAD_USER_INPUT"
    )
    assert await state(runtime) == before

    gov = "gov:320102"
    entries = await changes_of(runtime, made["id"])
    assert [(e.action, e.role, e.domain) for e in entries] == [
        ("inspection.create", "director", gov),
        ("inspection.issue_notice", "inspector", gov),
    ]
    assert entries[1].detail["notice_id"] == notice["id"]
    assert [(e.action, e.role) for e in await changes_of(runtime, notice["id"])] == [
        ("notice.issue", "inspector")
    ]


async def test_a_notice_is_issued_once_from_an_inspection_asked_at_once(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    director = world.regulators["320100"]
    inspector = await regulator(runtime, "320100", "inspector")
    await api.token_for(inspector)
    made = await record(api, director, site)
    notices_before = (await state(runtime))[2]

    results = await asyncio.gather(
        *(
            api.query(ISSUE, {"id": made["id"], "deadline": in_days(5)}, as_user=user)
            for user in (director, inspector)
        )
    )
    assert sorted(tuple(r.codes) for r in results) == [(), ("BAD_USER_INPUT",)]
    assert (await state(runtime))[2] == notices_before + 1
    (won,) = [r for r in results if not r.codes]
    assert won.data is not None
    linked = await ok(api, director, ONE, id=made["id"])
    assert linked["notice"]["id"] == won.data["issueNoticeFromInspection"]["id"]


FILTERED = """query($division: String, $from: Date, $to: Date, $first: Int, $after: ID) {
  inspections(divisionCode: $division, inspectedFrom: $from, inspectedTo: $to, first: $first,
    after: $after) { id inspectedOn site { id } } }"""


async def test_the_list_is_filtered_by_division_and_days_and_paged(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    director = world.regulators["320100"]
    pukou = await new_site(runtime, world.a.tenant_id, division="320111")
    qixia = await new_site(runtime, world.a.tenant_id, division="320113")
    made = {
        (site, offset): (await record(api, director, site, on=day(offset)))["id"]
        for site in (pukou, qixia)
        for offset in (-300, -301, -302)
    }
    window = {"from": day(-302), "to": day(-300)}

    def ids(rows: list[dict[str, Any]]) -> list[str]:
        return [r["id"] for r in rows]

    in_pukou = ids(await ok(api, director, FILTERED, division="320111", **window))
    assert in_pukou == [made[(pukou, o)] for o in (-300, -301, -302)]
    # Both ends of the range are included; a day outside it is left out.
    assert ids(
        await ok(api, director, FILTERED, division="320113", to=day(-301), **{"from": day(-301)})
    ) == [made[(qixia, -301)]]
    # The city holds both districts, the latest inspected first.
    both = ids(await ok(api, director, FILTERED, division="320100", **window))
    assert set(both) == set(made.values()) and len(both) == 6
    # Paged by the last of the previous page: every one once, in the same order.
    pages: list[str] = []
    after = None
    while True:
        page = ids(
            await ok(api, director, FILTERED, division="320100", first=4, after=after, **window)
        )
        pages += page
        if len(page) < 4:
            break
        after = page[-1]
    assert pages == both
    # The enterprise filters its own the same way.
    owner = world.a.users["owner"]
    assert ids(await ok(api, owner, FILTERED, division="320111", **window)) == in_pukou

    # Another city, a district of it, or a division that is none, refused; so is a range
    # that ends before it starts and a cursor that is no inspection.
    assert await refused(api, director, FILTERED, division="320500") == "NOT_FOUND"
    assert await refused(api, world.regulators["320500"], FILTERED, division="320111") == (
        "NOT_FOUND"
    )
    county = await regulator(runtime, "320104", "director")
    assert await refused(api, county, FILTERED, division="320111") == "NOT_FOUND"
    assert await refused(api, director, FILTERED, division="32") == "BAD_USER_INPUT"
    code = await refused(api, director, FILTERED, to=day(-302), **{"from": day(-300)})
    assert code == "BAD_USER_INPUT"
    code = await refused(api, director, FILTERED, after=str(uuid.uuid4()))
    assert code == "BAD_USER_INPUT"
    # The portal's export page (200, with the findings) is within one request's budget.
    export = """query { inspections(first: 200) { id inspectedOn divisionCode createdAt
      site { id name divisionCode tenant { name } } findings { finding basis }
      notice { id number status } } }"""
    assert len(await ok(api, director, export)) >= 6
    # Suzhou's regulator, asking for its own city in the window, gets none of Nanjing's.
    theirs = ids(await ok(api, world.regulators["320500"], FILTERED, division="320500", **window))
    assert not set(theirs) & set(made.values())


# --- who may do what --------------------------------------------------------------------------


async def test_roles_that_may_not_record_are_forbidden_and_change_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    made = await record(api, world.regulators["320100"], site)
    analyst = await regulator(runtime, "320100", "analyst")
    before = await state(runtime)

    for user in (analyst, *world.a.users.values()):
        code = await refused(api, user, CREATE, site=str(site), on=day(), findings=ITEMS)
        assert code == "FORBIDDEN", user
        code = await refused(api, user, ISSUE, id=made["id"], deadline=in_days(3))
        assert code == "FORBIDDEN", user
    assert await state(runtime) == before
    assert (await ok(api, analyst, ONE, id=made["id"]))["notice"] is None


async def test_other_tenants_jurisdictions_and_the_platform_see_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    made = await record(api, world.regulators["320100"], site)
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
        assert await refused(api, user, ONE, id=made["id"]) == "NOT_FOUND", user
        code = await refused(api, user, ISSUE, id=made["id"], deadline=in_days(3))
        assert code == "NOT_FOUND", user
        code = await refused(api, user, CREATE, site=str(site), on=day(), findings=ITEMS)
        assert code == "NOT_FOUND", user
        assert await refused(api, user, LIST, site=str(site)) == "NOT_FOUND", user
        assert made["id"] not in {i["id"] for i in await ok(api, user, IDS, first=500)}, user
    assert await ok(api, world.platform_admin, LIST) == []
    # Tenant B's own inspection is not tenant A's to see.
    theirs = await record(api, world.regulators["320500"], world.b.site_id)
    for user in world.a.users.values():
        assert await refused(api, user, ONE, id=theirs["id"]) == "NOT_FOUND", user
    assert (await state(runtime))[0] == before[0] + 1


# --- bad input --------------------------------------------------------------------------------


async def test_bad_input_is_refused_and_changes_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    director = world.regulators["320100"]
    made = await record(api, director, site)
    suzhou = await user_id(runtime, world.regulators["320500"])
    analyst = await user_id(runtime, await regulator(runtime, "320100", "analyst"))
    owner = await user_id(runtime, world.a.users["owner"])
    me = await user_id(runtime, director)
    before = await state(runtime)

    for variables in (
        {"on": day(1)},  # an inspection not yet made
        {"findings": [{"finding": "  "}]},  # an empty finding
        {"findings": [{"finding": "x" * 2001}]},
        {"findings": [{"finding": "a", "basis": "x" * 1001}]},
        {"summary": "x" * 4001},
        {"inspectors": []},
        {"inspectors": [me, me]},
        {"inspectors": [me, str(uuid.uuid4())]},  # nobody
        {"inspectors": [suzhou]},  # a regulator of another city
        {"inspectors": [analyst]},  # a regulator who only reads
        {"inspectors": [owner]},  # the enterprise
        {"findings": [{"finding": f"问题 {i}"} for i in range(101)]},
    ):
        code = await refused(
            api,
            director,
            CREATE,
            **({"site": str(site), "on": day(), "findings": ITEMS} | variables),
        )
        assert code == "BAD_USER_INPUT", variables
    for unknown in (str(uuid.uuid4()), "not-an-id"):
        code = await refused(api, director, CREATE, site=unknown, on=day(), findings=ITEMS)
        assert code == "NOT_FOUND", unknown
        assert await refused(api, director, ONE, id=unknown) == "NOT_FOUND"
        code = await refused(api, director, ISSUE, id=unknown, deadline=in_days(3))
        assert code == "NOT_FOUND"
    code = await refused(api, director, ISSUE, id=made["id"], deadline=in_days(-1))
    assert code == "BAD_USER_INPUT"
    for first in (0, 501):
        assert await refused(api, director, IDS, first=first) == "BAD_USER_INPUT", first
    assert await state(runtime) == before
    assert (await ok(api, director, ONE, id=made["id"]))["notice"] is None
    assert [e.action for e in await changes_of(runtime, made["id"])] == ["inspection.create"]


async def test_identifiers_in_the_free_text_are_masked_at_rest(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    made = await record(
        api,
        world.regulators["320100"],
        site,
        findings=[{"finding": "值班员 13812345678 未持证上岗", "basis": "《安全生产法》第三十条"}],
        summary="已告知负责人，联系电话 13912345678",
    )
    async with unscoped_session(runtime.sessions) as session:
        row = await session.get(Inspection, uuid.UUID(made["id"]))
        assert row is not None
        (finding,) = await session.scalars(
            select(InspectionFinding.finding).where(InspectionFinding.inspection_id == row.id)
        )
        stored = [row.summary or "", finding]
    assert all("[手机号]" in text and not re.search(r"1[3-9]\d{9}", text) for text in stored)


async def test_a_regulators_scope_writes_inspections_of_its_jurisdiction_only(
    runtime: Runtime, world: World
) -> None:
    """The scope guard lets a regulator write inspection rows of a tenant with a site in its
    jurisdiction, and not another tenant's."""
    site = await new_site(runtime, world.a.tenant_id)
    scope = Scope(
        jurisdictions=frozenset({"320100"}), jurisdiction_tenant_ids=frozenset({world.a.tenant_id})
    )

    def inspection(tenant: uuid.UUID, site_id: uuid.UUID) -> Inspection:
        return Inspection(
            tenant_id=tenant,
            site_id=site_id,
            division="320100",
            inspected_on=today(),
            inspectors=[],
        )

    for row, allowed in (
        (inspection(world.a.tenant_id, site), True),
        (inspection(world.b.tenant_id, world.b.site_id), False),
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

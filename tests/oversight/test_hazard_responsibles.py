"""The accountable persons of a major hazard source (包保责任人) and their duty records through
GraphQL: the owner and safety managers assign and replace the three roles with workers of the
unit's site and record checks; every other role and every regulator is forbidden; another
tenant's worker or site is not found; regulators of the jurisdiction read names and mobiles in
full while a viewer reads what the catalog says; the technical check falls overdue by the clock;
every step is audited and the register's changes are read by the jurisdiction's regulators
only."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.auth.principal import Principal
from backend.core.clock import AdjustableClock
from backend.oversight.hazards.models import HazardDutyRecord, HazardResponsible
from backend.oversight.hazards.responsibles import china_today
from backend.runtime import Runtime
from privacy.audit import READ_ACTION, AuditEntry
from privacy.catalog import apply, catalog
from tenants.scope import Scope, scoped_session, unscoped_session
from tenants.service import create_worker
from tests.factories import World, unique
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_site
from tests.oversight.test_hazard_units import changes_of, register
from tests.oversight.test_notices import ok, refused, regulator

UNIT = """query($id: ID!) { hazardUnit(id: $id) { id isMajorHazard
  responsibles { role assignedAt worker { id name mobile } }
  dutyRecords(first: 10) { role checkedOn findings worker { id name } }
  lastTechnicalCheckAt technicalCheckOverdue } }"""
ASSIGN = """mutation($unit: ID!, $role: HazardResponsibleRole!, $worker: ID!) {
  assignHazardResponsible(unitId: $unit, role: $role, workerId: $worker) {
    id responsibles { role worker { id name mobile } } } }"""
CHECK = """mutation($unit: ID!, $role: HazardResponsibleRole!, $on: Date!, $findings: String!) {
  recordHazardDutyCheck(unitId: $unit, role: $role, checkedOn: $on, findings: $findings) {
    id role checkedOn findings worker { id name } } }"""
CHANGES = """query($site: ID, $first: Int, $after: ID) {
  hazardUnitChanges(siteId: $site, first: $first, after: $after) {
    id kind unitId unitName siteId gradeBefore gradeAfter fields responsibleRole
    responsible { id name mobile } } }"""
SMALL = [{"casNumber": "7782-50-5", "quantityTonnes": 1}]  # Σq/Q 0.2: not a major source

NAMES = {"MAIN": "王建国", "TECHNICAL": "李工程", "OPERATIONAL": "赵操作"}
MOBILES = {"MAIN": "13912340001", "TECHNICAL": "13912340002", "OPERATIONAL": "13912340003"}


@pytest.fixture
def clock(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AdjustableClock:
    adjustable = AdjustableClock()
    monkeypatch.setitem(runtime.__dict__, "clock", adjustable)
    return adjustable


async def worker(
    rt: Runtime, tenant_id: uuid.UUID, site_id: uuid.UUID | None, name: str, mobile: str
) -> str:
    scope = Scope.for_tenant(tenant_id)
    async with scoped_session(rt.sessions, scope) as session, session.begin():
        row = await create_worker(
            session=session,
            authz=rt.authz,
            principal=Principal.system(scope),
            tenant_id=tenant_id,
            name=name,
            employee_number=unique("E"),
            mobile=mobile,
            site_id=site_id,
        )
    return str(row.id)


async def major_unit(api: GraphQLClient, rt: Runtime, world: World) -> tuple[uuid.UUID, str]:
    site = await new_site(rt, world.a.tenant_id)  # Nanjing, 320102
    unit = await register(api, world.a.users["safety_manager"], site, name=unique("液氯罐区"))
    assert unit["isMajorHazard"] is True
    return site, unit["id"]


async def staffed(
    api: GraphQLClient, rt: Runtime, world: World
) -> tuple[uuid.UUID, str, dict[str, str]]:
    """A major unit with its three persons assigned by the safety manager."""
    site, unit = await major_unit(api, rt, world)
    people = {}
    for role, name in NAMES.items():
        people[role] = await worker(rt, world.a.tenant_id, site, name, MOBILES[role])
        await ok(
            api, world.a.users["safety_manager"], ASSIGN, unit=unit, role=role, worker=people[role]
        )
    return site, unit, people


async def rows(rt: Runtime, unit: str) -> tuple[Any, ...]:
    async with unscoped_session(rt.sessions) as session:
        held = (
            await session.execute(
                select(HazardResponsible.role, HazardResponsible.worker_id)
                .where(HazardResponsible.unit_id == uuid.UUID(unit))
                .order_by(HazardResponsible.role)
            )
        ).all()
        checks = await session.scalar(
            select(func.count())
            .select_from(HazardDutyRecord)
            .where(HazardDutyRecord.unit_id == uuid.UUID(unit))
        )
    return tuple(held), checks


# --- assigning ------------------------------------------------------------------------------


async def test_the_three_roles_are_assigned_and_replaced_one_by_one(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    _site, unit, people = await staffed(api, runtime, world)
    seen = await ok(api, world.a.users["owner"], UNIT, id=unit)
    assert [
        (r["role"], r["worker"]["name"], r["worker"]["mobile"]) for r in seen["responsibles"]
    ] == [
        ("MAIN", NAMES["MAIN"], MOBILES["MAIN"]),
        ("TECHNICAL", NAMES["TECHNICAL"], MOBILES["TECHNICAL"]),
        ("OPERATIONAL", NAMES["OPERATIONAL"], MOBILES["OPERATIONAL"]),
    ]

    # The owner replaces the technical lead; the other two stay.
    new_lead = await worker(runtime, world.a.tenant_id, None, "钱新工", "13912340009")
    after = await ok(
        api, world.a.users["owner"], ASSIGN, unit=unit, role="TECHNICAL", worker=new_lead
    )
    assert {r["role"]: r["worker"]["id"] for r in after["responsibles"]} == {
        "MAIN": people["MAIN"],
        "TECHNICAL": new_lead,
        "OPERATIONAL": people["OPERATIONAL"],
    }
    held, _ = await rows(runtime, unit)
    assert len(held) == 3

    # Each assignment is audited with the person before and after.
    assigned = [
        e for e in await changes_of(runtime, unit) if e.action.endswith("assign_responsible")
    ]
    assert [(e.detail["role"], e.detail["before"], e.detail["after"]) for e in assigned] == [
        ("main", None, people["MAIN"]),
        ("technical", None, people["TECHNICAL"]),
        ("operational", None, people["OPERATIONAL"]),
        ("technical", people["TECHNICAL"], new_lead),
    ]
    assert assigned[-1].domain == f"tenant:{world.a.tenant_id}" and assigned[-1].role == "owner"
    assert NAMES["MAIN"] not in str([e.detail for e in assigned])  # ids only in the trail


async def test_roles_that_may_not_assign_are_forbidden_and_change_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site, unit, _people = await staffed(api, runtime, world)
    before = await rows(runtime, unit)
    other = await worker(runtime, world.a.tenant_id, site, "孙某", "13912340010")
    inspector = await regulator(runtime, "320102", "inspector")
    for user in (
        world.a.users["operator"],
        world.a.users["viewer"],
        world.regulators["320100"],
        world.regulators["320000"],
        inspector,
    ):
        assert await refused(api, user, ASSIGN, unit=unit, role="MAIN", worker=other) == "FORBIDDEN"
        code = await refused(
            api,
            user,
            CHECK,
            unit=unit,
            role="MAIN",
            on=str(china_today(runtime.clock)),
            findings="巡查正常",
        )
        assert code == "FORBIDDEN"
    assert await rows(runtime, unit) == before


async def test_another_tenants_worker_or_another_sites_is_not_found(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    _site, unit = await major_unit(api, runtime, world)
    manager = world.a.users["safety_manager"]
    theirs = await worker(runtime, world.b.tenant_id, world.b.site_id, "外企员工", "13912340011")
    elsewhere = await worker(runtime, world.a.tenant_id, world.a.site_id, "他厂员工", "13912340012")
    for who in (theirs, elsewhere, str(uuid.uuid4())):
        assert (
            await refused(api, manager, ASSIGN, unit=unit, role="MAIN", worker=who) == "NOT_FOUND"
        )
    assert await rows(runtime, unit) == ((), 0)

    # Tenant B's people neither see nor assign A's unit, even with their own worker.
    mine = await worker(runtime, world.b.tenant_id, None, "乙方员工", "13912340013")
    for user in (world.b.users["owner"], world.b.users["safety_manager"]):
        assert await refused(api, user, UNIT, id=unit) == "NOT_FOUND"
        assert await refused(api, user, ASSIGN, unit=unit, role="MAIN", worker=mine) == "NOT_FOUND"
    assert await refused(api, world.regulators["320500"], UNIT, id=unit) == "NOT_FOUND"
    assert await rows(runtime, unit) == ((), 0)


async def test_a_unit_that_is_not_a_major_source_has_no_persons(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    unit = await register(api, world.a.users["owner"], site, substances=SMALL)
    person = await worker(runtime, world.a.tenant_id, site, "周某", "13912340014")
    result = await api.query(
        ASSIGN,
        {"unit": unit["id"], "role": "MAIN", "worker": person},
        as_user=world.a.users["owner"],
    )
    assert result.codes == ["BAD_USER_INPUT"], result.body
    seen = await ok(api, world.a.users["owner"], UNIT, id=unit["id"])
    assert seen["responsibles"] == [] and seen["technicalCheckOverdue"] is False


# --- what each audience reads ---------------------------------------------------------------


def _treated(field: str, audience: str, value: str) -> Any:
    policy = catalog().graphql_field("HazardResponsibleWorker", field)
    assert policy is not None
    return apply(policy, policy.treatment(audience), value, lambda: b"k" * 32)


async def test_regulators_read_the_persons_in_full_and_a_viewer_what_the_catalog_says(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    _site, unit, people = await staffed(api, runtime, world)
    analyst = await regulator(runtime, "320102", "analyst")
    for user in (world.regulators["320100"], world.regulators["320000"], analyst):
        seen = await ok(api, user, UNIT, id=unit)
        assert {
            r["role"]: (r["worker"]["name"], r["worker"]["mobile"]) for r in seen["responsibles"]
        } == {role: (NAMES[role], MOBILES[role]) for role in NAMES}

    # Reading the persons' names and mobiles is itself on the trail, as a supervision read.
    async with unscoped_session(runtime.sessions) as session:
        reads = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == READ_ACTION,
                    AuditEntry.object_type == "HazardResponsibleWorker",
                    AuditEntry.domain == "gov:320100",
                )
            )
        ).all()
    assert any(
        {"name", "mobile"} <= set(r.detail.get("fields", []))
        and r.detail.get("purpose") == "government.supervision"
        for r in reads
    ), [r.detail for r in reads]

    viewed = await ok(api, world.a.users["viewer"], UNIT, id=unit)
    main = next(r["worker"] for r in viewed["responsibles"] if r["role"] == "MAIN")
    assert main["name"] == _treated("name", "viewer", NAMES["MAIN"]) != NAMES["MAIN"]
    assert main["mobile"] == _treated("mobile", "viewer", MOBILES["MAIN"]) != MOBILES["MAIN"]

    # The same workers as plain Worker objects stay pseudonymised for a regulator.
    listed = await api.query(
        "query($t: ID) { workers(tenantId: $t) { id name } }",
        {"t": str(world.a.tenant_id)},
        as_user=world.regulators["320100"],
    )
    names = {w["id"]: w["name"] for w in (listed.data or {}).get("workers") or []}
    assert names.get(people["MAIN"]) != NAMES["MAIN"]


# --- duty records and the quarterly technical check ------------------------------------------


async def test_the_technical_check_falls_overdue_by_the_clock(
    api: GraphQLClient, runtime: Runtime, world: World, clock: AdjustableClock
) -> None:
    _site, unit, people = await staffed(api, runtime, world)
    manager = world.a.users["safety_manager"]
    seen = await ok(api, manager, UNIT, id=unit)
    assert seen["lastTechnicalCheckAt"] is None and seen["technicalCheckOverdue"] is True

    today = china_today(clock)
    mobile = "13987654321"
    # A main lead's check does not count as the technical one.
    await ok(api, manager, CHECK, unit=unit, role="MAIN", on=str(today), findings="巡查正常")
    assert (await ok(api, manager, UNIT, id=unit))["technicalCheckOverdue"] is True
    record = await ok(
        api,
        manager,
        CHECK,
        unit=unit,
        role="TECHNICAL",
        on=str(today - timedelta(days=1)),
        findings=f"安全阀校验到期，已联系 {mobile} 更换",
    )
    assert record["worker"]["id"] == people["TECHNICAL"]
    assert mobile not in record["findings"]  # masked at rest, for everyone

    seen = await ok(api, world.regulators["320100"], UNIT, id=unit)
    assert seen["lastTechnicalCheckAt"] == str(today - timedelta(days=1))
    assert seen["technicalCheckOverdue"] is False
    assert [r["role"] for r in seen["dutyRecords"]] == ["MAIN", "TECHNICAL"]

    clock.advance(timedelta(days=91).total_seconds())  # 92 days after the check: still due
    assert (await ok(api, manager, UNIT, id=unit))["technicalCheckOverdue"] is False
    clock.advance(timedelta(days=1).total_seconds())
    assert (await ok(api, world.regulators["320100"], UNIT, id=unit))[
        "technicalCheckOverdue"
    ] is True

    checks = [e for e in await changes_of(runtime, unit) if e.action == "hazard_unit.duty_check"]
    assert [e.detail["role"] for e in checks] == ["main", "technical"]
    assert all(mobile not in str(e.detail) for e in checks)


async def test_bad_duty_checks_are_refused_and_change_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site, unit = await major_unit(api, runtime, world)
    manager = world.a.users["safety_manager"]
    today = china_today(runtime.clock)
    # No one holds the role yet.
    result = await api.query(
        CHECK,
        {"unit": unit, "role": "TECHNICAL", "on": str(today), "findings": "正常"},
        as_user=manager,
    )
    assert result.codes == ["BAD_USER_INPUT"], result.body
    lead = await worker(runtime, world.a.tenant_id, site, "吴工", "13912340015")
    await ok(api, manager, ASSIGN, unit=unit, role="TECHNICAL", worker=lead)
    for on, findings in (
        (str(today + timedelta(days=2)), "正常"),
        (str(today), "   "),
        (str(today), "长" * 2001),
    ):
        result = await api.query(
            CHECK,
            {"unit": unit, "role": "TECHNICAL", "on": on, "findings": findings},
            as_user=manager,
        )
        assert result.codes == ["BAD_USER_INPUT"], result.body
    assert (await rows(runtime, unit))[1] == 0


# --- the register's changes -------------------------------------------------------------------


async def test_the_jurisdictions_regulators_see_the_changes_and_another_county_does_not(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site, unit, people = await staffed(api, runtime, world)
    manager = world.a.users["safety_manager"]
    raised = await ok(
        api,
        manager,
        """mutation($id: ID!) { updateHazardUnit(id: $id, peopleWithin500m: 150,
          substances: [{casNumber: "7782-50-5", quantityTonnes: 160}]) { grade } }""",
        id=unit,
    )
    assert raised["grade"] == 1
    gone = await register(api, manager, site, name=unique("临时罐"))
    await ok(api, manager, "mutation($id: ID!) { removeHazardUnit(id: $id) { id } }", id=gone["id"])

    county = await regulator(runtime, "320102", "analyst")
    for user in (world.regulators["320100"], county):
        changes = await ok(api, user, CHANGES, site=str(site), first=20)
        kinds = [(c["kind"], c["unitId"]) for c in changes]
        assert kinds == [
            ("REMOVED", gone["id"]),
            ("REGISTERED", gone["id"]),
            ("UPDATED", unit),
            ("RESPONSIBLE_ASSIGNED", unit),
            ("RESPONSIBLE_ASSIGNED", unit),
            ("RESPONSIBLE_ASSIGNED", unit),
            ("REGISTERED", unit),
        ]
        updated = changes[2]
        assert (updated["gradeBefore"], updated["gradeAfter"]) == (3, 1)
        assert updated["fields"] == ["people_within_500m", "substances"]
        assigned = changes[3]
        assert assigned["responsibleRole"] == "OPERATIONAL"
        assert assigned["responsible"] == {
            "id": people["OPERATIONAL"],
            "name": NAMES["OPERATIONAL"],
            "mobile": MOBILES["OPERATIONAL"],
        }
        # The jurisdiction-wide list, newest first, holds the same changes; pages follow on.
        everything = await ok(api, user, CHANGES, first=200)
        assert [c["id"] for c in everything if c["siteId"] == str(site)] == [
            c["id"] for c in changes
        ]
        page = await ok(api, user, CHANGES, site=str(site), first=3)
        rest = await ok(api, user, CHANGES, site=str(site), first=20, after=page[-1]["id"])
        assert [c["id"] for c in page + rest] == [c["id"] for c in changes]

    other_county = await regulator(runtime, "320104", "director")
    for user in (other_county, world.regulators["320500"], world.b.users["owner"]):
        assert await refused(api, user, CHANGES, site=str(site)) == "NOT_FOUND"
        listed = await ok(api, user, CHANGES, first=200)
        assert all(c["siteId"] != str(site) for c in listed)
    assert await ok(api, world.platform_admin, CHANGES, first=50) == []

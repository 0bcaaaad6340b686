"""The register of major hazard sources through GraphQL: the enterprise registers its units and
the server grades them after GB 18218-2018; the site's grade follows its units; every other
role, another tenant, another city's regulator and the platform administrator are kept out;
every change is audited with the figures before and after; bad input changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from backend.oversight.hazards.models import HazardSubstance, HazardUnit
from backend.runtime import Runtime
from privacy.audit import READ_ACTION, AuditEntry
from tenants.models import Site
from tenants.scope import unscoped_session
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_site

CHLORINE = "7782-50-5"
METHANOL = "67-56-1"

UNIT_FIELDS = """id name siteId peopleWithin500m alpha sumQOverQ rValue grade isMajorHazard
  updatedAt substances { name standardName casNumber entry category quantityTonnes
  criticalQuantity beta ratio } site { id majorHazardGrade }"""
REGISTER = f"""mutation($site: ID!, $name: String!, $people: Int!,
  $substances: [HazardSubstanceInput!]!) {{
  registerHazardUnit(siteId: $site, name: $name, peopleWithin500m: $people,
    substances: $substances) {{ {UNIT_FIELDS} }} }}"""
UPDATE = f"""mutation($id: ID!, $name: String, $people: Int,
  $substances: [HazardSubstanceInput!]) {{
  updateHazardUnit(id: $id, name: $name, peopleWithin500m: $people, substances: $substances) {{
    {UNIT_FIELDS} }} }}"""
REMOVE = """mutation($id: ID!) { removeHazardUnit(id: $id) { id majorHazardGrade } }"""
UNITS = f"""query($site: ID!) {{ hazardUnits(siteId: $site) {{ {UNIT_FIELDS} }} }}"""
SITE = """query($id: ID!) { site(id: $id) { id majorHazardGrade
  hazardUnits { id name rValue grade } } }"""
SET_GRADE = """mutation($site: ID!, $grade: Int) {
  setSiteMajorHazardGrade(siteId: $site, grade: $grade) { id majorHazardGrade } }"""
CREATE_SITE = """mutation($tenant: ID!, $name: String!, $grade: Int) {
  createSite(tenantId: $tenant, name: $name, divisionCode: "320102", majorHazardGrade: $grade) {
    id majorHazardGrade } }"""

CHLORINE_10T = [{"name": "液氯", "casNumber": CHLORINE, "quantityTonnes": 10}]


async def ok(api: GraphQLClient, user: str, document: str, /, **variables: Any) -> Any:
    result = await api.query(document, variables, as_user=user)
    assert result.status == 200 and not result.codes, result.body
    assert result.data is not None
    (value,) = result.data.values()
    return value


async def refused(
    api: GraphQLClient, user: str, document: str, /, **variables: Any
) -> dict[str, Any]:
    """A request that must fail; its first error's extensions."""
    result = await api.query(document, variables, as_user=user)
    assert result.codes, result.body
    return result.body["errors"][0]["extensions"]  # type: ignore[no-any-return]


async def register(
    api: GraphQLClient,
    user: str,
    site: uuid.UUID | str,
    name: str = "液氯储罐区",
    people: int = 60,
    substances: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return await ok(  # type: ignore[no-any-return]
        api,
        user,
        REGISTER,
        site=str(site),
        name=name,
        people=people,
        substances=CHLORINE_10T if substances is None else substances,
    )


async def site_grade(rt: Runtime, site_id: uuid.UUID) -> int | None:
    async with unscoped_session(rt.sessions) as session:
        return await session.scalar(select(Site.major_hazard_grade).where(Site.id == site_id))


async def register_state(rt: Runtime, site_id: uuid.UUID) -> tuple[Any, ...]:
    """Every unit and substance row of a site, and the site's grade."""
    async with unscoped_session(rt.sessions) as session:
        units = (
            await session.execute(
                select(
                    HazardUnit.id,
                    HazardUnit.name,
                    HazardUnit.people_within_500m,
                    HazardUnit.r_value,
                    HazardUnit.grade,
                )
                .where(HazardUnit.site_id == site_id)
                .order_by(HazardUnit.id)
            )
        ).all()
        substances = (
            await session.execute(
                select(HazardSubstance.unit_id, HazardSubstance.quantity_tonnes)
                .where(HazardSubstance.site_id == site_id)
                .order_by(HazardSubstance.unit_id, HazardSubstance.position)
            )
        ).all()
    return tuple(units), tuple(substances), await site_grade(rt, site_id)


async def changes_of(rt: Runtime, object_id: str) -> list[AuditEntry]:
    async with unscoped_session(rt.sessions) as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_id == object_id, AuditEntry.action != READ_ACTION)
            .order_by(AuditEntry.seq)
        )
        return list(rows.all())


# --- the worked example and the site's grade --------------------------------------------------


async def test_the_chlorine_worked_example_grades_the_unit_and_the_site(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    unit = await register(api, world.a.users["safety_manager"], site)

    assert (unit["sumQOverQ"], unit["alpha"], unit["rValue"]) == (2, 1.5, 12)
    assert unit["isMajorHazard"] is True and unit["grade"] == 3
    assert unit["peopleWithin500m"] == 60 and unit["siteId"] == str(site)
    (line,) = unit["substances"]
    assert line == {
        "name": "液氯",
        "standardName": "氯",
        "casNumber": CHLORINE,
        "entry": 12,
        "category": None,
        "quantityTonnes": 10,
        "criticalQuantity": 5,
        "beta": 4,
        "ratio": 2,
    }
    assert unit["site"]["majorHazardGrade"] == 3
    assert await site_grade(runtime, site) == 3

    listed = await ok(api, world.a.users["viewer"], UNITS, site=str(site))
    assert [u["id"] for u in listed] == [unit["id"]]
    seen = await ok(api, world.a.users["operator"], SITE, id=str(site))
    assert seen["majorHazardGrade"] == 3
    assert seen["hazardUnits"] == [
        {"id": unit["id"], "name": "液氯储罐区", "rValue": 12, "grade": 3}
    ]


async def test_the_site_takes_the_most_severe_grade_of_its_units(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    owner = world.a.users["owner"]
    site = await new_site(runtime, world.a.tenant_id)
    await register(api, owner, site, name="一号罐", people=60)  # R 12: III
    assert await site_grade(runtime, site) == 3
    big = await register(
        api,
        owner,
        site,
        name="二号罐",
        people=100,
        substances=[{"casNumber": CHLORINE, "quantityTonnes": 50}],  # 2 · 4 · 10 = 80: II
    )
    assert (big["rValue"], big["grade"], big["site"]["majorHazardGrade"]) == (80, 2, 2)
    small = await register(
        api, owner, site, name="三号罐", substances=[{"casNumber": CHLORINE, "quantityTonnes": 1}]
    )
    assert small["isMajorHazard"] is False and small["grade"] is None
    assert await site_grade(runtime, site) == 2

    # Halving the big unit's chlorine makes it III (2 · 4 · 5 = 40); the site follows.
    lowered = await ok(
        api, owner, UPDATE, id=big["id"], substances=[{"casNumber": CHLORINE, "quantityTonnes": 25}]
    )
    assert (lowered["rValue"], lowered["grade"], lowered["site"]["majorHazardGrade"]) == (40, 3, 3)
    # More people around it: α 2 stays, but 160 t of chlorine is 2 · 4 · 32 = 256: I.
    raised = await ok(
        api,
        owner,
        UPDATE,
        id=big["id"],
        people=150,
        substances=[{"casNumber": CHLORINE, "quantityTonnes": 160}],
    )
    assert (raised["rValue"], raised["grade"]) == (256, 1)
    assert await site_grade(runtime, site) == 1
    # Only the head count changes: the substances are kept and assessed again (α 1: 128).
    fewer = await ok(api, owner, UPDATE, id=big["id"], people=10)
    assert (fewer["alpha"], fewer["rValue"], fewer["grade"]) == (1, 128, 1)
    assert [s["quantityTonnes"] for s in fewer["substances"]] == [160]

    removed = await ok(api, owner, REMOVE, id=big["id"])
    assert removed == {"id": str(site), "majorHazardGrade": 3}
    names = [u["name"] for u in await ok(api, owner, UNITS, site=str(site))]
    assert names == ["一号罐", "三号罐"]


async def test_below_the_critical_quantities_the_site_is_not_a_major_hazard(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    # A hand-set grade before any unit is registered; the units then decide.
    site = await new_site(runtime, world.a.tenant_id, major_hazard_grade=2)
    unit = await register(
        api,
        world.a.users["owner"],
        site,
        people=500,
        substances=[
            {"casNumber": CHLORINE, "quantityTonnes": 2},  # 0.4
            {"casNumber": METHANOL, "quantityTonnes": 250},  # 0.5
        ],
    )
    assert unit["sumQOverQ"] == pytest.approx(0.9)
    assert unit["isMajorHazard"] is False and unit["grade"] is None
    assert unit["site"]["majorHazardGrade"] is None
    assert await site_grade(runtime, site) is None


async def test_a_hand_set_grade_is_refused_once_the_site_has_units(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    owner = world.a.users["owner"]
    site = await new_site(runtime, world.a.tenant_id)
    assert await ok(api, owner, SET_GRADE, site=str(site), grade=4) == {
        "id": str(site),
        "majorHazardGrade": 4,
    }
    unit = await register(api, owner, site)
    assert await site_grade(runtime, site) == 3

    for grade in (1, None):
        error = await refused(api, owner, SET_GRADE, site=str(site), grade=grade)
        assert error["code"] == "BAD_USER_INPUT" and error["field"] == "majorHazardGrade"
    assert await site_grade(runtime, site) == 3

    # With its last unit removed the site has no major hazard, and may be graded by hand again.
    assert (await ok(api, owner, REMOVE, id=unit["id"]))["majorHazardGrade"] is None
    assert (await ok(api, owner, SET_GRADE, site=str(site), grade=2))["majorHazardGrade"] == 2

    # A new site has no units: createSite keeps taking a hand-set grade.
    created = await ok(
        api, owner, CREATE_SITE, tenant=str(world.a.tenant_id), name=f"新厂 {site}", grade=1
    )
    assert created["majorHazardGrade"] == 1


# --- who may do what -----------------------------------------------------------------------


async def test_owner_and_safety_manager_register_and_the_other_roles_only_read(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    users = world.a.users
    first = await register(api, users["owner"], site, name="一号罐")
    await register(api, users["safety_manager"], site, name="二号罐")
    before = await register_state(runtime, site)

    for role in ("operator", "viewer"):
        user = users[role]
        assert (await refused(api, user, REGISTER, site=str(site), name=role, people=1,
                              substances=CHLORINE_10T))["code"] == "FORBIDDEN"  # fmt: skip
        assert (await refused(api, user, UPDATE, id=first["id"], people=1))["code"] == "FORBIDDEN"
        assert (await refused(api, user, REMOVE, id=first["id"]))["code"] == "FORBIDDEN"
        assert (await refused(api, user, SET_GRADE, site=str(site), grade=1))["code"] == (
            "FORBIDDEN"
        )
        assert len(await ok(api, user, UNITS, site=str(site))) == 2
    assert await register_state(runtime, site) == before


async def test_another_tenant_finds_nothing_and_changes_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    unit = await register(api, world.a.users["owner"], site)
    before = await register_state(runtime, site)

    for role, user in world.b.users.items():
        for document, variables in (
            (REGISTER, {"site": str(site), "name": role, "people": 1, "substances": CHLORINE_10T}),
            (UPDATE, {"id": unit["id"], "people": 1}),
            (REMOVE, {"id": unit["id"]}),
            (UNITS, {"site": str(site)}),
            (SET_GRADE, {"site": str(site), "grade": 1}),
        ):
            assert (await refused(api, user, document, **variables))["code"] == "NOT_FOUND", role
    assert await register_state(runtime, site) == before


async def test_regulators_read_the_units_of_their_jurisdiction_only(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)  # Nanjing, 320102
    unit = await register(api, world.a.users["owner"], site)
    before = await register_state(runtime, site)

    for division in ("320100", "320000"):  # the city and the province
        regulator = world.regulators[division]
        (seen,) = await ok(api, regulator, UNITS, site=str(site))
        assert (seen["id"], seen["rValue"], seen["grade"]) == (unit["id"], 12, 3)
        assert seen["substances"][0]["casNumber"] == CHLORINE
        assert (await ok(api, regulator, SITE, id=str(site)))["hazardUnits"][0]["id"] == unit["id"]
        # Reading is all: the enterprise files its own sources.
        error = await refused(
            api, regulator, REGISTER, site=str(site), name="x", people=1, substances=CHLORINE_10T
        )
        assert error["code"] == "FORBIDDEN"
        assert (await refused(api, regulator, UPDATE, id=unit["id"], people=1))["code"] == (
            "FORBIDDEN"
        )
        assert (await refused(api, regulator, REMOVE, id=unit["id"]))["code"] == "FORBIDDEN"

    suzhou = world.regulators["320500"]
    assert (await refused(api, suzhou, UNITS, site=str(site)))["code"] == "NOT_FOUND"
    assert (await refused(api, suzhou, REMOVE, id=unit["id"]))["code"] == "NOT_FOUND"
    admin = world.platform_admin
    assert (await refused(api, admin, UNITS, site=str(site)))["code"] == "NOT_FOUND"
    assert (await refused(api, admin, UPDATE, id=unit["id"], people=1))["code"] == "NOT_FOUND"
    assert await register_state(runtime, site) == before


# --- the audit trail -----------------------------------------------------------------------


async def test_every_change_is_audited_with_the_figures_before_and_after(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    unit = await register(api, world.a.users["safety_manager"], site)
    await ok(
        api,
        world.a.users["owner"],
        UPDATE,
        id=unit["id"],
        substances=[{"casNumber": CHLORINE, "quantityTonnes": 40}],  # 1.5 · 4 · 8 = 48: III
        people=100,  # α 2: 64, II
    )
    await ok(api, world.a.users["owner"], REMOVE, id=unit["id"])

    entries = await changes_of(runtime, unit["id"])
    assert [(e.action, e.role, e.domain) for e in entries] == [
        ("hazard_unit.register", "safety_manager", f"tenant:{world.a.tenant_id}"),
        ("hazard_unit.update", "owner", f"tenant:{world.a.tenant_id}"),
        ("hazard_unit.remove", "owner", f"tenant:{world.a.tenant_id}"),
    ]
    registered, updated, removed = (e.detail for e in entries)
    assert registered["before"] is None
    assert (registered["after"]["r_value"], registered["after"]["grade"]) == (12, 3)
    assert registered["site_grade"] == {"before": None, "after": 3}
    assert updated["fields"] == ["people_within_500m", "substances"]
    assert (updated["before"]["r_value"], updated["before"]["grade"]) == (12, 3)
    assert (updated["after"]["r_value"], updated["after"]["grade"]) == (64, 2)
    assert updated["site_grade"] == {"before": 3, "after": 2}
    assert (removed["before"]["grade"], removed["after"]) == (2, None)
    assert removed["site_grade"] == {"before": 2, "after": None}


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("substances", "people", "field"),
    [
        ([{"casNumber": "50-00-0x", "quantityTonnes": 1}], 10, "casNumber"),  # unknown CAS
        ([{"casNumber": CHLORINE, "category": "W5.1", "quantityTonnes": 1}], 10, None),
        ([{"casNumber": CHLORINE, "quantityTonnes": 0}], 10, "quantityTonnes"),
        ([{"casNumber": CHLORINE, "quantityTonnes": -3}], 10, "quantityTonnes"),
        ([{"category": "W9.9", "quantityTonnes": 1}], 10, "category"),
        ([{"name": "无名", "quantityTonnes": 1}], 10, None),  # named by nothing
        ([], 10, None),
        (CHLORINE_10T, -1, "peopleWithin500m"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    api: GraphQLClient,
    runtime: Runtime,
    world: World,
    substances: list[dict[str, Any]],
    people: int,
    field: str | None,
) -> None:
    owner = world.a.users["owner"]
    site = await new_site(runtime, world.a.tenant_id)
    unit = await register(api, owner, site)
    before = await register_state(runtime, site)

    for document, variables in (
        (REGISTER, {"site": str(site), "name": "新单元", "people": people}),
        (UPDATE, {"id": unit["id"], "people": people}),
    ):
        error = await refused(api, owner, document, substances=substances, **variables)
        assert error["code"] == "BAD_USER_INPUT"
        if field is not None:
            assert error["field"] == field
        if substances and field not in (None, "peopleWithin500m"):
            assert error["index"] == 0
    assert await register_state(runtime, site) == before
    assert [e.action for e in await changes_of(runtime, unit["id"])] == ["hazard_unit.register"]


async def test_a_second_unit_of_the_same_name_is_refused(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    owner = world.a.users["owner"]
    site = await new_site(runtime, world.a.tenant_id)
    await register(api, owner, site, name="一号罐")
    before = await register_state(runtime, site)
    error = await refused(
        api, owner, REGISTER, site=str(site), name=" 一号罐 ", people=1, substances=CHLORINE_10T
    )
    assert (error["code"], error["field"]) == ("BAD_USER_INPUT", "name")
    assert await register_state(runtime, site) == before


# --- cost ----------------------------------------------------------------------------------

UNITS_WITH_SITE = """query($site: ID!) { hazardUnits(siteId: $site) {
  id rValue substances { casNumber ratio } site { id majorHazardGrade } } }"""


async def test_a_site_with_2_or_12_units_costs_the_same_statements(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    from tests.alarms.test_query_counts import counted_statements

    owner = world.a.users["owner"]
    token = await api.token_for(world.a.users["viewer"])
    counts: dict[int, int] = {}
    for n in (2, 12):
        site = await new_site(runtime, world.a.tenant_id)
        for i in range(n):
            await register(
                api,
                owner,
                site,
                name=f"{i}号罐",
                substances=[*CHLORINE_10T, {"casNumber": METHANOL, "quantityTonnes": 100}],
            )
        # Once unmeasured: a request may also mark its session used (once a minute).
        await api.query(UNITS_WITH_SITE, {"site": str(site)}, token=token)
        with counted_statements(runtime) as statements:
            result = await api.query(UNITS_WITH_SITE, {"site": str(site)}, token=token)
        assert not result.codes, result.body
        rows = result.data["hazardUnits"]  # type: ignore[index]
        assert len(rows) == n and all(len(r["substances"]) == 2 for r in rows)
        counts[n] = len(statements)
    assert counts[2] == counts[12], counts

"""GB/T 2260 divisions come from the shipped dataset, and a code it lacks is refused.

``320199`` has the shape of a Nanjing code but names no division: it is refused wherever a
division code is accepted (sites, tenants, regulators, ``gov:`` memberships and invitations)
with ``BAD_USER_INPUT``, and nothing is stored.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Select, func, select

from backend.auth.members import unscoped_add_member_in_own_transaction
from backend.auth.models import Invitation, Membership
from backend.auth.principal import Principal
from backend.auth.service import find_user
from backend.core.errors import BadInput
from backend.demo.world import COUNTIES, TENANT_TABLE, build_plan
from backend.oversight.service import create_regulator_in_own_transaction
from backend.runtime import Runtime
from tenants import divisions
from tenants.divisions import ancestors, children, covers, division, is_valid, provinces
from tenants.models import Site, Tenant
from tenants.scope import unscoped_session
from tests.factories import PASSWORD, World, unique
from tests.graphql import GraphQLClient

UNKNOWN = "320199"

# --- the dataset ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name", "level", "parent"),
    [
        ("320000", "江苏省", "province", None),
        ("320100", "南京市", "city", "320000"),
        ("320102", "玄武区", "county", "320100"),
        ("320106", "鼓楼区", "county", "320100"),
        ("320500", "苏州市", "city", "320000"),
        ("320583", "昆山市", "county", "320500"),
        ("110000", "北京市", "province", None),
        ("110101", "东城区", "county", "110000"),
        ("500229", "城口县", "county", "500000"),
        ("419001", "济源市", "county", "419000"),
        ("810001", "中西区", "county", "810000"),
    ],
)
def test_known_divisions_have_their_names_and_parents(
    code: str, name: str, level: str, parent: str | None
) -> None:
    found = division(code)
    assert (found.code, found.name, found.level, found.parent_code) == (code, name, level, parent)


def test_the_provinces_are_the_34_of_gb2260() -> None:
    names = {p.code: p.name for p in provinces()}
    assert len(names) == 34
    assert names["320000"] == "江苏省"
    assert names["710000"] == "台湾省"
    assert names["810000"] == "香港特别行政区"
    assert names["820000"] == "澳门特别行政区"
    assert all(p.level == "province" and p.parent_code is None for p in provinces())


def test_nanjing_lists_its_eleven_districts() -> None:
    names = {d.code: d.name for d in children("320100")}
    assert len(names) == 11
    assert names["320102"] == "玄武区"
    assert names["320106"] == "鼓楼区"
    assert UNKNOWN not in names
    assert children("320106") == ()


def test_municipalities_hold_their_districts_directly() -> None:
    assert "110100" not in {d.code for d in children("110000")}
    assert not is_valid("110100")
    assert [a.code for a in ancestors("110105")] == ["110000"]
    assert len(children("110000")) == 16


def test_counties_under_a_province_directly_hang_from_their_own_row() -> None:
    assert division("419000").parent_code == "410000"
    assert [a.name for a in ancestors("419001")] == ["河南省", "河南省-省直辖县级行政区划"]


def test_ancestors_run_from_the_province_down() -> None:
    assert [a.name for a in ancestors("320106")] == ["江苏省", "南京市"]
    assert ancestors("320000") == ()


def test_the_prefix_rule_of_jurisdictions_matches_the_hierarchy() -> None:
    """A jurisdiction covers a code exactly when the data puts the code inside it."""
    every = divisions._table().by_code
    assert len(every) > 3000
    for code in every:
        candidates = {code[:2] + "0000", code[:4] + "00", code}
        covering = {c for c in candidates if c in every and covers(c, code)}
        assert covering == {code, *(a.code for a in ancestors(code))}, code


BAD = [UNKNOWN, "110100", "990000", "320000 ", "32010", "", None, 320100]


@pytest.mark.parametrize("code", BAD)
def test_a_code_the_data_lacks_is_refused(code: object) -> None:
    assert not is_valid(code)
    with pytest.raises(BadInput, match="division"):
        divisions.validate_division(code)


def test_the_demo_uses_real_divisions_with_their_names() -> None:
    plan = build_plan()
    codes = {r.division for r in plan.regulators} | {t.division for t in plan.tenants}
    codes |= {s.division for t in plan.tenants for s in t.sites} | set(COUNTIES)
    assert all(is_valid(c) for c in codes), sorted(c for c in codes if not is_valid(c))
    first = next(s for t in plan.tenants for s in t.sites if s.division == "320116")
    assert first.address.startswith("江苏省南京市六合区")
    assert TENANT_TABLE[0][2] == "320116"
    assert plan.tenants[0].name.startswith("南京")


# --- refused where a code is accepted ------------------------------------------------------


async def count(rt: Runtime, statement: Select[tuple[int]]) -> int:
    async with unscoped_session(rt.sessions) as session:
        return int(await session.scalar(statement) or 0)


async def test_create_site_refuses_an_unknown_division(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    name = unique("二厂")
    result = await api.query(
        """mutation($t: ID!, $n: String!, $d: String!) {
             createSite(tenantId: $t, name: $n, divisionCode: $d) { id }
           }""",
        {"t": str(world.a.tenant_id), "n": name, "d": UNKNOWN},
        as_user=world.a.users["owner"],
    )
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert UNKNOWN in result.body["errors"][0]["message"]
    assert result.data is None
    stored = select(func.count()).select_from(Site).where(Site.name == name)
    assert await count(runtime, stored) == 0


async def test_create_site_accepts_a_real_district(api: GraphQLClient, world: World) -> None:
    result = await api.query(
        """mutation($t: ID!, $n: String!, $d: String!) {
             createSite(tenantId: $t, name: $n, divisionCode: $d) { divisionCode }
           }""",
        {"t": str(world.a.tenant_id), "n": unique("鼓楼厂"), "d": "320106"},
        as_user=world.a.users["owner"],
    )
    assert result.code is None, result.body
    assert result.data["createSite"] == {"divisionCode": "320106"}


async def test_create_tenant_refuses_an_unknown_division(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    name = unique("宁化")
    owner = f"{unique('owner')}@example.cn"
    result = await api.query(
        """mutation($n: String!, $d: String!, $e: String!, $p: String!) {
             createTenant(name: $n, divisionCode: $d, industry: "chemical",
                          ownerEmail: $e, ownerPassword: $p) { id }
           }""",
        {"n": name, "d": UNKNOWN, "e": owner, "p": PASSWORD},
        as_user=world.platform_admin,
    )
    assert result.codes == ["BAD_USER_INPUT"], result.body
    stored = select(func.count()).select_from(Tenant).where(Tenant.name == name)
    assert await count(runtime, stored) == 0


async def test_inviting_into_an_unknown_gov_domain_is_refused(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    result = await api.query(
        """mutation($d: String!, $e: String!) {
             inviteUser(domain: $d, email: $e, role: "inspector") { domain }
           }""",
        {"d": f"gov:{UNKNOWN}", "e": f"{unique('inv')}@example.gov.cn"},
        as_user=world.regulators["320000"],
    )
    assert result.codes == ["BAD_USER_INPUT"], result.body
    domain = Invitation.domain == f"gov:{UNKNOWN}"
    stored = select(func.count()).select_from(Invitation).where(domain)
    assert await count(runtime, stored) == 0


async def test_regulators_and_members_need_a_real_division(runtime: Runtime) -> None:
    email = f"{unique('gov')}@example.gov.cn"
    with pytest.raises(BadInput, match=UNKNOWN):
        await create_regulator_in_own_transaction(
            sessions=runtime.sessions,
            authz=runtime.authz,
            principal=Principal.system(),
            division_code=UNKNOWN,
            email=email,
            password=PASSWORD,
            role="director",
            log2_n=runtime.log2_n,
        )
    with pytest.raises(BadInput, match=UNKNOWN):
        await unscoped_add_member_in_own_transaction(
            sessions=runtime.sessions,
            principal=Principal.system(),
            domain=f"gov:{UNKNOWN}",
            email=email,
            role="inspector",
            password=PASSWORD,
            log2_n=runtime.log2_n,
        )
    gov = select(func.count()).select_from(Membership).where(Membership.domain == f"gov:{UNKNOWN}")
    assert await count(runtime, gov) == 0
    async with unscoped_session(runtime.sessions) as session:
        assert await find_user(session=session, email=email) is None

"""Which division handles a report: the most specific one covering it with regulators who
handle reports (directors, inspectors), else the province; and the divisions the public
portal's picker lists."""

from __future__ import annotations

from backend.auth.principal import Principal
from backend.oversight.service import create_regulator_in_own_transaction
from backend.reports.service import handling_division, public_session
from backend.runtime import Runtime
from tests.factories import PASSWORD, unique
from tests.graphql import GraphQLClient


async def regulator(runtime: Runtime, division: str, role: str) -> None:
    await create_regulator_in_own_transaction(
        sessions=runtime.sessions,
        authz=runtime.authz,
        principal=Principal.system(),
        division_code=division,
        email=f"gov.{division}.{unique('route')}@example.gov.cn",
        password=PASSWORD,
        role=role,
        log2_n=runtime.log2_n,
    )


async def route(runtime: Runtime, division: str) -> str:
    async with public_session(runtime.sessions) as session:
        return await handling_division(session, division)


async def test_the_most_specific_division_with_handlers(runtime: Runtime) -> None:
    # 湖北省 武汉市: nobody yet, so the province answers for all of it.
    assert await route(runtime, "420102") == "420000"
    assert await route(runtime, "420100") == "420000"
    await regulator(runtime, "420102", "inspector")  # 江岸区
    await regulator(runtime, "420103", "analyst")  # 江汉区: reads, does not handle
    assert await route(runtime, "420102") == "420102"
    assert await route(runtime, "420103") == "420000"
    await regulator(runtime, "420100", "director")  # 武汉市
    assert await route(runtime, "420103") == "420100"
    assert await route(runtime, "420102") == "420102"
    assert await route(runtime, "420000") == "420000"
    # A neighbouring prefecture is not covered by Wuhan.
    assert await route(runtime, "420202") == "420000"


async def test_the_picker_lists_provinces_then_children(api: GraphQLClient) -> None:
    answer = await api.http.get("/api/v1/reports/divisions")
    assert answer.status_code == 200
    provinces = answer.json()
    assert {"code": "320000", "name": "江苏省", "level": "province", "nameEn": "Jiangsu"} in (
        provinces
    )
    assert len(provinces) == 34
    assert all(p["level"] == "province" and p["nameEn"] for p in provinces)
    cities = (await api.http.get("/api/v1/reports/divisions?parent=320000")).json()
    assert {"code": "320100", "name": "南京市", "level": "city"} in cities
    counties = (await api.http.get("/api/v1/reports/divisions?parent=320100")).json()
    assert {"code": "320102", "name": "玄武区", "level": "county"} in counties
    assert (await api.http.get("/api/v1/reports/divisions?parent=320102")).json() == []
    for bad in ("320199", "abc"):
        refused = await api.http.get(f"/api/v1/reports/divisions?parent={bad}")
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["field"] == "parent"

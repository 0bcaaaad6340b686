"""The tables of GB 18218-2018 through GraphQL (`hazardCatalog`): what the console offers when a
unit's substances are chosen. Public data for every signed-in reader, refused to an anonymous
one; and what it lists is what the server grades with."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from backend.runtime import Runtime
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_site

CATALOG = """{ hazardCatalog { source
  namedSubstances { entry casNumbers nameZh nameEn aliasesZh criticalQuantity beta betaCategory }
  categories { code hazardZh hazardEn descriptionZh descriptionEn criticalQuantity beta } } }"""
REGISTER = """mutation($site: ID!, $substances: [HazardSubstanceInput!]!) {
  registerHazardUnit(siteId: $site, name: "目录核对单元", peopleWithin500m: 0,
    substances: $substances) { substances { entry category criticalQuantity beta } } }"""


def standard() -> dict[str, Any]:
    text = resources.files("backend.oversight").joinpath("gb18218.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


async def catalog_as(api: GraphQLClient, user: str) -> dict[str, Any]:
    result = await api.query(CATALOG, as_user=user)
    assert result.status == 200 and not result.codes, result.body
    assert result.data is not None
    return result.data["hazardCatalog"]  # type: ignore[no-any-return]


async def test_every_signed_in_reader_gets_the_whole_of_tables_1_and_2(
    api: GraphQLClient, world: World
) -> None:
    tables = standard()
    readers = [*world.a.users.values(), *world.b.users.values()]
    readers += [*world.regulators.values(), world.platform_admin]
    first = await catalog_as(api, readers[0])

    assert first["source"] == "GB 18218-2018"
    assert [s["entry"] for s in first["namedSubstances"]] == [r["no"] for r in tables["table1"]]
    assert [c["code"] for c in first["categories"]] == [r["code"] for r in tables["table2"]]
    chlorine = next(s for s in first["namedSubstances"] if s["nameZh"] == "氯")
    assert chlorine == {
        "entry": 12,
        "casNumbers": ["7782-50-5"],
        "nameZh": "氯",
        "nameEn": "Chlorine",
        "aliasesZh": chlorine["aliasesZh"],
        "criticalQuantity": 5,
        "beta": 4,
        "betaCategory": None,  # a toxic gas of Table 3: its β is fixed
    }
    assert "液氯" in chlorine["aliasesZh"]
    w51 = next(c for c in first["categories"] if c["code"] == "W5.1")
    assert w51["hazardZh"] and w51["descriptionEn"] and w51["criticalQuantity"] > 0

    # The same for everyone: nothing in it depends on the reader, nothing is masked.
    for reader in readers[1:]:
        assert await catalog_as(api, reader) == first, reader


async def test_an_anonymous_caller_is_refused(api: GraphQLClient) -> None:
    result = await api.query(CATALOG)
    assert result.data is None or result.data.get("hazardCatalog") is None
    assert result.codes == ["UNAUTHENTICATED"], result.body


async def test_what_it_lists_is_what_a_registered_unit_is_graded_with(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    listed = await catalog_as(api, world.a.users["viewer"])
    named = listed["namedSubstances"][::9]
    categories = listed["categories"][::5]
    substances: list[dict[str, Any]] = [
        {"entry": s["entry"], "quantityTonnes": 0.01} for s in named
    ]
    substances += [{"category": c["code"], "quantityTonnes": 0.01} for c in categories]
    site = await new_site(runtime, world.a.tenant_id)

    result = await api.query(
        REGISTER, {"site": str(site), "substances": substances}, as_user=world.a.users["owner"]
    )
    assert not result.codes, result.body
    assert result.data is not None
    graded = result.data["registerHazardUnit"]["substances"]
    expected = [
        {"entry": s["entry"], "category": None, "criticalQuantity": s["criticalQuantity"],
         "beta": s["beta"]}
        for s in named
    ] + [
        {"entry": None, "category": c["code"], "criticalQuantity": c["criticalQuantity"],
         "beta": c["beta"]}
        for c in categories
    ]  # fmt: skip
    assert graded == expected

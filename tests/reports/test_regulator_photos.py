"""``GET /api/v1/reports/photos/{key}``: a report's photos, for the regulators whose
jurisdiction covers the report; everyone else, and every photo no report claimed, is 404;
without signing in, 401."""

from __future__ import annotations

from backend.runtime import Runtime
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.reports.conftest import Staff
from tests.reports.helpers import REPORT, report_body, small_png, solved, submit, upload_photo


async def get(api: GraphQLClient, key: str, user: str | None) -> tuple[int, bytes, str]:
    headers = {}
    if user is not None:
        headers["Authorization"] = f"Bearer {await api.token_for(user)}"
    answer = await api.http.get(f"/api/v1/reports/photos/{key}", headers=headers)
    return answer.status_code, answer.content, answer.headers.get("content-type", "")


async def test_regulators_of_the_jurisdiction_see_a_reports_photos(
    api: GraphQLClient, runtime: Runtime, zhejiang: Staff, world: World
) -> None:
    assert zhejiang.tenant is not None
    proof = await solved(api)
    status, body = await upload_photo(api, proof, small_png(), "image/png")
    assert status == 201, body
    key = body["photo"]
    status, answer = await submit(api, report_body(proof, divisionCode="330106", photos=[key]))
    assert status == 201, answer
    unclaimed_status, unclaimed = await upload_photo(
        api, await solved(api), small_png(), "image/png"
    )
    assert unclaimed_status == 201

    for label in ("director", "analyst", "city_director", "province_analyst"):
        code, data, media = await get(api, key, zhejiang.email[label])
        assert code == 200, (label, data)
        assert media.startswith("image/png") and data.startswith(b"\x89PNG"), label
    code, _, _ = await get(api, key.removeprefix("reports/"), zhejiang.email["inspector"])
    assert code == 200
    for user in (
        zhejiang.tenant.users["owner"],
        world.platform_admin,
        world.regulators["320000"],
    ):
        code, _, _ = await get(api, key, user)
        assert code == 404, user
    code, _, _ = await get(api, unclaimed["photo"], zhejiang.email["province_director"])
    assert code == 404
    code, _, _ = await get(api, "reports/../secrets.png", zhejiang.email["director"])
    assert code == 404
    code, _, _ = await get(api, key, None)
    assert code == 401


async def test_the_keys_the_report_lists_are_the_keys_the_route_serves(
    api: GraphQLClient, zhejiang: Staff
) -> None:
    proof = await solved(api)
    status, body = await upload_photo(api, proof, small_png(), "image/png")
    assert status == 201
    status, _ = await submit(api, report_body(proof, divisionCode="330106", photos=[body["photo"]]))
    assert status == 201
    listed = await api.query(
        'query { hazardReports(divisionCode: "330106", first: 5) { id photos } }',
        as_user=zhejiang.email["inspector"],
    )
    assert listed.data is not None, listed.body
    (row,) = [r for r in listed.data["hazardReports"] if body["photo"] in r["photos"]]
    seen = await api.query(REPORT, {"id": row["id"]}, as_user=zhejiang.email["inspector"])
    assert seen.data is not None and seen.data["hazardReport"]["status"] == "RECEIVED"
    code, _, _ = await get(api, body["photo"], zhejiang.email["inspector"])
    assert code == 200

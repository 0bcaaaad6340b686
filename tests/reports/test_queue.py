"""GraphQL ``hazardReports``: the regulators of a jurisdiction read its reports (never the
reporter's contact; free text masked for all but the handling division's directors and the
assigned inspector), other jurisdictions and enterprises read none."""

from __future__ import annotations

import json

from backend.runtime import Runtime
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.reports.helpers import MOBILE, report_body, solved, submit

QUEUE = """query($d: String, $s: HazardReportStatus, $first: Int, $after: ID) {
  hazardReports(divisionCode: $d, status: $s, first: $first, after: $after) {
    id category description divisionCode handlingDivisionCode status location { lat lon }
    address subject receivedAt acceptDueAt anonymous photos
  }
}"""


async def test_regulators_read_their_jurisdictions_reports_without_the_contact(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    description = f"仓库违规存放液化气瓶，联系人 {MOBILE}"
    body = report_body(
        await solved(api),
        divisionCode="320505",
        description=description,
        contact={"name": "孙先生", "mobile": "13800138000"},
    )
    status, answer = await submit(api, body)
    assert status == 201, answer
    suzhou = world.regulators["320500"]
    listed = await api.query(QUEUE, {"d": "320505"}, as_user=suzhou)
    assert listed.data is not None, listed.body
    (report,) = [r for r in listed.data["hazardReports"] if "液化气瓶" in r["description"]]
    assert report["divisionCode"] == "320505" and report["handlingDivisionCode"] == "320500"
    assert report["status"] == "RECEIVED" and report["anonymous"] is False
    assert report["category"] == "major_accident_hazard"
    # The handling division's director reads the description as written, not the contact.
    assert report["description"] == description
    shown = json.dumps(listed.body, ensure_ascii=False)
    for secret in ("13800138000", "孙先生"):
        assert secret not in shown, secret
    # The province reads it too, masked; Nanjing does not, and may not ask for Suzhou.
    province = await api.query(QUEUE, {"d": "320505"}, as_user=world.regulators["320000"])
    assert province.data is not None
    (seen,) = [r for r in province.data["hazardReports"] if r["id"] == report["id"]]
    assert "液化气瓶" in seen["description"]
    shown = json.dumps(province.body, ensure_ascii=False)
    for secret in (MOBILE, "13800138000", "孙先生"):
        assert secret not in shown, secret
    nanjing = await api.query(QUEUE, {}, as_user=world.regulators["320100"])
    assert nanjing.data is not None
    assert all(r["id"] != report["id"] for r in nanjing.data["hazardReports"])
    refused = await api.query(QUEUE, {"d": "320505"}, as_user=world.regulators["320100"])
    assert refused.code == "NOT_FOUND", refused.body
    # Enterprises, even the one whose county it is, read none.
    for user in (world.a.users["owner"], world.b.users["owner"], world.platform_admin):
        theirs = await api.query(QUEUE, {}, as_user=user)
        assert theirs.data == {"hazardReports": []}, theirs.body


async def test_pages_and_status(api: GraphQLClient, world: World) -> None:
    for i in range(3):
        status, _ = await submit(
            api,
            report_body(
                await solved(api), divisionCode="320506", description=f"第 {i} 处隐患：配电箱裸露"
            ),
        )
        assert status == 201
    suzhou = world.regulators["320500"]
    first = await api.query(QUEUE, {"d": "320506", "first": 2}, as_user=suzhou)
    assert first.data is not None, first.body
    page = first.data["hazardReports"]
    assert len(page) == 2
    rest = await api.query(
        QUEUE, {"d": "320506", "first": 2, "after": page[-1]["id"]}, as_user=suzhou
    )
    assert rest.data is not None
    ids = [r["id"] for r in page + rest.data["hazardReports"]]
    assert len(ids) == len(set(ids)) >= 3
    closed = await api.query(QUEUE, {"d": "320506", "s": "CLOSED"}, as_user=suzhou)
    assert closed.data == {"hazardReports": []}
    too_many = await api.query(QUEUE, {"first": 501}, as_user=suzhou)
    assert too_many.code == "BAD_USER_INPUT", too_many.body


async def test_a_full_page_with_photos_fits_the_cost_budget(
    api: GraphQLClient, world: World
) -> None:
    listed = await api.query(QUEUE, {"first": 500}, as_user=world.regulators["320000"])
    assert listed.data is not None, listed.body

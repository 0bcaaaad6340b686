"""The printed rectification notice: ``GET /api/v1/notices/{id}/pdf`` is an A4 PDF whose text
is the notice — authority, number, enterprise, findings with their basis, deadline, delivery —
for the enterprise and the regulators of the site, and nothing for anyone else."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pypdf
from PIL import ImageFile

from backend.runtime import Runtime
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_site
from tests.oversight.test_notices import ITEMS, RECEIVE, issue, ok, regulator


async def pdf_of(api: GraphQLClient, user: str, notice_id: str) -> Any:
    token = await api.token_for(user)
    return await api.http.get(
        f"/api/v1/notices/{notice_id}/pdf", headers={"Authorization": f"Bearer {token}"}
    )


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert round(reader.pages[0].mediabox.width) == 595  # A4 in points: 210 mm
    # The layout may break a line anywhere: compare the text without its white space.
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


async def test_the_notice_prints_for_both_sides_and_says_what_it_orders(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)  # Nanjing, 320102
    notice = await issue(api, world.regulators["320100"], site, days=10)
    deadline = datetime.fromisoformat(notice["deadline"]).astimezone(ZoneInfo("Asia/Shanghai"))
    named = await ok(
        api,
        world.a.users["owner"],
        "query($id: ID!) { rectificationNotice(id: $id) { site { name tenant { name } } } }",
        id=notice["id"],
    )

    answer = await pdf_of(api, world.a.users["viewer"], notice["id"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.content.startswith(b"%PDF-")
    text = text_of(answer.content)
    for expected in (
        "南京市应急管理局",
        "整改通知书",
        notice["number"],
        named["site"]["tenant"]["name"],
        named["site"]["name"],
        ITEMS[0]["finding"],
        f"依据：{ITEMS[0]['basis']}",
        ITEMS[1]["finding"],
        f"{deadline.year}年{deadline.month}月{deadline.day}日前整改完毕",
        "企业尚未签收",
        "待整改",
    ):
        assert "".join(expected.split()) in text, expected

    # 送达 is printed once the enterprise acknowledged receipt.
    await ok(api, world.a.users["safety_manager"], RECEIVE, id=notice["id"])
    provincial = await regulator(runtime, "320000", "analyst")
    answer = await pdf_of(api, provincial, notice["id"])
    assert answer.status_code == 200, answer.text
    assert "企业已于" in text_of(answer.content)
    # Rendering left Pillow refusing truncated images (photo uploads depend on it).
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


async def test_nobody_else_gets_the_notice_and_nothing_leaks_in_the_refusal(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    notice = await issue(api, world.regulators["320100"], site)
    for user in (world.b.users["owner"], world.regulators["320500"], world.platform_admin):
        answer = await pdf_of(api, user, notice["id"])
        assert answer.status_code == 404, (user, answer.text)
        assert notice["number"] not in answer.text
        assert ITEMS[0]["finding"] not in answer.text
    for bad in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        assert (await pdf_of(api, world.a.users["owner"], bad)).status_code == 404
    anonymous = await api.http.get(f"/api/v1/notices/{notice['id']}/pdf")
    assert anonymous.status_code == 401

"""The regulator's photos of a notice's findings: a director or inspector uploads them for a site
of its jurisdiction (``POST /api/v1/photos?site=``) and attaches them to the findings when it
issues the notice, or later while the notice is not yet answered; the enterprise and the
regulators of the jurisdiction see them, another county, another tenant and the platform do
not; a key of another site or tenant is refused and changes nothing; the printed notice draws
them beside the findings."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pypdf
from PIL import Image
from sqlalchemy import select

from backend.oversight.notices.models import NoticeItem
from backend.runtime import Runtime
from privacy.audit import AuditEntry
from tenants.scope import unscoped_session
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_site
from tests.oversight.test_notice_pdf import pdf_of, text_of
from tests.oversight.test_notices import (
    ISSUE,
    NOTICE,
    RESPOND,
    answers,
    changes_of,
    in_days,
    notice_state,
    ok,
    photo,
    refused,
    regulator,
)

ATTACH = """mutation($id: ID!, $item: ID!, $photos: [String!]!) {
  attachFindingPhotos(id: $id, itemId: $item, photos: $photos) {
    id status items { id finding photos } } }"""


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 120, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


async def upload_for_site(api: GraphQLClient, user: str, site: object) -> Any:
    token = await api.token_for(user)
    return await api.http.post(
        f"/api/v1/photos?site={site}",
        content=jpeg(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"},
    )


async def site_photo(api: GraphQLClient, user: str, site: uuid.UUID) -> str:
    response = await upload_for_site(api, user, site)
    assert response.status_code == 201, response.text
    return str(response.json()["photo"])


async def shown(api: GraphQLClient, user: str, key: str) -> int:
    token = await api.token_for(user)
    response = await api.http.get(
        f"/api/v1/photos/{key}", headers={"Authorization": f"Bearer {token}"}
    )
    return int(response.status_code)


def photographed(key: str) -> list[dict[str, Any]]:
    return [
        {"finding": "液氯储罐区可燃气体报警仪未定期检定", "basis": "《安全生产法》第三十六条"},
        {"finding": "疏散通道堆放杂物", "photos": [key]},
    ]


async def uploads_of(runtime: Runtime) -> list[AuditEntry]:
    async with unscoped_session(runtime.sessions) as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "photo.upload").order_by(AuditEntry.seq)
        )
        return list(rows.all())


async def test_the_inspector_photographs_findings_and_both_sides_see_them(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)  # Nanjing, 320102
    inspector = await regulator(runtime, "320100", "inspector")
    key = await site_photo(api, inspector, site)
    assert key.startswith(f"photos/{world.a.tenant_id}/{site}/") and key.endswith(".jpg")
    (upload,) = [e for e in await uploads_of(runtime) if e.detail["key"] == key]
    assert (upload.role, upload.domain, upload.detail["site_id"]) == (
        "inspector",
        "gov:320102",
        str(site),
    )

    issued = await ok(
        api, inspector, ISSUE, site=str(site), deadline=in_days(7), items=photographed(key)
    )
    assert [i["finding"] for i in issued["items"]] == [
        "液氯储罐区可燃气体报警仪未定期检定",
        "疏散通道堆放杂物",
    ]
    seen = await ok(
        api,
        world.a.users["viewer"],
        "query($id: ID!) { rectificationNotice(id: $id) { items { finding photos } } }",
        id=issued["id"],
    )
    assert [i["photos"] for i in seen["items"]] == [[], [key]]

    # The enterprise, every role of it, and the regulators of the jurisdiction see it.
    county = await regulator(runtime, "320102", "analyst")
    province = await regulator(runtime, "320000", "analyst")
    for user in (*world.a.users.values(), inspector, world.regulators["320100"], county, province):
        assert await shown(api, user, key) == 200, user
    # Another county, another city, another tenant and the platform do not.
    other_county = await regulator(runtime, "320104", "director")
    for user in (
        other_county,
        world.regulators["320500"],
        *world.b.users.values(),
        world.platform_admin,
    ):
        assert await shown(api, user, key) == 404, user

    # More photos of the first finding before the enterprise answers.
    first, second = issued["items"]
    more = await site_photo(api, world.regulators["320100"], site)
    attached = await ok(api, inspector, ATTACH, id=issued["id"], item=first["id"], photos=[more])
    assert [i["photos"] for i in attached["items"]] == [[more], [key]]
    entries = await changes_of(runtime, issued["id"])
    assert [(e.action, e.role, e.detail.get("photos")) for e in entries] == [
        ("notice.issue", "inspector", 1),
        ("notice.attach_photos", "inspector", 1),
    ]

    # Once answered, the findings stay as they were.
    manager = world.a.users["safety_manager"]
    await ok(api, manager, RESPOND, id=issued["id"], responses=answers(issued, "已整改"))
    late = await site_photo(api, inspector, site)
    assert await refused(api, inspector, ATTACH, id=issued["id"], item=first["id"], photos=[late])
    final = await ok(api, manager, NOTICE, id=issued["id"])
    assert [i["finding"] for i in final["items"]] == [first["finding"], second["finding"]]
    assert [e.action for e in await changes_of(runtime, issued["id"])][-1] == "notice.respond"


async def test_only_the_jurisdictions_issuers_upload_for_a_site(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    before = len(await uploads_of(runtime))
    analyst = await regulator(runtime, "320100", "analyst")
    other_county = await regulator(runtime, "320104", "inspector")
    for user, status in (
        (world.regulators["320500"], 404),  # another city
        (other_county, 404),  # another county of the same city
        (world.platform_admin, 404),
        (world.b.users["owner"], 404),  # another tenant
        (analyst, 403),  # reads, does not issue
        (world.a.users["owner"], 403),  # the enterprise uploads for its tenant
    ):
        response = await upload_for_site(api, user, site)
        assert response.status_code == status, (user, response.text)
        assert "photo" not in response.json()
    response = await upload_for_site(api, world.regulators["320100"], "not-a-site")
    assert response.status_code == 400 and "site" in response.json()["error"]
    response = await upload_for_site(api, world.regulators["320100"], uuid.uuid4())
    assert response.status_code == 404
    assert len(await uploads_of(runtime)) == before


async def test_a_key_not_uploaded_for_the_site_is_refused_and_changes_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    same_tenant_site = await new_site(runtime, world.a.tenant_id)
    other_tenant_site = await new_site(runtime, world.b.tenant_id)  # also in Nanjing
    director = world.regulators["320100"]
    good = await site_photo(api, director, site)
    notice = await ok(
        api, director, ISSUE, site=str(site), deadline=in_days(7), items=photographed(good)
    )
    first = notice["items"][0]
    before = await notice_state(runtime)
    bad_keys = {
        "another tenant's": await site_photo(api, director, other_tenant_site),
        "another site's": await site_photo(api, director, same_tenant_site),
        "the enterprise's own": await photo(api, world.a.users["owner"]),
        "never uploaded": f"photos/{world.a.tenant_id}/{site}/{uuid.uuid4()}.jpg",
        "not a key": "../../etc/passwd",
    }
    for what, key in bad_keys.items():
        result = await api.query(
            ISSUE,
            {"site": str(site), "deadline": in_days(7), "items": photographed(key)},
            as_user=director,
        )
        assert result.codes == ["BAD_USER_INPUT"], (what, result.body)
        message = result.body["errors"][0]["message"]
        assert "not a photo uploaded for this site" in message, (what, message)
        code = await refused(api, director, ATTACH, id=notice["id"], item=first["id"], photos=[key])
        assert code == "BAD_USER_INPUT", what
    for photos in ([good, good], [await site_photo(api, director, site) for _ in range(10)]):
        code = await refused(
            api, director, ATTACH, id=notice["id"], item=first["id"], photos=photos
        )
        assert code == "BAD_USER_INPUT", photos
    code = await refused(
        api, director, ATTACH, id=notice["id"], item=str(uuid.uuid4()), photos=[good]
    )
    assert code == "BAD_USER_INPUT"

    # Those who may not issue there are kept out of attaching, too.
    analyst = await regulator(runtime, "320100", "analyst")
    fresh = await site_photo(api, director, site)
    for user, expected in (
        (analyst, "FORBIDDEN"),
        (world.a.users["owner"], "FORBIDDEN"),
        (await regulator(runtime, "320104", "director"), "NOT_FOUND"),
        (world.b.users["owner"], "NOT_FOUND"),
    ):
        code = await refused(api, user, ATTACH, id=notice["id"], item=first["id"], photos=[fresh])
        assert code == expected, user

    assert await notice_state(runtime) == before
    async with unscoped_session(runtime.sessions) as session:
        photos = await session.scalars(
            select(NoticeItem.photos)
            .where(NoticeItem.notice_id == uuid.UUID(notice["id"]))
            .order_by(NoticeItem.position)
        )
        assert list(photos) == [[], [good]]
    assert [e.action for e in await changes_of(runtime, notice["id"])] == ["notice.issue"]


async def test_the_printed_notice_draws_the_findings_photos(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    director = world.regulators["320100"]
    key = await site_photo(api, director, site)
    notice = await ok(
        api, director, ISSUE, site=str(site), deadline=in_days(7), items=photographed(key)
    )
    answer = await pdf_of(api, world.a.users["owner"], notice["id"])
    assert answer.status_code == 200, answer.text
    text = text_of(answer.content)
    assert "疏散通道堆放杂物现场照片1张" in text
    assert text.count("现场照片") == 1  # the finding without photos says nothing of them
    reader = pypdf.PdfReader(io.BytesIO(answer.content))
    drawn = [image for page in reader.pages for image in page.images]
    assert len(drawn) == 1
    assert max(Image.open(io.BytesIO(drawn[0].data)).size) <= 480

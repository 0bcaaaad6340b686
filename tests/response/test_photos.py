"""Photos people attach: ``POST /api/v1/photos`` (bearer, or session cookie with the CSRF
header) stores a sanitised copy under the tenant's unguessable key; only members of that
tenant who may read work orders see it again; bad input is refused and stores nothing."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from backend.runtime import Runtime
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.privacy.test_images import SECRET, face_scene, gps_exif

PHOTOS = "/api/v1/photos"


def jpeg_with_gps_and_a_face() -> bytes:
    buffer = io.BytesIO()
    face_scene().save(buffer, "JPEG", exif=gps_exif(), quality=92)
    return buffer.getvalue()


def stored_photos(runtime: Runtime) -> list[Path]:
    return sorted(Path(runtime.settings.objects_dir).glob("photos/**/*.*"))


async def upload(
    api: GraphQLClient, user: str, data: bytes, media: str = "image/jpeg", query: str = ""
) -> tuple[int, dict[str, str]]:
    token = await api.token_for(user)
    response = await api.http.post(
        f"{PHOTOS}{query}",
        content=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": media},
    )
    return response.status_code, response.json()


async def test_an_operator_uploads_a_photo_stored_without_metadata_or_faces(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    original = jpeg_with_gps_and_a_face()
    status, body = await upload(api, world.a.users["operator"], original)
    assert status == 201, body
    key = body["photo"]
    assert key.startswith(f"photos/{world.a.tenant_id}/") and key.endswith(".jpg")

    token = await api.token_for(world.a.users["viewer"])
    shown = await api.http.get(f"{PHOTOS}/{key}", headers={"Authorization": f"Bearer {token}"})
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "image/jpeg"
    assert shown.headers["cache-control"] == "private, no-store"
    assert SECRET.encode() not in shown.content
    picture = Image.open(io.BytesIO(shown.content))
    assert not picture.getexif()  # neither the camera nor the GPS position is left
    assert shown.content != original


async def test_another_tenant_neither_sees_nor_uploads_for_the_tenant(
    api: GraphQLClient, world: World
) -> None:
    _, body = await upload(api, world.a.users["operator"], jpeg_with_gps_and_a_face())
    key = body["photo"]
    for role in ("owner", "operator", "viewer"):
        token = await api.token_for(world.b.users[role])
        seen = await api.http.get(f"{PHOTOS}/{key}", headers={"Authorization": f"Bearer {token}"})
        assert seen.status_code == 404, (role, seen.text)
        status, _ = await upload(
            api,
            world.b.users[role],
            jpeg_with_gps_and_a_face(),
            query=f"?tenant={world.a.tenant_id}",
        )
        assert status == 404, role
    director = next(iter(world.regulators.values()))
    token = await api.token_for(director)
    seen = await api.http.get(f"{PHOTOS}/{key}", headers={"Authorization": f"Bearer {token}"})
    assert seen.status_code == 404


async def test_a_viewer_may_not_upload(api: GraphQLClient, runtime: Runtime, world: World) -> None:
    before = stored_photos(runtime)
    status, body = await upload(api, world.a.users["viewer"], jpeg_with_gps_and_a_face())
    assert status == 403, body
    assert stored_photos(runtime) == before


async def test_bad_uploads_are_refused_and_store_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    operator = world.a.users["operator"]
    before = stored_photos(runtime)
    png_declared_jpeg = io.BytesIO()
    Image.new("RGB", (16, 16)).save(png_declared_jpeg, "PNG")
    cases = [
        (b"GIF89a" + b"\0" * 64, "image/gif", 415),
        (png_declared_jpeg.getvalue(), "image/jpeg", 400),
        (b"\xff\xd8\xff" + b"not really a jpeg" * 10, "image/jpeg", 400),
    ]
    for data, media, expected in cases:
        status, body = await upload(api, operator, data, media)
        assert status == expected, (media, body)
        assert body["error"], body
    token = await api.token_for(operator)
    too_big = await api.http.post(
        PHOTOS,
        content=b"\xff\xd8" + b"\0" * (8 * 1024 * 1024 + 1),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"},
    )
    assert too_big.status_code == 413
    assert stored_photos(runtime) == before


async def test_a_photo_upload_needs_a_signed_in_caller_and_the_csrf_header_with_a_cookie(
    api: GraphQLClient, world: World
) -> None:
    anonymous = await api.http.post(
        PHOTOS, content=jpeg_with_gps_and_a_face(), headers={"Content-Type": "image/jpeg"}
    )
    assert anonymous.status_code == 401
    token = await api.token_for(world.a.users["operator"])
    api.http.cookies.set("anjian_session", token)
    try:
        forged = await api.http.post(
            PHOTOS, content=jpeg_with_gps_and_a_face(), headers={"Content-Type": "image/jpeg"}
        )
        assert forged.status_code == 403, forged.text
        assert "X-Anjian-CSRF" in forged.json()["error"]
        allowed = await api.http.post(
            PHOTOS,
            content=jpeg_with_gps_and_a_face(),
            headers={"Content-Type": "image/jpeg", "X-Anjian-CSRF": "1"},
        )
        assert allowed.status_code == 201, allowed.text
    finally:
        api.http.cookies.clear()


async def test_unknown_and_malformed_keys_are_not_found(api: GraphQLClient, world: World) -> None:
    token = await api.token_for(world.a.users["owner"])
    for key in (
        f"photos/{world.a.tenant_id}/00000000-0000-0000-0000-000000000000.jpg",
        "photos/../backend/app.py",
        "snapshots/x.jpg",
    ):
        seen = await api.http.get(f"{PHOTOS}/{key}", headers={"Authorization": f"Bearer {token}"})
        assert seen.status_code == 404, key

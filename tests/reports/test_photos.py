"""Photos of a hazard report: bound to a solved challenge (five per challenge), sanitised as
every photo is (no EXIF or GPS, faces pixelated), stored under unguessable keys, refused
with a clear error and nothing kept when they are not a photo, too large or unproven, and
deleted when no report claims them within an hour."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import select, update

from backend.jobs.report_photos import UnclaimedReportPhotos
from backend.reports.models import ReportPhoto
from backend.runtime import Runtime
from privacy.images import MAX_PHOTO_BYTES
from tenants.scope import unscoped_session
from tests.graphql import GraphQLClient
from tests.privacy.test_images import SECRET
from tests.reports.helpers import (
    fields,
    jpeg_with_gps_and_a_face,
    report_body,
    small_png,
    solved,
    stored,
    submit,
    upload_photo,
)


def object_path(runtime: Runtime, key: str) -> Path:
    return Path(runtime.settings.objects_dir) / key


async def test_a_photo_is_stored_without_metadata_under_an_unguessable_key(
    api: GraphQLClient, runtime: Runtime
) -> None:
    original = jpeg_with_gps_and_a_face()
    status, body = await upload_photo(api, await solved(api), original)
    assert status == 201, body
    key = body["photo"]
    assert key.startswith("reports/") and key.endswith(".jpg")
    assert len(key.removeprefix("reports/").removesuffix(".jpg")) == 40  # 160 random bits
    kept = object_path(runtime, key).read_bytes()
    assert SECRET.encode() not in kept and kept != original
    assert not Image.open(io.BytesIO(kept)).getexif()  # neither camera nor GPS is left
    status, other = await upload_photo(api, await solved(api), small_png(), "image/png")
    assert status == 201 and other["photo"].endswith(".png") and other["photo"] != key


async def test_five_photos_per_challenge(api: GraphQLClient, runtime: Runtime) -> None:
    proof = await solved(api)
    for _ in range(5):
        status, body = await upload_photo(api, proof, small_png(), "image/png")
        assert status == 201, body
    before = await stored(runtime)
    status, body = await upload_photo(api, proof, small_png(), "image/png")
    assert status == 400 and fields(body) == {"pow"}, body
    assert await stored(runtime) == before


async def test_unproven_uploads_are_refused_and_nothing_is_kept(
    api: GraphQLClient, runtime: Runtime
) -> None:
    before = await stored(runtime)
    status, body = await upload_photo(api, None, small_png(), "image/png")
    assert status == 400 and fields(body) == {"pow"}, body
    forged = {"challenge": "1.8.1764000000.AAAA.BBBB", "nonce": "1"}
    status, body = await upload_photo(api, forged, small_png(), "image/png")
    assert status == 400 and fields(body) == {"pow"}, body
    assert await stored(runtime) == before


async def test_what_is_not_a_photo_is_refused_and_nothing_is_kept(
    api: GraphQLClient, runtime: Runtime
) -> None:
    before = await stored(runtime)
    proof = await solved(api)
    status, body = await upload_photo(api, proof, b"GIF89a....", "image/gif")
    assert status == 415 and body["errors"][0]["message"], body
    status, body = await upload_photo(api, proof, small_png(), "image/jpeg")  # a PNG, really
    assert status == 400 and fields(body) == {"photo"}, body
    status, body = await upload_photo(api, proof, b"\xff\xd8\xff\xe0 broken", "image/jpeg")
    assert status == 400 and fields(body) == {"photo"}, body
    status, body = await upload_photo(api, proof, b"\0" * (MAX_PHOTO_BYTES + 1), "image/jpeg")
    assert status == 413 and fields(body) == {"photo"}, body
    assert await stored(runtime) == before
    # None of the refusals spent an upload of the challenge.
    for _ in range(5):
        status, body = await upload_photo(api, proof, small_png(), "image/png")
        assert status == 201, body


async def test_a_photo_serves_one_report_only(api: GraphQLClient, runtime: Runtime) -> None:
    proof = await solved(api)
    _, body = await upload_photo(api, proof, small_png(), "image/png")
    key = body["photo"]
    status, _ = await submit(api, report_body(proof, photos=[key]))
    assert status == 201
    before = await stored(runtime)
    status, answer = await submit(api, report_body(await solved(api), photos=[key]))
    assert status == 400 and fields(answer) == {"photos"}, answer
    assert await stored(runtime) == before


async def test_photos_no_report_claims_within_an_hour_are_deleted(
    api: GraphQLClient, runtime: Runtime
) -> None:
    proof = await solved(api)
    _, kept = await upload_photo(api, proof, small_png(), "image/png")
    _, claimed = await upload_photo(api, proof, small_png(), "image/png")
    _, fresh = await upload_photo(api, await solved(api), small_png(), "image/png")
    status, _ = await submit(api, report_body(proof, photos=[claimed["photo"]]))
    assert status == 201
    # The first two were uploaded over an hour ago.
    async with unscoped_session(runtime.sessions) as session, session.begin():
        for key in (kept["photo"], claimed["photo"]):
            row = await session.scalar(select(ReportPhoto).where(ReportPhoto.key == key))
            assert row is not None
            await session.execute(
                update(ReportPhoto)
                .where(ReportPhoto.key == key)
                .values(uploaded_at=row.uploaded_at - timedelta(hours=1, minutes=1))
            )
    job = UnclaimedReportPhotos(runtime.sessions, runtime.objects, runtime.clock)
    assert await job.run() >= 1
    assert not object_path(runtime, kept["photo"]).exists()
    assert object_path(runtime, claimed["photo"]).exists()
    assert object_path(runtime, fresh["photo"]).exists()
    async with unscoped_session(runtime.sessions) as session:
        left = set(await session.scalars(select(ReportPhoto.key)))
    assert kept["photo"] not in left and {claimed["photo"], fresh["photo"]} <= left
    # A report naming the deleted photo is told to upload it again.
    status, answer = await submit(api, report_body(await solved(api), photos=[kept["photo"]]))
    assert status == 400 and fields(answer) == {"photos"}, answer

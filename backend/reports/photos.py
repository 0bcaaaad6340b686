"""Photos of public hazard reports: bound to a solved challenge, sanitised as every photo is
(``privacy.images``: no EXIF or GPS, faces pixelated), stored under keys of 160 random bits,
and deleted when no report claims them within an hour."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.models import LoginThrottle
from backend.core.db import retry_lost_race
from backend.core.objects import ObjectStore
from backend.reports import pow
from backend.reports._input import ReportRefused
from backend.reports.intake import (
    PHOTO,
    REPORT,
    ReportIntake,
    parse_pow_header,
    photo_slots_left,
    public_session,
    spend_challenge,
    verify_proof,
)
from backend.reports.models import MAX_PHOTOS, ReportChallenge, ReportPhoto
from privacy.images import photo_media_type, sanitise_photo


async def check_photo_proof(
    *, sessions: async_sessionmaker[AsyncSession], intake: ReportIntake, header: str | None
) -> pow.Challenge:
    """The upload's challenge, solved and with an upload left (checked again when it is
    spent); refused before the photo is decoded."""
    challenge_text, nonce = parse_pow_header(header)
    if challenge_text is None:
        raise ReportRefused([("pow", "需要工作量证明 / send X-Anjian-PoW: <challenge>:<nonce>")])
    challenge = verify_proof(intake, challenge_text, nonce)
    async with public_session(sessions) as session:
        if not await photo_slots_left(session, challenge):
            raise ReportRefused(
                [
                    (
                        "pow",
                        f"这个挑战已用于 {MAX_PHOTOS} 张照片 / this challenge has had its "
                        f"{MAX_PHOTOS} photos",
                    )
                ]
            )
    return challenge


def check_photo_type(content_type: str) -> None:
    """``UnsupportedMediaType`` before the body is read, when it cannot be a photo."""
    photo_media_type(content_type)


def store_report_photo(objects: ObjectStore, content_type: str, data: bytes) -> tuple[str, str]:
    """Sanitise the upload exactly as every photo is (no metadata, faces pixelated) and store
    it under a key of 160 random bits; returns the key and the media type. CPU-bound: call it
    from a worker thread."""
    image, media, extension = sanitise_photo(content_type, data)
    key = f"reports/{secrets.token_hex(20)}.{extension}"
    objects.put(key, image, media)
    return key, media


async def record_report_photo(
    *,
    sessions: async_sessionmaker[AsyncSession],
    intake: ReportIntake,
    challenge: pow.Challenge,
    key: str,
    media: str,
) -> None:
    """Spend an upload of the challenge on the stored photo; on refusal the object is removed."""

    async def work() -> None:
        async with public_session(sessions) as session, session.begin():
            now = intake.now()
            await spend_challenge(session, challenge, now, photo=True)
            session.add(
                ReportPhoto(
                    key=key, media_type=media, uploaded_at=now, challenge_hash=challenge.digest
                )
            )

    try:
        await retry_lost_race(work, conflicts=(IntegrityError,))
    except BaseException:
        intake.objects.delete(key)
        raise


async def delete_unclaimed_photos(
    *, sessions: async_sessionmaker[AsyncSession], objects: ObjectStore, before: datetime
) -> int:
    """Delete photos uploaded before ``before`` that no report references, and the spent
    challenges and quiet addresses' rate counts past their expiry; returns how many photos
    went. A report claiming a photo at
    the same moment either wins (the photo stays) or is refused to upload it again."""
    async with public_session(sessions) as session, session.begin():
        gone = list(
            await session.scalars(
                delete(ReportPhoto)
                .where(ReportPhoto.report_id.is_(None), ReportPhoto.uploaded_at < before)
                .returning(ReportPhoto.key)
            )
        )
        await session.execute(delete(ReportChallenge).where(ReportChallenge.expires_at < before))
        # The rate counts of addresses that have been quiet long enough to be forgotten.
        await session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.kind.in_((REPORT, PHOTO)), LoginThrottle.expires_at < before
            )
        )
    for key in gone:
        objects.delete(key)
    return len(gone)

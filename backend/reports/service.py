"""Public hazard reports: submission with a proof of work, photos, tracking by receipt code,
routing to the handling division.

What a submission stores happens in one transaction — the challenge spent, the report, its
photos claimed, the first timeline entry — so a refusal at any step stores nothing and the
same challenge can be used again. Public work runs in sessions with an empty scope: no
tenant-owned row is reachable from here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.models import Membership
from backend.auth.throttle import UNKNOWN_ADDRESS, Policy, Throttle, address_subject
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.db import retry_lost_race
from backend.core.errors import NotFound
from backend.core.objects import ObjectStore
from backend.core.timestamps import serialize_datetime
from backend.reports import pow, receipts
from backend.reports._input import ReportRefused, Submission, parse_submission
from backend.reports.blocklist import refuse_blocked
from backend.reports.models import (
    ACCEPT_WITHIN,
    MAX_PHOTOS,
    HazardReport,
    ReportChallenge,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
)
from privacy import pii
from privacy.images import photo_media_type, sanitise_photo
from privacy.keyring import Keyring
from tenants.divisions import ancestors
from tenants.scope import Scope, scoped_session

log = logging.getLogger("anjian.reports")

# Who handles reports in a division: a division whose only accounts are analysts reads them.
HANDLING_ROLES = ("director", "inspector")
RECEIVED_NOTE = "举报已收到，等待受理 / report received; awaiting acceptance"
# One address may send this many reports at once, then one more every 3 minutes (20 an hour):
# a mobile carrier's NAT puts many people behind one address, so the allowance is generous;
# the proof of work is what makes a flood expensive. Photos: five per report and retries.
REPORTS_PER_ADDRESS = Policy(free=20, leak_seconds=180, base_seconds=30, cap_seconds=3600)
PHOTOS_PER_ADDRESS = Policy(free=100, leak_seconds=36, base_seconds=30, cap_seconds=3600)
_RATE_MESSAGE = (
    "提交过于频繁，请 {seconds} 秒后再试 / too many submissions from your network; "
    "try again in {seconds} seconds"
)
_CLIENT_PURPOSE = "reports/client-address"
# What the rate limits count (throttle kinds).
REPORT = "report"
PHOTO = "report-photo"


@dataclass
class ReportIntake:
    """What the public routes need: the keyring (challenges, client hashes), the photo store,
    the clock, the proof-of-work difficulty and the rate policies."""

    keyring: Keyring
    objects: ObjectStore
    difficulty: int
    clock: Clock = WALL_CLOCK
    throttle: Throttle = field(default_factory=Throttle)
    reports_policy: Policy = REPORTS_PER_ADDRESS
    photos_policy: Policy = PHOTOS_PER_ADDRESS

    def now(self) -> datetime:
        return self.clock.now()

    def client_hash(self, address: str) -> bytes:
        # The first key version, fixed for good, so one client hashes alike after a rotation.
        key = self.keyring.derive(_CLIENT_PURPOSE, self.keyring.versions[0].version)
        return hmac.new(key, address_subject(address).encode(), hashlib.sha256).digest()


def public_session(sessions: async_sessionmaker[AsyncSession]) -> AsyncSession:
    """A session for the public's requests: no scope, so no tenant-owned row is reachable."""
    return scoped_session(sessions, Scope())


# --- abuse protection --------------------------------------------------------------------------


async def admit_client(
    *,
    sessions: async_sessionmaker[AsyncSession],
    intake: ReportIntake,
    address: str | None,
    kind: str,
) -> None:
    """Refuse a blocked network (``Forbidden``) or an address over its rate (``RateLimited``),
    else count this request against the address. Counted in a transaction of its own, so a
    request refused later for its input still counts."""
    where = address_subject(address or UNKNOWN_ADDRESS)
    policy = intake.reports_policy if kind == REPORT else intake.photos_policy

    async def count() -> None:
        async with public_session(sessions) as session, session.begin():
            await refuse_blocked(session, address or UNKNOWN_ADDRESS)
            await intake.throttle.count(
                session, kind=kind, subject=where, policy=policy, message=_RATE_MESSAGE
            )

    await retry_lost_race(count, conflicts=(IntegrityError,))


def new_challenge(intake: ReportIntake) -> pow.Challenge:
    return pow.issue(intake.keyring, intake.difficulty, intake.now())


def _proof(intake: ReportIntake, challenge: object, nonce: object) -> pow.Challenge:
    try:
        return pow.verify(intake.keyring, challenge, nonce, intake.now())
    except pow.ProofRefused as exc:
        raise ReportRefused([("pow", f"工作量证明无效 / {exc}")]) from None


def parse_pow_header(value: str | None) -> tuple[str | None, str | None]:
    """``X-Anjian-PoW: <challenge>:<nonce>``."""
    if not value or ":" not in value:
        return None, None
    challenge, _, nonce = value.strip().partition(":")
    return challenge, nonce


async def _spend(
    session: AsyncSession, challenge: pow.Challenge, now: datetime, *, photo: bool
) -> None:
    """Spend one photo upload or the report of a challenge, or refuse it (``ReportRefused``,
    field ``pow``). A first use inserts the challenge's row; two first uses at once collide
    on its key, and the loser's transaction is run again (it then sees the row)."""
    digest = challenge.digest
    row = ReportChallenge
    if photo:
        spend = (
            update(row)
            .where(row.challenge_hash == digest, row.photos < MAX_PHOTOS)
            .values(photos=row.photos + 1)
        )
        spent = f"这个挑战已用于 {MAX_PHOTOS} 张照片 / it has had its {MAX_PHOTOS} photos"
    else:
        spend = (
            update(row)
            .where(row.challenge_hash == digest, row.reported_at.is_(None))
            .values(reported_at=now)
        )
        spent = "这个挑战已用于一次举报 / this challenge was already used for a report"
    result = await session.execute(spend)
    if result.rowcount:  # type: ignore[attr-defined]
        return
    if await session.scalar(select(row.challenge_hash).where(row.challenge_hash == digest)):
        raise ReportRefused([("pow", f"工作量证明已用过 / {spent}")])
    session.add(
        ReportChallenge(
            challenge_hash=digest,
            photos=1 if photo else 0,
            reported_at=None if photo else now,
            expires_at=challenge.expires_at,
        )
    )
    await session.flush()


async def _photo_slots_left(session: AsyncSession, challenge: pow.Challenge) -> bool:
    used = await session.scalar(
        select(ReportChallenge.photos).where(ReportChallenge.challenge_hash == challenge.digest)
    )
    return used is None or used < MAX_PHOTOS


# --- photos ------------------------------------------------------------------------------------


async def check_photo_proof(
    *, sessions: async_sessionmaker[AsyncSession], intake: ReportIntake, header: str | None
) -> pow.Challenge:
    """The upload's challenge, solved and with an upload left (checked again when it is
    spent); refused before the photo is decoded."""
    challenge_text, nonce = parse_pow_header(header)
    if challenge_text is None:
        raise ReportRefused([("pow", "需要工作量证明 / send X-Anjian-PoW: <challenge>:<nonce>")])
    challenge = _proof(intake, challenge_text, nonce)
    async with public_session(sessions) as session:
        if not await _photo_slots_left(session, challenge):
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
            await _spend(session, challenge, now, photo=True)
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


# --- submission --------------------------------------------------------------------------------


async def handling_division(session: AsyncSession, division_code: str) -> str:
    """The most specific division covering ``division_code`` with accounts that handle
    reports (``gov:<code>`` memberships of a director or inspector); the province when none
    has any."""
    chain = [division_code, *(d.code for d in reversed(ancestors(division_code)))]
    held = set(
        await session.scalars(
            select(Membership.domain)
            .where(
                Membership.domain.in_([f"gov:{code}" for code in chain]),
                Membership.role.in_(HANDLING_ROLES),
            )
            .distinct()
        )
    )
    for code in chain:
        if f"gov:{code}" in held:
            return code
    return chain[-1]


async def _claim_photos(session: AsyncSession, report_id: uuid.UUID, keys: Sequence[str]) -> None:
    if not keys:
        return
    claimed = await session.execute(
        update(ReportPhoto)
        .where(ReportPhoto.key.in_(keys), ReportPhoto.report_id.is_(None))
        .values(report_id=report_id)
    )
    if claimed.rowcount != len(keys):  # type: ignore[attr-defined]
        raise ReportRefused(
            [
                (
                    "photos",
                    "照片不存在、已过期或已用于其他举报，请重新上传 / a photo is unknown, "
                    "expired or attached to another report; upload it again",
                )
            ]
        )


async def submit_report(
    *,
    sessions: async_sessionmaker[AsyncSession],
    intake: ReportIntake,
    body: object,
    client_address: str | None,
) -> str:
    """Store one report from the public; returns its receipt code. ``ReportRefused`` (with
    every bad field) stores nothing."""
    submission = parse_submission(body, intake.now())
    challenge = _proof(intake, submission.challenge, submission.nonce)
    receipt = receipts.new_receipt()
    client = intake.client_hash(client_address or UNKNOWN_ADDRESS)

    async def work() -> None:
        async with public_session(sessions) as session, session.begin():
            now = intake.now()
            await _spend(session, challenge, now, photo=False)
            report = _new_report(submission, receipt, client, now)
            report.handling_division_code = await handling_division(
                session, submission.division_code
            )
            session.add(report)
            await session.flush()
            await _claim_photos(session, report.id, submission.photos)
            session.add(
                ReportEvent(
                    report_id=report.id, at=now, status=ReportStatus.RECEIVED, note=RECEIVED_NOTE
                )
            )

    await retry_lost_race(work, conflicts=(IntegrityError,))
    log.info("hazard report received for division %s", submission.division_code)
    return receipt


def _new_report(submission: Submission, receipt: str, client: bytes, now: datetime) -> HazardReport:
    symbols = receipts.canonical(receipt)
    assert symbols is not None
    report = HazardReport(
        id=uuid.uuid4(),
        receipt_hash=receipts.receipt_hash(symbols),
        category=submission.category,
        division_code=submission.division_code,
        latitude=submission.latitude,
        longitude=submission.longitude,
        observed_at=submission.observed_at,
        status=ReportStatus.RECEIVED,
        received_at=now,
        accept_due_at=now + ACCEPT_WITHIN,
        client_hash=client,
    )
    report.description = submission.description
    report.address = submission.address
    report.subject = submission.subject
    if submission.contact is not None:
        report.contact_name = submission.contact.name
        report.contact_mobile = submission.contact.mobile
    return report


# --- tracking ----------------------------------------------------------------------------------


def _no_such_receipt() -> NotFound:
    return NotFound("没有这个回执码的举报 / no report has this receipt code")


async def track_report(*, sessions: async_sessionmaker[AsyncSession], code: str) -> dict[str, Any]:
    """What the reporter reads by the receipt code: status, the public timeline and the
    outcome once closed — never personal data. An unknown code and a code that cannot be one
    are the same 404, after the same look-up."""
    symbols = receipts.canonical(code[:64])
    digest = receipts.receipt_hash(symbols or "-")
    async with public_session(sessions) as session:
        row = (
            await session.execute(
                select(HazardReport.id, HazardReport.status, HazardReport.outcome).where(
                    HazardReport.receipt_hash == digest
                )
            )
        ).one_or_none()
        if row is None or symbols is None:
            raise _no_such_receipt()
        events = (
            await session.execute(
                select(ReportEvent.at, ReportEvent.status, ReportEvent.note)
                .where(ReportEvent.report_id == row.id)
                .order_by(ReportEvent.at, ReportEvent.created_at)
            )
        ).all()
    return {
        "receipt": receipts.format_receipt(symbols),
        "status": row.status.value,
        "timeline": [
            {
                "at": serialize_datetime(event.at),
                "status": event.status.value,
                "note": None if event.note is None else pii.mask_text(event.note),
            }
            for event in events
        ],
        "outcome": (
            pii.mask_text(row.outcome)
            if row.outcome is not None and row.status is ReportStatus.CLOSED
            else None
        ),
    }


def masked_for_outsiders(text: str | None) -> str | None:
    """Free text of a report as anyone but the handling regulator sees it: personal data
    found in it masked (``138****1234``)."""
    return None if text is None else pii.mask_text(text)


# --- housekeeping ------------------------------------------------------------------------------


async def delete_unclaimed_photos(
    *, sessions: async_sessionmaker[AsyncSession], objects: ObjectStore, before: datetime
) -> int:
    """Delete photos uploaded before ``before`` that no report references, and the spent
    challenges past their expiry; returns how many photos went. A report claiming a photo at
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
    for key in gone:
        objects.delete(key)
    return len(gone)


async def erase_client_hashes(session: AsyncSession, before: datetime) -> int:
    """Forget which client sent the reports received before ``before`` (30-day retention)."""
    result = await session.execute(
        update(HazardReport)
        .where(HazardReport.received_at < before, HazardReport.client_hash.is_not(None))
        .values(client_hash=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

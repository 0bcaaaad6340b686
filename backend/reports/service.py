"""Public hazard reports: submission, tracking by receipt code, routing to the handling
division (the proof of work and rates: ``intake``; photos: ``photos``).

What a submission stores happens in one transaction — the challenge spent, the report, its
photos claimed, the first timeline entry — so a refusal at any step stores nothing and the
same challenge can be used again. Public work runs in sessions with an empty scope: no
tenant-owned row is reachable from here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.models import Membership
from backend.auth.throttle import UNKNOWN_ADDRESS
from backend.core.db import retry_lost_race
from backend.core.errors import NotFound
from backend.core.timestamps import serialize_datetime
from backend.reports import pow, receipts
from backend.reports._input import ReportRefused, Submission, parse_submission
from backend.reports.intake import (
    PHOTO,
    REPORT,
    ReportIntake,
    admit_client,
    new_challenge,
    public_session,
    spend_challenge,
    verify_proof,
)
from backend.reports.models import (
    ACCEPT_WITHIN,
    HazardReport,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
)
from backend.reports.photos import (
    check_photo_proof,
    check_photo_type,
    delete_unclaimed_photos,
    record_report_photo,
    store_report_photo,
)
from privacy import pii
from tenants.divisions import ancestors

__all__ = [
    "PHOTO",
    "REPORT",
    "ReportIntake",
    "admit_client",
    "check_photo_proof",
    "check_photo_type",
    "delete_unclaimed_photos",
    "erase_client_hashes",
    "handling_division",
    "masked_for_outsiders",
    "new_challenge",
    "public_session",
    "record_report_photo",
    "store_report_photo",
    "store_submission",
    "submit_report",
    "track_report",
]

log = logging.getLogger("anjian.reports")

# Who handles reports in a division: a division whose only accounts are analysts reads them.
HANDLING_ROLES = ("director", "inspector")
RECEIVED_NOTE = "举报已收到，等待受理 / report received; awaiting acceptance"


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
    challenge = verify_proof(intake, submission.challenge, submission.nonce)
    receipt, _ = await store_submission(
        sessions=sessions,
        intake=intake,
        submission=submission,
        challenge=challenge,
        client_address=client_address,
    )
    return receipt


async def store_submission(
    *,
    sessions: async_sessionmaker[AsyncSession],
    intake: ReportIntake,
    submission: Submission,
    challenge: pow.Challenge | None,
    client_address: str | None,
    also: Callable[[AsyncSession, HazardReport], Awaitable[None]] | None = None,
) -> tuple[str, uuid.UUID]:
    """Store a checked submission in one transaction — the challenge spent (None: the caller
    was authorised otherwise, an Open311 client by its key), the report, its photos, the
    first timeline entry, and whatever ``also`` adds beside it; returns the receipt code and
    the report's id. A refusal at any step stores nothing."""
    receipt = receipts.new_receipt()
    client = intake.client_hash(client_address or UNKNOWN_ADDRESS)
    report_id = uuid.uuid4()

    async def work() -> None:
        async with public_session(sessions) as session, session.begin():
            now = intake.now()
            if challenge is not None:
                await spend_challenge(session, challenge, now, photo=False)
            report = _new_report(submission, receipt, client, now)
            report.id = report_id
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
            if also is not None:
                await also(session, report)

    await retry_lost_race(work, conflicts=(IntegrityError,))
    log.info("hazard report received for division %s", submission.division_code)
    return receipt, report_id


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
    """What the reporter reads by the receipt code: status, the public timeline (never the
    internal entries) and, once closed, the summary the director published — never personal
    data. A report merged into another shows the other's summary once that is closed. An
    unknown code and a code that cannot be one are the same 404, after the same look-up."""
    symbols = receipts.canonical(code[:64])
    digest = receipts.receipt_hash(symbols or "-")
    async with public_session(sessions) as session:
        row = (
            await session.execute(
                select(HazardReport.id, HazardReport.status, HazardReport.merged_into_id).where(
                    HazardReport.receipt_hash == digest
                )
            )
        ).one_or_none()
        if row is None or symbols is None:
            raise _no_such_receipt()
        events = (
            await session.execute(
                select(ReportEvent.at, ReportEvent.status, ReportEvent.note)
                .where(ReportEvent.report_id == row.id, ReportEvent.internal.is_(False))
                .order_by(ReportEvent.at, ReportEvent.created_at)
            )
        ).all()
        handled_with = row.merged_into_id if row.status is ReportStatus.MERGED else row.id
        outcome = None
        if handled_with is not None:
            outcome = await session.scalar(
                select(HazardReport.public_summary).where(
                    HazardReport.id == handled_with,
                    HazardReport.status == ReportStatus.CLOSED,
                    HazardReport.summary_published_at.is_not(None),
                )
            )
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
        "outcome": None if outcome is None else pii.mask_text(outcome),
    }


def masked_for_outsiders(text: str | None) -> str | None:
    """Free text of a report as anyone but the handling regulator sees it: personal data
    found in it masked (``138****1234``)."""
    return None if text is None else pii.mask_text(text)


# --- housekeeping ------------------------------------------------------------------------------


async def erase_client_hashes(session: AsyncSession, before: datetime) -> int:
    """Forget which client sent the reports received before ``before`` (30-day retention)."""
    result = await session.execute(
        update(HazardReport)
        .where(HazardReport.received_at < before, HazardReport.client_hash.is_not(None))
        .values(client_hash=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

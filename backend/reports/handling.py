"""Handling public hazard reports (government portal): the only writers of a report after its
submission, and the gate of the reporter's contact.

Who does what. A report is read by every regulator whose jurisdiction covers it (the
handling division and its ancestors, analysts included), and by nobody else: another
jurisdiction, an enterprise and the platform administrator are told it does not exist. It is
*handled* by the regulators of its handling division alone — a director or an inspector with
a membership in exactly that division (``report`` "update"); the director's part (assigning,
extending the deadline, publishing the summary) is ``report`` "approve". Ancestors read and
never act; analysts read and never act. The reporter's contact, and the description,
address and position in full, are for the handling division's directors and the inspector
the report is assigned to (``report`` "contact"); every other reader gets them masked and the
contact not at all. Each read of the contact is written to the audit trail before it is
answered, and nothing here logs it.

The lifecycle (``ReportStatus``): RECEIVED → ACCEPTED (closing due 60 days later) or
REJECTED (a reason and a note published to the reporter); ACCEPTED → INVESTIGATING (internal
notes, the inspection or notice it led to); either → CLOSED (the outcome, the reward
decision; the reporter is told within 10 days: the feedback); an open report → MERGED into
another open report of the same handling division. The director may extend the closing
deadline once by 30 days. A move from a status that does not allow it is refused naming the
statuses that do. A report is *overdue* while acceptance, closing or feedback is late; a
received report past its acceptance deadline moves to the nearest ancestor division with
regulators who handle reports (``escalate_unaccepted``, run by ``backend/jobs``).

Every change is audited in its transaction (``record_change``: ``report.<verb>``, ids and
statuses only, no text) and entered on the timeline: public entries for what the reporter
reads (fixed wording, or the note published to them), internal entries for the rest. Notes
are stored with the identifiers PII detection finds masked (``privacy.freetext``).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.authz import Authorizer
from backend.auth.mail_outbox import enqueue_mail
from backend.auth.models import Membership, User
from backend.auth.principal import Grant, Principal
from backend.auth.service import require
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, Forbidden, NotFound
from backend.oversight.inspections.service import get_inspection
from backend.oversight.notices.service import get_notice
from backend.oversight.text import bounded_text
from backend.reports.intake import public_session
from backend.reports.models import (
    ACCEPT_WITHIN,
    CLOSE_EXTENSION,
    CLOSE_WITHIN,
    FEEDBACK_WITHIN,
    IN_HAND,
    MAX_NOTE,
    MAX_OUTCOME,
    OPEN_STATUSES,
    HazardReport,
    RejectReason,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
)
from backend.reports.service import HANDLING_ROLES
from privacy import pii
from privacy.audit import Actor, record, record_change, record_read
from tenants.divisions import ancestors, covers, division, english_name
from tenants.models import Site

OBJECT = "report"
CHINA_TIME = ZoneInfo("Asia/Shanghai")
CONTACT_FIELDS = ("contact_name", "contact_mobile")
CONTACT_PURPOSE = "reports.contact"

# Duplicates: open reports of the same handling division received within 14 days of each
# other, within 2 km (or about the same confirmed site; or, when either has no position, in
# the same division), whose descriptions share enough character pairs (Dice coefficient).
DUPLICATE_WINDOW = timedelta(days=14)
DUPLICATE_DISTANCE_M = 2000.0
DUPLICATE_SIMILARITY = 0.25
_DUPLICATES_EXAMINED = 200  # the most recent candidates of the window compared

_REASONS = {
    RejectReason.DUPLICATE: ("重复举报", "a duplicate"),
    RejectReason.OUT_OF_SCOPE: ("不属于安全生产监管范围", "not a matter of work safety"),
    RejectReason.INSUFFICIENT_INFORMATION: ("信息不足，无法核查", "not enough to go on"),
}
# The public entries' wording (the reporter reads them when tracking the report).
ACCEPTED_NOTE = "举报已受理，正在办理 / report accepted; being handled"
INVESTIGATING_NOTE = "正在调查核实 / under investigation"
CLOSED_NOTE = "举报已办结 / handling completed"
MERGED_NOTE = (
    "与另一举报反映的是同一隐患，已合并办理 / the same hazard as another report: handled "
    "together with it"
)
MERGED_CLOSED_NOTE = "合并办理的举报已办结 / the report this one was merged into is closed"
SUMMARY_NOTE = "处理结果已公布 / the outcome has been published"
# Internal entries.
ASSIGNED_NOTE = "指派承办人 / assignee set"
MERGED_IN_NOTE = "一份重复举报已并入 / a duplicate report was merged into this one"
SUMMARY_DRAFTED_NOTE = "公开摘要草稿已更新 / public summary drafted"
SUBJECT_NOTE = "举报对象已确认 / subject confirmed"
SUBJECT_CLEARED_NOTE = "举报对象已取消确认 / subject confirmation withdrawn"


# --- who may ----------------------------------------------------------------------------------


def _inside(principal: Principal, report: HazardReport) -> bool:
    return any(covers(j, report.division_code) for j in principal.scope.jurisdictions)


def handling_domain(report: HazardReport) -> str:
    return f"gov:{report.handling_division_code}"


def handling_grant(principal: Principal, report: HazardReport) -> Grant | None:
    """The caller's membership in exactly the handling division, if any (an ancestor's
    membership reads the report but does not handle it)."""
    domain = handling_domain(report)
    return next((g for g in principal.grants if g.domain == domain), None)


def reads_in_full(authz: Authorizer, principal: Principal, report: HazardReport) -> bool:
    """Whether the caller reads the reporter's contact and the report's text and position
    unmasked: a director of the handling division, or the inspector it is assigned to."""
    grant = handling_grant(principal, report)
    if grant is None or principal.id is None:
        return False
    if not authz.may(principal, grant.domain, OBJECT, "contact"):
        return False
    return authz.may(principal, grant.domain, OBJECT, "approve") or (
        report.assigned_to == principal.id
    )


async def get_report(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    for_update: bool = False,
) -> HazardReport:
    """A report inside the caller's jurisdiction; any other is ``NotFound``."""
    query = select(HazardReport).where(HazardReport.id == report_id)
    if for_update:
        query = query.with_for_update()
    report = await session.scalar(query)
    if (
        report is None
        or not _inside(principal, report)
        or not authz.may(principal, f"gov:{report.division_code}", OBJECT, "read")
    ):
        raise NotFound(f"hazard report {report_id} not found")
    return report


async def _handled(
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    action: str,
    operation: str,
) -> tuple[HazardReport, str]:
    """The report and its handling domain, once the caller may do ``action`` there as a
    member of the handling division itself."""
    report = await get_report(
        session=session, authz=authz, principal=principal, report_id=report_id, for_update=True
    )
    domain = handling_domain(report)
    require(authz, principal, domain, OBJECT, action, operation=operation)
    if handling_grant(principal, report) is None:
        raise Forbidden(
            f"the report is handled by division {report.handling_division_code}: only its "
            f"regulators may {operation}"
        )
    return report, domain


def _require_status(report: HazardReport, allowed: Sequence[ReportStatus], doing: str) -> None:
    if report.status not in allowed:
        names = " or ".join(s.value for s in allowed)
        raise BadInput(
            f"the report is {report.status.value}: {doing} needs {names}", field="status"
        )


# --- the timeline and the trail ---------------------------------------------------------------


def _event(
    session: AsyncSession,
    report: HazardReport,
    at: datetime,
    note: str | None,
    *,
    internal: bool,
    actor: Principal | None = None,
    status: ReportStatus | None = None,
) -> None:
    session.add(
        ReportEvent(
            report_id=report.id,
            at=at,
            status=status or report.status,
            note=note,
            internal=internal,
            actor_id=None if actor is None else actor.id,
        )
    )


async def _audit(
    session: AsyncSession,
    actor: Actor,
    verb: str,
    report: HazardReport,
    domain: str,
    **detail: object,
) -> None:
    await record_change(
        session,
        actor,
        f"report.{verb}",
        domain=domain,
        object_type=OBJECT,
        object_id=report.id,
        detail={"status": report.status.value, **detail},
    )


# --- overdue ----------------------------------------------------------------------------------


def is_overdue(report: HazardReport, now: datetime) -> bool:
    """Acceptance, closing or feedback due and not done by ``now``."""
    if report.status is ReportStatus.RECEIVED:
        return report.accept_due_at <= now
    if report.status in IN_HAND:
        return report.close_due_at is not None and report.close_due_at <= now
    if report.status is ReportStatus.CLOSED:
        return (
            report.feedback_at is None
            and report.feedback_due_at is not None
            and report.feedback_due_at <= now
        )
    return False


# --- the lifecycle ----------------------------------------------------------------------------


async def _subject_site(session: AsyncSession, report: HazardReport, site_id: uuid.UUID) -> Site:
    """A registered site inside the division the report names, seen through the caller's
    scope; else bad input."""
    site = await session.scalar(select(Site).where(Site.id == site_id))
    if site is None or not covers(report.division_code, site.division_code):
        raise BadInput(
            f"siteId is no registered site in division {report.division_code}", field="siteId"
        )
    return site


async def accept_report(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    note: str | None = None,
    subject_site_id: uuid.UUID | None = None,
    clock: Clock = WALL_CLOCK,
) -> HazardReport:
    """受理: a received report is accepted; closing falls due 60 days later. ``note`` is
    internal; ``subject_site_id`` confirms the registered site it is about."""
    report, domain = await _handled(
        session, authz, principal, report_id, "update", "accept reports"
    )
    _require_status(report, (ReportStatus.RECEIVED,), "accepting")
    cleaned = bounded_text(note, "note", MAX_NOTE, required=False)
    site = (
        None if subject_site_id is None else await _subject_site(session, report, subject_site_id)
    )
    now = clock.now()
    report.status = ReportStatus.ACCEPTED
    report.accepted_at = now
    report.close_due_at = now + CLOSE_WITHIN
    if site is not None:
        report.subject_site_id = site.id
    _event(session, report, now, ACCEPTED_NOTE, internal=False, actor=principal)
    if cleaned is not None:
        _event(session, report, now, cleaned, internal=True, actor=principal)
    await _audit(
        session,
        principal.actor(domain),
        "accept",
        report,
        domain,
        late=report.accept_due_at <= now,
        subject_site_id=None if site is None else str(site.id),
    )
    return report


async def reject_report(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    reason: RejectReason,
    note: str,
    clock: Clock = WALL_CLOCK,
) -> HazardReport:
    """不予受理: a received report is rejected as a duplicate, out of scope or with too little
    to go on; the reason and ``note`` are published to the reporter."""
    report, domain = await _handled(
        session, authz, principal, report_id, "update", "reject reports"
    )
    _require_status(report, (ReportStatus.RECEIVED,), "rejecting")
    zh, en = _REASONS[reason]
    prefix = f"不予受理（{zh}） / not accepted ({en}): "
    cleaned = bounded_text(note, "note", MAX_NOTE - len(prefix), required=True)
    now = clock.now()
    report.status = ReportStatus.REJECTED
    report.reject_reason = reason
    _event(session, report, now, f"{prefix}{cleaned}", internal=False, actor=principal)
    await _audit(session, principal.actor(domain), "reject", report, domain, reason=reason.value)
    return report


async def assignable(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, report_id: uuid.UUID
) -> list[tuple[uuid.UUID, str]]:
    """The inspectors and directors of the report's handling division (user id, e-mail), by
    e-mail; disabled accounts left out."""
    report = await get_report(
        session=session, authz=authz, principal=principal, report_id=report_id
    )
    return await _handlers_of(session, report.handling_division_code)


async def _handlers_of(session: AsyncSession, code: str) -> list[tuple[uuid.UUID, str]]:
    rows = await session.execute(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.domain == f"gov:{code}",
            Membership.role.in_(HANDLING_ROLES),
            User.disabled.is_(False),
        )
    )
    return sorted(((u.id, u.email) for u in rows.scalars()), key=lambda x: (x[1], x[0]))


async def assign_report(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    assignee_id: uuid.UUID,
    clock: Clock = WALL_CLOCK,
) -> HazardReport:
    """The director hands an open report to an inspector (or director) of the division."""
    report, domain = await _handled(
        session, authz, principal, report_id, "approve", "assign reports"
    )
    _require_status(report, OPEN_STATUSES, "assigning")
    handlers = {user for user, _ in await _handlers_of(session, report.handling_division_code)}
    if assignee_id not in handlers:
        raise BadInput(
            f"assigneeUserId is no inspector or director of division "
            f"{report.handling_division_code}",
            field="assigneeUserId",
        )
    now = clock.now()
    before = report.assigned_to
    report.assigned_to = assignee_id
    _event(session, report, now, ASSIGNED_NOTE, internal=True, actor=principal)
    await _audit(
        session,
        principal.actor(domain),
        "assign",
        report,
        domain,
        assignee=str(assignee_id),
        previous=None if before is None else str(before),
    )
    return report


async def record_investigation(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    note: str,
    inspection_id: uuid.UUID | None = None,
    notice_id: uuid.UUID | None = None,
    clock: Clock = WALL_CLOCK,
) -> HazardReport:
    """核查: an internal note on the investigation of an accepted report, with the inspection
    or rectification notice it led to (ones the caller reads). The first makes it
    INVESTIGATING, which the reporter reads as 调查中."""
    report, domain = await _handled(
        session, authz, principal, report_id, "update", "record investigations"
    )
    _require_status(report, IN_HAND, "recording an investigation")
    cleaned = bounded_text(note, "note", MAX_NOTE, required=True)
    if inspection_id is not None:
        try:
            await get_inspection(
                session=session, authz=authz, principal=principal, inspection_id=inspection_id
            )
        except NotFound:
            raise BadInput(
                f"inspectionId {inspection_id} is no inspection you read", field="inspectionId"
            ) from None
    if notice_id is not None:
        try:
            await get_notice(session=session, authz=authz, principal=principal, notice_id=notice_id)
        except NotFound:
            raise BadInput(
                f"noticeId {notice_id} is no rectification notice you read", field="noticeId"
            ) from None
    now = clock.now()
    first = report.status is ReportStatus.ACCEPTED
    report.status = ReportStatus.INVESTIGATING
    if inspection_id is not None:
        report.linked_inspection_id = inspection_id
    if notice_id is not None:
        report.linked_notice_id = notice_id
    if first:
        _event(session, report, now, INVESTIGATING_NOTE, internal=False, actor=principal)
    _event(session, report, now, cleaned, internal=True, actor=principal)
    await _audit(
        session,
        principal.actor(domain),
        "investigate",
        report,
        domain,
        inspection_id=None if inspection_id is None else str(inspection_id),
        notice_id=None if notice_id is None else str(notice_id),
    )
    return report


async def _merged_into(session: AsyncSession, report: HazardReport) -> list[HazardReport]:
    return list(
        await session.scalars(
            select(HazardReport).where(
                HazardReport.merged_into_id == report.id,
                HazardReport.status == ReportStatus.MERGED,
            )
        )
    )


async def close_report(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    outcome: str,
    reward_eligible: bool | None = None,
    clock: Clock = WALL_CLOCK,
) -> HazardReport:
    """办结: the outcome is recorded (internal) and feedback falls due 10 days later. Whether
    the report qualifies for a reward is decided here, for real-name reports only. The
    reporters of the reports merged into it read that it was closed."""
    report, domain = await _handled(session, authz, principal, report_id, "update", "close reports")
    _require_status(report, IN_HAND, "closing")
    cleaned = bounded_text(outcome, "outcome", MAX_OUTCOME, required=True)
    if reward_eligible and report.contact_mobile_enc is None:
        raise BadInput(
            "an anonymous report cannot qualify for a reward (举报奖励 needs a real name)",
            field="rewardEligible",
        )
    now = clock.now()
    report.status = ReportStatus.CLOSED
    report.outcome = cleaned
    report.reward_eligible = reward_eligible
    report.closed_at = now
    report.feedback_due_at = now + FEEDBACK_WITHIN
    _event(session, report, now, CLOSED_NOTE, internal=False, actor=principal)
    merged = await _merged_into(session, report)
    for other in merged:
        _event(session, other, now, MERGED_CLOSED_NOTE, internal=False, actor=principal)
    await _audit(
        session,
        principal.actor(domain),
        "close",
        report,
        domain,
        late=report.close_due_at is not None and report.close_due_at <= now,
        reward_eligible=reward_eligible,
        merged=len(merged),
    )
    return report


async def record_feedback(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    note: str,
    clock: Clock = WALL_CLOCK,
) -> HazardReport:
    """反馈: the reporter is told the result (``note``, published to them and to the reporters
    of the reports merged into it), once, after closing."""
    report, domain = await _handled(
        session, authz, principal, report_id, "update", "give feedback on reports"
    )
    _require_status(report, (ReportStatus.CLOSED,), "feedback")
    if report.feedback_at is not None:
        raise BadInput("the reporter has already been given feedback", field="status")
    cleaned = bounded_text(note, "note", MAX_NOTE, required=True)
    now = clock.now()
    report.feedback_at = now
    _event(session, report, now, cleaned, internal=False, actor=principal)
    merged = await _merged_into(session, report)
    for other in merged:
        _event(session, other, now, cleaned, internal=False, actor=principal)
    await _audit(
        session,
        principal.actor(domain),
        "feedback",
        report,
        domain,
        late=report.feedback_due_at is not None and report.feedback_due_at <= now,
        merged=len(merged),
    )
    return report


async def extend_deadline(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    reason: str,
    clock: Clock = WALL_CLOCK,
) -> HazardReport:
    """延期: the director approves 30 more days for closing, once; the reason is internal."""
    report, domain = await _handled(
        session, authz, principal, report_id, "approve", "extend report deadlines"
    )
    _require_status(report, IN_HAND, "extending the deadline")
    if report.close_extended:
        raise BadInput("the deadline was already extended once", field="status")
    cleaned = bounded_text(reason, "reason", MAX_NOTE, required=True)
    assert report.close_due_at is not None  # set on acceptance
    now = clock.now()
    report.close_due_at = report.close_due_at + CLOSE_EXTENSION
    report.close_extended = True
    _event(session, report, now, cleaned, internal=True, actor=principal)
    await _audit(
        session,
        principal.actor(domain),
        "extend",
        report,
        domain,
        close_due_at=report.close_due_at.isoformat(),
    )
    return report


def _personal_data_in(report: HazardReport, text: str) -> list[str]:
    """What kinds of personal data ``text`` carries: what PII detection finds, and the
    reporter's own name or mobile written out."""
    found = sorted({span.kind.value for span in pii.detect(text)})
    name, mobile = report.contact_name, report.contact_mobile
    if mobile and mobile in re.sub(r"[\s-]", "", text):
        found.append("reporter's mobile")
    if name and len(name) >= 2 and name in text:
        found.append("reporter's name")
    return found


async def draft_summary(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    summary: str,
    clock: Clock = WALL_CLOCK,
) -> HazardReport:
    """The handler's public summary, refused while it carries personal data; a new draft
    waits for the director's approval again."""
    report, domain = await _handled(
        session, authz, principal, report_id, "update", "draft report summaries"
    )
    _require_status(report, (*IN_HAND, ReportStatus.CLOSED), "a summary")
    cleaned = bounded_text(summary, "summary", MAX_OUTCOME, required=True)
    assert cleaned is not None
    found = _personal_data_in(report, cleaned)
    if found:
        raise BadInput(
            "the summary is published: take out the personal data in it (" + ", ".join(found) + ")",
            field="summary",
        )
    now = clock.now()
    report.public_summary = cleaned
    report.summary_published_at = None
    _event(session, report, now, SUMMARY_DRAFTED_NOTE, internal=True, actor=principal)
    await _audit(session, principal.actor(domain), "draft_summary", report, domain)
    return report


async def publish_summary(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    clock: Clock = WALL_CLOCK,
) -> HazardReport:
    """The director approves the drafted summary: the tracking page (once closed) and
    Open311's public listing show it."""
    report, domain = await _handled(
        session, authz, principal, report_id, "approve", "publish report summaries"
    )
    _require_status(report, (*IN_HAND, ReportStatus.CLOSED), "publishing a summary")
    if report.public_summary is None:
        raise BadInput("draft the summary first", field="summary")
    if report.summary_published_at is not None:
        raise BadInput("the summary is already published", field="summary")
    now = clock.now()
    report.summary_published_at = now
    _event(session, report, now, SUMMARY_NOTE, internal=False, actor=principal)
    await _audit(session, principal.actor(domain), "publish_summary", report, domain)
    return report


async def merge_report(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    into_id: uuid.UUID,
    clock: Clock = WALL_CLOCK,
) -> HazardReport:
    """An open report, a duplicate, is merged into another open report of the same handling
    division and handled with it; its reporter reads so, and later what became of the other.
    Reports merged into it before move along to the other."""
    report, domain = await _handled(session, authz, principal, report_id, "update", "merge reports")
    _require_status(report, OPEN_STATUSES, "merging")
    if into_id == report.id:
        raise BadInput("a report is not merged into itself", field="intoId")
    try:
        target = await get_report(
            session=session, authz=authz, principal=principal, report_id=into_id, for_update=True
        )
    except NotFound:
        raise BadInput(f"intoId {into_id} is no report you read", field="intoId") from None
    if target.handling_division_code != report.handling_division_code:
        raise BadInput(
            f"intoId is handled by division {target.handling_division_code}, not "
            f"{report.handling_division_code}",
            field="intoId",
        )
    if target.status not in OPEN_STATUSES:
        names = " or ".join(s.value for s in OPEN_STATUSES)
        raise BadInput(
            f"the report merged into is {target.status.value}: it must be {names}",
            field="intoId",
        )
    now = clock.now()
    before = report.status
    report.status = ReportStatus.MERGED
    report.merged_into_id = target.id
    await session.execute(
        update(HazardReport)
        .where(HazardReport.merged_into_id == report.id)
        .values(merged_into_id=target.id)
    )
    _event(session, report, now, MERGED_NOTE, internal=False, actor=principal)
    _event(session, target, now, MERGED_IN_NOTE, internal=True, actor=principal)
    await _audit(
        session,
        principal.actor(domain),
        "merge",
        report,
        domain,
        previous=before.value,
        into=str(target.id),
    )
    return report


async def confirm_subject(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    report_id: uuid.UUID,
    site_id: uuid.UUID | None,
    clock: Clock = WALL_CLOCK,
) -> HazardReport:
    """The regulator confirms which registered site of the division the report names is
    the one reported (``None`` withdraws the confirmation)."""
    report, domain = await _handled(
        session, authz, principal, report_id, "update", "confirm report subjects"
    )
    _require_status(report, (*OPEN_STATUSES, ReportStatus.CLOSED), "confirming the subject")
    site = None if site_id is None else await _subject_site(session, report, site_id)
    now = clock.now()
    report.subject_site_id = None if site is None else site.id
    note = SUBJECT_CLEARED_NOTE if site is None else SUBJECT_NOTE
    _event(session, report, now, note, internal=True, actor=principal)
    await _audit(
        session,
        principal.actor(domain),
        "confirm_subject",
        report,
        domain,
        site_id=None if site is None else str(site.id),
    )
    return report


# --- the reporter's contact -------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    name: str
    mobile: str


async def read_contact(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, report_id: uuid.UUID
) -> Contact:
    """The reporter's name and mobile, for the handling division's directors and the
    assigned inspector (every other reader of the report: ``Forbidden``); the read is in
    the audit trail, in the caller's transaction, before anything is answered."""
    report = await get_report(
        session=session, authz=authz, principal=principal, report_id=report_id
    )
    domain = handling_domain(report)
    if not reads_in_full(authz, principal, report):
        raise Forbidden(
            "only the inspector the report is assigned to and the directors of division "
            f"{report.handling_division_code} read the reporter's contact"
        )
    if report.contact_mobile_enc is None:
        raise NotFound("the report is anonymous: there is no contact")
    contact = Contact(name=report.contact_name or "", mobile=report.contact_mobile or "")
    await record_read(
        session,
        principal.actor(domain),
        purpose=CONTACT_PURPOSE,
        object_type=OBJECT,
        object_id=report.id,
        fields=CONTACT_FIELDS,
        domain=domain,
    )
    return contact


# --- photos ---------------------------------------------------------------------------------


async def readable_photo(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, key: str
) -> str:
    """The media type of a photo of a report the caller reads (a regulator whose
    jurisdiction covers it); any other key, unclaimed uploads included, is ``NotFound``."""
    photo = await session.scalar(
        select(ReportPhoto).where(ReportPhoto.key == key, ReportPhoto.report_id.is_not(None))
    )
    if photo is None or photo.report_id is None:
        raise NotFound(f"photo {key} not found")
    try:
        await get_report(
            session=session, authz=authz, principal=principal, report_id=photo.report_id
        )
    except NotFound:
        raise NotFound(f"photo {key} not found") from None
    return photo.media_type


# --- duplicates -------------------------------------------------------------------------------


def _pairs(text: str) -> set[str]:
    letters = re.sub(r"[\W_]+", "", text.lower())
    return {letters[i : i + 2] for i in range(len(letters) - 1)}


def similarity(a: str, b: str) -> float:
    """The Dice coefficient of the texts' character pairs (punctuation and spaces ignored)."""
    x, y = _pairs(a), _pairs(b)
    if not x or not y:
        return 0.0
    return 2 * len(x & y) / (len(x) + len(y))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _near(a: HazardReport, b: HazardReport) -> bool:
    if a.subject_site_id is not None and a.subject_site_id == b.subject_site_id:
        return True
    if a.latitude is None or a.longitude is None or b.latitude is None or b.longitude is None:
        return a.division_code == b.division_code
    return distance_m(a.latitude, a.longitude, b.latitude, b.longitude) <= DUPLICATE_DISTANCE_M


async def duplicate_candidates(
    *, session: AsyncSession, principal: Principal, report: HazardReport
) -> list[HazardReport]:
    """Open reports the caller reads that may be the same hazard as ``report`` (an open
    one): same handling division, received within 14 days of it, near it, similar text;
    the most similar first."""
    if report.status not in OPEN_STATUSES:
        return []
    rows = await session.scalars(
        select(HazardReport)
        .where(
            HazardReport.handling_division_code == report.handling_division_code,
            HazardReport.status.in_(OPEN_STATUSES),
            HazardReport.id != report.id,
            HazardReport.received_at >= report.received_at - DUPLICATE_WINDOW,
            HazardReport.received_at <= report.received_at + DUPLICATE_WINDOW,
        )
        .order_by(HazardReport.received_at.desc(), HazardReport.id)
        .limit(_DUPLICATES_EXAMINED)
    )
    text = report.description
    scored = []
    for other in rows:
        if not _inside(principal, other) or not _near(report, other):
            continue
        score = similarity(text, other.description)
        if score >= DUPLICATE_SIMILARITY:
            scored.append((score, other))
    scored.sort(key=lambda pair: (-pair[0], pair[1].received_at))
    return [other for _, other in scored]


# --- escalation -------------------------------------------------------------------------------


async def _nearest_handling_ancestor(session: AsyncSession, code: str) -> str | None:
    """The nearest division above ``code`` with regulators who handle reports, if any."""
    chain = [d.code for d in reversed(ancestors(code))]
    if not chain:
        return None
    held = set(
        await session.scalars(
            select(Membership.domain)
            .where(
                Membership.domain.in_([f"gov:{c}" for c in chain]),
                Membership.role.in_(HANDLING_ROLES),
            )
            .distinct()
        )
    )
    return next((c for c in chain if f"gov:{c}" in held), None)


def _escalated_note(code: str) -> str:
    name = division(code).name
    english = english_name(code) or f"division {code}"
    return f"逾期未受理，已移交{name}办理 / not accepted in time; moved to {english}"


async def escalate_unaccepted(*, sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Move every received report past its acceptance deadline to the nearest division above
    its handling one with regulators who handle reports, which gets a fresh acceptance
    period; the assignment lapses. Reports with nowhere to go stay (and stay overdue).
    Returns how many moved."""
    system = Principal.system()
    moved = 0
    async with public_session(sessions) as session, session.begin():
        late = list(
            await session.scalars(
                select(HazardReport)
                .where(
                    HazardReport.status == ReportStatus.RECEIVED,
                    HazardReport.accept_due_at <= now,
                )
                .order_by(HazardReport.accept_due_at, HazardReport.id)
                .with_for_update()
            )
        )
        for report in late:
            target = await _nearest_handling_ancestor(session, report.handling_division_code)
            if target is None:
                continue
            before = report.handling_division_code
            report.handling_division_code = target
            report.accept_due_at = now + ACCEPT_WITHIN
            report.assigned_to = None
            _event(session, report, now, _escalated_note(target), internal=False)
            await _audit(
                session,
                system.actor(),
                "escalate",
                report,
                f"gov:{target}",
                previous=before,
                handling=target,
            )
            moved += 1
    return moved


# --- overdue: the directors are told ----------------------------------------------------------

_LATE = {
    ReportStatus.RECEIVED: ("受理", "acceptance"),
    ReportStatus.ACCEPTED: ("办结", "closing"),
    ReportStatus.INVESTIGATING: ("办结", "closing"),
    ReportStatus.CLOSED: ("反馈", "feedback to the reporter"),
}


def current_due(report: HazardReport) -> datetime | None:
    """The deadline the report waits on now: acceptance, closing or feedback; none once
    done."""
    if report.status is ReportStatus.RECEIVED:
        return report.accept_due_at
    if report.status in IN_HAND:
        return report.close_due_at
    if report.status is ReportStatus.CLOSED and report.feedback_at is None:
        return report.feedback_due_at
    return None


def _untold(due):  # type: ignore[no-untyped-def]  # a SQL expression
    told = HazardReport.overdue_notified_due
    return or_(told.is_(None), told != due)


def _overdue_untold(now: datetime):  # type: ignore[no-untyped-def]  # a SQL expression
    return or_(
        and_(
            HazardReport.status == ReportStatus.RECEIVED,
            HazardReport.accept_due_at <= now,
            _untold(HazardReport.accept_due_at),
        ),
        and_(
            HazardReport.status.in_(IN_HAND),
            HazardReport.close_due_at <= now,
            _untold(HazardReport.close_due_at),
        ),
        and_(
            HazardReport.status == ReportStatus.CLOSED,
            HazardReport.feedback_at.is_(None),
            HazardReport.feedback_due_at <= now,
            _untold(HazardReport.feedback_due_at),
        ),
    )


async def _told_about(session: AsyncSession, code: str) -> list[User]:
    """The directors of the division; its inspectors when it has none."""
    for roles in (("director",), ("inspector",)):
        rows = await session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.domain == f"gov:{code}",
                Membership.role.in_(roles),
                User.disabled.is_(False),
            )
            .order_by(User.id)
        )
        found = list(rows.all())
        if found:
            return found
    return []


def _overdue_mail(report: HazardReport, due: datetime) -> tuple[str, str]:
    zh, en = _LATE[report.status]
    when = due.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")
    name = division(report.division_code).name
    subject = f"举报逾期未{zh}：{name} / Hazard report overdue for {en}: {report.id}"
    body = (
        f"{name}的一份公众隐患举报（编号 {report.id}）{zh}期限 {when}（北京时间）已过。"
        "请登录安监平台办理。\n\n"
        f"The {en} deadline of a public hazard report in {report.division_code} "
        f"(id {report.id}) passed at {when} China Standard Time. Sign in to Anjian to "
        "handle it.\n"
    )
    return subject, body


async def notify_overdue(
    *, sessions: async_sessionmaker[AsyncSession], now: datetime, batch: int = 100
) -> int:
    """Mail the directors of each overdue report's handling division (its inspectors when it
    has no director), once per missed deadline; returns the reports told about. The mail
    names the report and the deadline, never what it says or who sent it."""
    told = 0
    system = Principal.system()
    while True:
        async with public_session(sessions) as session, session.begin():
            rows = list(
                await session.scalars(
                    select(HazardReport)
                    .where(_overdue_untold(now))
                    .order_by(HazardReport.received_at, HazardReport.id)
                    .limit(batch)
                    .with_for_update()
                )
            )
            for report in rows:
                due = current_due(report)
                assert due is not None  # the query found it overdue
                recipients = await _told_about(session, report.handling_division_code)
                subject, body = _overdue_mail(report, due)
                for user in recipients:
                    await enqueue_mail(
                        session=session,
                        to=user.email,
                        subject=subject,
                        body=body,
                        idempotency_key=f"report-overdue:{report.id}:{due.isoformat()}:{user.id}",
                    )
                report.overdue_notified_due = due
                await record(
                    session,
                    system.actor(),
                    "report.overdue",
                    domain=handling_domain(report),
                    object_type=OBJECT,
                    object_id=report.id,
                    detail={
                        "status": report.status.value,
                        "due": due.isoformat(),
                        "told": len(recipients),
                    },
                )
            told += len(rows)
        if len(rows) < batch:
            return told

"""GraphQL: public hazard reports as the regulators of their jurisdiction read and handle them
(``backend.reports.handling`` says who may do what).

The reporter's contact is never part of a report: ``hazardReportContact`` answers it to the
handling division's directors and the assigned inspector, and audits each read. The
description, the address and the position are theirs in full; every other reader gets them
masked here (identifiers PII detection finds, the position generalised to a 0.1° cell), and
the privacy pipeline treats every field by the catalog on top."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from backend.auth.context import Info
from backend.auth.models import User
from backend.auth.permissions import IsAuthenticated
from backend.core.ids import parse_id
from backend.reports import handling, queue
from backend.reports.models import (
    MAX_PHOTOS,
    HazardReport,
    RejectReason,
    ReportEvent,
    ReportStatus,
)
from privacy.catalog import Treatment, apply, catalog
from privacy.pii import mask_text
from tenants.models import Site

if TYPE_CHECKING:
    from tenants.schema import SiteType

HazardReportStatus = strawberry.enum(
    ReportStatus,
    name="HazardReportStatus",
    description="Where a public hazard report is: RECEIVED, ACCEPTED (受理), REJECTED, "
    "INVESTIGATING, CLOSED (办结) or MERGED into another.",
)
ReportRejectReason = strawberry.enum(
    RejectReason,
    name="ReportRejectReason",
    description="Why a report is not accepted: DUPLICATE, OUT_OF_SCOPE or "
    "INSUFFICIENT_INFORMATION (published to the reporter).",
)


@strawberry.type(name="GeoPoint", description="A WGS 84 position.")
class GeoPointType:
    lat: float
    lon: float


def _generalised(value: float, field: str) -> float:
    policy = catalog().graphql_field("GeoPoint", field)
    assert policy is not None
    return float(apply(policy, Treatment.GENERALIZE, value))


def _location(row: HazardReport, full: bool) -> GeoPointType | None:
    if row.latitude is None or row.longitude is None:
        return None
    if full:
        return GeoPointType(lat=row.latitude, lon=row.longitude)
    return GeoPointType(
        lat=_generalised(row.latitude, "lat"), lon=_generalised(row.longitude, "lon")
    )


@strawberry.type(name="ReportAssignee", description="A regulator a report may be assigned to.")
class ReportAssigneeType:
    user_id: strawberry.ID
    email: str


@strawberry.type(
    name="ReportContact",
    description="The reporter's contact: for the handling division's directors and the "
    "assigned inspector only; every read is audited.",
)
class ReportContactType:
    name: str
    mobile: str


@strawberry.type(
    name="HazardReportEvent",
    description="An entry of a report's timeline: public ones are what the reporter reads "
    "when tracking it; internal ones only regulators read.",
)
class HazardReportEventType:
    at: datetime
    status: ReportStatus
    note: str | None
    internal: bool
    actor_ref: strawberry.Private[uuid.UUID | None]

    @strawberry.field(
        description="The regulator who made the entry; null for the reporter and the system."
    )
    async def actor_email(self, info: Info) -> str | None:
        if self.actor_ref is None:
            return None
        user = await info.context.rows_by_id(User).load(self.actor_ref)
        return None if user is None else user.email


@strawberry.type(name="HazardReport", description="安全生产隐患举报: a report from the public.")
class HazardReportType:
    id: strawberry.ID
    category: str = strawberry.field(description="A code of GET /api/v1/reports/categories.")
    description: str = strawberry.field(
        description="In full for the handling division's directors and the assigned "
        "inspector; personal data masked for everyone else."
    )
    division_code: str = strawberry.field(description="Where the hazard is (GB/T 2260).")
    handling_division_code: str = strawberry.field(
        description="The division handling it: the most specific one covering it with "
        "directors or inspectors (its parent's, once not accepted in time)."
    )
    status: ReportStatus
    location: GeoPointType | None = strawberry.field(
        description="Exact for those who read the report in full; a 0.1° cell for others."
    )
    address: str | None = strawberry.field(description="Masked as the description is.")
    subject: str | None = strawberry.field(description="The enterprise or site named.")
    observed_at: datetime | None
    received_at: datetime
    accept_due_at: datetime = strawberry.field(description="To be accepted or refused by then.")
    accepted_at: datetime | None
    close_due_at: datetime | None = strawberry.field(
        description="60 days after acceptance (30 more with approval)."
    )
    close_extended: bool = strawberry.field(description="Whether the 30 days were granted.")
    closed_at: datetime | None
    feedback_due_at: datetime | None = strawberry.field(
        description="10 days after completion: the reporter is told by then."
    )
    feedback_at: datetime | None = strawberry.field(description="When the reporter was told.")
    overdue: bool = strawberry.field(
        description="Acceptance, closing or feedback is due and not done."
    )
    anonymous: bool = strawberry.field(description="Whether the reporter left no contact.")
    contact_given: bool = strawberry.field(description="Whether the reporter left a contact.")
    contact_readable: bool = strawberry.field(
        description="Whether the caller may read the contact (hazardReportContact)."
    )
    outcome: str | None = strawberry.field(description="The result recorded at closing.")
    public_summary: str | None = strawberry.field(
        description="The summary drafted for the public (no personal data)."
    )
    summary_published_at: datetime | None = strawberry.field(
        description="When the director published the summary; null while it is a draft."
    )
    reject_reason: RejectReason | None
    reward_eligible: bool | None = strawberry.field(
        description="举报奖励: whether the (real-name) report qualifies; null until decided."
    )
    linked_inspection_id: strawberry.ID | None
    linked_notice_id: strawberry.ID | None
    merged_into_id: strawberry.ID | None
    assigned_ref: strawberry.Private[uuid.UUID | None]
    subject_site_ref: strawberry.Private[uuid.UUID | None]
    row: strawberry.Private[HazardReport]

    @classmethod
    def of(cls, row: HazardReport, *, full: bool, now: datetime) -> HazardReportType:
        def ref(value: uuid.UUID | None) -> strawberry.ID | None:
            return None if value is None else strawberry.ID(str(value))

        return cls(
            id=strawberry.ID(str(row.id)),
            category=row.category,
            description=row.description if full else mask_text(row.description),
            division_code=row.division_code,
            handling_division_code=row.handling_division_code,
            status=row.status,
            location=_location(row, full),
            address=row.address if full or row.address is None else mask_text(row.address),
            subject=row.subject,
            observed_at=row.observed_at,
            received_at=row.received_at,
            accept_due_at=row.accept_due_at,
            accepted_at=row.accepted_at,
            close_due_at=row.close_due_at,
            close_extended=row.close_extended,
            closed_at=row.closed_at,
            feedback_due_at=row.feedback_due_at,
            feedback_at=row.feedback_at,
            overdue=handling.is_overdue(row, now),
            anonymous=row.contact_mobile_enc is None,
            contact_given=row.contact_mobile_enc is not None,
            contact_readable=full and row.contact_mobile_enc is not None,
            outcome=row.outcome,
            public_summary=row.public_summary,
            summary_published_at=row.summary_published_at,
            reject_reason=row.reject_reason,
            reward_eligible=row.reward_eligible,
            linked_inspection_id=ref(row.linked_inspection_id),
            linked_notice_id=ref(row.linked_notice_id),
            merged_into_id=ref(row.merged_into_id),
            assigned_ref=row.assigned_to,
            subject_site_ref=row.subject_site_id,
            row=row,
        )

    @strawberry.field(
        description="Keys of the report's photos (sanitised on upload), for "
        "GET /api/v1/reports/photos/{key}.",
        metadata={"list_size": MAX_PHOTOS},
    )
    async def photos(self, info: Info) -> list[str]:
        ctx = info.context

        async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
            return await queue.photos_of_reports(session=ctx.session, report_ids=keys)

        loader = ctx.keyed_loader("hazard-report-photos", fetch, missing=[])
        return await loader.load(uuid.UUID(str(self.id)))

    @strawberry.field(
        description="Who the report is assigned to; null until the director assigns it."
    )
    async def assignee(self, info: Info) -> ReportAssigneeType | None:
        if self.assigned_ref is None:
            return None
        user = await info.context.rows_by_id(User).load(self.assigned_ref)
        if user is None:
            return None
        return ReportAssigneeType(user_id=strawberry.ID(str(user.id)), email=user.email)

    @strawberry.field(description="The registered site the regulator confirmed it is about.")
    async def subject_site(
        self, info: Info
    ) -> Annotated[SiteType, strawberry.lazy("tenants.schema")] | None:
        from tenants.schema import SiteType

        if self.subject_site_ref is None:
            return None
        site = await info.context.rows_by_id(Site).load(self.subject_site_ref)
        return None if site is None else SiteType.of(site)

    @strawberry.field(
        description="Public and internal entries, oldest first.", metadata={"list_size": 30}
    )
    async def timeline(self, info: Info) -> list[HazardReportEventType]:
        ctx = info.context

        async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[ReportEvent]]:
            return await queue.events_of_reports(session=ctx.session, report_ids=keys)

        loader = ctx.keyed_loader("hazard-report-events", fetch, missing=[])
        return [
            HazardReportEventType(
                at=e.at, status=e.status, note=e.note, internal=e.internal, actor_ref=e.actor_id
            )
            for e in await loader.load(self.row.id)
        ]

    @strawberry.field(
        description="Open reports the caller reads that may be the same hazard: same "
        "handling division, received within 14 days, within 2 km (or about the same site), "
        "similar text; the most similar first. Empty unless this one is open.",
        metadata={"list_size": 20},
    )
    async def duplicate_candidates(self, info: Info) -> list[HazardReportType]:
        ctx = info.context

        async def fetch(keys: list[HazardReport]) -> dict[HazardReport, list[HazardReport]]:
            return {
                report: await handling.duplicate_candidates(
                    session=ctx.session, principal=ctx.principal, report=report
                )
                for report in keys
            }

        loader = ctx.keyed_loader("hazard-report-duplicates", fetch, missing=[])
        return [_of(info, r) for r in (await loader.load(self.row))[:20]]


def _of(info: Info, row: HazardReport) -> HazardReportType:
    ctx = info.context
    return HazardReportType.of(
        row, full=handling.reads_in_full(ctx.authz, ctx.principal, row), now=ctx.rt.clock.now()
    )


@strawberry.type
class ReportsQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Public hazard reports inside the caller's jurisdiction, latest received "
        "first; inside one division, of one status, overdue or not, assigned to the caller or "
        "not; first at most 500, after the last report of the previous page. Callers without "
        "a jurisdiction get an empty list.",
    )
    async def hazard_reports(
        self,
        info: Info,
        division_code: str | None = None,
        status: ReportStatus | None = None,
        first: int = 50,
        after: strawberry.ID | None = None,
        overdue: bool | None = None,
        assigned_to_me: bool | None = None,
    ) -> list[HazardReportType]:
        ctx = info.context
        rows = await queue.list_reports(
            session=ctx.session,
            principal=ctx.principal,
            division_code=division_code,
            status=status,
            first=first,
            after=None if after is None else parse_id(after, "report"),
            overdue=overdue,
            assigned_to_me=assigned_to_me,
            now=ctx.rt.clock.now(),
        )
        return [_of(info, r) for r in rows]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="One report inside the caller's jurisdiction (NOT_FOUND otherwise).",
    )
    async def hazard_report(self, info: Info, id: strawberry.ID) -> HazardReportType:
        ctx = info.context
        row = await handling.get_report(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            report_id=parse_id(id, "hazard report"),
        )
        return _of(info, row)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The reporter's contact: for the handling division's directors and the "
        "inspector the report is assigned to (FORBIDDEN for every other reader); every read "
        "is written to the audit trail.",
    )
    async def hazard_report_contact(self, info: Info, id: strawberry.ID) -> ReportContactType:
        ctx = info.context
        async with ctx.write() as session:
            contact = await handling.read_contact(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                report_id=parse_id(id, "hazard report"),
            )
        return ReportContactType(name=contact.name, mobile=contact.mobile)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The inspectors and directors of the report's handling division.",
    )
    async def report_assignees(
        self, info: Info, report_id: strawberry.ID
    ) -> list[ReportAssigneeType]:
        ctx = info.context
        found = await handling.assignable(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            report_id=parse_id(report_id, "hazard report"),
        )
        return [ReportAssigneeType(user_id=strawberry.ID(str(u)), email=e) for u, e in found]


def _id(value: strawberry.ID | None, what: str) -> uuid.UUID | None:
    return None if value is None else parse_id(value, what)


@strawberry.type
class ReportsMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="受理 a RECEIVED report (director, inspector of the handling division): "
        "closing falls due 60 days later. The note is internal; subjectSiteId confirms the "
        "registered site it is about.",
    )
    async def accept_hazard_report(
        self,
        info: Info,
        id: strawberry.ID,
        note: str | None = None,
        subject_site_id: strawberry.ID | None = None,
    ) -> HazardReportType:
        ctx = info.context
        async with ctx.write() as session:
            row = await handling.accept_report(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                report_id=parse_id(id, "hazard report"),
                note=note,
                subject_site_id=_id(subject_site_id, "site"),
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="不予受理 a RECEIVED report; the reason and the note are published to the "
        "reporter.",
    )
    async def reject_hazard_report(
        self, info: Info, id: strawberry.ID, reason: RejectReason, note: str
    ) -> HazardReportType:
        ctx = info.context
        async with ctx.write() as session:
            row = await handling.reject_report(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                report_id=parse_id(id, "hazard report"),
                reason=reason,
                note=note,
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Assign an open report to an inspector or director of the handling "
        "division (director).",
    )
    async def assign_hazard_report(
        self, info: Info, id: strawberry.ID, assignee_user_id: strawberry.ID
    ) -> HazardReportType:
        ctx = info.context
        async with ctx.write() as session:
            row = await handling.assign_report(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                report_id=parse_id(id, "hazard report"),
                assignee_id=parse_id(assignee_user_id, "user"),
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="An internal note on the investigation of an ACCEPTED or INVESTIGATING "
        "report, with the inspection or notice it led to; the reporter reads 调查中.",
    )
    async def record_hazard_report_investigation(
        self,
        info: Info,
        id: strawberry.ID,
        note: str,
        inspection_id: strawberry.ID | None = None,
        notice_id: strawberry.ID | None = None,
    ) -> HazardReportType:
        ctx = info.context
        async with ctx.write() as session:
            row = await handling.record_investigation(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                report_id=parse_id(id, "hazard report"),
                note=note,
                inspection_id=_id(inspection_id, "inspection"),
                notice_id=_id(notice_id, "rectification notice"),
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="办结 an ACCEPTED or INVESTIGATING report with its outcome (internal) and "
        "whether it qualifies for a reward; feedback falls due 10 days later.",
    )
    async def close_hazard_report(
        self,
        info: Info,
        id: strawberry.ID,
        outcome: str,
        reward_eligible: bool | None = None,
    ) -> HazardReportType:
        ctx = info.context
        async with ctx.write() as session:
            row = await handling.close_report(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                report_id=parse_id(id, "hazard report"),
                outcome=outcome,
                reward_eligible=reward_eligible,
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Tell the reporter of a CLOSED report the result (the note is published), "
        "once.",
    )
    async def record_hazard_report_feedback(
        self, info: Info, id: strawberry.ID, note: str
    ) -> HazardReportType:
        ctx = info.context
        async with ctx.write() as session:
            row = await handling.record_feedback(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                report_id=parse_id(id, "hazard report"),
                note=note,
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="30 more days to close an accepted report, once (director).",
    )
    async def extend_hazard_report_deadline(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> HazardReportType:
        ctx = info.context
        async with ctx.write() as session:
            row = await handling.extend_deadline(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                report_id=parse_id(id, "hazard report"),
                reason=reason,
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Draft the public summary (director, inspector); refused while it carries "
        "personal data. A new draft needs publishing again.",
    )
    async def draft_hazard_report_summary(
        self, info: Info, id: strawberry.ID, summary: str
    ) -> HazardReportType:
        ctx = info.context
        async with ctx.write() as session:
            row = await handling.draft_summary(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                report_id=parse_id(id, "hazard report"),
                summary=summary,
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Publish the drafted summary (director): the tracking page shows it once "
        "the report is closed, and Open311's public listing.",
    )
    async def publish_hazard_report_summary(
        self, info: Info, id: strawberry.ID
    ) -> HazardReportType:
        ctx = info.context
        async with ctx.write() as session:
            row = await handling.publish_summary(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                report_id=parse_id(id, "hazard report"),
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Merge an open report into another open report of the same handling "
        "division (a duplicate): it becomes MERGED and its reporter reads so.",
    )
    async def merge_hazard_report(
        self, info: Info, id: strawberry.ID, into_id: strawberry.ID
    ) -> HazardReportType:
        ctx = info.context
        async with ctx.write() as session:
            row = await handling.merge_report(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                report_id=parse_id(id, "hazard report"),
                into_id=parse_id(into_id, "hazard report"),
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Confirm the registered site (of the division the report names) that the "
        "report is about; without siteId the confirmation is withdrawn.",
    )
    async def confirm_hazard_report_subject(
        self, info: Info, id: strawberry.ID, site_id: strawberry.ID | None = None
    ) -> HazardReportType:
        ctx = info.context
        async with ctx.write() as session:
            row = await handling.confirm_subject(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                report_id=parse_id(id, "hazard report"),
                site_id=_id(site_id, "site"),
                clock=ctx.rt.clock,
            )
        return _of(info, row)

"""GraphQL: public hazard reports as the regulators of their jurisdiction read them — never
the reporter's contact (whether there is one is all a list says). The privacy pipeline masks
the free text for every reader here by the catalog; the handling work decides who reads more."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.ids import parse_id
from backend.reports import queue
from backend.reports.models import MAX_PHOTOS, HazardReport, ReportStatus

HazardReportStatus = strawberry.enum(
    ReportStatus,
    name="HazardReportStatus",
    description="Where a public hazard report is: RECEIVED, ACCEPTED (受理), REJECTED, "
    "INVESTIGATING, CLOSED (办结) or MERGED into another.",
)


@strawberry.type(name="GeoPoint", description="A WGS 84 position.")
class GeoPointType:
    lat: float
    lon: float


@strawberry.type(name="HazardReport", description="安全生产隐患举报: a report from the public.")
class HazardReportType:
    id: strawberry.ID
    category: str = strawberry.field(description="A code of GET /api/v1/reports/categories.")
    description: str
    division_code: str = strawberry.field(description="Where the hazard is (GB/T 2260).")
    handling_division_code: str = strawberry.field(
        description="The division handling it: the most specific one covering it with "
        "directors or inspectors."
    )
    status: ReportStatus
    location: GeoPointType | None
    address: str | None
    subject: str | None = strawberry.field(description="The enterprise or site named.")
    observed_at: datetime | None
    received_at: datetime
    accept_due_at: datetime = strawberry.field(description="To be accepted or refused by then.")
    accepted_at: datetime | None
    close_due_at: datetime | None = strawberry.field(
        description="60 days after acceptance (30 more with approval)."
    )
    closed_at: datetime | None
    feedback_due_at: datetime | None = strawberry.field(
        description="10 days after completion: the reporter is told by then."
    )
    anonymous: bool = strawberry.field(description="Whether the reporter left no contact.")

    @classmethod
    def of(cls, row: HazardReport) -> HazardReportType:
        located = row.latitude is not None and row.longitude is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            category=row.category,
            description=row.description,
            division_code=row.division_code,
            handling_division_code=row.handling_division_code,
            status=row.status,
            location=GeoPointType(lat=row.latitude, lon=row.longitude) if located else None,  # type: ignore[arg-type]
            address=row.address,
            subject=row.subject,
            observed_at=row.observed_at,
            received_at=row.received_at,
            accept_due_at=row.accept_due_at,
            accepted_at=row.accepted_at,
            close_due_at=row.close_due_at,
            closed_at=row.closed_at,
            feedback_due_at=row.feedback_due_at,
            anonymous=row.contact_mobile_enc is None,
        )

    @strawberry.field(
        description="Keys of the report's photos (sanitised on upload).",
        metadata={"list_size": MAX_PHOTOS},
    )
    async def photos(self, info: Info) -> list[str]:
        ctx = info.context

        async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
            return await queue.photos_of_reports(session=ctx.session, report_ids=keys)

        loader = ctx.keyed_loader("hazard-report-photos", fetch, missing=[])
        return await loader.load(uuid.UUID(str(self.id)))


@strawberry.type
class ReportsQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Public hazard reports inside the caller's jurisdiction, latest received "
        "first; inside one division, of one status; first at most 500, after the last report "
        "of the previous page. Callers without a jurisdiction get an empty list.",
    )
    async def hazard_reports(
        self,
        info: Info,
        division_code: str | None = None,
        status: ReportStatus | None = None,
        first: int = 50,
        after: strawberry.ID | None = None,
    ) -> list[HazardReportType]:
        ctx = info.context
        rows = await queue.list_reports(
            session=ctx.session,
            principal=ctx.principal,
            division_code=division_code,
            status=status,
            first=first,
            after=None if after is None else parse_id(after, "report"),
        )
        return [HazardReportType.of(r) for r in rows]

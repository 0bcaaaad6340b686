"""GraphQL: inspections (检查记录) — recorded by regulators, read by the enterprise and the
regulators of the site, and the rectification notice issued from one."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from backend.alarms.schema import AlarmActorType, actor_of
from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.db import retry_lost_race
from backend.core.ids import parse_id
from backend.oversight.inspections import service
from backend.oversight.inspections.models import Inspection, InspectionFinding
from backend.oversight.notices import service as notices_service
from backend.oversight.notices.models import RectificationNotice
from backend.oversight.notices.schema import NoticeItemInput, NoticeType
from tenants.models import Site

if TYPE_CHECKING:
    from tenants.schema import SiteType


@strawberry.type(name="InspectionFinding", description="A finding and its legal basis.")
class InspectionFindingType:
    finding: str
    basis: str | None = strawberry.field(description="The legal basis of the finding.")

    @classmethod
    def of(cls, row: InspectionFinding) -> InspectionFindingType:
        return cls(finding=row.finding, basis=row.basis)


async def _findings(info: Info, inspection_id: uuid.UUID) -> list[InspectionFinding]:
    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[InspectionFinding]]:
        return await service.findings_of_inspections(
            session=info.context.session, inspection_ids=keys
        )

    return await info.context.keyed_loader("inspection-findings", fetch, missing=[]).load(
        inspection_id
    )


@strawberry.type(name="Inspection", description="检查记录: an inspection of a site by regulators.")
class InspectionType:
    id: strawberry.ID
    inspected_on: date = strawberry.field(description="The day of the inspection (China time).")
    division_code: str = strawberry.field(
        description="The inspecting division: the most specific of the recorder's divisions "
        "covering the site; a notice issued from the inspection is numbered in its sequence."
    )
    summary: str | None
    created_at: datetime = strawberry.field(description="When the inspection was recorded.")
    site_id: strawberry.Private[uuid.UUID]
    inspector_refs: strawberry.Private[list[uuid.UUID]]
    created_by_ref: strawberry.Private[uuid.UUID | None]
    notice_ref: strawberry.Private[uuid.UUID | None]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: Inspection) -> InspectionType:
        return cls(
            id=strawberry.ID(str(row.id)),
            inspected_on=row.inspected_on,
            division_code=row.division,
            summary=row.summary,
            created_at=row.created_at,
            site_id=row.site_id,
            inspector_refs=[uuid.UUID(user) for user in row.inspectors or []],
            created_by_ref=row.created_by,
            notice_ref=row.notice_id,
            tenant_id=row.tenant_id,
        )

    @strawberry.field(
        description="The regulators who inspected, as named when it was recorded.",
        metadata={"list_size": service.MAX_INSPECTORS},
    )
    async def inspectors(self, info: Info) -> list[AlarmActorType]:
        return [await actor_of(info, user, self.tenant_id) for user in self.inspector_refs]

    @strawberry.field(description="Who recorded the inspection.")
    async def created_by(self, info: Info) -> AlarmActorType:
        return await actor_of(info, self.created_by_ref, self.tenant_id)

    @strawberry.field(description="In the order they were recorded.")
    async def findings(self, info: Info) -> list[InspectionFindingType]:
        return [InspectionFindingType.of(f) for f in await _findings(info, uuid.UUID(self.id))]

    @strawberry.field
    async def site(self, info: Info) -> Annotated[SiteType, strawberry.lazy("tenants.schema")]:
        from tenants.schema import SiteType

        site = await info.context.rows_by_id(Site).load(self.site_id)
        assert site is not None  # the inspection was read through the same scope
        return SiteType.of(site)

    @strawberry.field(
        description="The rectification notice issued from the inspection; null until one is."
    )
    async def notice(self, info: Info) -> NoticeType | None:
        if self.notice_ref is None:
            return None
        notice = await info.context.rows_by_id(RectificationNotice).load(self.notice_ref)
        return None if notice is None else NoticeType.of(notice, info.context.rt.clock.now())


@strawberry.type
class InspectionsQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The inspections the caller reads (the enterprise its own sites', a "
        "regulator its jurisdiction's), latest inspected first; of one site, of the sites "
        "inside a division, inspected between two days (both included); first at most 500, "
        "after the last inspection of the previous page.",
    )
    async def inspections(
        self,
        info: Info,
        site_id: strawberry.ID | None = None,
        division_code: str | None = None,
        inspected_from: date | None = None,
        inspected_to: date | None = None,
        first: int = 50,
        after: strawberry.ID | None = None,
    ) -> list[InspectionType]:
        ctx = info.context
        rows = await service.list_inspections(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            site_id=None if site_id is None else parse_id(site_id, "site"),
            division_code=division_code,
            inspected_from=inspected_from,
            inspected_to=inspected_to,
            first=first,
            after=None if after is None else parse_id(after, "inspection"),
        )
        return [InspectionType.of(r) for r in rows]

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def inspection(self, info: Info, id: strawberry.ID) -> InspectionType:
        ctx = info.context
        row = await service.get_inspection(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            inspection_id=parse_id(id, "inspection"),
        )
        return InspectionType.of(row)


@strawberry.type
class InspectionsMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Record an inspection of a site of the caller's jurisdiction (director, "
        "inspector): the day (not after today), the findings (may be none), a summary, and the "
        "inspectors (directors or inspectors over the site; the caller when left out).",
    )
    async def create_inspection(
        self,
        info: Info,
        site_id: strawberry.ID,
        inspected_on: date,
        findings: list[NoticeItemInput],
        summary: str | None = None,
        inspector_ids: list[strawberry.ID] | None = None,
    ) -> InspectionType:
        ctx = info.context
        async with ctx.write() as session:
            row = await service.create_inspection(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                site_id=parse_id(site_id, "site"),
                inspected_on=inspected_on,
                findings=[
                    notices_service.ItemEntry(finding=f.finding, basis=f.basis) for f in findings
                ],
                summary=summary,
                inspector_ids=None
                if inspector_ids is None
                else [parse_id(i, "user") for i in inspector_ids],
                clock=ctx.rt.clock,
            )
        return InspectionType.of(row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Issue a rectification notice from an inspection (director, inspector): "
        "its items are the inspection's findings, its deadline in the future; once per "
        "inspection, which then links it.",
    )
    async def issue_notice_from_inspection(
        self, info: Info, id: strawberry.ID, deadline: datetime
    ) -> NoticeType:
        ctx = info.context

        async def issue() -> RectificationNotice:
            async with ctx.write() as session:
                return await service.issue_notice_from_inspection(
                    session=session,
                    authz=ctx.authz,
                    principal=ctx.principal,
                    inspection_id=parse_id(id, "inspection"),
                    deadline=deadline,
                    clock=ctx.rt.clock,
                )

        # On SQLite a writer that lost the lock tries again (and then finds the link made).
        return NoticeType.of(await retry_lost_race(issue), ctx.rt.clock.now())

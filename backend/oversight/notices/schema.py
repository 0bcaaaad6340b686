"""GraphQL: rectification notices (整改通知) — issued by regulators, received and answered by
the enterprise, verified or returned by the regulators."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from backend.alarms.schema import AlarmActorType, actor_of
from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.db import retry_lost_race
from backend.core.ids import parse_id
from backend.oversight.notices import service
from backend.oversight.notices.models import (
    NoticeEvent,
    NoticeItem,
    NoticeResponse,
    NoticeStatus,
    RectificationNotice,
)
from tenants.models import Site

if TYPE_CHECKING:
    from tenants.schema import SiteType


@strawberry.enum(name="NoticeStatus")
class NoticeStatusEnum(enum.Enum):
    ISSUED = "ISSUED"
    RESPONDED = "RESPONDED"
    VERIFIED = "VERIFIED"
    RETURNED = "RETURNED"


@strawberry.enum(name="NoticeEventKind")
class NoticeEventKindEnum(enum.Enum):
    ISSUED = "ISSUED"
    RECEIVED = "RECEIVED"
    RESPONDED = "RESPONDED"
    VERIFIED = "VERIFIED"
    RETURNED = "RETURNED"


@strawberry.input(
    name="NoticeItemInput",
    description="A finding, its legal basis and the regulator's photos of it (uploaded through "
    "POST /api/v1/photos?site=<the notice's site>).",
)
class NoticeItemInput:
    finding: str
    basis: str | None = None
    photos: list[str] | None = None


@strawberry.input(
    name="NoticeResponseInput",
    description="The answer to one item: what was done, and photos uploaded through "
    "POST /api/v1/photos for the enterprise.",
)
class NoticeResponseInput:
    item_id: strawberry.ID
    text: str
    photos: list[str] | None = None


@strawberry.type(name="NoticeResponse", description="The latest answer to an item.")
class NoticeResponseType:
    text: str
    photos: list[str] = strawberry.field(description="Keys for GET /api/v1/photos/{key}.")
    responded_at: datetime
    responded_by_ref: strawberry.Private[uuid.UUID | None]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: NoticeResponse) -> NoticeResponseType:
        return cls(
            text=row.text,
            photos=list(row.photos or []),
            responded_at=row.responded_at,
            responded_by_ref=row.responded_by,
            tenant_id=row.tenant_id,
        )

    @strawberry.field
    async def responded_by(self, info: Info) -> AlarmActorType:
        return await actor_of(info, self.responded_by_ref, self.tenant_id)


async def _responses(info: Info, item_id: uuid.UUID) -> NoticeResponse | None:
    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, NoticeResponse]:
        return await service.latest_responses(session=info.context.session, item_ids=keys)

    return await info.context.keyed_loader("notice-responses", fetch, missing=None).load(item_id)


@strawberry.type(name="NoticeItem", description="A finding of a notice and its answer.")
class NoticeItemType:
    id: strawberry.ID
    finding: str
    basis: str | None = strawberry.field(description="The legal basis of the finding.")
    photos: list[str] = strawberry.field(
        description="The regulator's photos of the finding: keys for GET /api/v1/photos/{key}."
    )
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: NoticeItem) -> NoticeItemType:
        return cls(
            id=strawberry.ID(str(row.id)),
            finding=row.finding,
            basis=row.basis,
            photos=list(row.photos or []),
            tenant_id=row.tenant_id,
        )

    @strawberry.field(description="The latest answer; null until the enterprise answers.")
    async def response(self, info: Info) -> NoticeResponseType | None:
        row = await _responses(info, uuid.UUID(self.id))
        return None if row is None else NoticeResponseType.of(row)


@strawberry.type(name="NoticeEvent", description="One step of a notice's timeline.")
class NoticeEventType:
    kind: NoticeEventKindEnum
    at: datetime
    comment: str | None = strawberry.field(description="The regulator's comment, if any.")
    actor_ref: strawberry.Private[uuid.UUID | None]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: NoticeEvent) -> NoticeEventType:
        return cls(
            kind=NoticeEventKindEnum(row.kind.value),
            at=row.at,
            comment=row.comment,
            actor_ref=row.actor,
            tenant_id=row.tenant_id,
        )

    @strawberry.field
    async def actor(self, info: Info) -> AlarmActorType:
        return await actor_of(info, self.actor_ref, self.tenant_id)


async def _items(info: Info, notice_id: uuid.UUID) -> list[NoticeItem]:
    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[NoticeItem]]:
        return await service.items_of_notices(session=info.context.session, notice_ids=keys)

    return await info.context.keyed_loader("notice-items", fetch, missing=[]).load(notice_id)


async def _events(info: Info, notice_id: uuid.UUID) -> list[NoticeEvent]:
    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[NoticeEvent]]:
        return await service.events_of_notices(session=info.context.session, notice_ids=keys)

    return await info.context.keyed_loader("notice-events", fetch, missing=[]).load(notice_id)


@strawberry.type(name="Notice", description="A rectification notice (整改通知书).")
class NoticeType:
    id: strawberry.ID
    number: str = strawberry.field(
        description="The 文号 printed on the notice, e.g. 南京市应急整改〔2026〕3号."
    )
    serial: str = strawberry.field(
        description="The number as data: <issuing division code>-<year>-<sequence>, sequential "
        "per issuing division and year (China Standard Time)."
    )
    division_code: str = strawberry.field(description="The issuing division.")
    year: int
    sequence: int
    status: NoticeStatusEnum
    overdue: bool = strawberry.field(
        description="The deadline passed while the notice waits for the enterprise (issued or "
        "returned, not answered)."
    )
    deadline: datetime
    issued_at: datetime
    received_at: datetime | None = strawberry.field(
        description="送达: when the enterprise acknowledged receipt."
    )
    return_comment: str | None = strawberry.field(
        description="Why the regulator last returned the notice."
    )
    site_id: strawberry.Private[uuid.UUID]
    issued_by_ref: strawberry.Private[uuid.UUID | None]
    received_by_ref: strawberry.Private[uuid.UUID | None]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: RectificationNotice, now: datetime) -> NoticeType:
        return cls(
            id=strawberry.ID(str(row.id)),
            number=service.document_number(row),
            serial=service.serial(row),
            division_code=row.issuing_division,
            year=row.year,
            sequence=row.sequence,
            status=NoticeStatusEnum(row.status.value),
            overdue=service.is_overdue(row, now),
            deadline=row.deadline,
            issued_at=row.issued_at,
            received_at=row.received_at,
            return_comment=row.return_comment,
            site_id=row.site_id,
            issued_by_ref=row.issued_by,
            received_by_ref=row.received_by,
            tenant_id=row.tenant_id,
        )

    @strawberry.field
    async def issued_by(self, info: Info) -> AlarmActorType:
        return await actor_of(info, self.issued_by_ref, self.tenant_id)

    @strawberry.field(description="Who acknowledged receipt; null until then.")
    async def received_by(self, info: Info) -> AlarmActorType | None:
        if self.received_at is None:
            return None
        return await actor_of(info, self.received_by_ref, self.tenant_id)

    @strawberry.field
    async def site(self, info: Info) -> Annotated[SiteType, strawberry.lazy("tenants.schema")]:
        from tenants.schema import SiteType

        site = await info.context.rows_by_id(Site).load(self.site_id)
        assert site is not None  # the notice was read through the same scope
        return SiteType.of(site)

    @strawberry.field(description="In the order they were issued.")
    async def items(self, info: Info) -> list[NoticeItemType]:
        return [NoticeItemType.of(i) for i in await _items(info, uuid.UUID(self.id))]

    @strawberry.field(description="Issued, received, answered, verified or returned: oldest first.")
    async def events(self, info: Info) -> list[NoticeEventType]:
        return [NoticeEventType.of(e) for e in await _events(info, uuid.UUID(self.id))]


def _of(info: Info, row: RectificationNotice) -> NoticeType:
    return NoticeType.of(row, info.context.rt.clock.now())


@strawberry.type
class NoticesQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The notices the caller reads (the enterprise its own, a regulator its "
        "jurisdiction's), newest first; by status, overdue now, site.",
    )
    async def rectification_notices(
        self,
        info: Info,
        status: NoticeStatusEnum | None = None,
        overdue: bool | None = None,
        site_id: strawberry.ID | None = None,
    ) -> list[NoticeType]:
        ctx = info.context
        rows = await service.list_notices(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            status=None if status is None else NoticeStatus(status.value),
            overdue=overdue,
            site_id=None if site_id is None else parse_id(site_id, "site"),
            clock=ctx.rt.clock,
        )
        return [_of(info, r) for r in rows]

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def rectification_notice(self, info: Info, id: strawberry.ID) -> NoticeType:
        ctx = info.context
        row = await service.get_notice(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            notice_id=parse_id(id, "rectification notice"),
        )
        return _of(info, row)


@strawberry.type
class NoticesMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Issue a rectification notice for a site of the caller's jurisdiction "
        "(director, inspector): at least one finding, a deadline in the future.",
    )
    async def issue_rectification_notice(
        self, info: Info, site_id: strawberry.ID, deadline: datetime, items: list[NoticeItemInput]
    ) -> NoticeType:
        ctx = info.context

        async def issue() -> RectificationNotice:
            async with ctx.write() as session:
                return await service.issue_notice(
                    session=session,
                    authz=ctx.authz,
                    principal=ctx.principal,
                    site_id=parse_id(site_id, "site"),
                    deadline=deadline,
                    items=[
                        service.ItemEntry(
                            finding=i.finding, basis=i.basis, photos=list(i.photos or [])
                        )
                        for i in items
                    ],
                    objects=ctx.rt.objects,
                    clock=ctx.rt.clock,
                )

        # Two issuers at once: on SQLite the later writer is refused the lock and tries again
        # (PostgreSQL's loser of a number takes the next one inside the service).
        return _of(info, await retry_lost_race(issue))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Attach more photos to a finding of a notice not yet answered (director, "
        "inspector): keys uploaded through POST /api/v1/photos?site=<the notice's site>.",
    )
    async def attach_finding_photos(
        self, info: Info, id: strawberry.ID, item_id: strawberry.ID, photos: list[str]
    ) -> NoticeType:
        ctx = info.context
        async with ctx.write() as session:
            row = await service.attach_finding_photos(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                objects=ctx.rt.objects,
                notice_id=parse_id(id, "rectification notice"),
                item_id=parse_id(item_id, "notice item"),
                photos=photos,
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="送达: acknowledge, as a member of the enterprise, that the notice was "
        "received (once; later calls change nothing).",
    )
    async def acknowledge_notice_receipt(self, info: Info, id: strawberry.ID) -> NoticeType:
        ctx = info.context
        async with ctx.write() as session:
            row = await service.acknowledge_receipt(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                notice_id=parse_id(id, "rectification notice"),
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Answer every item of an issued or returned notice (owner, safety manager).",
    )
    async def respond_to_notice(
        self, info: Info, id: strawberry.ID, responses: list[NoticeResponseInput]
    ) -> NoticeType:
        ctx = info.context
        async with ctx.write() as session:
            row = await service.respond_to_notice(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                objects=ctx.rt.objects,
                notice_id=parse_id(id, "rectification notice"),
                responses=[
                    service.ResponseEntry(
                        item_id=parse_id(r.item_id, "notice item"),
                        text=r.text,
                        photos=list(r.photos or []),
                    )
                    for r in responses
                ],
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Verify an answered notice (director, inspector): accepted closes it, "
        "otherwise it is returned to the enterprise with the comment (required).",
    )
    async def verify_notice(
        self, info: Info, id: strawberry.ID, accepted: bool, comment: str | None = None
    ) -> NoticeType:
        ctx = info.context
        async with ctx.write() as session:
            row = await service.verify_notice(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                notice_id=parse_id(id, "rectification notice"),
                accepted=accepted,
                comment=comment,
                clock=ctx.rt.clock,
            )
        return _of(info, row)

"""GraphQL: shift handovers (交接班) and what was open when they were signed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from backend.alarms.schema import AlarmActorType, SeverityEnum, actor_of
from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.ids import parse_id
from backend.response import service
from backend.response.models import Handover
from backend.response.schema._work_orders import WorkOrderStatusEnum
from tenants.models import Site

if TYPE_CHECKING:
    from tenants.schema import SiteType


def _at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@strawberry.type(name="HandoverAlarm", description="An alarm open at the handover.")
class HandoverAlarmType:
    id: strawberry.ID
    severity: SeverityEnum
    status: str
    raised_at: datetime | None
    sensor_code: str | None
    tenant_id: strawberry.Private[uuid.UUID]


@strawberry.type(name="HandoverPermit", description="A work permit open at the handover.")
class HandoverPermitType:
    id: strawberry.ID
    kind: str
    zone_id: strawberry.ID
    zone_name: str | None
    opened_at: datetime | None
    expires_at: datetime | None
    tenant_id: strawberry.Private[uuid.UUID]


@strawberry.type(name="HandoverWorkOrder", description="A work order unfinished at the handover.")
class HandoverWorkOrderType:
    id: strawberry.ID
    title: str
    status: WorkOrderStatusEnum
    due_at: datetime | None
    tenant_id: strawberry.Private[uuid.UUID]


@strawberry.type(name="Handover")
class HandoverType:
    id: strawberry.ID
    site_id: strawberry.ID
    note: str
    handed_over_by: strawberry.ID = strawberry.field(description="The outgoing shift's signer.")
    handed_over_at: datetime
    accepted_by: strawberry.ID | None = strawberry.field(
        description="The incoming shift's signer; null until accepted."
    )
    accepted_at: datetime | None
    accept_note: str | None
    open_alarm_count: int
    open_permit_count: int
    open_work_order_count: int
    open_alarms: list[HandoverAlarmType] = strawberry.field(
        description=f"Newest first, at most {service.SNAPSHOT_ITEMS} (the count is exact)."
    )
    open_permits: list[HandoverPermitType]
    open_work_orders: list[HandoverWorkOrderType]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, handover: Handover) -> HandoverType:
        snap: dict[str, Any] = handover.snapshot or {}
        tenant = handover.tenant_id

        def part(name: str) -> dict[str, Any]:
            return snap.get(name) or {"total": 0, "items": []}

        alarms, permits, orders = part("alarms"), part("permits"), part("work_orders")
        return cls(
            id=strawberry.ID(str(handover.id)),
            site_id=strawberry.ID(str(handover.site_id)),
            note=handover.note,
            handed_over_by=strawberry.ID(str(handover.handed_over_by)),
            handed_over_at=handover.handed_over_at,
            accepted_by=None
            if handover.accepted_by is None
            else strawberry.ID(str(handover.accepted_by)),
            accepted_at=handover.accepted_at,
            accept_note=handover.accept_note,
            open_alarm_count=alarms["total"],
            open_permit_count=permits["total"],
            open_work_order_count=orders["total"],
            open_alarms=[
                HandoverAlarmType(
                    id=strawberry.ID(a["id"]),
                    severity=SeverityEnum(a["severity"]),
                    status=a["status"],
                    raised_at=_at(a.get("raised_at")),
                    sensor_code=a.get("sensor_code"),
                    tenant_id=tenant,
                )
                for a in alarms["items"]
            ],
            open_permits=[
                HandoverPermitType(
                    id=strawberry.ID(p["id"]),
                    kind=p["kind"],
                    zone_id=strawberry.ID(p["zone_id"]),
                    zone_name=p.get("zone_name"),
                    opened_at=_at(p.get("opened_at")),
                    expires_at=_at(p.get("expires_at")),
                    tenant_id=tenant,
                )
                for p in permits["items"]
            ],
            open_work_orders=[
                HandoverWorkOrderType(
                    id=strawberry.ID(o["id"]),
                    title=o["title"],
                    status=WorkOrderStatusEnum(o["status"]),
                    due_at=_at(o.get("due_at")),
                    tenant_id=tenant,
                )
                for o in orders["items"]
            ],
            tenant_id=tenant,
        )

    @strawberry.field(description="The outgoing shift's signer, named as the caller may see.")
    async def handed_over_by_actor(self, info: Info) -> AlarmActorType:
        return await actor_of(info, self.handed_over_by, self.tenant_id)

    @strawberry.field(description="The incoming shift's signer; null until accepted.")
    async def accepted_by_actor(self, info: Info) -> AlarmActorType | None:
        if self.accepted_by is None:
            return None
        return await actor_of(info, self.accepted_by, self.tenant_id)

    @strawberry.field
    def accepted(self) -> bool:
        return self.accepted_at is not None

    @strawberry.field
    async def site(self, info: Info) -> Annotated[SiteType, strawberry.lazy("tenants.schema")]:
        from tenants.schema import SiteType

        site = await info.context.rows_by_id(Site).load(uuid.UUID(self.site_id))
        assert site is not None  # a handover in scope has its site in scope
        return SiteType.of(site)


@strawberry.type
class HandoversQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="A site's shift handovers, newest first; after: the last id of the "
        "previous page.",
    )
    async def handovers(
        self,
        info: Info,
        site_id: strawberry.ID,
        first: int = 20,
        after: strawberry.ID | None = None,
    ) -> list[HandoverType]:
        ctx = info.context
        rows = await service.list_handovers(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            site_id=parse_id(site_id, "site"),
            first=first,
            after=None if after is None else parse_id(after, "handover"),
        )
        return [HandoverType.of(h) for h in rows]


@strawberry.type
class HandoversMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="The outgoing shift hands the site over: the server records what is open.",
    )
    async def create_handover(self, info: Info, site_id: strawberry.ID, note: str) -> HandoverType:
        ctx = info.context
        async with ctx.write() as session:
            handover = await service.create_handover(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                site_id=parse_id(site_id, "site"),
                note=note,
                clock=ctx.rt.clock,
            )
        return HandoverType.of(handover)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="The incoming shift (another member) takes the handover over.",
    )
    async def accept_handover(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> HandoverType:
        ctx = info.context
        async with ctx.write() as session:
            handover = await service.accept_handover(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                handover_id=parse_id(id, "handover"),
                note=note,
                clock=ctx.rt.clock,
            )
        return HandoverType.of(handover)

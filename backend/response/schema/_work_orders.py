"""GraphQL: work orders (工单), their checklist, timeline and comments."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from backend.alarms.models import Alarm, AlarmIncident
from backend.alarms.schema import AlarmActorType, actor_of
from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.errors import BadInput
from backend.core.ids import parse_id
from backend.response import service
from backend.response.models import WorkOrder, WorkOrderEvent, WorkOrderStatus
from tenants.models import Site, Worker

if TYPE_CHECKING:
    from backend.alarms.schema import AlarmType
    from backend.alarms.schema._permits import AlarmIncidentType
    from tenants.schema import SiteType, WorkerType


@strawberry.enum(name="WorkOrderStatus")
class WorkOrderStatusEnum(enum.Enum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    VERIFIED = "VERIFIED"
    CANCELLED = "CANCELLED"


def _id(value: uuid.UUID | str | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


def _actor(value: str | None) -> strawberry.ID | None:
    # "system" is the command line; a person's actor is their user id.
    return None if value is None or value == "system" else strawberry.ID(value)


@strawberry.type(name="WorkOrderChecklistItem")
class ChecklistItemType:
    index: int
    text: str
    done: bool
    done_by: strawberry.ID | None
    done_at: datetime | None
    tenant_id: strawberry.Private[uuid.UUID]


@strawberry.type(name="WorkOrderEvent", description="One entry of a work order's timeline.")
class WorkOrderEventType:
    id: strawberry.ID
    kind: str = strawberry.field(description="CREATED UPDATED STATUS CHECKED COMMENTED")
    at: datetime
    actor: strawberry.ID | None = strawberry.field(description="The user; null: the system.")
    note: str | None
    from_status: WorkOrderStatusEnum | None
    to_status: WorkOrderStatusEnum | None
    item_index: int | None
    item_done: bool | None
    changed_fields: list[str]
    photos: list[str]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, event: WorkOrderEvent) -> WorkOrderEventType:
        detail: dict[str, Any] = event.detail or {}
        return cls(
            id=strawberry.ID(str(event.id)),
            kind=event.kind,
            at=event.at,
            actor=_actor(event.actor),
            note=event.note,
            from_status=WorkOrderStatusEnum(detail["from"]) if "from" in detail else None,
            to_status=WorkOrderStatusEnum(detail["to"]) if "to" in detail else None,
            item_index=detail.get("index"),
            item_done=detail.get("done"),
            changed_fields=[_camel(f) for f in detail.get("fields", [])],
            photos=list(event.photos or []),
            tenant_id=event.tenant_id,
        )

    @strawberry.field(description="Who acted, named as the caller may see; the system too.")
    async def acted_by(self, info: Info) -> AlarmActorType:
        return await actor_of(info, self.actor, self.tenant_id)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@strawberry.type(name="WorkOrderComment")
class WorkOrderCommentType:
    id: strawberry.ID
    author: strawberry.ID | None
    at: datetime
    text: str
    photos: list[str]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, event: WorkOrderEvent) -> WorkOrderCommentType:
        return cls(
            id=strawberry.ID(str(event.id)),
            author=_actor(event.actor),
            at=event.at,
            text=event.note or "",
            photos=list(event.photos or []),
            tenant_id=event.tenant_id,
        )

    @strawberry.field(description="Who wrote it, named as the caller may see.")
    async def written_by(self, info: Info) -> AlarmActorType:
        return await actor_of(info, self.author, self.tenant_id)


async def _timeline(info: Info, work_order_id: uuid.UUID) -> list[WorkOrderEvent]:
    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[WorkOrderEvent]]:
        return await service.timelines(session=info.context.session, work_order_ids=keys)

    loader = info.context.keyed_loader("work-order-timeline", fetch, missing=[])
    return await loader.load(work_order_id)


@strawberry.type(name="WorkOrder")
class WorkOrderType:
    id: strawberry.ID
    site_id: strawberry.ID
    alarm_id: strawberry.ID | None
    incident_id: strawberry.ID | None
    title: str
    description: str | None
    status: WorkOrderStatusEnum
    assignee_user_id: strawberry.ID | None = strawberry.field(
        description="The member of the tenant doing the job (or assigneeWorkerId)."
    )
    assignee_worker_id: strawberry.ID | None = strawberry.field(
        description="The worker doing the job (or assigneeUserId)."
    )
    due_at: datetime | None
    created_by: strawberry.ID | None
    created_at: datetime
    updated_at: datetime
    checklist: list[ChecklistItemType]
    tenant_id: strawberry.Private[uuid.UUID]
    row_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, order: WorkOrder) -> WorkOrderType:
        return cls(
            id=strawberry.ID(str(order.id)),
            site_id=strawberry.ID(str(order.site_id)),
            alarm_id=_id(order.alarm_id),
            incident_id=_id(order.incident_id),
            title=order.title,
            description=order.description,
            status=WorkOrderStatusEnum(order.status.value),
            assignee_user_id=_id(order.assignee_user_id),
            assignee_worker_id=_id(order.assignee_worker_id),
            due_at=order.due_at,
            created_by=_id(order.created_by),
            created_at=order.created_at,
            updated_at=order.updated_at,
            checklist=[
                ChecklistItemType(
                    index=i,
                    text=item["text"],
                    done=bool(item["done"]),
                    done_by=_actor(item.get("done_by")),
                    done_at=None
                    if item.get("done_at") is None
                    else datetime.fromisoformat(item["done_at"]),
                    tenant_id=order.tenant_id,
                )
                for i, item in enumerate(order.checklist or [])
            ],
            tenant_id=order.tenant_id,
            row_id=order.id,
        )

    @strawberry.field(description="Past its due time and not yet done.")
    def overdue(self, info: Info) -> bool:
        finished = self.status in (
            WorkOrderStatusEnum.DONE,
            WorkOrderStatusEnum.VERIFIED,
            WorkOrderStatusEnum.CANCELLED,
        )
        return (
            not finished and self.due_at is not None and self.due_at <= info.context.rt.clock.now()
        )

    @strawberry.field
    async def site(self, info: Info) -> Annotated[SiteType, strawberry.lazy("tenants.schema")]:
        from tenants.schema import SiteType

        site = await info.context.rows_by_id(Site).load(uuid.UUID(self.site_id))
        assert site is not None  # a work order in scope has its site in scope
        return SiteType.of(site)

    @strawberry.field(
        description="The member doing the job, named as the caller may see (or assigneeWorker)."
    )
    async def assignee_user(self, info: Info) -> AlarmActorType | None:
        if self.assignee_user_id is None:
            return None
        return await actor_of(info, str(self.assignee_user_id), self.tenant_id)

    @strawberry.field(description="The worker doing the job (or assigneeUser).")
    async def assignee_worker(
        self, info: Info
    ) -> Annotated[WorkerType, strawberry.lazy("tenants.schema")] | None:
        if self.assignee_worker_id is None:
            return None
        from tenants.schema import WorkerType

        worker = await info.context.rows_by_id(Worker).load(uuid.UUID(self.assignee_worker_id))
        return None if worker is None else WorkerType.of(worker)

    @strawberry.field(
        description="The alarm the order came from, with its review (verdict and cause) once "
        "it is closed."
    )
    async def alarm(
        self, info: Info
    ) -> Annotated[AlarmType, strawberry.lazy("backend.alarms.schema")] | None:
        if self.alarm_id is None:
            return None
        from backend.alarms.schema import AlarmType

        alarm = await info.context.rows_by_id(Alarm).load(uuid.UUID(self.alarm_id))
        return None if alarm is None else AlarmType.of(alarm)

    @strawberry.field
    async def incident(
        self, info: Info
    ) -> Annotated[AlarmIncidentType, strawberry.lazy("backend.alarms.schema._permits")] | None:
        if self.incident_id is None:
            return None
        from backend.alarms.schema._permits import AlarmIncidentType

        incident = await info.context.rows_by_id(AlarmIncident).load(uuid.UUID(self.incident_id))
        return None if incident is None else AlarmIncidentType.of(incident)

    @strawberry.field(description="Every change, oldest first: who, when, what, and the note.")
    async def timeline(self, info: Info) -> list[WorkOrderEventType]:
        return [WorkOrderEventType.of(e) for e in await _timeline(info, self.row_id)]

    @strawberry.field(description="The comments, oldest first.")
    async def comments(self, info: Info) -> list[WorkOrderCommentType]:
        events = await _timeline(info, self.row_id)
        return [WorkOrderCommentType.of(e) for e in events if e.kind == "COMMENTED"]


@strawberry.type
class WorkOrdersQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Work orders the caller may see, newest first; after: the last id of the "
        "previous page.",
    )
    async def work_orders(
        self,
        info: Info,
        site_id: strawberry.ID | None = None,
        status: WorkOrderStatusEnum | None = None,
        first: int = 50,
        after: strawberry.ID | None = None,
    ) -> list[WorkOrderType]:
        ctx = info.context
        rows = await service.list_work_orders(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            site_id=None if site_id is None else parse_id(site_id, "site"),
            status=None if status is None else WorkOrderStatus(status.value),
            first=first,
            after=None if after is None else parse_id(after, "work order"),
        )
        return [WorkOrderType.of(o) for o in rows]

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def work_order(self, info: Info, id: strawberry.ID) -> WorkOrderType:
        ctx = info.context
        order = await service.get_work_order(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            work_order_id=parse_id(id, "work order"),
        )
        return WorkOrderType.of(order)


def _assignee(
    user_id: strawberry.ID | None, worker_id: strawberry.ID | None
) -> service.Assignee | None:
    if user_id is None and worker_id is None:
        return None
    return service.Assignee(
        user_id=None if user_id is None else parse_id(user_id, "member"),
        worker_id=None if worker_id is None else parse_id(worker_id, "worker"),
    )


@strawberry.type
class WorkOrdersMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="A work order from an alarm (alarmId), an incident (incidentId) or for a "
        "site (siteId).",
    )
    async def create_work_order(
        self,
        info: Info,
        title: str,
        site_id: strawberry.ID | None = None,
        alarm_id: strawberry.ID | None = None,
        incident_id: strawberry.ID | None = None,
        description: str | None = None,
        assignee_user_id: strawberry.ID | None = None,
        assignee_worker_id: strawberry.ID | None = None,
        due_at: datetime | None = None,
        checklist: list[str] | None = None,
    ) -> WorkOrderType:
        ctx = info.context
        async with ctx.write() as session:
            order = await service.create_work_order(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                title=title,
                site_id=None if site_id is None else parse_id(site_id, "site"),
                alarm_id=None if alarm_id is None else parse_id(alarm_id, "alarm"),
                incident_id=None if incident_id is None else parse_id(incident_id, "incident"),
                description=description,
                assignee=_assignee(assignee_user_id, assignee_worker_id),
                due_at=due_at,
                checklist=checklist,
                clock=ctx.rt.clock,
            )
        return WorkOrderType.of(order)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Change what is given; an argument sent as null clears it (not the title).",
    )
    async def update_work_order(
        self,
        info: Info,
        id: strawberry.ID,
        title: str | None = strawberry.UNSET,
        description: str | None = strawberry.UNSET,
        assignee_user_id: strawberry.ID | None = strawberry.UNSET,
        assignee_worker_id: strawberry.ID | None = strawberry.UNSET,
        due_at: datetime | None = strawberry.UNSET,
    ) -> WorkOrderType:
        if title is None:
            raise BadInput("a work order keeps a title: send a new one or leave it out")
        assignee: service.Assignee | service.Keep | None = service.KEEP
        if assignee_user_id is not strawberry.UNSET or assignee_worker_id is not strawberry.UNSET:
            assignee = _assignee(
                None if assignee_user_id is strawberry.UNSET else assignee_user_id,
                None if assignee_worker_id is strawberry.UNSET else assignee_worker_id,
            )
        ctx = info.context
        async with ctx.write() as session:
            order = await service.update_work_order(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                work_order_id=parse_id(id, "work order"),
                title=service.KEEP if title is strawberry.UNSET else title,
                description=service.KEEP if description is strawberry.UNSET else description,
                assignee=assignee,
                due_at=service.KEEP if due_at is strawberry.UNSET else due_at,
                clock=ctx.rt.clock,
            )
        return WorkOrderType.of(order)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="OPEN → IN_PROGRESS → DONE → VERIFIED, or CANCELLED from OPEN or "
        "IN_PROGRESS (with a note). Only an owner or a safety manager verifies.",
    )
    async def set_work_order_status(
        self, info: Info, id: strawberry.ID, status: WorkOrderStatusEnum, note: str | None = None
    ) -> WorkOrderType:
        ctx = info.context
        async with ctx.write() as session:
            order = await service.set_work_order_status(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                work_order_id=parse_id(id, "work order"),
                status=WorkOrderStatus(status.value),
                note=note,
                clock=ctx.rt.clock,
            )
        return WorkOrderType.of(order)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Tick (or untick) checklist item index (from 0).",
    )
    async def check_work_order_item(
        self, info: Info, id: strawberry.ID, index: int, done: bool
    ) -> WorkOrderType:
        ctx = info.context
        async with ctx.write() as session:
            order = await service.check_work_order_item(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                work_order_id=parse_id(id, "work order"),
                index=index,
                done=done,
                clock=ctx.rt.clock,
            )
        return WorkOrderType.of(order)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="A comment, with the keys of photos uploaded through POST /api/v1/photos.",
    )
    async def comment_work_order(
        self, info: Info, id: strawberry.ID, text: str, photos: list[str] | None = None
    ) -> WorkOrderType:
        ctx = info.context
        async with ctx.write() as session:
            work_order_id = parse_id(id, "work order")
            await service.comment_work_order(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                work_order_id=work_order_id,
                text=text,
                photos=photos,
                clock=ctx.rt.clock,
            )
            order = await service.get_work_order(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                work_order_id=work_order_id,
            )
        return WorkOrderType.of(order)

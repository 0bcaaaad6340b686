"""GraphQL: alarm supervision (督办) — requested by regulators, reported on by the enterprise,
accepted or returned by the regulators."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from backend.alarms.models import Alarm
from backend.alarms.schema import AlarmActorType, actor_of
from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.db import retry_lost_race
from backend.core.ids import parse_id
from backend.oversight.supervision import service
from backend.oversight.supervision.models import (
    AlarmSupervision,
    SupervisionEvent,
    SupervisionStatus,
)
from tenants.models import Site
from tenants.service import site_domain

if TYPE_CHECKING:
    from backend.alarms.schema import AlarmType
    from tenants.schema import SiteType


@strawberry.enum(name="SupervisionStatus")
class SupervisionStatusEnum(enum.Enum):
    REQUESTED = "REQUESTED"
    REPORTED = "REPORTED"
    ACCEPTED = "ACCEPTED"
    RETURNED = "RETURNED"


@strawberry.enum(name="SupervisionEventKind")
class SupervisionEventKindEnum(enum.Enum):
    REQUESTED = "REQUESTED"
    REPORTED = "REPORTED"
    ACCEPTED = "ACCEPTED"
    RETURNED = "RETURNED"


@strawberry.type(name="SupervisionEvent", description="One step of a supervision's timeline.")
class SupervisionEventType:
    kind: SupervisionEventKindEnum
    at: datetime
    comment: str | None = strawberry.field(
        description="REPORTED: that round's report; RETURNED, ACCEPTED: the regulator's "
        "comment, if any."
    )
    actor_ref: strawberry.Private[uuid.UUID | None]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: SupervisionEvent) -> SupervisionEventType:
        return cls(
            kind=SupervisionEventKindEnum(row.kind.value),
            at=row.at,
            comment=row.comment,
            actor_ref=row.actor,
            tenant_id=row.tenant_id,
        )

    @strawberry.field
    async def actor(self, info: Info) -> AlarmActorType:
        return await actor_of(info, self.actor_ref, self.tenant_id)


async def _events(info: Info, supervision_id: uuid.UUID) -> list[SupervisionEvent]:
    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[SupervisionEvent]]:
        return await service.events_of_supervisions(
            session=info.context.session, supervision_ids=keys
        )

    return await info.context.keyed_loader("supervision-events", fetch, missing=[]).load(
        supervision_id
    )


@strawberry.type(
    name="AlarmSupervision",
    description="督办: a regulator's request for the enterprise's handling report on an alarm.",
)
class AlarmSupervisionType:
    id: strawberry.ID
    status: SupervisionStatusEnum
    overdue: bool = strawberry.field(
        description="The deadline passed while the supervision waits for the enterprise "
        "(requested or returned, not reported)."
    )
    deadline: datetime = strawberry.field(description="When the report is due.")
    request: str = strawberry.field(description="What the regulator asks to be reported.")
    requested_at: datetime
    report: str | None = strawberry.field(
        description="The enterprise's latest report; null until it reports."
    )
    reported_at: datetime | None
    photos: list[str] = strawberry.field(
        description="The latest report's photos: keys for GET /api/v1/photos/{key}."
    )
    return_comment: str | None = strawberry.field(
        description="Why the regulator last returned the report."
    )
    reviewed_at: datetime | None = strawberry.field(
        description="When a regulator last accepted or returned the report."
    )
    alarm_id: strawberry.Private[uuid.UUID]
    site_id: strawberry.Private[uuid.UUID]
    requested_by_ref: strawberry.Private[uuid.UUID | None]
    reported_by_ref: strawberry.Private[uuid.UUID | None]
    reviewed_by_ref: strawberry.Private[uuid.UUID | None]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: AlarmSupervision, now: datetime) -> AlarmSupervisionType:
        return cls(
            id=strawberry.ID(str(row.id)),
            status=SupervisionStatusEnum(row.status.value),
            overdue=service.is_overdue(row, now),
            deadline=row.deadline,
            request=row.request,
            requested_at=row.requested_at,
            report=row.report,
            reported_at=row.reported_at,
            photos=list(row.photos or []),
            return_comment=row.return_comment,
            reviewed_at=row.reviewed_at,
            alarm_id=row.alarm_id,
            site_id=row.site_id,
            requested_by_ref=row.requested_by,
            reported_by_ref=row.reported_by,
            reviewed_by_ref=row.reviewed_by,
            tenant_id=row.tenant_id,
        )

    @strawberry.field
    async def requested_by(self, info: Info) -> AlarmActorType:
        return await actor_of(info, self.requested_by_ref, self.tenant_id)

    @strawberry.field(description="Who sent the latest report; null until then.")
    async def reported_by(self, info: Info) -> AlarmActorType | None:
        if self.reported_at is None:
            return None
        return await actor_of(info, self.reported_by_ref, self.tenant_id)

    @strawberry.field(description="Who last accepted or returned the report; null until then.")
    async def reviewed_by(self, info: Info) -> AlarmActorType | None:
        if self.reviewed_at is None:
            return None
        return await actor_of(info, self.reviewed_by_ref, self.tenant_id)

    @strawberry.field(description="The alarm under supervision.")
    async def alarm(
        self, info: Info
    ) -> Annotated[AlarmType, strawberry.lazy("backend.alarms.schema")]:
        from backend.alarms.schema import AlarmType

        alarm = await info.context.rows_by_id(Alarm).load(self.alarm_id)
        assert alarm is not None  # the supervision was read through the same scope
        return AlarmType.of(alarm)

    @strawberry.field
    async def site(self, info: Info) -> Annotated[SiteType, strawberry.lazy("tenants.schema")]:
        from tenants.schema import SiteType

        site = await info.context.rows_by_id(Site).load(self.site_id)
        assert site is not None  # the supervision was read through the same scope
        return SiteType.of(site)

    @strawberry.field(description="Requested, reported, returned or accepted: oldest first.")
    async def events(self, info: Info) -> list[SupervisionEventType]:
        return [SupervisionEventType.of(e) for e in await _events(info, uuid.UUID(self.id))]


def _of(info: Info, row: AlarmSupervision) -> AlarmSupervisionType:
    return AlarmSupervisionType.of(row, info.context.rt.clock.now())


async def supervisions_of_alarm(info: Info, alarm_id: uuid.UUID) -> list[AlarmSupervisionType]:
    """The alarm → supervisions edge of the Alarm type, newest first: empty for a role that
    reads no supervisions there (one statement for the supervisions of every alarm of the
    response)."""
    ctx = info.context
    alarm = await ctx.rows_by_id(Alarm).load(alarm_id)
    if alarm is None:
        return []
    site = await ctx.rows_by_id(Site).load(alarm.site_id)
    if site is None or not ctx.authz.may(
        ctx.principal, site_domain(ctx.principal.scope, site), service.OBJECT, "read"
    ):
        return []

    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[AlarmSupervision]]:
        return await service.supervisions_of_alarms(session=ctx.session, alarm_ids=keys)

    rows = await ctx.keyed_loader("supervisions-of-alarm", fetch, missing=[]).load(alarm_id)
    return [_of(info, row) for row in rows]


@strawberry.type
class SupervisionQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The alarm supervisions the caller reads (the enterprise its own, a "
        "regulator its jurisdiction's), newest first; by status, overdue now, alarm, site.",
    )
    async def alarm_supervisions(
        self,
        info: Info,
        status: SupervisionStatusEnum | None = None,
        overdue: bool | None = None,
        alarm_id: strawberry.ID | None = None,
        site_id: strawberry.ID | None = None,
    ) -> list[AlarmSupervisionType]:
        ctx = info.context
        rows = await service.list_supervisions(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            status=None if status is None else SupervisionStatus(status.value),
            overdue=overdue,
            alarm_id=None if alarm_id is None else parse_id(alarm_id, "alarm"),
            site_id=None if site_id is None else parse_id(site_id, "site"),
            clock=ctx.rt.clock,
        )
        return [_of(info, r) for r in rows]

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def alarm_supervision(self, info: Info, id: strawberry.ID) -> AlarmSupervisionType:
        ctx = info.context
        row = await service.get_supervision(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            supervision_id=parse_id(id, "supervision"),
        )
        return _of(info, row)


@strawberry.type
class SupervisionMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="督办: put an alarm of the caller's jurisdiction under supervision "
        "(director, inspector), asking the enterprise for a handling report by a deadline in "
        "the future. An alarm has at most one open (not accepted) supervision.",
    )
    async def request_alarm_supervision(
        self, info: Info, alarm_id: strawberry.ID, deadline: datetime, request: str
    ) -> AlarmSupervisionType:
        ctx = info.context

        async def open_() -> AlarmSupervision:
            async with ctx.write() as session:
                return await service.request_supervision(
                    session=session,
                    authz=ctx.authz,
                    principal=ctx.principal,
                    alarm_id=parse_id(alarm_id, "alarm"),
                    deadline=deadline,
                    request=request,
                    clock=ctx.rt.clock,
                )

        # Two regulators at once: on SQLite the later writer is refused the lock and tries
        # again, then finds the first one's supervision open (PostgreSQL's unique index refuses
        # the loser inside the service).
        return _of(info, await retry_lost_race(open_))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Report on a requested or returned supervision (owner, safety manager): "
        "what happened and what was done, with photos uploaded through POST /api/v1/photos.",
    )
    async def report_alarm_supervision(
        self, info: Info, id: strawberry.ID, report: str, photos: list[str] | None = None
    ) -> AlarmSupervisionType:
        ctx = info.context
        async with ctx.write() as session:
            row = await service.report_supervision(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                objects=ctx.rt.objects,
                supervision_id=parse_id(id, "supervision"),
                report=report,
                photos=list(photos or []),
                clock=ctx.rt.clock,
            )
        return _of(info, row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Review a reported supervision (director, inspector): accepted closes it, "
        "otherwise it is returned to the enterprise with the comment (required).",
    )
    async def review_alarm_supervision(
        self, info: Info, id: strawberry.ID, accepted: bool, comment: str | None = None
    ) -> AlarmSupervisionType:
        ctx = info.context
        async with ctx.write() as session:
            row = await service.review_supervision(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                supervision_id=parse_id(id, "supervision"),
                accepted=accepted,
                comment=comment,
                clock=ctx.rt.clock,
            )
        return _of(info, row)

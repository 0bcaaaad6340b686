"""GraphQL: work permits (composite rules read them) and incidents (alarms grouped by zone)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import strawberry

from backend.alarms import permits, service
from backend.alarms.models import AlarmIncident, WorkPermit
from backend.alarms.rules import PermitKind
from backend.alarms.schema._alarms import AlarmType, SeverityEnum
from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.ids import parse_id


@strawberry.enum(name="PermitKind")
class PermitKindEnum(enum.Enum):
    HOT_WORK = "hot_work"
    CONFINED_SPACE = "confined_space"
    WORK_AT_HEIGHT = "work_at_height"
    LIFTING = "lifting"
    TEMPORARY_POWER = "temporary_power"


@strawberry.type(name="WorkPermit")
class WorkPermitType:
    id: strawberry.ID
    site_id: strawberry.ID
    zone_id: strawberry.ID
    kind: PermitKindEnum
    opened_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    note: str | None
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, permit: WorkPermit) -> WorkPermitType:
        return cls(
            id=strawberry.ID(str(permit.id)),
            site_id=strawberry.ID(str(permit.site_id)),
            zone_id=strawberry.ID(str(permit.zone_id)),
            kind=PermitKindEnum(permit.kind.value),
            opened_at=permit.opened_at,
            expires_at=permit.expires_at,
            closed_at=permit.closed_at,
            note=permit.note,
            tenant_id=permit.tenant_id,
        )


@strawberry.type(name="AlarmIncident")
class AlarmIncidentType:
    id: strawberry.ID
    site_id: strawberry.ID
    zone_id: strawberry.ID | None
    severity: SeverityEnum
    alarm_count: int
    opened_at: datetime
    last_alarm_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, incident: AlarmIncident) -> AlarmIncidentType:
        return cls(
            id=strawberry.ID(str(incident.id)),
            site_id=strawberry.ID(str(incident.site_id)),
            zone_id=None if incident.zone_id is None else strawberry.ID(str(incident.zone_id)),
            severity=SeverityEnum(incident.severity.value),
            alarm_count=incident.alarm_count,
            opened_at=incident.opened_at,
            last_alarm_at=incident.last_alarm_at,
            closed_at=incident.closed_at,
        )

    @strawberry.field(description="The incident's alarms, newest first.")
    async def alarms(self, info: Info) -> list[AlarmType]:
        rows = await service.list_alarms(
            session=info.context.session, status="ALL", incident_id=parse_id(self.id, "incident")
        )
        return [AlarmType.of(a) for a in rows]


@strawberry.type
class PermitsQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Work permits, newest first (open ones only unless openOnly is false).",
    )
    async def work_permits(
        self,
        info: Info,
        site_id: strawberry.ID | None = None,
        zone_id: strawberry.ID | None = None,
        open_only: bool = True,
        first: int = 100,
    ) -> list[WorkPermitType]:
        rows = await permits.list_permits(
            session=info.context.session,
            site_id=None if site_id is None else parse_id(site_id, "site"),
            zone_id=None if zone_id is None else parse_id(zone_id, "zone"),
            open_only=open_only,
            first=first,
            clock=info.context.rt.clock,
        )
        return [WorkPermitType.of(p) for p in rows]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Alarms of one zone raised together, newest first.",
    )
    async def alarm_incidents(
        self,
        info: Info,
        site_id: strawberry.ID | None = None,
        open_only: bool = True,
        first: int = 100,
    ) -> list[AlarmIncidentType]:
        rows = await service.list_incidents(
            session=info.context.session,
            site_id=None if site_id is None else parse_id(site_id, "site"),
            open_only=open_only,
            first=first,
        )
        return [AlarmIncidentType.of(i) for i in rows]


@strawberry.type
class PermitsMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def open_work_permit(
        self,
        info: Info,
        zone_id: strawberry.ID,
        kind: PermitKindEnum,
        expires_at: datetime,
        note: str | None = None,
    ) -> WorkPermitType:
        ctx = info.context
        async with ctx.write() as session:
            permit = await permits.open_permit(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                zone_id=parse_id(zone_id, "zone"),
                kind=PermitKind(kind.value),
                expires_at=expires_at,
                note=note,
                clock=ctx.rt.clock,
            )
        return WorkPermitType.of(permit)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def close_work_permit(self, info: Info, id: strawberry.ID) -> WorkPermitType:
        ctx = info.context
        async with ctx.write() as session:
            permit = await permits.close_permit(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                permit_id=parse_id(id, "permit"),
                clock=ctx.rt.clock,
            )
        return WorkPermitType.of(permit)

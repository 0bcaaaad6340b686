"""GraphQL: the alarm console (CONTRACT.md) — list, handle, and follow alarms live."""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from backend.alarms import service
from backend.alarms.models import Alarm, Verdict
from backend.auth import service as auth_service
from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.auth.principal import Principal
from backend.core.ids import parse_id
from backend.telemetry.models import Sensor
from tenants.divisions import covers
from tenants.models import Site

if TYPE_CHECKING:
    from backend.telemetry.schema import SensorType
    from tenants.schema import SiteType

# How stale an open subscription's idea of its caller may get: one store read per second at
# most, however busy the alarm stream, and a revoked session sees nothing after that second.
PRINCIPAL_RECHECK_SECONDS = 1.0


@strawberry.enum
class AlarmStatusFilter(enum.Enum):
    ACTIVE = "ACTIVE"
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    ALL = "ALL"


@strawberry.enum(name="Severity")
class SeverityEnum(enum.Enum):
    RED = "RED"
    ORANGE = "ORANGE"
    YELLOW = "YELLOW"
    BLUE = "BLUE"


@strawberry.enum(name="AlarmStatus")
class AlarmStatusEnum(enum.Enum):
    ACTIVE_UNACKNOWLEDGED = "ACTIVE_UNACKNOWLEDGED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    DISPATCHED = "DISPATCHED"
    CLEARED = "CLEARED"
    CLOSED = "CLOSED"


@strawberry.enum(name="Verdict")
class VerdictEnum(enum.Enum):
    TRUE_POSITIVE = "TRUE_POSITIVE"
    FALSE_POSITIVE = "FALSE_POSITIVE"


@strawberry.enum
class AlarmEventKind(enum.Enum):
    RAISED = "RAISED"
    SEVERITY_CHANGED = "SEVERITY_CHANGED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    DISPATCHED = "DISPATCHED"
    CLEARED = "CLEARED"
    CLOSED = "CLOSED"
    ESCALATED = "ESCALATED"


@strawberry.type(name="Alarm")
class AlarmType:
    id: strawberry.ID
    severity: SeverityEnum
    status: AlarmStatusEnum
    acknowledged: bool
    level: str | None
    value: float | None
    raised_at: datetime
    acknowledged_at: datetime | None
    dispatched_at: datetime | None
    assignee: str | None
    cleared_at: datetime | None
    closed_at: datetime | None
    verdict: VerdictEnum | None
    cause: str | None
    silenced: bool = strawberry.field(description="Raised inside a silence: paged nobody.")
    flapping: bool = strawberry.field(description="Raised too often: paged nobody.")
    escalation_step: int = strawberry.field(
        description="0: operators; 1: safety manager; 2: owner; 3: regulator."
    )
    incident_id: strawberry.ID | None
    sensor_id: strawberry.Private[uuid.UUID | None]
    site_id: strawberry.Private[uuid.UUID]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, alarm: Alarm) -> AlarmType:
        return cls(
            id=strawberry.ID(str(alarm.id)),
            severity=SeverityEnum(alarm.severity.value),
            status=AlarmStatusEnum(alarm.status.value),
            acknowledged=alarm.acknowledged,
            level=alarm.level,
            value=alarm.value,
            raised_at=alarm.raised_at,
            acknowledged_at=alarm.acknowledged_at,
            dispatched_at=alarm.dispatched_at,
            assignee=alarm.assignee,
            cleared_at=alarm.cleared_at,
            closed_at=alarm.closed_at,
            verdict=None if alarm.verdict is None else VerdictEnum(alarm.verdict.value),
            cause=alarm.cause,
            silenced=alarm.silence_id is not None,
            flapping=alarm.flapping,
            escalation_step=alarm.escalation_step,
            incident_id=None
            if alarm.incident_id is None
            else strawberry.ID(str(alarm.incident_id)),
            sensor_id=alarm.sensor_id,
            site_id=alarm.site_id,
            tenant_id=alarm.tenant_id,
        )

    @strawberry.field
    async def sensor(
        self, info: Info
    ) -> Annotated[SensorType, strawberry.lazy("backend.telemetry.schema")] | None:
        if self.sensor_id is None:
            return None
        from backend.telemetry.schema import SensorType

        sensor = await info.context.rows_by_id(Sensor).load(self.sensor_id)
        return None if sensor is None else SensorType.of(sensor)

    @strawberry.field
    async def site(self, info: Info) -> Annotated[SiteType, strawberry.lazy("tenants.schema")]:
        from tenants.schema import SiteType

        site = await info.context.rows_by_id(Site).load(self.site_id)
        assert site is not None  # an alarm in scope has its site in scope
        return SiteType.of(site)


@strawberry.type(name="AlarmEventAlarm")
class AlarmEventAlarm:
    id: strawberry.ID
    severity: SeverityEnum
    status: AlarmStatusEnum
    level: str | None
    value: float | None
    site_id: strawberry.ID
    sensor_id: strawberry.ID | None


@strawberry.type
class AlarmEvent:
    kind: AlarmEventKind
    alarm: AlarmEventAlarm


@strawberry.type
class SeverityCount:
    severity: SeverityEnum
    count: int


@strawberry.type
class AlarmStatsType:
    raised: int
    acknowledged: int
    cleared: int
    mtta_seconds: float | None = strawberry.field(description="Mean time to acknowledge.")
    mttr_seconds: float | None = strawberry.field(description="Mean time to clear (recover).")
    by_severity: list[SeverityCount]


@strawberry.type
class AlarmsQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated], description="Alarms the caller may see, newest first."
    )
    async def alarms(
        self,
        info: Info,
        status: AlarmStatusFilter = AlarmStatusFilter.ACTIVE,
        first: int = 100,
        after: strawberry.ID | None = None,
        severity: SeverityEnum | None = None,
        site_id: strawberry.ID | None = None,
        sensor_id: strawberry.ID | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> list[AlarmType]:
        rows = await service.list_alarms(
            session=info.context.session,
            status=status.value,
            severity=None if severity is None else severity.value,
            site_id=None if site_id is None else parse_id(site_id, "site"),
            sensor_id=None if sensor_id is None else parse_id(sensor_id, "sensor"),
            start=from_,
            end=to,
            first=first,
            after=None if after is None else parse_id(after, "alarm"),
        )
        return [AlarmType.of(a) for a in rows]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="MTTA and MTTR of the alarms raised in [from, to).",
    )
    async def alarm_stats(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        site_id: strawberry.ID | None = None,
    ) -> AlarmStatsType:
        stats = await service.alarm_stats(
            session=info.context.session,
            start=from_,
            end=to,
            site_id=None if site_id is None else parse_id(site_id, "site"),
        )
        return AlarmStatsType(
            raised=stats.raised,
            acknowledged=stats.acknowledged,
            cleared=stats.cleared,
            mtta_seconds=stats.mean_time_to_acknowledge_s,
            mttr_seconds=stats.mean_time_to_clear_s,
            by_severity=[
                SeverityCount(severity=SeverityEnum(k), count=v)
                for k, v in sorted(stats.by_severity.items())
            ],
        )


async def _after_change(info: Info, alarm: Alarm) -> AlarmType:
    """Committed: this server reads the outbox before answering, so its subscribers see the
    action at once and, after a manual clear, its engine has forgotten the alarm (a condition
    that persists raises anew). Every other process, and a change made by the CLI or a job,
    reaches the engines and subscribers the same way: through the outbox, not this request."""
    request = info.context.request
    pipeline = None if request is None else request.app.state.get("alarms")
    if pipeline is not None:
        await pipeline.committed()
    return AlarmType.of(alarm)


@strawberry.type
class AlarmsMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def acknowledge_alarm(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> AlarmType:
        ctx = info.context
        async with ctx.write() as session:
            alarm = await service.acknowledge_alarm(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                alarm_id=parse_id(id, "alarm"),
                note=note,
            )
        return await _after_change(info, alarm)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def dispatch_alarm(
        self, info: Info, id: strawberry.ID, assignee: str, note: str | None = None
    ) -> AlarmType:
        ctx = info.context
        async with ctx.write() as session:
            alarm = await service.dispatch_alarm(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                alarm_id=parse_id(id, "alarm"),
                assignee=assignee,
                note=note,
            )
        return await _after_change(info, alarm)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def clear_alarm(self, info: Info, id: strawberry.ID, reason: str) -> AlarmType:
        ctx = info.context
        async with ctx.write() as session:
            alarm = await service.clear_alarm(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                alarm_id=parse_id(id, "alarm"),
                reason=reason,
            )
        return await _after_change(info, alarm)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def close_alarm(
        self, info: Info, id: strawberry.ID, verdict: VerdictEnum, cause: str
    ) -> AlarmType:
        ctx = info.context
        async with ctx.write() as session:
            alarm = await service.close_alarm(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                alarm_id=parse_id(id, "alarm"),
                verdict=Verdict(verdict.value),
                cause=cause,
            )
        return await _after_change(info, alarm)


def sees_event(principal: Principal, event: dict[str, Any]) -> bool:
    """The subscription's scope check: the caller's tenants, or a site in its jurisdiction."""
    alarm = event["alarm"]
    if uuid.UUID(alarm["tenant_id"]) in principal.scope.tenant_ids:
        return True
    division = alarm.get("division_code")
    return bool(division) and any(covers(j, division) for j in principal.scope.jurisdictions)


@strawberry.type
class AlarmsSubscription:
    @strawberry.subscription(permission_classes=[IsAuthenticated])
    async def alarm_events(self, info: Info) -> AsyncGenerator[AlarmEvent]:
        principal = info.context.principal
        rt = info.context.rt
        broadcaster = rt.alarm_broadcaster
        queue = broadcaster.subscribe()
        checked_at = time.monotonic()
        try:
            while True:
                event = await queue.get()
                if time.monotonic() - checked_at > PRINCIPAL_RECHECK_SECONDS:
                    # Sign-out, removal and disabling take effect on open subscriptions too:
                    # an ended session raises UNAUTHENTICATED and the subscription stops.
                    principal = await auth_service.unscoped_refresh_principal(
                        sessions=rt.sessions, authz=rt.authz, principal=principal
                    )
                    checked_at = time.monotonic()
                if not sees_event(principal, event):
                    continue
                alarm = event["alarm"]
                yield AlarmEvent(
                    kind=AlarmEventKind(event["kind"]),
                    alarm=AlarmEventAlarm(
                        id=strawberry.ID(alarm["id"]),
                        severity=SeverityEnum(alarm["severity"]),
                        status=AlarmStatusEnum(alarm["status"]),
                        level=alarm.get("level"),
                        value=alarm.get("value"),
                        site_id=strawberry.ID(alarm["site_id"]),
                        sensor_id=None
                        if alarm.get("sensor_id") is None
                        else strawberry.ID(alarm["sensor_id"]),
                    ),
                )
        finally:
            broadcaster.unsubscribe(queue)

"""GraphQL: the alarm console (CONTRACT.md) — list, handle, and follow alarms live."""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import select
from strawberry.dataloader import DataLoader

from backend.alarms import service
from backend.alarms.models import Alarm, AlarmIncident, AlarmRule, AlarmTransition, Verdict
from backend.alarms.overrides import list_revisions
from backend.alarms.service._handling import (
    Assignees,
    dispatch_alarm,
    list_assignees,
    transitions_of,
)
from backend.auth import service as auth_service
from backend.auth.context import Info
from backend.auth.models import User
from backend.auth.permissions import IsAuthenticated
from backend.auth.principal import Principal
from backend.core.ids import parse_id
from backend.telemetry import service as telemetry_service
from backend.telemetry.models import Device, Sensor
from backend.telemetry.snapshots import SNAPSHOT_PERMISSION, snapshot_url
from tenants.divisions import covers
from tenants.models import Site, Worker, Zone
from tenants.service import site_domain

if TYPE_CHECKING:
    from backend.alarms.schema._permits import AlarmIncidentType
    from backend.alarms.schema._rules import AlarmRuleType
    from backend.telemetry.schema import DeviceType, SensorType
    from tenants.schema import SiteType, WorkerType, ZoneType

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


@strawberry.enum(name="ActorKind")
class ActorKindEnum(enum.Enum):
    USER = "USER"
    SYSTEM = "SYSTEM"


@strawberry.type(
    name="AlarmActor",
    description="Who made a transition: a person, or the system (the rule engine, escalation, "
    "the command line). A person's name and address leave through the privacy pipeline.",
)
class AlarmActorType:
    kind: ActorKindEnum
    id: strawberry.ID | None = strawberry.field(description="The user's id (people only).")
    name: str | None = strawberry.field(description="The user's display name, if set.")
    email: str | None
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def system(cls, tenant_id: uuid.UUID) -> AlarmActorType:
        return cls(kind=ActorKindEnum.SYSTEM, id=None, name=None, email=None, tenant_id=tenant_id)


def _users_loader(info: Info) -> DataLoader[uuid.UUID, User | None]:
    ctx = info.context
    return ctx.keyed_loader(
        "users-by-id",
        lambda keys: auth_service.users_by_ids(session=ctx.session, user_ids=keys),
        missing=None,
    )


def _id(value: uuid.UUID | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


@strawberry.type(name="AlarmTransition", description="One step of an alarm's timeline.")
class AlarmTransitionType:
    kind: AlarmEventKind
    severity: SeverityEnum | None = strawberry.field(
        description="The alarm's severity after this step."
    )
    at: datetime
    note: str | None
    assignee_user_id: strawberry.ID | None = strawberry.field(
        description="DISPATCHED to a member picked from the assignees: the user's id."
    )
    assignee_worker_id: strawberry.ID | None = strawberry.field(
        description="DISPATCHED to a worker picked from the assignees: the worker's id (null "
        "once the worker is deleted)."
    )
    actor_ref: strawberry.Private[str | None]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: AlarmTransition) -> AlarmTransitionType:
        return cls(
            kind=AlarmEventKind(row.kind),
            severity=None if row.severity is None else SeverityEnum(row.severity.value),
            at=row.at,
            note=row.note,
            assignee_user_id=_id(row.assignee_user_id),
            assignee_worker_id=_id(row.assignee_worker_id),
            actor_ref=row.actor,
            tenant_id=row.tenant_id,
        )

    @strawberry.field
    async def actor(self, info: Info) -> AlarmActorType:
        # The transition records a user id, or "engine" for the rule engine and escalation,
        # or nothing for the command line: the last two are the system.
        return await actor_of(info, self.actor_ref, self.tenant_id)


async def actor_of(info: Info, ref: str | uuid.UUID | None, tenant_id: uuid.UUID) -> AlarmActorType:
    """The actor a record names: a user by id (name and address batch-loaded, to be masked by
    the privacy pipeline as the tenant's data), anything else (none, "engine", "system") the
    system. Shared by every timeline that records who acted."""
    try:
        user_id = ref if isinstance(ref, uuid.UUID) else uuid.UUID(ref) if ref else None
    except ValueError:
        user_id = None
    if user_id is None:
        return AlarmActorType.system(tenant_id)
    user = await _users_loader(info).load(user_id)
    return AlarmActorType(
        kind=ActorKindEnum.USER,
        id=strawberry.ID(str(user_id)),
        name=None if user is None else user.display_name,
        email=None if user is None else user.email,
        tenant_id=tenant_id,
    )


def _transitions_loader(info: Info) -> DataLoader[uuid.UUID, list[AlarmTransition]]:
    ctx = info.context
    return ctx.keyed_loader(
        "alarm-transitions",
        lambda keys: transitions_of(session=ctx.session, alarm_ids=keys),
        missing=[],
    )


def _rules_loader(info: Info) -> DataLoader[uuid.UUID, AlarmRuleType | None]:
    ctx = info.context

    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, AlarmRuleType]:
        from backend.alarms.schema._rules import AlarmRuleType

        # Straight from the session: a loader's fetch holds the request session's turn, so it
        # must not wait on another loader.
        found = list(await ctx.session.scalars(select(AlarmRule).where(AlarmRule.id.in_(keys))))
        revisions = await list_revisions(session=ctx.session, rule_ids=[r.id for r in found])
        return {r.id: AlarmRuleType.of(r, revisions) for r in found}

    return ctx.keyed_loader("alarm-rules", fetch, missing=None)


def _wearers_loader(info: Info) -> DataLoader[uuid.UUID, Worker | None]:
    ctx = info.context
    return ctx.keyed_loader(
        "alarm-wearers",
        lambda keys: telemetry_service.wearers(session=ctx.session, device_ids=keys),
        missing=None,
    )


# Transitions of one alarm the request cost model assumes (backend/api/limits.py): a raise,
# an upgrade or two, acknowledgements, a dispatch, three escalation steps, clear and close.
TRANSITIONS_LIST_SIZE = 12
# Supervisions of one alarm the cost model assumes: one open at a time, rarely a second after.
SUPERVISIONS_LIST_SIZE = 4


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
    peak_value: float | None = strawberry.field(
        description="The most extreme reading of the alarm (highest for a high alarm, lowest "
        "for a low one): while active, the value at the raise or the latest upgrade; from the "
        "clear, every reading in between."
    )
    sensor_id: strawberry.Private[uuid.UUID | None]
    site_id: strawberry.Private[uuid.UUID]
    tenant_id: strawberry.Private[uuid.UUID]
    rule_id: strawberry.Private[uuid.UUID]
    device_id: strawberry.Private[uuid.UUID | None]
    zone_id: strawberry.Private[uuid.UUID | None]
    incident_ref: strawberry.Private[uuid.UUID | None]
    snapshot_key: strawberry.Private[str | None] = None
    escalate_at: strawberry.Private[datetime | None] = None

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
            peak_value=alarm.peak_value,
            sensor_id=alarm.sensor_id,
            site_id=alarm.site_id,
            tenant_id=alarm.tenant_id,
            rule_id=alarm.rule_id,
            device_id=alarm.device_id,
            zone_id=alarm.zone_id,
            incident_ref=alarm.incident_id,
            snapshot_key=alarm.snapshot_key,
            escalate_at=alarm.escalate_at,
        )

    @strawberry.field(
        description="Active and acknowledged by nobody within its rule's deadline: it "
        "escalated, or its first escalation is due."
    )
    def overdue(self, info: Info) -> bool:
        return service.overdue(self, info.context.rt.clock.now())

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

    @strawberry.field(
        description="The alarm's timeline, oldest first: who did what, when, with the notes.",
        metadata={"list_size": TRANSITIONS_LIST_SIZE},
    )
    async def transitions(self, info: Info) -> list[AlarmTransitionType]:
        rows = await _transitions_loader(info).load(uuid.UUID(self.id))
        return [AlarmTransitionType.of(row) for row in rows]

    @strawberry.field(
        description="督办: the regulators' requests for a handling report on the alarm, newest "
        "first; empty for a role that reads none.",
        metadata={"list_size": SUPERVISIONS_LIST_SIZE},
    )
    async def supervisions(
        self, info: Info
    ) -> list[
        Annotated[
            AlarmSupervisionType,  # noqa: F821 - a higher domain's type, resolved lazily
            strawberry.lazy("backend.oversight.supervision.schema"),
        ]
    ]:
        return list(await info.context.alarm_supervisions(info, uuid.UUID(self.id)))

    @strawberry.field(description="The rule that raised it, with its levels (setpoints).")
    async def rule(
        self, info: Info
    ) -> Annotated[AlarmRuleType, strawberry.lazy("backend.alarms.schema._rules")] | None:
        return await _rules_loader(info).load(self.rule_id)

    @strawberry.field(description="The incident the alarm belongs to, if any.")
    async def incident(
        self, info: Info
    ) -> Annotated[AlarmIncidentType, strawberry.lazy("backend.alarms.schema._permits")] | None:
        if self.incident_ref is None:
            return None
        from backend.alarms.schema._permits import AlarmIncidentType

        incident = await info.context.rows_by_id(AlarmIncident).load(self.incident_ref)
        return None if incident is None else AlarmIncidentType.of(incident)

    @strawberry.field(description="The device that raised it (event alarms: SOS, PPE, ...).")
    async def device(
        self, info: Info
    ) -> Annotated[DeviceType, strawberry.lazy("backend.telemetry.schema")] | None:
        if self.device_id is None:
            return None
        from backend.telemetry.schema import device_type

        device = await info.context.rows_by_id(Device).load(self.device_id)
        return None if device is None else device_type(device)

    @strawberry.field(description="The zone the alarm was raised in.")
    async def zone(
        self, info: Info
    ) -> Annotated[ZoneType, strawberry.lazy("tenants.schema")] | None:
        if self.zone_id is None:
            return None
        from tenants.schema import ZoneType

        zone = await info.context.rows_by_id(Zone).load(self.zone_id)
        return None if zone is None else ZoneType.of(zone)

    @strawberry.field(
        description="The camera frame of the event that raised the alarm (PPE, smoke, fire, "
        "SOS...), or raised it again: its address, served with faces pixelated unless the "
        "caller may see them. Null for alarms without one (threshold alarms) and for callers "
        "who may not read the site's telemetry."
    )
    async def snapshot_url(self, info: Info) -> str | None:
        if self.snapshot_key is None:
            return None
        ctx = info.context
        site = await ctx.rows_by_id(Site).load(self.site_id)
        if site is None:
            return None
        domain = site_domain(ctx.principal.scope, site)
        if not auth_service.may(ctx.authz, ctx.principal, domain, *SNAPSHOT_PERMISSION):
            return None
        return snapshot_url(self.snapshot_key)

    @strawberry.field(description="The worker wearing the device (wearables: SOS, fall).")
    async def wearer(
        self, info: Info
    ) -> Annotated[WorkerType, strawberry.lazy("tenants.schema")] | None:
        if self.device_id is None:
            return None
        from tenants.schema import WorkerType

        worker = await _wearers_loader(info).load(self.device_id)
        return None if worker is None else WorkerType.of(worker)


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


@strawberry.type(name="AssigneeMember", description="A member of the tenant, to dispatch.")
class AssigneeMemberType:
    id: strawberry.ID = strawberry.field(
        description="The user's id: dispatchAlarm's assigneeUserId."
    )
    name: str | None = strawberry.field(description="The display name, if the user set one.")
    email: str
    role: str
    tenant_id: strawberry.Private[uuid.UUID]


@strawberry.type(name="AssigneeWorker", description="A worker of the tenant, to dispatch.")
class AssigneeWorkerType:
    id: strawberry.ID = strawberry.field(description="dispatchAlarm's assigneeWorkerId.")
    name: str
    employee_number: str
    site_id: strawberry.ID | None
    tenant_id: strawberry.Private[uuid.UUID]


@strawberry.type(name="Assignees")
class AssigneesType:
    members: list[AssigneeMemberType]
    workers: list[AssigneeWorkerType]

    @classmethod
    def of(cls, found: Assignees) -> AssigneesType:
        tenant = found.tenant_id
        return cls(
            members=[
                AssigneeMemberType(
                    id=strawberry.ID(str(m.user_id)),
                    name=m.display_name,
                    email=m.email,
                    role=m.role,
                    tenant_id=tenant,
                )
                for m in found.members
            ],
            workers=[
                AssigneeWorkerType(
                    id=strawberry.ID(str(w.id)),
                    name=w.name,
                    employee_number=w.employee_number,
                    site_id=None if w.site_id is None else strawberry.ID(str(w.site_id)),
                    tenant_id=tenant,
                )
                for w in found.workers
            ],
        )


def _optional_id(value: strawberry.ID | None, what: str) -> uuid.UUID | None:
    return None if value is None else parse_id(value, what)


@strawberry.type
class AlarmsQuery:
    @strawberry.field(permission_classes=[IsAuthenticated], description="One alarm, by id.")
    async def alarm(self, info: Info, id: strawberry.ID) -> AlarmType:
        alarm = await service.get_alarm(
            session=info.context.session, alarm_id=parse_id(id, "alarm")
        )
        return AlarmType.of(alarm)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Whom an alarm of the site can be dispatched to: the tenant's enabled "
        "members, and its workers of this site or of none; names masked per the caller's "
        "role. For those who may dispatch there (FORBIDDEN otherwise).",
    )
    async def assignees(self, info: Info, site_id: strawberry.ID) -> AssigneesType:
        ctx = info.context
        found = await list_assignees(
            session=ctx.session,
            authz=ctx.rt.authz,
            principal=ctx.principal,
            site_id=parse_id(site_id, "site"),
        )
        return AssigneesType.of(found)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Alarms the caller may see, newest first; divisionCode keeps those of "
        "sites coded in that GB/T 2260 division or below it, which for a regulator must lie "
        "inside their jurisdiction (NOT_FOUND otherwise).",
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
        division_code: str | None = None,
    ) -> list[AlarmType]:
        rows = await service.list_alarms(
            session=info.context.session,
            division_code=division_code,
            jurisdictions=info.context.principal.scope.jurisdictions,
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

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Send someone to the alarm: a name (assignee), or a member "
        "(assigneeUserId) or worker (assigneeWorkerId) from assignees(siteId). Exactly one.",
    )
    async def dispatch_alarm(
        self,
        info: Info,
        id: strawberry.ID,
        assignee: str | None = None,
        note: str | None = None,
        assignee_user_id: strawberry.ID | None = None,
        assignee_worker_id: strawberry.ID | None = None,
    ) -> AlarmType:
        ctx = info.context
        async with ctx.write() as session:
            alarm = await dispatch_alarm(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                alarm_id=parse_id(id, "alarm"),
                assignee=assignee,
                note=note,
                assignee_user_id=_optional_id(assignee_user_id, "user"),
                assignee_worker_id=_optional_id(assignee_worker_id, "worker"),
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

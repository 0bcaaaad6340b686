"""GraphQL: a sensor's alarm rules with their versions, level overrides, and silences."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry

from backend.alarms import overrides, silences
from backend.alarms.models import AlarmRule, RuleRevision, Silence
from backend.alarms.rules import RuleSpec
from backend.alarms.schema._alarms import SeverityEnum
from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.ids import parse_id


@strawberry.type(name="AlarmLevel")
class AlarmLevelType:
    name: str
    severity: SeverityEnum
    direction: str  # "high" or "low"
    setpoint: float
    clear_at: float


@strawberry.input
class LevelInput:
    name: str
    severity: SeverityEnum
    direction: str
    setpoint: float
    clear_at: float


def _levels(definition: dict[str, Any]) -> list[AlarmLevelType]:
    spec = RuleSpec.from_json(definition)
    return [
        AlarmLevelType(
            name=lv.name,
            severity=SeverityEnum(lv.severity.value),
            direction=lv.direction.value,
            setpoint=lv.setpoint,
            clear_at=lv.clear_at,
        )
        for lv in spec.levels
    ]


@strawberry.type(name="AlarmRuleRevision")
class RuleRevisionType:
    version: int
    changed_by: strawberry.ID | None
    reason: str | None
    created_at: datetime
    on_delay_seconds: float
    levels: list[AlarmLevelType]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, revision: RuleRevision) -> RuleRevisionType:
        return cls(
            tenant_id=revision.tenant_id,
            version=revision.version,
            changed_by=None if revision.changed_by is None else strawberry.ID(revision.changed_by),
            reason=revision.reason,
            created_at=revision.created_at,
            on_delay_seconds=RuleSpec.from_json(revision.definition).on_delay_s,
            levels=_levels(revision.definition),
        )


@strawberry.type(name="AlarmRule")
class AlarmRuleType:
    id: strawberry.ID
    sensor_id: strawberry.ID | None
    device_id: strawberry.ID | None
    zone_id: strawberry.ID | None
    kind: str
    source: str
    version: int
    enabled: bool
    standard: str | None
    on_delay_seconds: float
    levels: list[AlarmLevelType]
    revisions: list[RuleRevisionType]

    @classmethod
    def of(cls, rule: AlarmRule, revisions: list[RuleRevision]) -> AlarmRuleType:
        spec = RuleSpec.from_json(rule.definition)
        return cls(
            id=strawberry.ID(str(rule.id)),
            sensor_id=None if rule.sensor_id is None else strawberry.ID(str(rule.sensor_id)),
            device_id=None if rule.device_id is None else strawberry.ID(str(rule.device_id)),
            zone_id=None if rule.zone_id is None else strawberry.ID(str(rule.zone_id)),
            kind=rule.kind,
            source=rule.source,
            version=rule.version,
            enabled=rule.enabled,
            standard=spec.standard,
            on_delay_seconds=spec.on_delay_s,
            levels=_levels(rule.definition),
            revisions=[RuleRevisionType.of(r) for r in revisions if r.rule_id == rule.id],
        )


@strawberry.type(name="Silence")
class SilenceType:
    id: strawberry.ID
    site_id: strawberry.ID
    zone_id: strawberry.ID | None
    sensor_id: strawberry.ID | None
    owner: strawberry.ID | None
    reason: str
    starts_at: datetime
    expires_at: datetime
    created_at: datetime
    cancelled_at: datetime | None
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, s: Silence) -> SilenceType:
        def opt(value: uuid.UUID | None) -> strawberry.ID | None:
            return None if value is None else strawberry.ID(str(value))

        return cls(
            id=strawberry.ID(str(s.id)),
            site_id=strawberry.ID(str(s.site_id)),
            zone_id=opt(s.zone_id),
            sensor_id=opt(s.sensor_id),
            owner=opt(s.owner),
            reason=s.reason,
            starts_at=s.starts_at,
            expires_at=s.expires_at,
            created_at=s.created_at,
            cancelled_at=s.cancelled_at,
            tenant_id=s.tenant_id,
        )


async def _rule_type(info: Info, rule: AlarmRule) -> AlarmRuleType:
    revisions = await overrides.list_revisions(session=info.context.session, rule_ids=[rule.id])
    return AlarmRuleType.of(rule, revisions)


@strawberry.type
class RulesQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The alarm rules of a sensor, a device or a zone, with every version.",
    )
    async def alarm_rules(
        self,
        info: Info,
        sensor_id: strawberry.ID | None = None,
        device_id: strawberry.ID | None = None,
        zone_id: strawberry.ID | None = None,
    ) -> list[AlarmRuleType]:
        session = info.context.session
        rules = await overrides.list_rules(
            session=session,
            sensor_id=None if sensor_id is None else parse_id(sensor_id, "sensor"),
            device_id=None if device_id is None else parse_id(device_id, "device"),
            zone_id=None if zone_id is None else parse_id(zone_id, "zone"),
        )
        revisions = await overrides.list_revisions(session=session, rule_ids=[r.id for r in rules])
        return [AlarmRuleType.of(rule, revisions) for rule in rules]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Silences not yet over (optionally of one site), newest first.",
    )
    async def silences(
        self, info: Info, site_id: strawberry.ID | None = None, include_past: bool = False
    ) -> list[SilenceType]:
        try:
            site = None if site_id is None else uuid.UUID(str(site_id))
        except ValueError:
            return []  # lists filter silently
        rows = await silences.list_silences(
            session=info.context.session,
            site_id=site,
            include_past=include_past,
            clock=info.context.rt.clock,
        )
        return [SilenceType.of(s) for s in rows]


@strawberry.type
class RulesMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def override_alarm_levels(
        self,
        info: Info,
        rule_id: strawberry.ID,
        levels: list[LevelInput],
        reason: str,
        on_delay_seconds: float | None = None,
    ) -> AlarmRuleType:
        ctx = info.context
        async with ctx.write() as session:
            rule = await overrides.override_levels(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                rule_id=parse_id(rule_id, "alarm rule"),
                levels=[
                    overrides.LevelValues(
                        lv.name, lv.severity.value, lv.direction, lv.setpoint, lv.clear_at
                    )
                    for lv in levels
                ],
                on_delay_s=on_delay_seconds,
                reason=reason,
            )
        return await _rule_type(info, rule)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def reset_alarm_rule(
        self, info: Info, rule_id: strawberry.ID, reason: str
    ) -> AlarmRuleType:
        ctx = info.context
        async with ctx.write() as session:
            rule = await overrides.reset_to_default(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                rule_id=parse_id(rule_id, "alarm rule"),
                reason=reason,
            )
        return await _rule_type(info, rule)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Switch a rule off (e.g. a sensor under repair) or on again, with a reason.",
    )
    async def set_alarm_rule_enabled(
        self, info: Info, rule_id: strawberry.ID, enabled: bool, reason: str
    ) -> AlarmRuleType:
        ctx = info.context
        async with ctx.write() as session:
            rule = await overrides.set_rule_enabled(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                rule_id=parse_id(rule_id, "alarm rule"),
                enabled=enabled,
                reason=reason,
            )
        return await _rule_type(info, rule)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_silence(
        self,
        info: Info,
        site_id: strawberry.ID,
        reason: str,
        expires_at: datetime,
        starts_at: datetime | None = None,
        zone_id: strawberry.ID | None = None,
        sensor_id: strawberry.ID | None = None,
    ) -> SilenceType:
        ctx = info.context
        async with ctx.write() as session:
            silence = await silences.create_silence(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                site_id=parse_id(site_id, "site"),
                zone_id=None if zone_id is None else parse_id(zone_id, "zone"),
                sensor_id=None if sensor_id is None else parse_id(sensor_id, "sensor"),
                reason=reason,
                starts_at=starts_at,
                expires_at=expires_at,
                clock=ctx.rt.clock,
            )
        return SilenceType.of(silence)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def cancel_silence(self, info: Info, id: strawberry.ID) -> SilenceType:
        ctx = info.context
        async with ctx.write() as session:
            silence = await silences.cancel_silence(
                session=session,
                authz=ctx.rt.authz,
                principal=ctx.principal,
                silence_id=parse_id(id, "silence"),
                clock=ctx.rt.clock,
            )
        return SilenceType.of(silence)

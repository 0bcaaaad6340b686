"""Per-sensor threshold overrides: versioned, audited, picked up by the running engine.

A tenant may move the levels of a sensor's threshold rule away from its indicator library's
defaults. Every change is a new version of the rule: a ``RuleRevision`` row holds each
version's definition (the one it replaced is written first if it had none, so old and new
are both on record), the audit trail gets ``alarm_rule.override`` / ``alarm_rule.reset`` with
who, the old and new definitions and the reason, and the registry change counter is bumped
in the same transaction so the pipeline's watch loop reloads the rules within about a second.

Levels are checked as the library's own files are (backend/alarms/indicators/schema.py): per
direction the setpoints move outward, severities never fall, the most extreme level is RED,
``clear_at`` lies on the safe side of its setpoint, and every value is inside the sensor's
physical range. An override changes values, not which side a rule watches: the directions of
its levels stay those of the rule, which also keeps ``reset_to_default`` unambiguous for a
kind with two threshold rules (oxygen deficiency and enrichment).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms import library
from backend.alarms.indicators.schema import Ctx, check_threshold
from backend.alarms.models import AlarmRule, RuleRevision
from backend.alarms.rules import Direction, Level, RuleKind, RuleSpec, Severity
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core import counters
from backend.core.errors import BadInput, NotFound
from backend.telemetry.models import Device, Sensor
from privacy.audit import record_change
from tenants.models import Site, Tenant, Zone
from tenants.service import site_domain

MAX_REASON = 500
MAX_LEVELS = 8
MAX_ON_DELAY_S = 3600.0
OVERRIDE_SOURCE = "override"


@dataclass(frozen=True)
class LevelValues:
    """One level as a caller sends it."""

    name: str
    severity: str
    direction: str
    setpoint: float
    clear_at: float


class _InputCtx(Ctx):
    """The library's checks, failing as the caller's input rather than as a broken file."""

    def __init__(self) -> None:
        super().__init__("levels")

    def fail(self, where: str, problem: str) -> NoReturn:
        raise BadInput(problem)


# -- reading ---------------------------------------------------------------------------------


async def list_rules(
    *,
    session: AsyncSession,
    sensor_id: uuid.UUID | None = None,
    device_id: uuid.UUID | None = None,
    zone_id: uuid.UUID | None = None,
) -> list[AlarmRule]:
    """The rules of one sensor, one device (its event and offline rules) or one zone (its
    composite rules) in the session's scope; ``NotFound`` when that owner is not visible."""
    given = [(Sensor, sensor_id), (Device, device_id), (Zone, zone_id)]
    chosen = [(model, key) for model, key in given if key is not None]
    if len(chosen) != 1:
        raise BadInput("give exactly one of sensorId, deviceId, zoneId")
    model, key = chosen[0]
    if await session.scalar(select(model.id).where(model.id == key)) is None:
        raise NotFound(f"{model.__tablename__[:-1]} {key} not found")
    if model is Sensor:
        where = AlarmRule.sensor_id == key
    elif model is Device:
        where = (AlarmRule.device_id == key) & AlarmRule.sensor_id.is_(None)
    else:
        where = AlarmRule.zone_id == key
    rows = await session.scalars(select(AlarmRule).where(where).order_by(AlarmRule.created_at))
    return list(rows.all())


async def list_revisions(*, session: AsyncSession, rule_ids: list[uuid.UUID]) -> list[RuleRevision]:
    if not rule_ids:
        return []
    rows = await session.scalars(
        select(RuleRevision)
        .where(RuleRevision.rule_id.in_(rule_ids))
        .order_by(RuleRevision.rule_id, RuleRevision.version)
    )
    return list(rows.all())


# -- writing ---------------------------------------------------------------------------------


async def _authorised_rule(
    session: AsyncSession, authz: Authorizer, principal: Principal, rule_id: uuid.UUID
) -> tuple[AlarmRule, str]:
    rule = await session.scalar(select(AlarmRule).where(AlarmRule.id == rule_id))
    site = (
        None if rule is None else await session.scalar(select(Site).where(Site.id == rule.site_id))
    )
    if rule is None or site is None:
        raise NotFound(f"alarm rule {rule_id} not found")
    domain = site_domain(principal.scope, site)
    require(authz, principal, domain, "alarm_rule", "update")
    return rule, domain


def _reason(reason: str) -> str:
    cleaned = (reason or "").strip()
    if not cleaned or len(cleaned) > MAX_REASON:
        raise BadInput(f"a reason of 1 to {MAX_REASON} characters is required")
    return cleaned


def _finite(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadInput(f"{what} must be a finite number")
    return float(value)


def check_levels(
    current: RuleSpec, levels: list[LevelValues], span: tuple[float, float]
) -> tuple[Level, ...]:
    """The caller's levels as the engine's, or ``BadInput`` naming what is wrong."""
    if current.kind is not RuleKind.THRESHOLD:
        raise BadInput(f"only threshold rules take level overrides, not {current.kind.value}")
    if not 1 <= len(levels) <= MAX_LEVELS:
        raise BadInput(f"a threshold rule has 1 to {MAX_LEVELS} levels")
    parsed: list[Level] = []
    for i, raw in enumerate(levels):
        name = (raw.name or "").strip()
        if not name or len(name) > 64:
            raise BadInput(f"level {i + 1}: a name of 1 to 64 characters is required")
        try:
            severity, direction = Severity(raw.severity), Direction(raw.direction)
        except ValueError:
            raise BadInput(f"level {name!r}: unknown severity or direction") from None
        level = Level(
            name,
            severity,
            direction,
            _finite(raw.setpoint, f"level {name!r} setpoint"),
            _finite(raw.clear_at, f"level {name!r} clear_at"),
        )
        high = direction is Direction.HIGH
        if (level.clear_at > level.setpoint) if high else (level.clear_at < level.setpoint):
            side = "at or below" if high else "at or above"
            raise BadInput(
                f"level {name!r}: clear_at {level.clear_at:g} must be {side} the setpoint "
                f"{level.setpoint:g}"
            )
        low, top = span
        if not (low <= level.setpoint <= top and low <= level.clear_at <= top):
            raise BadInput(f"level {name!r}: outside the sensor's range {low:g}…{top:g}")
        parsed.append(level)
    if len({lv.name for lv in parsed}) != len(parsed):
        raise BadInput("level names must be unique")
    if {lv.direction for lv in parsed} != {lv.direction for lv in current.levels}:
        raise BadInput(
            "an override keeps the directions of the rule's levels ("
            + ", ".join(sorted({lv.direction.value for lv in current.levels}))
            + ")"
        )
    check_threshold(_InputCtx(), "levels", parsed)
    return tuple(parsed)


async def _sensor_span(session: AsyncSession, rule: AlarmRule) -> tuple[float, float]:
    sensor = await session.scalar(select(Sensor).where(Sensor.id == rule.sensor_id))
    if sensor is None:  # a device's event rule
        raise BadInput("only a sensor's threshold rules take level overrides")
    return sensor.min_value, sensor.max_value


async def _write_version(
    session: AsyncSession,
    principal: Principal,
    domain: str,
    rule: AlarmRule,
    new: RuleSpec,
    *,
    source: str,
    action: str,
    reason: str,
) -> AlarmRule:
    old_definition = dict(rule.definition)
    old_version = rule.version
    recorded = await session.scalar(
        select(func.count())
        .select_from(RuleRevision)
        .where(RuleRevision.rule_id == rule.id, RuleRevision.version == old_version)
    )
    if not recorded:  # library defaults are written without a revision: keep the old one too
        session.add(
            RuleRevision(
                tenant_id=rule.tenant_id,
                rule_id=rule.id,
                version=old_version,
                definition=old_definition,
                changed_by=None,
                reason=f"before {action}: {rule.source}",
            )
        )
    changed_by = None if principal.id is None else str(principal.id)
    rule.definition = new.as_json()
    rule.version = old_version + 1
    rule.source = source
    revision = RuleRevision(
        tenant_id=rule.tenant_id,
        rule_id=rule.id,
        version=rule.version,
        definition=rule.definition,
        changed_by=changed_by,
        reason=reason,
    )
    await record_change(
        session,
        principal.actor(domain),
        action,
        added=revision,
        counter=counters.REGISTRY,  # the engine reloads its rules
        domain=domain,
        object_type="alarm_rule",
        object_id=rule.id,
        detail={
            "sensor_id": None if rule.sensor_id is None else str(rule.sensor_id),
            "old_version": old_version,
            "new_version": rule.version,
            "old": old_definition,
            "new": rule.definition,
            "reason": reason,
        },
    )
    return rule


async def override_levels(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    rule_id: uuid.UUID,
    levels: list[LevelValues],
    on_delay_s: float | None = None,
    reason: str,
) -> AlarmRule:
    """New levels (and optionally on-delay) for one sensor's threshold rule, as a new version."""
    rule, domain = await _authorised_rule(session, authz, principal, rule_id)
    text = _reason(reason)
    current = RuleSpec.from_json(rule.definition)
    new_levels = check_levels(current, levels, await _sensor_span(session, rule))
    delay = current.on_delay_s
    if on_delay_s is not None:
        delay = _finite(on_delay_s, "on-delay")
        if not 0 <= delay <= MAX_ON_DELAY_S:
            raise BadInput(f"the on-delay is 0 to {MAX_ON_DELAY_S:g} seconds")
    new = RuleSpec(
        kind=current.kind,
        levels=new_levels,
        on_delay_s=delay,
        ack_deadline_s=current.ack_deadline_s,
        standard=current.standard,
        params=current.params,
    )
    return await _write_version(
        session,
        principal,
        domain,
        rule,
        new,
        source=OVERRIDE_SOURCE,
        action="alarm_rule.override",
        reason=text,
    )


def _matches(default: RuleSpec, current: RuleSpec) -> bool:
    return default.kind is current.kind and {lv.direction for lv in default.levels} == {
        lv.direction for lv in current.levels
    }


async def reset_to_default(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    rule_id: uuid.UUID,
    reason: str,
) -> AlarmRule:
    """The indicator library's current default for this rule, written as a new version."""
    rule, domain = await _authorised_rule(session, authz, principal, rule_id)
    text = _reason(reason)
    sensor = await session.scalar(select(Sensor).where(Sensor.id == rule.sensor_id))
    if sensor is None:
        raise BadInput("only a sensor's rules can be reset to the library default")
    industry = await session.scalar(select(Tenant.industry).where(Tenant.id == rule.tenant_id))
    zone_kind = (
        None
        if sensor.zone_id is None
        else await session.scalar(select(Zone.kind).where(Zone.id == sensor.zone_id))
    )
    current = RuleSpec.from_json(rule.definition)
    candidates = [
        spec
        for spec in library.default_rules(
            industry,
            sensor.kind,
            gas=sensor.gas,
            zone_kind=None if zone_kind is None else zone_kind.value,
        )
        if _matches(spec, current)
    ]
    if len(candidates) != 1:
        raise BadInput("the indicator library has no single default for this rule")
    assert industry is not None
    return await _write_version(
        session,
        principal,
        domain,
        rule,
        candidates[0],
        source=library.library_source(industry),
        action="alarm_rule.reset",
        reason=text,
    )


async def set_rule_enabled(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    rule_id: uuid.UUID,
    enabled: bool,
    reason: str,
) -> AlarmRule:
    """Switch a rule off (a sensor under repair) or on again; audited with the reason. A
    disabled rule stops evaluating; its open alarm stays for people to clear."""
    rule, domain = await _authorised_rule(session, authz, principal, rule_id)
    why = _reason(reason)
    if rule.enabled == enabled:
        return rule
    rule.enabled = enabled
    await record_change(
        session,
        principal.actor(domain),
        "alarm_rule.enable" if enabled else "alarm_rule.disable",
        counter=counters.REGISTRY,  # the engine reloads its rules
        domain=domain,
        object_type="alarm_rule",
        object_id=rule.id,
        detail={
            "sensor_id": None if rule.sensor_id is None else str(rule.sensor_id),
            "device_id": None if rule.device_id is None else str(rule.device_id),
            "zone_id": None if rule.zone_id is None else str(rule.zone_id),
            "reason": why,
        },
    )
    return rule

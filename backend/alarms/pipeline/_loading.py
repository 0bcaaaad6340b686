"""What the engine loads from the relational store, for every tenant at once.

The engine is a system process: each read here spans tenants, so each is an ``unscoped_*``
function of its own and returns plain rows for the evaluator to apply.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.alarms.models import Alarm, AlarmRule, WorkPermit
from backend.alarms.permits import PERMITS_COUNTER
from backend.alarms.pipeline._defaults import ensure_default_rules
from backend.core import counters
from backend.telemetry.models import Sensor
from tenants.models import Zone
from tenants.scope import unscoped_session

log = logging.getLogger("anjian.alarms")

# A zone's permits as the engine takes them: (kind, opened ms, until ms).
PermitWindow = tuple[str, int, int]


@dataclass(frozen=True)
class RuleSet:
    """Every enabled rule, with where its sensor, device or zone lives."""

    # (rule, tenant, site, device, zone) of each sensor rule
    sensor_rules: Sequence[Any]
    device_rules: Sequence[AlarmRule]
    zone_rules: Sequence[AlarmRule]
    # (zone, sensor, kind) of every sensor in a zone with rules
    zone_sensors: Sequence[Any]
    # (name, kind) of every zone: presence rules need to know the confined spaces
    zones: Sequence[Any]


async def unscoped_give_defaults(*, sessions: async_sessionmaker[AsyncSession]) -> int:
    """Give what has no rules its defaults; returns the registry version they reflect."""
    version = -1
    try:
        async with unscoped_session(sessions) as session, session.begin():
            version = await counters.read(session, counters.REGISTRY)
            await ensure_default_rules(session=session)
    except IntegrityError:  # another server gave these sensors their defaults first
        log.info("default alarm rules were created concurrently; loading theirs")
    return version


async def unscoped_rule_set(*, sessions: async_sessionmaker[AsyncSession]) -> RuleSet:
    enabled = AlarmRule.enabled.is_(True)
    async with unscoped_session(sessions) as session:
        sensor_rules = (
            await session.execute(
                select(
                    AlarmRule, Sensor.tenant_id, Sensor.site_id, Sensor.device_id, Sensor.zone_id
                )
                .join(Sensor, Sensor.id == AlarmRule.sensor_id)
                .where(enabled)
            )
        ).all()
        device_rules = (
            await session.scalars(
                select(AlarmRule).where(
                    enabled, AlarmRule.sensor_id.is_(None), AlarmRule.device_id.is_not(None)
                )
            )
        ).all()
        zone_rules = (
            await session.scalars(select(AlarmRule).where(enabled, AlarmRule.zone_id.is_not(None)))
        ).all()
        zone_sensors = (
            await session.execute(
                select(Sensor.zone_id, Sensor.id, Sensor.kind).where(
                    Sensor.zone_id.in_({r.zone_id for r in zone_rules})
                )
            )
        ).all()
        zones = (await session.execute(select(Zone.name, Zone.kind))).all()
    return RuleSet(sensor_rules, device_rules, zone_rules, zone_sensors, zones)


async def unscoped_change_counters(
    *, sessions: async_sessionmaker[AsyncSession]
) -> tuple[int, int]:
    """The registry's and the work permits' change counters."""
    async with unscoped_session(sessions) as session:
        return (
            await counters.read(session, counters.REGISTRY),
            await counters.read(session, PERMITS_COUNTER),
        )


async def unscoped_open_permits(
    *, sessions: async_sessionmaker[AsyncSession], zones: Iterable[uuid.UUID], now: datetime
) -> tuple[int, dict[uuid.UUID, list[PermitWindow]]]:
    """The permits counter and the open (and future) work permits of ``zones``."""
    async with unscoped_session(sessions) as session:
        version = await counters.read(session, PERMITS_COUNTER)
        rows = (
            await session.execute(
                select(
                    WorkPermit.zone_id,
                    WorkPermit.kind,
                    WorkPermit.opened_at,
                    WorkPermit.expires_at,
                    WorkPermit.closed_at,
                ).where(WorkPermit.zone_id.in_(set(zones)), WorkPermit.expires_at > now)
            )
        ).all()
    by_zone: dict[uuid.UUID, list[PermitWindow]] = defaultdict(list)
    for zone_id, kind, opened, expires, closed in rows:
        until = expires if closed is None else min(expires, closed)
        by_zone[zone_id].append((kind.value, _ms(opened), _ms(until)))
    return version, by_zone


async def unscoped_open_alarms(*, sessions: async_sessionmaker[AsyncSession]) -> Sequence[Any]:
    """(alarm, rule, sensor, device, level) of every alarm not cleared."""
    async with unscoped_session(sessions) as session:
        return (
            await session.execute(
                select(
                    Alarm.id, Alarm.rule_id, Alarm.sensor_id, Alarm.device_id, Alarm.level
                ).where(Alarm.cleared_at.is_(None))
            )
        ).all()


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)

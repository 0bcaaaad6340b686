"""What the engine loads from the relational store, for every tenant at once.

The engine is a system process: each read here spans tenants, so each is an ``unscoped_*``
function of its own and returns plain rows for the evaluator to apply.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
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
class RuleRow:
    """An enabled rule as the engine indexes it: its version says whether the definition
    this process parsed last is still current (every change bumps it), and where it applies."""

    id: uuid.UUID
    version: int
    tenant_id: uuid.UUID
    site_id: uuid.UUID
    sensor_id: uuid.UUID | None
    device_id: uuid.UUID | None
    zone_id: uuid.UUID | None


@dataclass(frozen=True)
class RuleSet:
    """Every enabled rule, with where its sensor, device or zone lives, without definitions
    (``unscoped_rule_definitions`` fetches those the engine has not parsed yet)."""

    sensor_rules: Sequence[RuleRow]  # each with its sensor's device and zone
    device_rules: Sequence[RuleRow]
    zone_rules: Sequence[RuleRow]
    # (zone, sensor, kind) of every sensor in a zone with rules
    zone_sensors: Sequence[Any]
    # (name, kind) of every zone: presence rules need to know the confined spaces
    zones: Sequence[Any]


# Rows read between two turns of the event loop: a platform's rules are tens of thousands, and
# reading them in one piece would hold every request of this process for seconds.
PARTITION = 2000


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


async def _rows(session: AsyncSession, statement: Select[Any]) -> list[Any]:
    """All rows of ``statement``, streamed a partition at a time (the loop turns between)."""
    rows: list[Any] = []
    async for partition in (await session.stream(statement)).partitions(PARTITION):
        rows.extend(partition)
        await asyncio.sleep(0)
    return rows


async def unscoped_rule_set(*, sessions: async_sessionmaker[AsyncSession]) -> RuleSet:
    enabled = AlarmRule.enabled.is_(True)
    rule = (AlarmRule.id, AlarmRule.version, AlarmRule.tenant_id, AlarmRule.site_id)
    async with unscoped_session(sessions) as session, session.begin():
        sensor_rules = [
            RuleRow(*row)
            for row in await _rows(
                session,
                select(*rule, AlarmRule.sensor_id, Sensor.device_id, Sensor.zone_id)
                .join(Sensor, Sensor.id == AlarmRule.sensor_id)
                .where(enabled),
            )
        ]
        own = (AlarmRule.sensor_id, AlarmRule.device_id, AlarmRule.zone_id)
        device_rules = [
            RuleRow(*row)
            for row in await _rows(
                session,
                select(*rule, *own).where(
                    enabled, AlarmRule.sensor_id.is_(None), AlarmRule.device_id.is_not(None)
                ),
            )
        ]
        zone_rules = [
            RuleRow(*row)
            for row in await _rows(
                session, select(*rule, *own).where(enabled, AlarmRule.zone_id.is_not(None))
            )
        ]
        zone_sensors = await _rows(
            session,
            select(Sensor.zone_id, Sensor.id, Sensor.kind).where(
                Sensor.zone_id.in_({r.zone_id for r in zone_rules})
            ),
        )
        zones = await _rows(session, select(Zone.name, Zone.kind))
    return RuleSet(sensor_rules, device_rules, zone_rules, zone_sensors, zones)


async def unscoped_rule_definitions(
    *, sessions: async_sessionmaker[AsyncSession], ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, dict[str, Any]]]:
    """The current version and definition of each rule of ``ids``."""
    found: dict[uuid.UUID, tuple[int, dict[str, Any]]] = {}
    wanted = list(ids)
    async with unscoped_session(sessions) as session:
        for start in range(0, len(wanted), PARTITION):
            rows = await session.execute(
                select(AlarmRule.id, AlarmRule.version, AlarmRule.definition).where(
                    AlarmRule.id.in_(wanted[start : start + PARTITION])
                )
            )
            found.update((rule_id, (version, definition)) for rule_id, version, definition in rows)
            await asyncio.sleep(0)
    return found


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

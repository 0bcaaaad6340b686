"""Silences and maintenance windows: an owner, a reason, a window with a required expiry.

A silence covers a whole site, one zone of it, or one sensor, from ``starts_at`` until
``expires_at`` (half-open, like every range here) unless cancelled earlier. It never stops
the rule engine: alarms raised inside a silence are still recorded, they are only kept from
paging people (the alarm service marks them with the covering silence: no notifications, no
escalation). Creating and cancelling one are audited and bump the ``silences`` counter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import MAX_SILENCE_REASON, Silence
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, NotFound
from backend.telemetry.models import Sensor
from privacy.audit import record_change
from tenants.models import Site, Zone
from tenants.service import site_domain

__all__ = [
    "MAX_LEAD",
    "MAX_REASON",
    "MAX_SILENCE",
    "SILENCES_COUNTER",
    "active_silences",
    "cancel_silence",
    "covering",
    "create_silence",
    "list_silences",
    "silenced",
]

MAX_SILENCE = timedelta(days=7)
MAX_REASON = MAX_SILENCE_REASON
# A window may be planned ahead (a maintenance shutdown next week), not years ahead.
MAX_LEAD = timedelta(days=30)
# Change counter bumped with every create/cancel: the pipeline re-reads silences when it moves.
SILENCES_COUNTER = "silences"


def covering(
    silences: Iterable[Silence],
    site_id: uuid.UUID,
    zone_id: uuid.UUID | None,
    sensor_id: uuid.UUID | None,
    at: datetime,
) -> Silence | None:
    """The silence an alarm at ``at`` on this site/zone/sensor falls inside, if any."""
    for s in silences:
        if s.site_id != site_id or not s.in_window(at):
            continue
        if s.zone_id is not None and s.zone_id != zone_id:
            continue
        if s.sensor_id is not None and s.sensor_id != sensor_id:
            continue
        return s
    return None


def silenced(
    silences: Iterable[Silence],
    site_id: uuid.UUID,
    zone_id: uuid.UUID | None,
    sensor_id: uuid.UUID | None,
    at: datetime,
) -> bool:
    return covering(silences, site_id, zone_id, sensor_id, at) is not None


# -- reading ---------------------------------------------------------------------------------


async def active_silences(
    *, session: AsyncSession, at: datetime | None = None, clock: Clock = WALL_CLOCK
) -> list[Silence]:
    """Silences in the session's scope that hold at ``at`` (the clock's now by default)."""
    at = at or clock.now()
    rows = await session.scalars(
        select(Silence).where(
            Silence.cancelled_at.is_(None), Silence.starts_at <= at, Silence.expires_at > at
        )
    )
    return list(rows.all())


async def silences_around(
    *, session: AsyncSession, site_id: uuid.UUID, at: datetime
) -> list[Silence]:
    """The site's silences that started by ``at`` and end after it (cancelled ones too:
    ``covering`` judges the cancellation time)."""
    rows = await session.scalars(
        select(Silence).where(
            Silence.site_id == site_id, Silence.starts_at <= at, Silence.expires_at > at
        )
    )
    return list(rows.all())


async def list_silences(
    *,
    session: AsyncSession,
    site_id: uuid.UUID | None = None,
    include_past: bool = False,
    clock: Clock = WALL_CLOCK,
) -> list[Silence]:
    """The scope's silences, newest first; by default only those not yet over."""
    query = select(Silence)
    if site_id is not None:
        query = query.where(Silence.site_id == site_id)
    if not include_past:
        query = query.where(Silence.cancelled_at.is_(None), Silence.expires_at > clock.now())
    rows = await session.scalars(query.order_by(Silence.starts_at.desc(), Silence.id.desc()))
    return list(rows.all())


# -- writing ---------------------------------------------------------------------------------


def _aware(value: datetime | None, what: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise BadInput(f"{what} must carry a time zone")
    return value


async def _check_target(
    session: AsyncSession, site: Site, zone_id: uuid.UUID | None, sensor_id: uuid.UUID | None
) -> None:
    """The zone and the sensor, when named, are on the site (and the sensor in the zone)."""
    if zone_id is not None:
        zone = await session.scalar(select(Zone).where(Zone.id == zone_id))
        if zone is None or zone.site_id != site.id:
            raise NotFound(f"zone {zone_id} not found on this site")
    if sensor_id is not None:
        sensor = await session.scalar(select(Sensor).where(Sensor.id == sensor_id))
        if sensor is None or sensor.site_id != site.id:
            raise NotFound(f"sensor {sensor_id} not found on this site")
        if zone_id is not None and sensor.zone_id != zone_id:
            raise BadInput("the sensor is not in that zone")


def _window(
    starts_at: datetime | None, expires_at: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    if expires_at is None:
        raise BadInput("a silence needs an expiry")
    _aware(expires_at, "expiresAt")
    start, end = _aware(starts_at, "startsAt") or now, expires_at
    if end <= start:
        raise BadInput("the expiry must be after the start")
    if end <= now:
        raise BadInput("the expiry must be in the future")
    if end - start > MAX_SILENCE:
        raise BadInput(f"a silence lasts at most {MAX_SILENCE.days} days")
    if start - now > MAX_LEAD:
        raise BadInput(f"a silence starts at most {MAX_LEAD.days} days ahead")
    return start, end


async def create_silence(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    site_id: uuid.UUID,
    reason: str,
    expires_at: datetime | None,
    starts_at: datetime | None = None,
    zone_id: uuid.UUID | None = None,
    sensor_id: uuid.UUID | None = None,
    clock: Clock = WALL_CLOCK,
) -> Silence:
    site = await session.scalar(select(Site).where(Site.id == site_id))
    if site is None:
        raise NotFound(f"site {site_id} not found")
    domain = site_domain(principal.scope, site)
    # Silencing safety alarms is rule management, not alarm handling: safety managers, owners.
    require(authz, principal, domain, "alarm_rule", "update")
    await _check_target(session, site, zone_id, sensor_id)
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON:
        raise BadInput(f"a reason of 1 to {MAX_REASON} characters is required")
    start, end = _window(starts_at, expires_at, clock.now())
    silence = Silence(
        tenant_id=site.tenant_id,
        site_id=site.id,
        zone_id=zone_id,
        sensor_id=sensor_id,
        owner=principal.id,
        reason=text,
        starts_at=start,
        expires_at=end,
    )
    await record_change(
        session,
        principal.actor(domain),
        "silence.create",
        added=silence,
        counter=SILENCES_COUNTER,
        domain=domain,
        object_type="silence",
        detail={
            "site_id": str(site.id),
            "zone_id": None if zone_id is None else str(zone_id),
            "sensor_id": None if sensor_id is None else str(sensor_id),
            "reason": text,
            "starts_at": start.isoformat(),
            "expires_at": end.isoformat(),
        },
    )
    return silence


async def cancel_silence(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    silence_id: uuid.UUID,
    clock: Clock = WALL_CLOCK,
) -> Silence:
    silence = await session.scalar(select(Silence).where(Silence.id == silence_id))
    site = (
        None
        if silence is None
        else await session.scalar(select(Site).where(Site.id == silence.site_id))
    )
    if silence is None or site is None:
        raise NotFound(f"silence {silence_id} not found")
    domain = site_domain(principal.scope, site)
    require(authz, principal, domain, "alarm_rule", "update")
    if silence.cancelled_at is not None:
        raise BadInput("the silence is already cancelled")
    now = clock.now()
    if silence.expires_at <= now:
        raise BadInput("the silence has already expired")
    silence.cancelled_at = now
    silence.cancelled_by = principal.id
    await record_change(
        session,
        principal.actor(domain),
        "silence.cancel",
        counter=SILENCES_COUNTER,
        domain=domain,
        object_type="silence",
        object_id=silence.id,
        detail={"site_id": str(site.id), "reason": silence.reason},
    )
    return silence

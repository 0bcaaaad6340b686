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

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core import counters
from backend.core.db import Base, SiteOwned, utcnow
from backend.core.errors import BadInput, NotFound
from backend.telemetry.models import Sensor
from privacy.audit import record
from tenants.models import Site, Zone
from tenants.service import site_domain

MAX_SILENCE = timedelta(days=7)
MAX_REASON = 500
# A window may be planned ahead (a maintenance shutdown next week), not years ahead.
MAX_LEAD = timedelta(days=30)
# Change counter bumped with every create/cancel: the pipeline re-reads silences when it moves.
SILENCES_COUNTER = "silences"


class Silence(SiteOwned, Base):
    __tablename__ = "alarm_silences"
    __site_table_args__ = (Index("ix_alarm_silences_site_expires", "site_id", "expires_at"),)

    zone_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("zones.id", ondelete="CASCADE"), index=True
    )
    sensor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sensors.id", ondelete="CASCADE"), index=True
    )
    owner: Mapped[uuid.UUID | None]  # the user who created it (None: the command line)
    reason: Mapped[str] = mapped_column(String(MAX_REASON))
    starts_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[uuid.UUID | None]


def in_window(silence: Silence, at: datetime) -> bool:
    if silence.cancelled_at is not None and silence.cancelled_at <= at:
        return False
    return silence.starts_at <= at < silence.expires_at


def covering(
    silences: Iterable[Silence],
    site_id: uuid.UUID,
    zone_id: uuid.UUID | None,
    sensor_id: uuid.UUID | None,
    at: datetime,
) -> Silence | None:
    """The silence an alarm at ``at`` on this site/zone/sensor falls inside, if any."""
    for s in silences:
        if s.site_id != site_id or not in_window(s, at):
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


async def active_silences(session: AsyncSession, at: datetime | None = None) -> list[Silence]:
    """Silences in the session's scope that hold at ``at`` (now by default)."""
    at = at or utcnow()
    rows = await session.scalars(
        select(Silence).where(
            Silence.cancelled_at.is_(None), Silence.starts_at <= at, Silence.expires_at > at
        )
    )
    return list(rows.all())


async def list_silences(
    session: AsyncSession, *, site_id: uuid.UUID | None = None, include_past: bool = False
) -> list[Silence]:
    """The scope's silences, newest first; by default only those not yet over."""
    query = select(Silence)
    if site_id is not None:
        query = query.where(Silence.site_id == site_id)
    if not include_past:
        query = query.where(Silence.cancelled_at.is_(None), Silence.expires_at > utcnow())
    rows = await session.scalars(query.order_by(Silence.starts_at.desc(), Silence.id.desc()))
    return list(rows.all())


# -- writing ---------------------------------------------------------------------------------


def _aware(value: datetime | None, what: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise BadInput(f"{what} must carry a time zone")
    return value


async def create_silence(
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    *,
    site_id: uuid.UUID,
    reason: str,
    expires_at: datetime | None,
    starts_at: datetime | None = None,
    zone_id: uuid.UUID | None = None,
    sensor_id: uuid.UUID | None = None,
) -> Silence:
    site = await session.scalar(select(Site).where(Site.id == site_id))
    if site is None:
        raise NotFound(f"site {site_id} not found")
    domain = site_domain(principal.scope, site)
    # Silencing safety alarms is rule management, not alarm handling: safety managers, owners.
    require(authz, principal, domain, "alarm_rule", "update")
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
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON:
        raise BadInput(f"a reason of 1 to {MAX_REASON} characters is required")
    if expires_at is None:
        raise BadInput("a silence needs an expiry")
    now = utcnow()
    start = _aware(starts_at, "startsAt") or now
    end = _aware(expires_at, "expiresAt")
    assert end is not None
    if end <= start:
        raise BadInput("the expiry must be after the start")
    if end <= now:
        raise BadInput("the expiry must be in the future")
    if end - start > MAX_SILENCE:
        raise BadInput(f"a silence lasts at most {MAX_SILENCE.days} days")
    if start - now > MAX_LEAD:
        raise BadInput(f"a silence starts at most {MAX_LEAD.days} days ahead")
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
    session.add(silence)
    await session.flush()
    await counters.bump(session, SILENCES_COUNTER)
    await record(
        session,
        principal.actor(domain),
        "silence.create",
        domain=domain,
        object_type="silence",
        object_id=silence.id,
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
    session: AsyncSession, authz: Authorizer, principal: Principal, *, silence_id: uuid.UUID
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
    now = utcnow()
    if silence.expires_at <= now:
        raise BadInput("the silence has already expired")
    silence.cancelled_at = now
    silence.cancelled_by = principal.id
    await counters.bump(session, SILENCES_COUNTER)
    await record(
        session,
        principal.actor(domain),
        "silence.cancel",
        domain=domain,
        object_type="silence",
        object_id=silence.id,
        detail={"site_id": str(site.id), "reason": silence.reason},
    )
    await session.flush()
    return silence

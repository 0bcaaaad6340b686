"""Default rules for what has none: sensors, devices and zones get their kind's rules from the
indicator library, in the caller's (unscoped) transaction.

The rows are keyed by ``default_slot`` under unique indexes, so two servers giving the same
sensor its defaults at once collide at commit (``IntegrityError``) instead of doubling them;
the loser reloads the winner's rows.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms import library
from backend.alarms.models import AlarmRule
from backend.alarms.rules import RuleKind
from backend.telemetry.models import Device, Sensor
from tenants.models import Site, Tenant, Zone

log = logging.getLogger("anjian.alarms")


async def ensure_default_rules(*, session: AsyncSession) -> None:
    """Give every sensor, device and zone that lacks them its default rules (not committed)."""
    missing = await _ensure_sensor_defaults(session)
    await _ensure_device_defaults(session)
    await _ensure_zone_defaults(session)
    if missing:
        log.info("gave %d sensor(s) their default alarm rules", missing)


async def _ensure_sensor_defaults(session: AsyncSession) -> int:
    """Every sensor without a rule: its kind's threshold and stale rules."""
    missing = (
        await session.execute(
            select(Sensor, Tenant.industry, Zone.kind, Site.major_hazard_grade)
            .join(Tenant, Tenant.id == Sensor.tenant_id)
            .join(Site, Site.id == Sensor.site_id)
            .outerjoin(Zone, Zone.id == Sensor.zone_id)
            .where(~select(AlarmRule.id).where(AlarmRule.sensor_id == Sensor.id).exists())
        )
    ).all()
    for sensor, industry, zone_kind, grade in missing:
        specs = library.default_rules(
            industry,
            sensor.kind,
            gas=sensor.gas,
            zone_kind=None if zone_kind is None else zone_kind.value,
        )
        for slot, spec in enumerate(specs):
            if spec.kind is RuleKind.EVENT:
                continue
            session.add(
                library.default_rule_row(
                    spec=spec,
                    industry=industry,
                    slot=f"{spec.kind.value}:{slot}",
                    tenant_id=sensor.tenant_id,
                    site_id=sensor.site_id,
                    sensor_id=sensor.id,
                    device_id=sensor.device_id,
                    major_hazard_site=grade is not None,
                )
            )
    return len(missing)


async def _ensure_device_defaults(session: AsyncSession) -> None:
    """Every device: an event rule per event type and its offline rule."""
    specs = {f"event:{t}": spec for t, spec in library.event_rules().items()}
    specs.update({f"offline:{name}": spec for name, spec in library.device_rules().items()})
    # Only devices short of a default are read: at steady state this returns nothing.
    own_defaults = (
        select(func.count())
        .where(
            AlarmRule.device_id == Device.id,
            AlarmRule.sensor_id.is_(None),
            AlarmRule.default_slot.in_(specs),
        )
        .scalar_subquery()
    )
    devices = (
        await session.execute(
            select(
                Device.id,
                Device.tenant_id,
                Device.site_id,
                Tenant.industry,
                Site.major_hazard_grade,
            )
            .join(Tenant, Tenant.id == Device.tenant_id)
            .join(Site, Site.id == Device.site_id)
            .where(own_defaults < len(specs))
        )
    ).all()
    have: dict[uuid.UUID, set[str]] = defaultdict(set)
    for device_id, slot in (
        await session.execute(
            select(AlarmRule.device_id, AlarmRule.default_slot).where(
                AlarmRule.device_id.in_([d[0] for d in devices]),
                AlarmRule.sensor_id.is_(None),
                AlarmRule.default_slot.is_not(None),
            )
        )
    ).all():
        have[device_id].add(slot)
    for device_id, tenant_id, site_id, industry, grade in devices:
        for slot, spec in specs.items():
            if slot in have[device_id]:
                continue
            session.add(
                library.default_rule_row(
                    spec=spec,
                    industry=industry,
                    slot=slot,
                    tenant_id=tenant_id,
                    site_id=site_id,
                    device_id=device_id,
                    major_hazard_site=grade is not None,
                )
            )


async def _ensure_zone_defaults(session: AsyncSession) -> None:
    """A zone gets a composite rule once it has sensors of every kind the rule names."""
    specs = library.zone_rules()
    kinds_in: dict[uuid.UUID, set[str]] = defaultdict(set)
    for zone_id, kind in (
        await session.execute(
            select(Sensor.zone_id, Sensor.kind).where(Sensor.zone_id.is_not(None)).distinct()
        )
    ).all():
        kinds_in[zone_id].add(kind)
    have = set(
        (
            await session.execute(
                select(AlarmRule.zone_id, AlarmRule.default_slot).where(
                    AlarmRule.zone_id.is_not(None), AlarmRule.default_slot.is_not(None)
                )
            )
        ).all()
    )
    zones = (
        await session.execute(
            select(Zone.id, Zone.tenant_id, Zone.site_id, Tenant.industry)
            .join(Tenant, Tenant.id == Zone.tenant_id)
            .where(Zone.id.in_(kinds_in.keys()))
        )
    ).all()
    for zone_id, tenant_id, site_id, industry in zones:
        for name, spec in specs.items():
            slot = f"composite:{name}"
            needed = {c["sensor_kind"] for c in spec.params["conditions"] if "sensor_kind" in c}
            if (zone_id, slot) in have or not needed <= kinds_in[zone_id]:
                continue
            session.add(
                library.default_rule_row(
                    spec=spec,
                    industry=industry,
                    slot=slot,
                    tenant_id=tenant_id,
                    site_id=site_id,
                    zone_id=zone_id,
                )
            )

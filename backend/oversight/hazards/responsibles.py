"""The accountable persons of a major hazard source (包保责任人) and their duty records (履职记录),
and the register's change history as regulators read it.

Each major hazard unit has three roles — 主要负责人 (MAIN), 技术负责人 (TECHNICAL), 操作负责人
(OPERATIONAL) — each held by one worker of the tenant, of the unit's site or of none. The owner
and safety managers assign and replace them and record the persons' dated checks; the
technical lead checks at least quarterly, so a unit whose last technical check is older than
92 days (or that has none) is overdue. Every step is audited; the change history is read back
from the audit trail (registered, updated, removed, responsible assigned).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, NotFound
from backend.oversight.hazards.models import (
    MAX_DUTY_FINDINGS,
    HazardDutyRecord,
    HazardResponsible,
    HazardUnit,
    ResponsibleRole,
)
from backend.oversight.hazards.service import (
    OBJECT,
    _readable_site,
    _writable_site,
    get_hazard_unit,
)
from backend.oversight.text import bounded_text
from privacy.audit import CHINA_TIME, AuditEntry, record_change
from tenants.models import Site, Worker
from tenants.service import site_domain, tenant_domain

# The technical lead checks the source at least quarterly: a check older than this is overdue.
TECHNICAL_CHECK_DAYS = 92
MAX_DUTY_RECORDS = 100
MAX_CHANGES = 200

ASSIGN_ACTION = "hazard_unit.assign_responsible"
DUTY_CHECK_ACTION = "hazard_unit.duty_check"


class ChangeKind(enum.Enum):
    REGISTERED = "hazard_unit.register"
    UPDATED = "hazard_unit.update"
    REMOVED = "hazard_unit.remove"
    RESPONSIBLE_ASSIGNED = ASSIGN_ACTION


def china_today(clock: Clock) -> date:
    return clock.now().astimezone(CHINA_TIME).date()


def technical_check_overdue(is_major: bool, last: date | None, today: date) -> bool:
    """A major unit's technical lead has not checked it within 92 days (or ever); a unit that
    is not a major hazard source needs no such check."""
    if not is_major:
        return False
    return last is None or (today - last) > timedelta(days=TECHNICAL_CHECK_DAYS)


# --- reading --------------------------------------------------------------------------------


async def responsibles_of_units(
    *, session: AsyncSession, unit_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[HazardResponsible]]:
    """The persons of several units in one statement, MAIN, TECHNICAL, OPERATIONAL."""
    rows = await session.scalars(
        select(HazardResponsible).where(HazardResponsible.unit_id.in_(unit_ids))
    )
    order = list(ResponsibleRole)
    found: dict[uuid.UUID, list[HazardResponsible]] = {}
    for row in sorted(rows, key=lambda r: order.index(r.role)):
        found.setdefault(row.unit_id, []).append(row)
    return found


async def last_technical_checks(
    *, session: AsyncSession, unit_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, date]:
    """The day of each unit's last TECHNICAL check, in one statement."""
    rows = await session.execute(
        select(HazardDutyRecord.unit_id, func.max(HazardDutyRecord.checked_on))
        .where(
            HazardDutyRecord.unit_id.in_(unit_ids),
            HazardDutyRecord.role == ResponsibleRole.TECHNICAL,
        )
        .group_by(HazardDutyRecord.unit_id)
    )
    return {unit: day for unit, day in rows if day is not None}


async def duty_records_of_units(
    *, session: AsyncSession, unit_ids: Sequence[uuid.UUID], first: int
) -> dict[uuid.UUID, list[HazardDutyRecord]]:
    """Each unit's latest ``first`` duty records (by the day checked, newest first), in one
    statement."""
    if not 1 <= first <= MAX_DUTY_RECORDS:
        raise BadInput(f"first must be between 1 and {MAX_DUTY_RECORDS}", field="first")
    rank = (
        func.row_number()
        .over(
            partition_by=HazardDutyRecord.unit_id,
            order_by=(HazardDutyRecord.checked_on.desc(), HazardDutyRecord.created_at.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(HazardDutyRecord.id, rank).where(HazardDutyRecord.unit_id.in_(unit_ids)).subquery()
    )
    rows = await session.scalars(
        select(HazardDutyRecord)
        .join(ranked, ranked.c.id == HazardDutyRecord.id)
        .where(ranked.c.rank <= first)
        .order_by(
            HazardDutyRecord.unit_id,
            HazardDutyRecord.checked_on.desc(),
            HazardDutyRecord.created_at.desc(),
        )
    )
    found: dict[uuid.UUID, list[HazardDutyRecord]] = {}
    for row in rows:
        found.setdefault(row.unit_id, []).append(row)
    return found


# --- writing --------------------------------------------------------------------------------


async def _major_unit_to_write(
    session: AsyncSession, authz: Authorizer, principal: Principal, unit_id: uuid.UUID
) -> tuple[HazardUnit, str]:
    unit = await get_hazard_unit(session=session, authz=authz, principal=principal, unit_id=unit_id)
    _, domain = await _writable_site(session, authz, principal, unit.site_id, "update")
    if not unit.is_major:
        raise BadInput(
            "the unit is not a major hazard source: it has no accountable persons", field="unitId"
        )
    return unit, domain


async def assign_hazard_responsible(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    unit_id: uuid.UUID,
    role: ResponsibleRole,
    worker_id: uuid.UUID,
    clock: Clock = WALL_CLOCK,
) -> HazardUnit:
    """Give one of a major unit's three roles to a worker of the unit's tenant (of its site or
    of none), replacing whoever held it. Another tenant's worker, or one of another site, is
    not found. Returns the unit."""
    unit, domain = await _major_unit_to_write(session, authz, principal, unit_id)
    worker = await session.scalar(
        select(Worker).where(Worker.id == worker_id, Worker.tenant_id == unit.tenant_id)
    )
    if worker is None or worker.site_id not in (None, unit.site_id):
        raise NotFound(f"worker {worker_id} not found")
    held = await session.scalar(
        select(HazardResponsible).where(
            HazardResponsible.unit_id == unit.id, HazardResponsible.role == role
        )
    )
    before = None if held is None else str(held.worker_id)
    now = clock.now()
    if held is None:
        held = HazardResponsible(
            tenant_id=unit.tenant_id,
            site_id=unit.site_id,
            unit_id=unit.id,
            role=role,
            worker_id=worker.id,
            assigned_at=now,
            assigned_by=principal.id,
            created_at=now,
        )
        session.add(held)
    else:
        held.worker_id = worker.id
        held.assigned_at = now
        held.assigned_by = principal.id
    await record_change(
        session,
        principal.actor(domain),
        ASSIGN_ACTION,
        domain=domain,
        object_type=OBJECT,
        object_id=unit.id,
        detail={
            "site_id": str(unit.site_id),
            "name": unit.name,
            "role": role.value,
            "before": before,
            "after": str(worker.id),
        },
    )
    return unit


async def record_hazard_duty_check(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    unit_id: uuid.UUID,
    role: ResponsibleRole,
    checked_on: date,
    findings: str,
    clock: Clock = WALL_CLOCK,
) -> HazardDutyRecord:
    """A dated check of a major unit by the person holding ``role`` (which must be assigned),
    on a day that is not in the future (China Standard Time)."""
    unit, domain = await _major_unit_to_write(session, authz, principal, unit_id)
    text = bounded_text(findings, "findings", MAX_DUTY_FINDINGS, required=True)
    assert text is not None
    if checked_on > china_today(clock):
        raise BadInput("checkedOn must not be in the future", field="checkedOn")
    held = await session.scalar(
        select(HazardResponsible).where(
            HazardResponsible.unit_id == unit.id, HazardResponsible.role == role
        )
    )
    if held is None:
        raise BadInput("assign the accountable person of this role first", field="role")
    now = clock.now()
    record = HazardDutyRecord(
        tenant_id=unit.tenant_id,
        site_id=unit.site_id,
        unit_id=unit.id,
        role=role,
        worker_id=held.worker_id,
        checked_on=checked_on,
        findings=text,
        recorded_by=principal.id,
        created_at=now,
    )
    await record_change(
        session,
        principal.actor(domain),
        DUTY_CHECK_ACTION,
        added=record,
        domain=domain,
        object_type=OBJECT,
        object_id=unit.id,
        detail={
            "site_id": str(unit.site_id),
            "role": role.value,
            "worker_id": str(held.worker_id),
            "checked_on": checked_on.isoformat(),
        },
    )
    return record


# --- the change history ---------------------------------------------------------------------


@dataclass(frozen=True)
class HazardUnitChange:
    """One change of the register, as the audit trail recorded it."""

    seq: int
    entry: AuditEntry
    kind: ChangeKind
    tenant_id: uuid.UUID
    site_id: uuid.UUID
    unit_id: uuid.UUID

    @property
    def detail(self) -> dict[str, Any]:
        return self.entry.detail or {}

    def figure(self, side: str, name: str) -> Any:
        figures = self.detail.get(side)
        return figures.get(name) if isinstance(figures, dict) else None


async def _readable_sites(
    session: AsyncSession, authz: Authorizer, principal: Principal
) -> list[Site]:
    """Every site in scope whose register the caller's role may read there."""
    sites = await session.scalars(select(Site).order_by(Site.id))
    return [
        s for s in sites if authz.may(principal, site_domain(principal.scope, s), OBJECT, "read")
    ]


async def list_hazard_unit_changes(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    site_id: uuid.UUID | None = None,
    unit_id: uuid.UUID | None = None,
    first: int = 50,
    after: int | None = None,
) -> list[HazardUnitChange]:
    """The register's changes (registered, updated, removed, responsible assigned) of the sites
    the caller reads — one site, or every site of its jurisdiction or enterprise — newest
    first; ``after`` is the last change's id of the previous page. A site out of reach is not
    found; a unit id narrows to that unit (a removed one's history included)."""
    if not 1 <= first <= MAX_CHANGES:
        raise BadInput(f"first must be between 1 and {MAX_CHANGES}", field="first")
    if site_id is not None:
        site, _ = await _readable_site(session, authz, principal, site_id)
        sites = [site]
    else:
        sites = await _readable_sites(session, authz, principal)
    if not sites:
        return []
    tenants = {s.id: s.tenant_id for s in sites}
    site_of = AuditEntry.detail["site_id"].as_string()
    query = select(AuditEntry).where(
        AuditEntry.domain.in_(sorted({tenant_domain(t) for t in tenants.values()})),
        AuditEntry.action.in_([k.value for k in ChangeKind]),
        AuditEntry.object_type == OBJECT,
        site_of.in_(sorted(str(s) for s in tenants)),
    )
    if unit_id is not None:
        query = query.where(AuditEntry.object_id == str(unit_id))
    if after is not None:
        query = query.where(AuditEntry.seq < after)
    rows = await session.scalars(query.order_by(AuditEntry.seq.desc()).limit(first))
    changes = []
    for entry in rows:
        site = uuid.UUID(str(entry.detail["site_id"]))
        # The domain must be the site's own tenant's: an entry naming another tenant's site
        # in its detail is not that site's change.
        if entry.domain != tenant_domain(tenants[site]) or entry.object_id is None:
            continue
        changes.append(
            HazardUnitChange(
                seq=entry.seq,
                entry=entry,
                kind=ChangeKind(entry.action),
                tenant_id=tenants[site],
                site_id=site,
                unit_id=uuid.UUID(entry.object_id),
            )
        )
    return changes

"""The register's operations: the only writers of hazard units and their substances.

The enterprise's owner and safety manager register, change and remove units; its other roles
read them, and so do regulators for the sites in their jurisdiction (the scoped session finds
those sites; another city's, like another tenant's, are not found). Each write assesses the
unit with ``major_hazards.assess`` before anything is stored (a refusal changes nothing),
recomputes the site's ``major_hazard_grade`` from its units, and is audited in the same
transaction with R, the grade and the site's grade before and after.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, Conflict, NotFound
from backend.oversight.hazards.models import (
    MAX_SUBSTANCE_NAME,
    MAX_UNIT_NAME,
    HazardSubstance,
    HazardUnit,
)
from backend.oversight.major_hazards import Assessment, Substance, assess
from privacy.audit import record_change
from tenants.models import Site
from tenants.service import get_site, site_domain

OBJECT = "hazard_unit"
MAX_SUBSTANCES = 100


class Keep(enum.Enum):
    """An update argument left out: the field keeps its value."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class SubstanceEntry:
    """A substance as the enterprise names it: a display name (optional), exactly one of a
    CAS number, a Table 1 entry or a Table 2 category, and its quantity in tonnes."""

    quantity_tonnes: float
    name: str | None = None
    cas_number: str | None = None
    entry: int | None = None
    category: str | None = None
    beta_category: str | None = None


# --- reading --------------------------------------------------------------------------------


async def _readable_site(
    session: AsyncSession, authz: Authorizer, principal: Principal, site_id: uuid.UUID
) -> tuple[Site, str]:
    """The site and the caller's domain on it, when its role may read the register there.
    A site out of scope, or one the caller's role reads nothing of, is not found."""
    site = await get_site(session=session, site_id=site_id)
    domain = site_domain(principal.scope, site)
    if not authz.may(principal, domain, OBJECT, "read"):
        raise NotFound(f"site {site_id} not found")
    return site, domain


async def list_hazard_units(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, site_id: uuid.UUID
) -> list[HazardUnit]:
    """The units of a site, by name."""
    site, _ = await _readable_site(session, authz, principal, site_id)
    rows = await session.scalars(
        select(HazardUnit)
        .where(HazardUnit.site_id == site.id)
        .order_by(HazardUnit.name, HazardUnit.id)
    )
    return list(rows.all())


async def get_hazard_unit(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, unit_id: uuid.UUID
) -> HazardUnit:
    """A unit the caller may read; another tenant's (or another jurisdiction's) is NotFound."""
    unit = await session.scalar(select(HazardUnit).where(HazardUnit.id == unit_id))
    if unit is None:
        raise NotFound(f"hazard unit {unit_id} not found")
    await _readable_site(session, authz, principal, unit.site_id)
    return unit


async def substances_of_units(
    *, session: AsyncSession, unit_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[HazardSubstance]]:
    """The substances of several units in one statement, in the order they were entered."""
    rows = await session.scalars(
        select(HazardSubstance)
        .where(HazardSubstance.unit_id.in_(unit_ids))
        .order_by(HazardSubstance.unit_id, HazardSubstance.position)
    )
    found: dict[uuid.UUID, list[HazardSubstance]] = {}
    for row in rows:
        found.setdefault(row.unit_id, []).append(row)
    return found


async def units_of_sites(
    *, session: AsyncSession, site_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[HazardUnit]]:
    """The units of several sites in one statement, by name (within the session's scope)."""
    rows = await session.scalars(
        select(HazardUnit)
        .where(HazardUnit.site_id.in_(site_ids))
        .order_by(HazardUnit.name, HazardUnit.id)
    )
    found: dict[uuid.UUID, list[HazardUnit]] = {}
    for row in rows:
        found.setdefault(row.site_id, []).append(row)
    return found


# --- writing --------------------------------------------------------------------------------


async def _writable_site(
    session: AsyncSession, authz: Authorizer, principal: Principal, site_id: uuid.UUID, action: str
) -> tuple[Site, str]:
    site, domain = await _readable_site(session, authz, principal, site_id)
    require(authz, principal, domain, OBJECT, action)
    return site, domain


def _unit_name(value: str) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > MAX_UNIT_NAME:
        raise BadInput(f"name must be 1 to {MAX_UNIT_NAME} characters", field="name")
    return cleaned


def _substance_name(value: str | None, index: int) -> str | None:
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if len(cleaned) > MAX_SUBSTANCE_NAME:
        raise BadInput(
            f"a substance's name is at most {MAX_SUBSTANCE_NAME} characters",
            field="name",
            index=index,
        )
    return cleaned


def _assess(
    substances: Sequence[SubstanceEntry], people_within_500m: int
) -> tuple[Assessment, list[str | None]]:
    """The standard's reading of the unit, and each substance's display name; refused
    (``BadInput`` naming the field and the substance's index) before anything is stored."""
    if len(substances) > MAX_SUBSTANCES:
        raise BadInput(f"a unit has at most {MAX_SUBSTANCES} substances", field="substances")
    names = [_substance_name(s.name, i) for i, s in enumerate(substances)]
    assessment = assess(
        [
            Substance(
                quantity_tonnes=s.quantity_tonnes,
                cas_number=s.cas_number,
                entry=s.entry,
                category=s.category,
                beta_category=s.beta_category,
            )
            for s in substances
        ],
        people_within_500m,
    )
    return assessment, names


def _apply(
    unit: HazardUnit,
    assessment: Assessment,
    people_within_500m: int,
) -> None:
    unit.people_within_500m = people_within_500m
    unit.alpha = assessment.alpha
    unit.sum_q_over_Q = assessment.sum_q_over_Q
    unit.r_value = assessment.r_value
    unit.is_major = assessment.is_major_hazard
    unit.grade = assessment.grade


def _substance_rows(
    unit: HazardUnit,
    substances: Sequence[SubstanceEntry],
    names: Sequence[str | None],
    assessment: Assessment,
) -> list[HazardSubstance]:
    return [
        HazardSubstance(
            tenant_id=unit.tenant_id,
            site_id=unit.site_id,
            unit_id=unit.id,
            position=index,
            name=name,
            cas_number=None if given.cas_number is None else given.cas_number.strip(),
            entry=line.entry,
            category=line.category,
            beta_category=(
                None if given.beta_category is None else given.beta_category.strip().upper()
            ),
            quantity_tonnes=line.quantity_tonnes,
            standard_name_zh=line.name_zh,
            standard_name_en=line.name_en,
            critical_quantity_tonnes=line.critical_quantity_tonnes,
            beta=line.beta,
            q_over_Q=line.q_over_Q,
        )
        for index, (given, name, line) in enumerate(
            zip(substances, names, assessment.lines, strict=True)
        )
    ]


def _figures(unit: HazardUnit | None) -> dict[str, Any] | None:
    """What a regulator compares before and after a change."""
    if unit is None:
        return None
    return {
        "name": unit.name,
        "people_within_500m": unit.people_within_500m,
        "sum_q_over_Q": unit.sum_q_over_Q,
        "r_value": unit.r_value,
        "grade": unit.grade,
        "is_major": unit.is_major,
    }


async def _regrade_site(session: AsyncSession, site: Site) -> dict[str, int | None]:
    """The site's grade follows its units: the most severe grade (lowest number) of its major
    units, None when none is major. Returns the grade before and after."""
    await session.flush()
    worst = await session.scalar(
        select(func.min(HazardUnit.grade)).where(
            HazardUnit.site_id == site.id, HazardUnit.is_major.is_(True)
        )
    )
    before = site.major_hazard_grade
    site.major_hazard_grade = None if worst is None else int(worst)
    return {"before": before, "after": site.major_hazard_grade}


async def _check_unique(
    session: AsyncSession, site_id: uuid.UUID, name: str, unit_id: uuid.UUID | None = None
) -> None:
    query = select(HazardUnit.id).where(HazardUnit.site_id == site_id, HazardUnit.name == name)
    if unit_id is not None:
        query = query.where(HazardUnit.id != unit_id)
    if await session.scalar(query) is not None:
        raise Conflict(f"the site already has a hazard unit named {name!r}", field="name")


async def register_hazard_unit(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    site_id: uuid.UUID,
    name: str,
    people_within_500m: int,
    substances: Sequence[SubstanceEntry],
    clock: Clock = WALL_CLOCK,
) -> HazardUnit:
    """A unit of the site, identified and graded; the site's grade follows."""
    site, domain = await _writable_site(session, authz, principal, site_id, "create")
    unit_name = _unit_name(name)
    assessment, names = _assess(substances, people_within_500m)
    await _check_unique(session, site.id, unit_name)
    now = clock.now()
    unit = HazardUnit(
        tenant_id=site.tenant_id,
        site_id=site.id,
        name=unit_name,
        created_by=principal.id,
        created_at=now,
        updated_at=now,
    )
    _apply(unit, assessment, people_within_500m)
    session.add(unit)
    await session.flush()
    session.add_all(_substance_rows(unit, substances, names, assessment))
    site_grade = await _regrade_site(session, site)
    await record_change(
        session,
        principal.actor(domain),
        "hazard_unit.register",
        domain=domain,
        object_type=OBJECT,
        object_id=unit.id,
        detail={
            "site_id": str(site.id),
            "before": None,
            "after": _figures(unit),
            "site_grade": site_grade,
        },
    )
    return unit


async def update_hazard_unit(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    unit_id: uuid.UUID,
    name: str | Keep = KEEP,
    people_within_500m: int | Keep = KEEP,
    substances: Sequence[SubstanceEntry] | Keep = KEEP,
    clock: Clock = WALL_CLOCK,
) -> HazardUnit:
    """Change a unit's name, head count or substances (given substances replace them all);
    the unit is assessed again and the site's grade follows."""
    unit = await get_hazard_unit(session=session, authz=authz, principal=principal, unit_id=unit_id)
    site, domain = await _writable_site(session, authz, principal, unit.site_id, "update")
    # Everything is checked before anything is assigned: a refusal changes nothing.
    new_name = unit.name if isinstance(name, Keep) else _unit_name(name)
    people = unit.people_within_500m if isinstance(people_within_500m, Keep) else people_within_500m
    if isinstance(substances, Keep):
        current = (await substances_of_units(session=session, unit_ids=[unit.id])).get(unit.id, [])
        entries: Sequence[SubstanceEntry] = [
            SubstanceEntry(
                quantity_tonnes=s.quantity_tonnes,
                name=s.name,
                cas_number=s.cas_number,
                entry=None if s.cas_number is not None or s.category is not None else s.entry,
                category=s.category,
                beta_category=s.beta_category,
            )
            for s in current
        ]
    else:
        entries = substances
    assessment, names = _assess(entries, people)
    if new_name != unit.name:
        await _check_unique(session, site.id, new_name, unit.id)
    before = _figures(unit)
    unit.name = new_name
    _apply(unit, assessment, people)
    unit.updated_at = clock.now()
    if not isinstance(substances, Keep):
        await session.execute(delete(HazardSubstance).where(HazardSubstance.unit_id == unit.id))
        session.add_all(_substance_rows(unit, entries, names, assessment))
    site_grade = await _regrade_site(session, site)
    changed = sorted(
        field
        for field, given in (
            ("name", name),
            ("people_within_500m", people_within_500m),
            ("substances", substances),
        )
        if not isinstance(given, Keep)
    )
    await record_change(
        session,
        principal.actor(domain),
        "hazard_unit.update",
        domain=domain,
        object_type=OBJECT,
        object_id=unit.id,
        detail={
            "site_id": str(site.id),
            "fields": changed,
            "before": before,
            "after": _figures(unit),
            "site_grade": site_grade,
        },
    )
    return unit


async def remove_hazard_unit(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, unit_id: uuid.UUID
) -> Site:
    """Remove a unit (and its substances); the site's grade follows what remains. Returns the
    site as it now is."""
    unit = await get_hazard_unit(session=session, authz=authz, principal=principal, unit_id=unit_id)
    site, domain = await _writable_site(session, authz, principal, unit.site_id, "delete")
    before = _figures(unit)
    await session.execute(delete(HazardSubstance).where(HazardSubstance.unit_id == unit.id))
    await session.delete(unit)
    site_grade = await _regrade_site(session, site)
    await record_change(
        session,
        principal.actor(domain),
        "hazard_unit.remove",
        domain=domain,
        object_type=OBJECT,
        object_id=unit_id,
        detail={
            "site_id": str(site.id),
            "before": before,
            "after": None,
            "site_grade": site_grade,
        },
    )
    return site


async def set_site_major_hazard_grade(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    site_id: uuid.UUID,
    grade: int | None,
) -> Site:
    """A hand-set grade, for a site whose sources are not registered here. Once a site has
    units its grade follows them, and a hand-set one is refused."""
    site = await get_site(session=session, site_id=site_id)
    domain = site_domain(principal.scope, site)
    require(authz, principal, domain, "site", "update")
    if grade is not None and grade not in (1, 2, 3, 4):
        raise BadInput("major hazard grade must be 1, 2, 3 or 4", field="grade")
    units = await session.scalar(
        select(func.count()).select_from(HazardUnit).where(HazardUnit.site_id == site.id)
    )
    if units:
        raise BadInput(
            "the site's major hazard grade follows its registered hazard units; "
            "change or remove the units instead",
            field="majorHazardGrade",
        )
    if site.major_hazard_grade == grade:
        return site
    before = site.major_hazard_grade
    site.major_hazard_grade = grade
    await record_change(
        session,
        principal.actor(domain),
        "site.major_hazard_grade",
        domain=domain,
        object_type="site",
        object_id=site.id,
        detail={"before": before, "after": grade},
    )
    return site

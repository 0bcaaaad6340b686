"""The regulators' overview of a jurisdiction: its figures, its children's, each site's risk.

A division's figures are those of the sites inside it (their division code begins with its
prefix, ``tenants.divisions.division_prefix``) that the caller's scope sees:

* ``sites`` and ``major_hazard_sources`` are its children's plus those coded at the division
  itself; ``enterprises`` counts the distinct tenants owning a site inside (a tenant with sites
  in two children counts once, so it need not be the children's sum);
* ``online_rate`` is weighted by sensors: the online sensors of all its sites over all their
  sensors (the registry's sensors of devices not revoked), None without sensors;
* active alarms (not cleared) are counted by severity; the risk colour is the worst of its
  sites' (``backend.oversight.risk``), None without sites.

A province's children are its cities (``code[:4] + "00"``), a city's its counties (the full
code); a county has none. A site coded at the division itself counts in the division's totals
and in no child. Children are the divisions the sites inside name, so one without sites is not
listed.

The cost does not grow in queries with the sites: one relational query for the sites, one
grouped query for their active alarms, one for their sensors, one for their overdue
rectification notices (``backend.oversight.notices``), and meanwhile, in a worker thread, one
ClickHouse query for the sensors online (``backend.telemetry.status.online_sensors_by_site``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import anyio
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import Alarm
from backend.alarms.rules import Severity
from backend.auth import service as auth_service
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, NotFound
from backend.oversight.hazards.models import HazardUnit
from backend.oversight.notices.service import overdue_notices_by_site
from backend.oversight.risk import RiskColor, RiskInputs, site_risk_color, worst
from backend.oversight.service import gov_domain
from backend.telemetry.models import Device, Sensor
from backend.telemetry.status import online_sensors_by_site
from tenants import divisions
from tenants.divisions import covers, division_prefix, validate_division
from tenants.models import Site

SITE_RISKS_MAX = 500
SEVERITIES = (Severity.RED, Severity.ORANGE, Severity.YELLOW, Severity.BLUE)
GRADES = (1, 2, 3, 4)  # 一级 (the most severe) to 四级, GB 18218-2018


@dataclass(frozen=True)
class SiteFigures:
    site_id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    division_code: str
    major_hazard_grade: int | None
    major_hazard_sources: int
    sensors: int
    sensors_online: int
    active_alarms: Mapping[Severity, int]
    overdue_unacknowledged: int
    risk_color: RiskColor
    # Its major hazard sources by grade (1-4), those without a source absent.
    sources_by_grade: Mapping[int, int] = field(default_factory=dict)
    overdue_notices: int = 0

    @property
    def online_rate(self) -> float | None:
        return self.sensors_online / self.sensors if self.sensors else None

    @property
    def active_alarm_count(self) -> int:
        return sum(self.active_alarms.values())


@dataclass(frozen=True)
class DivisionFigures:
    division_code: str
    name: str
    enterprises: int
    sites: int
    major_hazard_sources: int
    sensors: int
    sensors_online: int
    active_alarms: Mapping[Severity, int]  # every severity, RED first
    risk_color: RiskColor | None
    major_hazard_sources_by_grade: Mapping[int, int]  # every grade, I (1) first
    overdue_unacknowledged: int
    overdue_notices: int

    @property
    def online_rate(self) -> float | None:
        return self.sensors_online / self.sensors if self.sensors else None


@dataclass(frozen=True)
class Jurisdiction:
    figures: DivisionFigures
    children: list[DivisionFigures] = field(default_factory=list)


@dataclass(frozen=True)
class SiteRisk:
    site: Site
    figures: SiteFigures


# --- whose division ------------------------------------------------------------------------


def regulated_division(principal: Principal, division_code: str | None) -> str | None:
    """The division the caller asks about, inside their jurisdiction; None for a caller who
    regulates nothing (an enterprise member, the platform administrator). Without a code it
    is the caller's own division, which a regulator of several must name (``BadInput``); a
    division outside the caller's jurisdiction is ``NotFound``."""
    jurisdictions = principal.scope.jurisdictions
    if not jurisdictions:
        return None
    if division_code is None:
        if len(jurisdictions) > 1:
            raise BadInput(
                "you regulate several divisions; name one with divisionCode "
                f"({', '.join(sorted(jurisdictions))})",
                field="divisionCode",
            )
        return next(iter(jurisdictions))
    code = validate_division(division_code)
    if not any(covers(j, code) for j in jurisdictions):
        raise NotFound(f"division {code} not found")
    return code


def child_of(division: str, code: str) -> str | None:
    """The child of ``division`` a site coded ``code`` (inside it) counts in, as GB/T 2260
    nests them (a municipality's districts lie directly in it); None when the site is coded at
    the division itself."""
    if code == division:
        return None
    for inside in (*divisions.ancestors(code), divisions.division(code)):
        if inside.parent_code == division:
            return inside.code
    return None


# --- per-site figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class _SiteRow:
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    division_code: str
    major_hazard_grade: int | None


async def major_hazard_sources_by_site(
    *, session: AsyncSession, sites: Sequence[_SiteRow]
) -> dict[uuid.UUID, dict[int, int]]:
    """Each site's major hazard sources (重大危险源) by grade: its registered hazard units that
    are major (one grouped query); sites without any absent. A site graded by hand before it
    registered any unit counts as one source of its grade."""
    rows = await session.execute(
        select(HazardUnit.site_id, HazardUnit.grade, func.count())
        .where(HazardUnit.is_major, HazardUnit.site_id.in_([s.id for s in sites]))
        .group_by(HazardUnit.site_id, HazardUnit.grade)
    )
    registered: dict[uuid.UUID, dict[int, int]] = defaultdict(dict)
    for site_id, grade, n in rows:
        registered[site_id][int(grade)] = int(n)
    for s in sites:
        if s.id not in registered and s.major_hazard_grade is not None:
            registered[s.id] = {s.major_hazard_grade: 1}
    return dict(registered)


async def sites_inside(*, session: AsyncSession, prefix: str) -> list[_SiteRow]:
    rows = await session.execute(
        select(Site.id, Site.tenant_id, Site.name, Site.division_code, Site.major_hazard_grade)
        .where(Site.division_code.startswith(prefix))
        .order_by(Site.id)
    )
    return [_SiteRow(*row) for row in rows]


async def _active_alarms(
    *, session: AsyncSession, prefix: str, now: datetime
) -> tuple[dict[uuid.UUID, dict[Severity, int]], dict[uuid.UUID, int]]:
    """Active alarms by site and severity, and by site those nobody acknowledged within their
    deadline (they escalated, or their first escalation is due): one grouped query."""
    overdue = and_(
        Alarm.acknowledged_at.is_(None),
        or_(Alarm.escalation_step > 0, Alarm.escalate_at <= now),
    )
    rows = await session.execute(
        select(
            Alarm.site_id,
            Alarm.severity,
            func.count(),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
        )
        .join(Site, Site.id == Alarm.site_id)
        .where(Alarm.cleared_at.is_(None), Site.division_code.startswith(prefix))
        .group_by(Alarm.site_id, Alarm.severity)
    )
    by_severity: dict[uuid.UUID, dict[Severity, int]] = defaultdict(dict)
    late: dict[uuid.UUID, int] = defaultdict(int)
    for site_id, severity, count, overdue_count in rows:
        by_severity[site_id][Severity(severity)] = int(count)
        late[site_id] += int(overdue_count)
    return by_severity, late


async def sensors_by_site(*, session: AsyncSession, prefix: str) -> dict[uuid.UUID, int]:
    """The registry's sensors of each site, those of revoked devices left out: one query."""
    rows = await session.execute(
        select(Sensor.site_id, func.count())
        .join(Device, Device.id == Sensor.device_id)
        .join(Site, Site.id == Sensor.site_id)
        .where(Device.revoked_at.is_(None), Site.division_code.startswith(prefix))
        .group_by(Sensor.site_id)
    )
    return {site_id: int(n) for site_id, n in rows}


async def retired_sensors(*, session: AsyncSession, prefix: str) -> set[uuid.UUID]:
    """The sensors of revoked devices at the sites inside: the telemetry store keeps their
    readings, which count for no site."""
    rows = await session.scalars(
        select(Sensor.id)
        .join(Device, Device.id == Sensor.device_id)
        .join(Site, Site.id == Sensor.site_id)
        .where(Device.revoked_at.is_not(None), Site.division_code.startswith(prefix))
    )
    return set(rows.all())


@dataclass
class OnlineSensors:
    """What ``online_sensors_meanwhile`` counted: the store's online sensors per (tenant, site)."""

    reported: dict[tuple[uuid.UUID, uuid.UUID], int] = field(default_factory=dict)

    def by_site(self, sensors: Mapping[uuid.UUID, int]) -> dict[uuid.UUID, int]:
        """Online sensors per site, at most the registry's count (``sensors``, from
        ``sensors_by_site``): what reported is counted in the store, the registry decides what
        a site has."""
        reported = self.reported.items()
        return {site_id: min(n, sensors.get(site_id, 0)) for (_tenant, site_id), n in reported}


@asynccontextmanager
async def online_sensors_meanwhile(
    *,
    session: AsyncSession,
    client: Any,
    principal: Principal,
    prefix: str,
    now: datetime,
    offline_after_seconds: int,
) -> AsyncIterator[OnlineSensors]:
    """Counts the sensors online at ``now`` in the telemetry store, in a worker thread, while
    the block goes on with its relational queries; the count is in when the block ends. The
    store keeps the readings of sensors whose device was revoked; those are left out, since
    the site no longer has them."""
    retired = await retired_sensors(session=session, prefix=prefix)
    online = OnlineSensors()
    # A plain task, awaited after the block: the store's refusals (a query over its limit, an
    # engine away) reach the caller as themselves, not wrapped in a task group's ExceptionGroup.
    counting = asyncio.create_task(
        anyio.to_thread.run_sync(
            partial(
                online_sensors_by_site,
                client,
                principal.scope,
                now=now,
                offline_after_seconds=offline_after_seconds,
                leaving_out=retired,
            )
        )
    )
    try:
        yield online
    except BaseException:
        counting.cancel()
        raise
    online.reported = await counting


async def site_figures(
    *,
    session: AsyncSession,
    client: Any,  # the telemetry store's client, handed to backend.telemetry
    principal: Principal,
    division_code: str,
    offline_after_seconds: int,
    clock: Clock = WALL_CLOCK,
) -> list[SiteFigures]:
    """The figures and risk colour of every site inside the division that the session's
    scope sees, in no particular order."""
    prefix = division_prefix(division_code)
    now = clock.now()
    sites = await sites_inside(session=session, prefix=prefix)
    if not sites:
        return []
    async with online_sensors_meanwhile(
        session=session,
        client=client,
        principal=principal,
        prefix=prefix,
        now=now,
        offline_after_seconds=offline_after_seconds,
    ) as counted:
        hazards = await major_hazard_sources_by_site(session=session, sites=sites)
        alarms, late = await _active_alarms(session=session, prefix=prefix, now=now)
        sensors = await sensors_by_site(session=session, prefix=prefix)
        late_notices = await overdue_notices_by_site(session, [s.id for s in sites], now)
    online = counted.by_site(sensors)
    figures = []
    for s in sites:
        total = sensors.get(s.id, 0)
        up = online.get(s.id, 0)
        active = alarms.get(s.id, {})
        color = site_risk_color(
            RiskInputs(
                active_red=active.get(Severity.RED, 0),
                active_orange=active.get(Severity.ORANGE, 0),
                active_alarms=sum(active.values()),
                overdue_unacknowledged=late.get(s.id, 0),
                major_hazard_grade=s.major_hazard_grade,
                online_rate=up / total if total else None,
                overdue_notices=late_notices.get(s.id, 0),
            )
        )
        figures.append(
            SiteFigures(
                site_id=s.id,
                tenant_id=s.tenant_id,
                name=s.name,
                division_code=s.division_code,
                major_hazard_grade=s.major_hazard_grade,
                major_hazard_sources=sum(hazards.get(s.id, {}).values()),
                sensors=total,
                sensors_online=up,
                active_alarms=active,
                overdue_unacknowledged=late.get(s.id, 0),
                risk_color=color,
                sources_by_grade=hazards.get(s.id, {}),
                overdue_notices=late_notices.get(s.id, 0),
            )
        )
    return figures


def division_figures(code: str, sites: Iterable[SiteFigures]) -> DivisionFigures:
    """The figures of a division from the sites inside it."""
    listed = list(sites)
    active = {severity: 0 for severity in SEVERITIES}
    by_grade = {grade: 0 for grade in GRADES}
    for s in listed:
        for severity, n in s.active_alarms.items():
            active[severity] += n
        for grade, n in s.sources_by_grade.items():
            by_grade[grade] += n
    return DivisionFigures(
        division_code=code,
        name=divisions.division(code).name,
        enterprises=len({s.tenant_id for s in listed}),
        sites=len(listed),
        major_hazard_sources=sum(s.major_hazard_sources for s in listed),
        sensors=sum(s.sensors for s in listed),
        sensors_online=sum(s.sensors_online for s in listed),
        active_alarms=active,
        risk_color=worst(s.risk_color for s in listed),
        major_hazard_sources_by_grade=by_grade,
        overdue_unacknowledged=sum(s.overdue_unacknowledged for s in listed),
        overdue_notices=sum(s.overdue_notices for s in listed),
    )


# --- the operations ------------------------------------------------------------------------


async def jurisdiction(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    client: Any,  # the telemetry store's client, handed to backend.telemetry
    division_code: str | None,
    offline_after_seconds: int,
    clock: Clock = WALL_CLOCK,
) -> Jurisdiction:
    """The figures of a division of the caller's jurisdiction and of each of its children
    (by code). ``NotFound`` for a caller who regulates nothing."""
    code = regulated_division(principal, division_code)
    if code is None:
        raise NotFound("no jurisdiction: you regulate no division")
    auth_service.require(authz, principal, gov_domain(code), "site", "read")
    sites = await site_figures(
        session=session,
        client=client,
        principal=principal,
        division_code=code,
        offline_after_seconds=offline_after_seconds,
        clock=clock,
    )
    by_child: dict[str, list[SiteFigures]] = defaultdict(list)
    for s in sites:
        child = child_of(code, s.division_code)
        if child is not None:
            by_child[child].append(s)
    return Jurisdiction(
        figures=division_figures(code, sites),
        children=[
            division_figures(child.code, by_child[child.code]) for child in divisions.children(code)
        ],
    )


def risk_order(site: SiteFigures) -> tuple[int, str, str]:
    """RED → BLUE, then site name, then id."""
    return (-site.risk_color.rank, site.name, str(site.site_id))


async def site_risks(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    client: Any,  # the telemetry store's client, handed to backend.telemetry
    division_code: str | None,
    offline_after_seconds: int,
    first: int = 50,
    after: uuid.UUID | None = None,
    clock: Clock = WALL_CLOCK,
) -> list[SiteRisk]:
    """The sites inside a division of the caller's jurisdiction with their risk colour,
    ordered by ``risk_order``; a page of ``first`` (1 to 500) after the site ``after``. Empty
    for a caller who regulates nothing."""
    if not 1 <= first <= SITE_RISKS_MAX:
        raise BadInput(f"first must be between 1 and {SITE_RISKS_MAX}", field="first")
    code = regulated_division(principal, division_code)
    if code is None:
        return []
    auth_service.require(authz, principal, gov_domain(code), "site", "read")
    ordered = sorted(
        await site_figures(
            session=session,
            client=client,
            principal=principal,
            division_code=code,
            offline_after_seconds=offline_after_seconds,
            clock=clock,
        ),
        key=risk_order,
    )
    start = 0
    if after is not None:
        position = next((i for i, s in enumerate(ordered) if s.site_id == after), None)
        if position is None:
            raise NotFound(f"site {after} not found")
        start = position + 1
    page = ordered[start : start + first]
    if not page:
        return []
    rows = await session.scalars(select(Site).where(Site.id.in_([s.site_id for s in page])))
    by_id = {site.id: site for site in rows}
    return [SiteRisk(by_id[s.site_id], s) for s in page if s.site_id in by_id]

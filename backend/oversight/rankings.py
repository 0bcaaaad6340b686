"""Enterprise rankings of a jurisdiction (企业排名): who keeps their sensors online, who answers
alarms, whose alarms are false — worst first, for regulators to chase.

An enterprise's figures are those of its sites inside the division (``backend.oversight.
overview``'s rules):

* ``online_rate``: online sensors / registered sensors of devices not revoked, weighted by
  sensors over all its sites there (None without sensors);
* ``alarms``: alarms raised in the last ``days`` at those sites;
* ``mtta_seconds``: the mean time from raised to acknowledged of those acknowledged (None when
  none is); ``mttr_seconds`` the same to cleared, of those cleared;
* ``false_positive_rate``: of those closed after review, the share judged false positives
  (``Verdict.FALSE_POSITIVE``, as ``backend.response`` counts per rule); None when none is
  closed;
* ``overdue_notices``: its rectification notices there overdue now (``backend.oversight.
  notices``).

The cost does not grow in queries with the sites or the enterprises: one relational query for
the sites, one grouped query for the sensors, one for the alarms, one for the enterprises'
names, one for the overdue notices, one ClickHouse query for the sensors online.
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import Float, Integer, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from backend.alarms.models import Alarm, AlarmStatus, Verdict
from backend.auth import service as auth_service
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput
from backend.oversight.notices.service import overdue_notices_by_site
from backend.oversight.overview import (
    online_sensors_meanwhile,
    regulated_division,
    sensors_by_site,
    sites_inside,
)
from backend.oversight.service import gov_domain
from tenants.divisions import division_prefix
from tenants.models import Site, Tenant

RANKINGS_MAX = 500
DAYS_MAX = 366


class RankingOrder(enum.Enum):
    ONLINE_RATE = "ONLINE_RATE"  # lowest first
    MTTA = "MTTA"  # slowest first
    ALARMS = "ALARMS"  # most first
    FALSE_POSITIVE_RATE = "FALSE_POSITIVE_RATE"  # highest first
    OVERDUE_NOTICES = "OVERDUE_NOTICES"  # most first


class _SecondsBetween(FunctionElement[float]):
    """Seconds from the first timestamp to the second, in the relational store's dialect."""

    type = Float()
    inherit_cache = True


@compiles(_SecondsBetween)
def _seconds_between_default(element: _SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"


@compiles(_SecondsBetween, "sqlite")
def _seconds_between_sqlite(element: _SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"((julianday({compiler.process(end, **kw)}) - "
        f"julianday({compiler.process(start, **kw)})) * 86400.0)"
    )


def seconds_between(start: ColumnElement[Any], end: ColumnElement[Any]) -> _SecondsBetween:
    return _SecondsBetween(start, end)


@dataclass(frozen=True)
class EnterpriseRanking:
    tenant: Tenant
    sites: int
    sensors: int
    sensors_online: int
    alarms: int
    mtta_seconds: float | None
    mttr_seconds: float | None
    closed: int
    false_positives: int
    overdue_notices: int

    @property
    def online_rate(self) -> float | None:
        return self.sensors_online / self.sensors if self.sensors else None

    @property
    def false_positive_rate(self) -> float | None:
        return self.false_positives / self.closed if self.closed else None


@dataclass(frozen=True)
class _AlarmFigures:
    alarms: int
    mtta: float | None
    mttr: float | None
    closed: int
    false_positives: int


async def _alarm_figures(
    *, session: AsyncSession, prefix: str, since: Any
) -> dict[uuid.UUID, _AlarmFigures]:
    """Per enterprise, its alarms raised since ``since`` at its sites inside: one grouped
    query."""
    closed = Alarm.status == AlarmStatus.CLOSED
    rows = await session.execute(
        select(
            Alarm.tenant_id,
            func.count(),
            func.avg(seconds_between(Alarm.raised_at, Alarm.acknowledged_at)),
            func.avg(seconds_between(Alarm.raised_at, Alarm.cleared_at)),
            func.sum(case((closed, 1), else_=0), type_=Integer),
            func.sum(
                case((and_(closed, Alarm.verdict == Verdict.FALSE_POSITIVE), 1), else_=0),
                type_=Integer,
            ),
        )
        .join(Site, Site.id == Alarm.site_id)
        .where(Alarm.raised_at >= since, Site.division_code.startswith(prefix))
        .group_by(Alarm.tenant_id)
    )
    return {
        tenant: _AlarmFigures(
            alarms=int(n),
            # To the millisecond: SQLite's julianday arithmetic carries float noise below it.
            mtta=None if mtta is None else round(float(mtta), 3),
            mttr=None if mttr is None else round(float(mttr), 3),
            closed=int(n_closed or 0),
            false_positives=int(fp or 0),
        )
        for tenant, n, mtta, mttr, n_closed, fp in rows
    }


def _descending(value: float | None) -> tuple[int, float]:
    return (1, 0.0) if value is None else (0, -value)


def _ascending(value: float | None) -> tuple[int, float]:
    return (1, 0.0) if value is None else (0, value)


def _key(order: RankingOrder, r: EnterpriseRanking) -> tuple[tuple[int, float], str, str]:
    if order is RankingOrder.ONLINE_RATE:
        figure = _ascending(r.online_rate)
    elif order is RankingOrder.MTTA:
        figure = _descending(r.mtta_seconds)
    elif order is RankingOrder.ALARMS:
        figure = _descending(float(r.alarms))
    elif order is RankingOrder.OVERDUE_NOTICES:
        figure = _descending(float(r.overdue_notices))
    else:
        figure = _descending(r.false_positive_rate)
    return (figure, r.tenant.name, str(r.tenant.id))


async def enterprise_rankings(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    client: Any,  # the telemetry store's client, handed to backend.telemetry
    division_code: str | None,
    offline_after_seconds: int,
    days: int = 30,
    order_by: RankingOrder = RankingOrder.ONLINE_RATE,
    first: int = 50,
    clock: Clock = WALL_CLOCK,
) -> list[EnterpriseRanking]:
    """The enterprises with sites inside a division of the caller's jurisdiction, worst first
    by ``order_by`` (lowest online rate, slowest acknowledgement, most alarms, highest
    false-positive rate; an enterprise without the figure last), then by name and id; the
    first ``first`` (1 to 500). ``days``: 1 to 366. Empty for a caller who regulates nothing."""
    if not 1 <= first <= RANKINGS_MAX:
        raise BadInput(f"first must be between 1 and {RANKINGS_MAX}", field="first")
    if not 1 <= days <= DAYS_MAX:
        raise BadInput(f"days must be between 1 and {DAYS_MAX}", field="days")
    code = regulated_division(principal, division_code)
    if code is None:
        return []
    auth_service.require(authz, principal, gov_domain(code), "alarm", "read")
    prefix = division_prefix(code)
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
        sensors = await sensors_by_site(session=session, prefix=prefix)
        since = now - timedelta(days=days)
        alarms = await _alarm_figures(session=session, prefix=prefix, since=since)
        tenants = {
            t.id: t
            for t in await session.scalars(
                select(Tenant).where(Tenant.id.in_({s.tenant_id for s in sites}))
            )
        }
        late_notices = await overdue_notices_by_site(session, [s.id for s in sites], now)
    online = counted.by_site(sensors)
    site_count: dict[uuid.UUID, int] = defaultdict(int)
    sensor_count: dict[uuid.UUID, int] = defaultdict(int)
    up_count: dict[uuid.UUID, int] = defaultdict(int)
    late_count: dict[uuid.UUID, int] = defaultdict(int)
    for s in sites:
        total = sensors.get(s.id, 0)
        site_count[s.tenant_id] += 1
        sensor_count[s.tenant_id] += total
        up_count[s.tenant_id] += online.get(s.id, 0)
        late_count[s.tenant_id] += late_notices.get(s.id, 0)
    none = _AlarmFigures(0, None, None, 0, 0)
    ranked = [
        EnterpriseRanking(
            tenant=tenants[tenant_id],
            sites=n,
            sensors=sensor_count[tenant_id],
            sensors_online=up_count[tenant_id],
            alarms=alarms.get(tenant_id, none).alarms,
            mtta_seconds=alarms.get(tenant_id, none).mtta,
            mttr_seconds=alarms.get(tenant_id, none).mttr,
            closed=alarms.get(tenant_id, none).closed,
            false_positives=alarms.get(tenant_id, none).false_positives,
            overdue_notices=late_count[tenant_id],
        )
        for tenant_id, n in site_count.items()
        if tenant_id in tenants
    ]
    ranked.sort(key=partial(_key, order_by))
    return ranked[:first]

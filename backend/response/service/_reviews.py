"""What the alarms' reviews say about their rules: how often a closed alarm was a false one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Integer, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import Alarm, AlarmStatus, Verdict
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.errors import NotFound
from tenants.models import Site
from tenants.service import site_domain


@dataclass(frozen=True)
class RuleReview:
    rule_id: uuid.UUID
    closed: int
    false_positives: int

    @property
    def rate(self) -> float:
        return self.false_positives / self.closed if self.closed else 0.0


async def rule_review_stats(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, site_id: uuid.UUID
) -> list[RuleReview]:
    """Per rule of the site with closed alarms: how many were closed and how many of those
    were judged false positives — one grouped statement, worst rate first."""
    site = await session.scalar(select(Site).where(Site.id == site_id))
    if site is None:
        raise NotFound(f"site {site_id} not found")
    require(authz, principal, site_domain(principal.scope, site), "alarm_rule", "read")
    false_positive = func.sum(
        case((Alarm.verdict == Verdict.FALSE_POSITIVE, 1), else_=0), type_=Integer
    )
    rows = await session.execute(
        select(Alarm.rule_id, func.count(), false_positive)
        .where(Alarm.site_id == site_id, Alarm.status == AlarmStatus.CLOSED)
        .group_by(Alarm.rule_id)
    )
    reviews = [RuleReview(rule, int(closed), int(fp or 0)) for rule, closed, fp in rows]
    return sorted(reviews, key=lambda r: (-r.rate, -r.closed, str(r.rule_id)))

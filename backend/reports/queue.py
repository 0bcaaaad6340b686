"""The regulators' side of hazard reports: what a jurisdiction reads (its divisions' reports,
as ancestors read everything inside them). The reporter's contact is never part of it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.principal import Principal
from backend.core.errors import BadInput, NotFound
from backend.reports.models import (
    IN_HAND,
    HazardReport,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
)
from tenants.divisions import covers, division_prefix, validate_division

MAX_PAGE = 500


async def list_reports(
    *,
    session: AsyncSession,
    principal: Principal,
    division_code: str | None = None,
    status: ReportStatus | None = None,
    first: int = 50,
    after: uuid.UUID | None = None,
    overdue: bool | None = None,
    assigned_to_me: bool | None = None,
    now: datetime | None = None,
) -> list[HazardReport]:
    """The reports inside the caller's jurisdictions, latest received first (then id); inside
    one division (one outside the caller's jurisdiction: ``NotFound``), of one status,
    overdue at ``now`` or not, assigned to the caller or not; at most ``first``, after the
    report ``after`` (the last of the previous page). Anyone without a jurisdiction (an
    enterprise, the platform administrator) reads none."""
    if not 1 <= first <= MAX_PAGE:
        raise BadInput(f"first is between 1 and {MAX_PAGE}", field="first")
    jurisdictions = sorted(principal.scope.jurisdictions)
    if division_code is not None:
        code = validate_division(division_code)
        if not any(covers(j, code) for j in jurisdictions):
            raise NotFound(f"division {code} not found")
        jurisdictions = [code]
    if not jurisdictions:
        return []
    inside = or_(
        *(HazardReport.division_code.startswith(division_prefix(j)) for j in jurisdictions)
    )
    query = select(HazardReport).where(inside)
    if status is not None:
        query = query.where(HazardReport.status == status)
    if overdue is not None:
        if now is None:
            raise ValueError("the overdue filter needs the time")
        late = overdue_clause(now)
        query = query.where(late if overdue else ~late)
    if assigned_to_me is not None:
        mine = HazardReport.assigned_to == principal.id
        query = query.where(
            mine if assigned_to_me else or_(~mine, HazardReport.assigned_to.is_(None))
        )
    if after is not None:
        last = (
            await session.execute(
                select(HazardReport.received_at, HazardReport.id).where(
                    HazardReport.id == after, inside
                )
            )
        ).one_or_none()
        if last is None:
            raise BadInput("after is no report the caller reads", field="after")
        query = query.where(
            or_(
                HazardReport.received_at < last.received_at,
                and_(HazardReport.received_at == last.received_at, HazardReport.id < last.id),
            )
        )
    query = query.order_by(HazardReport.received_at.desc(), HazardReport.id.desc()).limit(first)
    return list(await session.scalars(query))


async def photos_of_reports(
    *, session: AsyncSession, report_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    rows = await session.execute(
        select(ReportPhoto.report_id, ReportPhoto.key)
        .where(ReportPhoto.report_id.in_(report_ids))
        .order_by(ReportPhoto.uploaded_at, ReportPhoto.key)
    )
    found: dict[uuid.UUID, list[str]] = {}
    for report_id, key in rows:
        found.setdefault(report_id, []).append(key)
    return found


def overdue_clause(now: datetime):  # type: ignore[no-untyped-def]  # a SQL expression
    """SQL for ``handling.is_overdue``: acceptance, closing or feedback late at ``now``."""
    return or_(
        and_(HazardReport.status == ReportStatus.RECEIVED, HazardReport.accept_due_at <= now),
        and_(HazardReport.status.in_(IN_HAND), HazardReport.close_due_at <= now),
        and_(
            HazardReport.status == ReportStatus.CLOSED,
            HazardReport.feedback_at.is_(None),
            HazardReport.feedback_due_at <= now,
        ),
    )


async def events_of_reports(
    *, session: AsyncSession, report_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ReportEvent]]:
    """Each report's whole timeline (public and internal entries), oldest first."""
    rows = await session.scalars(
        select(ReportEvent)
        .where(ReportEvent.report_id.in_(report_ids))
        .order_by(ReportEvent.report_id, ReportEvent.at, ReportEvent.created_at, ReportEvent.id)
    )
    found: dict[uuid.UUID, list[ReportEvent]] = {}
    for row in rows:
        found.setdefault(row.report_id, []).append(row)
    return found

"""Inspections (检查记录): the only writer of inspection records and their findings.

A director or inspector records an inspection of a site inside their jurisdiction: the day it
was inspected (not after today, China Standard Time), who inspected (regulators of a division
covering the site, directors or inspectors; the recorder when nobody is named), the findings
(each with the legal basis it was found under; an inspection may find nothing) and a summary.
The enterprise owning the site (every role of it) and the regulators of its jurisdiction read
it. From an inspection with findings a regulator issues a rectification notice, once: its
items are the findings, numbered and audited by the notices service like any notice, and the
inspection keeps the link.

Another tenant's inspection, another jurisdiction's, and every inspection for the platform
administrator are not found; a role that may read but not act is forbidden. Each step is
audited in its transaction; a refusal changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.authz import Authorizer, domain_kind
from backend.auth.models import Membership, User
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, Conflict, Forbidden, NotFound
from backend.oversight.inspections.models import MAX_SUMMARY, Inspection, InspectionFinding
from backend.oversight.notices import service as notices
from backend.oversight.notices.models import MAX_BASIS, MAX_FINDING, RectificationNotice
from backend.oversight.text import bounded_text
from privacy.audit import record_change
from tenants.divisions import covers, division_prefix, validate_division
from tenants.models import Site
from tenants.service import get_site, site_domain

OBJECT = "inspection"
MAX_FINDINGS = notices.MAX_ITEMS  # each finding becomes an item of the notice issued from it
MAX_INSPECTORS = 20
MAX_PAGE = 500
# Who inspects: the regulators who act, not those who only read.
INSPECTOR_ROLES = ("director", "inspector")


# --- reading --------------------------------------------------------------------------------


async def _site_of(
    session: AsyncSession, authz: Authorizer, principal: Principal, site_id: uuid.UUID
) -> tuple[Site, str]:
    """The site and the caller's domain on it, when its role reads inspections there;
    otherwise (out of scope, or a role that reads none) not found."""
    site = await get_site(session=session, site_id=site_id)
    domain = site_domain(principal.scope, site)
    if not authz.may(principal, domain, OBJECT, "read"):
        raise NotFound(f"site {site_id} not found")
    return site, domain


async def _inspection(
    session: AsyncSession, authz: Authorizer, principal: Principal, inspection_id: uuid.UUID
) -> tuple[Inspection, Site, str]:
    inspection = await session.scalar(select(Inspection).where(Inspection.id == inspection_id))
    if inspection is None:
        raise NotFound(f"inspection {inspection_id} not found")
    try:
        site, domain = await _site_of(session, authz, principal, inspection.site_id)
    except NotFound:
        raise NotFound(f"inspection {inspection_id} not found") from None
    return inspection, site, domain


async def get_inspection(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, inspection_id: uuid.UUID
) -> Inspection:
    """An inspection the caller may read; anyone else's is ``NotFound``."""
    inspection, _, _ = await _inspection(session, authz, principal, inspection_id)
    return inspection


async def list_inspections(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    site_id: uuid.UUID | None = None,
    division_code: str | None = None,
    inspected_from: date | None = None,
    inspected_to: date | None = None,
    first: int = 50,
    after: uuid.UUID | None = None,
) -> list[Inspection]:
    """The inspections the caller reads, latest inspected first (then latest recorded, then
    id); of one site (a site the caller does not see: ``NotFound``), of the sites inside a
    division (for a regulator, one inside their jurisdiction, else ``NotFound``), inspected
    between two days (both included); at most ``first``, after the inspection ``after`` (the
    last of the previous page, one of this list)."""
    if not 1 <= first <= MAX_PAGE:
        raise BadInput(f"first is between 1 and {MAX_PAGE}", field="first")
    if inspected_from is not None and inspected_to is not None and inspected_from > inspected_to:
        raise BadInput("the first day of the range is after its last", field="inspectedFrom")
    query = select(Inspection, Site).join(Site, Site.id == Inspection.site_id)
    if site_id is not None:
        await _site_of(session, authz, principal, site_id)
        query = query.where(Inspection.site_id == site_id)
    if division_code is not None:
        code = validate_division(division_code)
        jurisdictions = principal.scope.jurisdictions
        if jurisdictions and not any(covers(j, code) for j in jurisdictions):
            raise NotFound(f"division {code} not found")
        query = query.where(Site.division_code.startswith(division_prefix(code)))
    if inspected_from is not None:
        query = query.where(Inspection.inspected_on >= inspected_from)
    if inspected_to is not None:
        query = query.where(Inspection.inspected_on <= inspected_to)
    if after is not None:
        last = await session.scalar(select(Inspection).where(Inspection.id == after))
        if last is None:
            raise BadInput("after is no inspection the caller reads", field="after")
        query = query.where(
            or_(
                Inspection.inspected_on < last.inspected_on,
                and_(
                    Inspection.inspected_on == last.inspected_on,
                    or_(
                        Inspection.created_at < last.created_at,
                        and_(Inspection.created_at == last.created_at, Inspection.id > last.id),
                    ),
                ),
            )
        )
    rows = await session.execute(
        query.order_by(Inspection.inspected_on.desc(), Inspection.created_at.desc(), Inspection.id)
    )
    allowed: dict[str, bool] = {}
    found: list[Inspection] = []
    # Read in order and filtered by role per domain: a page is the first ``first`` the caller
    # may read, however many of the scope's rows its role cannot.
    for inspection, site in rows.all():
        domain = site_domain(principal.scope, site)
        if domain not in allowed:
            allowed[domain] = authz.may(principal, domain, OBJECT, "read")
        if allowed[domain]:
            found.append(inspection)
            if len(found) == first:
                break
    return found


async def findings_of_inspections(
    *, session: AsyncSession, inspection_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[InspectionFinding]]:
    rows = await session.scalars(
        select(InspectionFinding)
        .where(InspectionFinding.inspection_id.in_(inspection_ids))
        .order_by(InspectionFinding.inspection_id, InspectionFinding.position)
    )
    found: dict[uuid.UUID, list[InspectionFinding]] = {}
    for row in rows:
        found.setdefault(row.inspection_id, []).append(row)
    return found


# --- writing --------------------------------------------------------------------------------


def _require_gov(domain: str, what: str) -> None:
    if domain_kind(domain) != "gov":
        raise Forbidden(f"only a regulator may {what}")


async def _inspectors(
    session: AsyncSession, site: Site, principal: Principal, named: Sequence[uuid.UUID] | None
) -> list[uuid.UUID]:
    """The inspectors named, each a director or inspector of a division covering the site with
    an enabled account; the recorder when none are named."""
    if named is None:
        assert principal.id is not None  # the authorizer let a person through
        return [principal.id]
    if not named:
        raise BadInput("name at least one inspector, or leave them out", field="inspectorIds")
    if len(named) > MAX_INSPECTORS:
        raise BadInput(f"at most {MAX_INSPECTORS} inspectors", field="inspectorIds")
    if len(set(named)) != len(named):
        raise BadInput("each inspector is named once", field="inspectorIds")
    rows = await session.execute(
        select(Membership.user_id, Membership.domain)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.user_id.in_(list(named)),
            Membership.domain.startswith("gov:"),
            Membership.role.in_(INSPECTOR_ROLES),
            User.disabled.is_(False),
        )
    )
    eligible = {user for user, domain in rows.all() if covers(domain[4:], site.division_code)}
    for index, user_id in enumerate(named):
        if user_id not in eligible:
            raise BadInput(
                f"user {user_id} is no director or inspector of a division covering the site",
                field="inspectorIds",
                index=index,
            )
    return list(named)


async def create_inspection(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    site_id: uuid.UUID,
    inspected_on: date,
    findings: Sequence[notices.ItemEntry],
    summary: str | None = None,
    inspector_ids: Sequence[uuid.UUID] | None = None,
    clock: Clock = WALL_CLOCK,
) -> Inspection:
    """Record an inspection of a site of the caller's jurisdiction. Refused (nothing stored)
    for a day after today, an empty finding, text over its limit, or an inspector who is not
    a director or inspector over the site."""
    site, domain = await _site_of(session, authz, principal, site_id)
    require(authz, principal, domain, OBJECT, "create", operation="record inspections")
    _require_gov(domain, "record an inspection")
    now = clock.now()
    if inspected_on > now.astimezone(notices.CHINA_TIME).date():
        raise BadInput("the inspection day must not be in the future", field="inspectedOn")
    if len(findings) > MAX_FINDINGS:
        raise BadInput(f"an inspection has at most {MAX_FINDINGS} findings", field="findings")
    cleaned = [
        (
            bounded_text(item.finding, "finding", MAX_FINDING, required=True),
            bounded_text(item.basis, "basis", MAX_BASIS, required=False),
        )
        for item in findings
    ]
    text = bounded_text(summary, "summary", MAX_SUMMARY, required=False)
    inspectors = await _inspectors(session, site, principal, inspector_ids)
    inspection = Inspection(
        tenant_id=site.tenant_id,
        site_id=site.id,
        division=notices.issuing_division(principal, site),
        inspected_on=inspected_on,
        inspectors=[str(user) for user in inspectors],
        summary=text,
        created_by=principal.id,
        created_at=now,
        updated_at=now,
    )
    session.add(inspection)
    await session.flush()
    session.add_all(
        InspectionFinding(
            tenant_id=inspection.tenant_id,
            site_id=inspection.site_id,
            inspection_id=inspection.id,
            position=index,
            finding=finding,
            basis=basis,
        )
        for index, (finding, basis) in enumerate(cleaned)
    )
    await record_change(
        session,
        principal.actor(domain),
        "inspection.create",
        domain=domain,
        object_type=OBJECT,
        object_id=inspection.id,
        detail={
            "site_id": str(site.id),
            "inspected_on": inspected_on.isoformat(),
            "findings": len(cleaned),
            "inspectors": len(inspectors),
        },
    )
    return inspection


async def issue_notice_from_inspection(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    inspection_id: uuid.UUID,
    deadline: datetime,
    clock: Clock = WALL_CLOCK,
) -> RectificationNotice:
    """Issue a rectification notice whose items are the inspection's findings, once per
    inspection; the inspection links it. Refused for an inspection without findings, one that
    already issued its notice, and whatever issuing the notice refuses (a past deadline)."""
    inspection, _, domain = await _inspection(session, authz, principal, inspection_id)
    require(authz, principal, domain, OBJECT, "update", operation="issue notices from inspections")
    _require_gov(domain, "issue a notice from an inspection")
    if inspection.notice_id is not None:
        raise Conflict("this inspection already issued its rectification notice", field="id")
    findings = (await findings_of_inspections(session=session, inspection_ids=[inspection.id])).get(
        inspection.id, []
    )
    if not findings:
        raise BadInput("the inspection found nothing to rectify", field="id")
    notice = await notices.issue_notice(
        session=session,
        authz=authz,
        principal=principal,
        site_id=inspection.site_id,
        deadline=deadline,
        items=[notices.ItemEntry(finding=f.finding, basis=f.basis) for f in findings],
        clock=clock,
    )
    # Conditional, so of two regulators issuing from one inspection at once the second finds
    # it linked and its notice is rolled back with the rest of its transaction.
    linked = await session.execute(
        update(Inspection)
        .where(Inspection.id == inspection.id, Inspection.notice_id.is_(None))
        .values(notice_id=notice.id, updated_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )
    if linked.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("this inspection already issued its rectification notice", field="id")
    await record_change(
        session,
        principal.actor(domain),
        "inspection.issue_notice",
        domain=domain,
        object_type=OBJECT,
        object_id=inspection.id,
        detail={"notice_id": str(notice.id), "number": notices.serial(notice)},
    )
    return notice

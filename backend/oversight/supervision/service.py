"""Alarm supervision (督办): the only writer of supervisions and their timeline.

A director or inspector whose jurisdiction holds an alarm's site puts the alarm under
supervision: a request for the enterprise's handling report (what happened, what was done) by
a deadline. The enterprise's owner or safety manager reports (text, and photos uploaded
through ``POST /api/v1/photos`` for the tenant); a regulator of the site's jurisdiction then
accepts the report (closed) or returns it with a comment, and the enterprise reports again.
Each round's report stays on the timeline. An alarm has at most one open supervision; once
one is accepted, the alarm may be supervised again.

A supervision is overdue while it waits for the enterprise (requested or returned) past its
deadline, by the clock passed in: computed, never stored.

Another tenant's supervision, another jurisdiction's, and every supervision for the platform
administrator are not found; a role that may read but not act is forbidden. Each step is
audited in its transaction and entered on the timeline; a refusal changes nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import String, and_, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.alarms.models import Alarm
from backend.auth.authz import Authorizer, domain_kind
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, Conflict, Forbidden, NotFound
from backend.core.objects import ObjectStore
from backend.oversight.supervision.models import (
    MAX_COMMENT,
    MAX_REPORT,
    MAX_REQUEST,
    WAITING_FOR_ENTERPRISE,
    AlarmSupervision,
    SupervisionEvent,
    SupervisionEventKind,
    SupervisionStatus,
)
from backend.oversight.text import bounded_text
from privacy.audit import record_change
from tenants.models import Site
from tenants.service import get_site, site_domain

OBJECT = "supervision"
MAX_PHOTOS = 9  # per report
# The keys ``POST /api/v1/photos`` hands out: photos/<tenant id>/<uuid>.<jpg|png>.
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def is_overdue(supervision: AlarmSupervision, now: datetime) -> bool:
    """Past its deadline while it waits for the enterprise (requested or returned)."""
    return supervision.status in WAITING_FOR_ENTERPRISE and supervision.deadline <= now


# --- reading --------------------------------------------------------------------------------


async def _site_of(
    session: AsyncSession, authz: Authorizer, principal: Principal, site_id: uuid.UUID
) -> tuple[Site, str]:
    """The site and the caller's domain on it, when its role reads supervisions there;
    otherwise (out of scope, or a role that reads none) not found."""
    site = await get_site(session=session, site_id=site_id)
    domain = site_domain(principal.scope, site)
    if not authz.may(principal, domain, OBJECT, "read"):
        raise NotFound(f"site {site_id} not found")
    return site, domain


async def _alarm(
    session: AsyncSession, authz: Authorizer, principal: Principal, alarm_id: uuid.UUID
) -> tuple[Alarm, Site, str]:
    alarm = await session.scalar(select(Alarm).where(Alarm.id == alarm_id))
    if alarm is None:
        raise NotFound(f"alarm {alarm_id} not found")
    try:
        site, domain = await _site_of(session, authz, principal, alarm.site_id)
    except NotFound:
        raise NotFound(f"alarm {alarm_id} not found") from None
    return alarm, site, domain


async def _supervision(
    session: AsyncSession, authz: Authorizer, principal: Principal, supervision_id: uuid.UUID
) -> tuple[AlarmSupervision, Site, str]:
    supervision = await session.scalar(
        select(AlarmSupervision).where(AlarmSupervision.id == supervision_id)
    )
    if supervision is None:
        raise NotFound(f"supervision {supervision_id} not found")
    try:
        site, domain = await _site_of(session, authz, principal, supervision.site_id)
    except NotFound:
        raise NotFound(f"supervision {supervision_id} not found") from None
    return supervision, site, domain


async def get_supervision(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, supervision_id: uuid.UUID
) -> AlarmSupervision:
    """A supervision the caller may read; anyone else's is ``NotFound``."""
    supervision, _, _ = await _supervision(session, authz, principal, supervision_id)
    return supervision


def _overdue_clause(now: datetime):  # type: ignore[no-untyped-def]  # a SQL expression
    return and_(
        AlarmSupervision.status.in_(WAITING_FOR_ENTERPRISE), AlarmSupervision.deadline <= now
    )


async def list_supervisions(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    status: SupervisionStatus | None = None,
    overdue: bool | None = None,
    alarm_id: uuid.UUID | None = None,
    site_id: uuid.UUID | None = None,
    clock: Clock = WALL_CLOCK,
) -> list[AlarmSupervision]:
    """The supervisions the caller reads, newest first (by request, then id); filtered by
    status, by whether they are overdue now, by alarm, by site (an alarm or a site the caller
    does not see: ``NotFound``)."""
    query = select(AlarmSupervision, Site).join(Site, Site.id == AlarmSupervision.site_id)
    if alarm_id is not None:
        await _alarm(session, authz, principal, alarm_id)
        query = query.where(AlarmSupervision.alarm_id == alarm_id)
    if site_id is not None:
        await _site_of(session, authz, principal, site_id)
        query = query.where(AlarmSupervision.site_id == site_id)
    if status is not None:
        query = query.where(AlarmSupervision.status == status)
    if overdue is not None:
        late = _overdue_clause(clock.now())
        query = query.where(late if overdue else ~late)
    rows = await session.execute(
        query.order_by(AlarmSupervision.requested_at.desc(), AlarmSupervision.id)
    )
    allowed: dict[str, bool] = {}
    found = []
    for supervision, site in rows.all():
        domain = site_domain(principal.scope, site)
        if domain not in allowed:
            allowed[domain] = authz.may(principal, domain, OBJECT, "read")
        if allowed[domain]:
            found.append(supervision)
    return found


async def supervisions_of_alarms(
    *, session: AsyncSession, alarm_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[AlarmSupervision]]:
    """Each alarm's supervisions within the session's scope, newest first: one statement."""
    rows = await session.scalars(
        select(AlarmSupervision)
        .where(AlarmSupervision.alarm_id.in_(list(alarm_ids)))
        .order_by(
            AlarmSupervision.alarm_id, AlarmSupervision.requested_at.desc(), AlarmSupervision.id
        )
    )
    found: dict[uuid.UUID, list[AlarmSupervision]] = {}
    for row in rows:
        found.setdefault(row.alarm_id, []).append(row)
    return found


async def events_of_supervisions(
    *, session: AsyncSession, supervision_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[SupervisionEvent]]:
    rows = await session.scalars(
        select(SupervisionEvent)
        .where(SupervisionEvent.supervision_id.in_(supervision_ids))
        .order_by(
            SupervisionEvent.supervision_id,
            SupervisionEvent.at,
            SupervisionEvent.created_at,
            SupervisionEvent.id,
        )
    )
    found: dict[uuid.UUID, list[SupervisionEvent]] = {}
    for row in rows:
        found.setdefault(row.supervision_id, []).append(row)
    return found


# --- writing --------------------------------------------------------------------------------


def _require_side(domain: str, side: str, what: str) -> None:
    """Regulators request and review; the enterprise reports."""
    if domain_kind(domain) != side:
        who = "a regulator" if side == "gov" else "the enterprise"
        raise Forbidden(f"only {who} may {what} a supervision")


def _event(
    supervision: AlarmSupervision,
    kind: SupervisionEventKind,
    principal: Principal,
    at: datetime,
    comment: str | None = None,
) -> SupervisionEvent:
    return SupervisionEvent(
        tenant_id=supervision.tenant_id,
        site_id=supervision.site_id,
        supervision_id=supervision.id,
        kind=kind,
        at=at,
        actor=principal.id,
        comment=comment,
    )


def _already_open(alarm_id: uuid.UUID, open_: AlarmSupervision | None) -> BadInput:
    status = "" if open_ is None else f" ({open_.status.value})"
    return BadInput(
        f"alarm {alarm_id} is already under supervision{status}: accept that supervision "
        "before asking again",
        field="alarmId",
    )


async def _open_supervision(session: AsyncSession, alarm_id: uuid.UUID) -> AlarmSupervision | None:
    return await session.scalar(
        select(AlarmSupervision).where(
            AlarmSupervision.alarm_id == alarm_id,
            AlarmSupervision.status != SupervisionStatus.ACCEPTED,
        )
    )


async def request_supervision(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    alarm_id: uuid.UUID,
    deadline: datetime,
    request: str,
    clock: Clock = WALL_CLOCK,
) -> AlarmSupervision:
    """Put the alarm under supervision: ask the enterprise owning its site for a handling
    report by the deadline. Refused (nothing stored) for a deadline not in the future, an
    empty request or one over its limit, and an alarm already under open supervision."""
    alarm, site, domain = await _alarm(session, authz, principal, alarm_id)
    require(authz, principal, domain, OBJECT, "create", operation="supervise alarms")
    _require_side(domain, "gov", "request")
    now = clock.now()
    if deadline.tzinfo is None:
        raise BadInput("the deadline needs a time zone", field="deadline")
    if deadline <= now:
        raise BadInput("the deadline must be in the future", field="deadline")
    text = bounded_text(request, "request", MAX_REQUEST, required=True)
    assert text is not None
    if (open_ := await _open_supervision(session, alarm.id)) is not None:
        raise _already_open(alarm.id, open_)
    supervision = AlarmSupervision(
        tenant_id=site.tenant_id,
        site_id=site.id,
        alarm_id=alarm.id,
        status=SupervisionStatus.REQUESTED,
        deadline=deadline,
        request=text,
        requested_at=now,
        requested_by=principal.id,
        photos=[],
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(supervision)
            await session.flush()
    except IntegrityError:
        # Another regulator opened one between our look and our insert.
        raise _already_open(alarm.id, None) from None
    session.add(_event(supervision, SupervisionEventKind.REQUESTED, principal, now))
    await record_change(
        session,
        principal.actor(domain),
        "supervision.request",
        domain=domain,
        object_type=OBJECT,
        object_id=supervision.id,
        detail={
            "alarm_id": str(alarm.id),
            "site_id": str(site.id),
            "deadline": deadline.isoformat(),
        },
    )
    return supervision


def _photo_keys(objects: ObjectStore, tenant_id: uuid.UUID, keys: Sequence[str]) -> list[str]:
    if len(keys) > MAX_PHOTOS:
        raise BadInput(f"a report has at most {MAX_PHOTOS} photos", field="photos")
    pattern = re.compile(rf"^photos/{tenant_id}/{_UUID}\.(jpg|png)$")
    for key in keys:
        if not pattern.match(key) or not objects.exists(key):
            raise BadInput(
                f"not a photo of this enterprise: {key!r} (upload it first)", field="photos"
            )
    if len(set(keys)) != len(keys):
        raise BadInput("a photo is attached once", field="photos")
    return list(keys)


async def report_supervision(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    objects: ObjectStore,
    supervision_id: uuid.UUID,
    report: str,
    photos: Sequence[str] = (),
    clock: Clock = WALL_CLOCK,
) -> AlarmSupervision:
    """The enterprise's handling report on a requested or returned supervision (owner, safety
    manager); it replaces the previous round's, which stays on the timeline."""
    supervision, _, domain = await _supervision(session, authz, principal, supervision_id)
    require(authz, principal, domain, OBJECT, "update", operation="report on supervisions")
    _require_side(domain, "tenant", "report on")
    if supervision.status not in WAITING_FOR_ENTERPRISE:
        raise Conflict(
            f"the supervision is {supervision.status.value}: it waits for the regulator, "
            "not a report",
            field="status",
        )
    text = bounded_text(report, "report", MAX_REPORT, required=True)
    keys = _photo_keys(objects, supervision.tenant_id, photos)
    rounds = await session.scalar(
        select(func.count())
        .select_from(SupervisionEvent)
        .where(
            SupervisionEvent.supervision_id == supervision.id,
            SupervisionEvent.kind == SupervisionEventKind.REPORTED,
        )
    )
    now = clock.now()
    before = supervision.status
    supervision.status = SupervisionStatus.REPORTED
    supervision.report = text
    supervision.photos = keys
    supervision.reported_at = now
    supervision.reported_by = principal.id
    supervision.updated_at = now
    session.add(_event(supervision, SupervisionEventKind.REPORTED, principal, now, text))
    await record_change(
        session,
        principal.actor(domain),
        "supervision.report",
        domain=domain,
        object_type=OBJECT,
        object_id=supervision.id,
        detail={
            "alarm_id": str(supervision.alarm_id),
            "round": int(rounds or 0) + 1,
            "from": before.value,
            "photos": len(keys),
            "late": supervision.deadline <= now,
        },
    )
    return supervision


async def review_supervision(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    supervision_id: uuid.UUID,
    accepted: bool,
    comment: str | None = None,
    clock: Clock = WALL_CLOCK,
) -> AlarmSupervision:
    """A regulator's verdict on a reported supervision: accepted closes it (ACCEPTED),
    otherwise it goes back to the enterprise (RETURNED) with the comment saying why, which is
    required."""
    supervision, _, domain = await _supervision(session, authz, principal, supervision_id)
    require(authz, principal, domain, OBJECT, "update", operation="review supervisions")
    _require_side(domain, "gov", "review")
    cleaned = bounded_text(comment, "comment", MAX_COMMENT, required=not accepted)
    if supervision.status is not SupervisionStatus.REPORTED:
        raise Conflict(
            f"the supervision is {supervision.status.value}: only a reported supervision is "
            "reviewed",
            field="status",
        )
    now = clock.now()
    supervision.status = SupervisionStatus.ACCEPTED if accepted else SupervisionStatus.RETURNED
    if not accepted:
        supervision.return_comment = cleaned
    supervision.reviewed_at = now
    supervision.reviewed_by = principal.id
    supervision.updated_at = now
    kind = SupervisionEventKind.ACCEPTED if accepted else SupervisionEventKind.RETURNED
    session.add(_event(supervision, kind, principal, now, cleaned))
    await record_change(
        session,
        principal.actor(domain),
        "supervision.accept" if accepted else "supervision.return",
        domain=domain,
        object_type=OBJECT,
        object_id=supervision.id,
        detail={"alarm_id": str(supervision.alarm_id), "to": supervision.status.value},
    )
    return supervision


async def photo_of_a_readable_supervision(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, key: str
) -> bool:
    """Whether ``key`` is a photo of the latest report on a supervision the caller reads: how
    a regulator, who is no member of the enterprise, sees the photos it reported with."""
    rows = await session.execute(
        select(AlarmSupervision.photos, Site)
        .join(Site, Site.id == AlarmSupervision.site_id)
        .where(cast(AlarmSupervision.photos, String).contains(key))
        .limit(20)
    )
    return any(
        key in (keys or [])
        and authz.may(principal, site_domain(principal.scope, site), OBJECT, "read")
        for keys, site in rows.all()
    )

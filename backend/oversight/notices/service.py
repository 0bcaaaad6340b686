"""Rectification notices: the only writers of notices, their items, answers and timeline.

A director or inspector issues a notice for a site inside their jurisdiction: its findings
(each with the legal basis it was found under and photos of it, uploaded through
``POST /api/v1/photos?site=`` for that very site; more may be added until the enterprise
answers) and a deadline. The notice is numbered in the
issuing division's yearly sequence: ``serial`` is ``<division code>-<year>-<sequence>``
(``320100-2026-3``) and ``number`` the 文号 printed on it (``南京市应急整改〔2026〕3号``); the
issuing division is the most specific division of the issuer's memberships that covers the
site, the year is the calendar year in China Standard Time when it was issued.

The enterprise acknowledges receipt (送达: any member of it, signed in, once; the time and the
person are kept), and its owner or safety manager answers every item (text and photos uploaded
through ``POST /api/v1/photos`` for the tenant). A regulator of the site's jurisdiction then
verifies the notice (closed) or returns it with a comment, and the enterprise answers again; the
earlier answers are kept. A notice is overdue while it waits for the enterprise (issued or
returned) past its deadline, by the clock passed in: computed, never stored.

Another tenant's notice, another jurisdiction's, and every notice for the platform
administrator are not found; a role that may read but not act is forbidden. Each step is
audited in its transaction and entered on the notice's timeline; a refusal changes nothing.

When a notice first is found overdue (``backend/jobs/notice_overdue.py`` looks every minute),
the directors of its issuing division are mailed, once per notice.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.authz import Authorizer, domain_kind
from backend.auth.mail_outbox import enqueue_mail
from backend.auth.models import Membership, User
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput, Conflict, Forbidden, NotFound
from backend.core.objects import ObjectStore
from backend.oversight.notices.document import NoticeDocument, PrintedItem
from backend.oversight.notices.models import (
    MAX_BASIS,
    MAX_COMMENT,
    MAX_FINDING,
    MAX_RESPONSE,
    WAITING_FOR_ENTERPRISE,
    NoticeEvent,
    NoticeEventKind,
    NoticeItem,
    NoticeResponse,
    NoticeStatus,
    RectificationNotice,
)
from backend.oversight.text import bounded_text
from privacy.audit import record, record_change
from tenants import divisions
from tenants.divisions import covers
from tenants.models import Site, Tenant
from tenants.scope import unscoped_session
from tenants.service import get_site, site_domain

OBJECT = "notice"
MAX_ITEMS = 100
MAX_PHOTOS = 9  # per answer to one item
CHINA_TIME = ZoneInfo("Asia/Shanghai")
# Races for one division's next number lost before giving up (each loser takes the next).
_NUMBER_TRIES = 8
# The keys ``POST /api/v1/photos`` hands out: photos/<tenant id>/<uuid>.<jpg|png> to the
# enterprise, photos/<tenant id>/<site id>/<uuid>.<jpg|png> to a regulator for a site.
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SITE_PHOTO = re.compile(rf"^photos/(?P<tenant>{_UUID})/(?P<site>{_UUID})/{_UUID}\.(jpg|png)$")


@dataclass(frozen=True)
class ItemEntry:
    finding: str
    basis: str | None = None
    photos: Sequence[str] = ()  # the regulator's, uploaded for the notice's site


@dataclass(frozen=True)
class ResponseEntry:
    item_id: uuid.UUID
    text: str
    photos: Sequence[str] = ()


def serial(notice: RectificationNotice) -> str:
    """The notice's number as data: ``<division code>-<year>-<sequence>``."""
    return f"{notice.issuing_division}-{notice.year}-{notice.sequence}"


def document_number(notice: RectificationNotice) -> str:
    """The 文号 printed on the notice: ``南京市应急整改〔2026〕3号``."""
    name = divisions.division(notice.issuing_division).name
    return f"{name}应急整改〔{notice.year}〕{notice.sequence}号"


def is_overdue(notice: RectificationNotice, now: datetime) -> bool:
    """Past its deadline while it waits for the enterprise (issued or returned)."""
    return notice.status in WAITING_FOR_ENTERPRISE and notice.deadline <= now


# --- reading --------------------------------------------------------------------------------


async def _site_of(
    session: AsyncSession, authz: Authorizer, principal: Principal, site_id: uuid.UUID
) -> tuple[Site, str]:
    """The site and the caller's domain on it, when its role reads notices there; otherwise
    (out of scope, or a role that reads none) not found."""
    site = await get_site(session=session, site_id=site_id)
    domain = site_domain(principal.scope, site)
    if not authz.may(principal, domain, OBJECT, "read"):
        raise NotFound(f"site {site_id} not found")
    return site, domain


async def _notice(
    session: AsyncSession, authz: Authorizer, principal: Principal, notice_id: uuid.UUID
) -> tuple[RectificationNotice, Site, str]:
    notice = await session.scalar(
        select(RectificationNotice).where(RectificationNotice.id == notice_id)
    )
    if notice is None:
        raise NotFound(f"rectification notice {notice_id} not found")
    try:
        site, domain = await _site_of(session, authz, principal, notice.site_id)
    except NotFound:
        raise NotFound(f"rectification notice {notice_id} not found") from None
    return notice, site, domain


async def get_notice(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, notice_id: uuid.UUID
) -> RectificationNotice:
    """A notice the caller may read; anyone else's is ``NotFound``."""
    notice, _, _ = await _notice(session, authz, principal, notice_id)
    return notice


_STATUS_TEXT = {
    NoticeStatus.ISSUED: "待整改",
    NoticeStatus.RETURNED: "已退回，待重新整改",
    NoticeStatus.RESPONDED: "企业已报送整改情况，待验收",
    NoticeStatus.VERIFIED: "已验收",
}


async def notice_document(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    notice_id: uuid.UUID,
    clock: Clock = WALL_CLOCK,
) -> NoticeDocument:
    """What the printed notice shows, for a caller who reads the notice (else ``NotFound``)."""
    notice, site, _ = await _notice(session, authz, principal, notice_id)
    tenant = await session.get(Tenant, site.tenant_id)
    assert tenant is not None  # a site belongs to a tenant
    items = (await items_of_notices(session=session, notice_ids=[notice.id])).get(notice.id, [])
    status = _STATUS_TEXT[notice.status]
    if is_overdue(notice, clock.now()):
        status += "（已逾期）"
    return NoticeDocument(
        authority=f"{divisions.division(notice.issuing_division).name}应急管理局",
        number=document_number(notice),
        enterprise=tenant.name,
        site=site.name,
        site_address=site.address,
        items=[PrintedItem(item.finding, item.basis, tuple(item.photos or [])) for item in items],
        deadline=notice.deadline,
        issued_at=notice.issued_at,
        received_at=notice.received_at,
        status=status,
    )


async def list_notices(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    status: NoticeStatus | None = None,
    overdue: bool | None = None,
    site_id: uuid.UUID | None = None,
    clock: Clock = WALL_CLOCK,
) -> list[RectificationNotice]:
    """The notices the caller reads, newest first (by issue, then id); filtered by status,
    by whether they are overdue now, by site (a site the caller does not see: ``NotFound``)."""
    query = select(RectificationNotice, Site).join(Site, Site.id == RectificationNotice.site_id)
    if site_id is not None:
        await _site_of(session, authz, principal, site_id)
        query = query.where(RectificationNotice.site_id == site_id)
    if status is not None:
        query = query.where(RectificationNotice.status == status)
    if overdue is not None:
        late = _overdue_clause(clock.now())
        query = query.where(late if overdue else ~late)
    rows = await session.execute(
        query.order_by(RectificationNotice.issued_at.desc(), RectificationNotice.id)
    )
    allowed: dict[str, bool] = {}
    found = []
    for notice, site in rows.all():
        domain = site_domain(principal.scope, site)
        if domain not in allowed:
            allowed[domain] = authz.may(principal, domain, OBJECT, "read")
        if allowed[domain]:
            found.append(notice)
    return found


def _overdue_clause(now: datetime):  # type: ignore[no-untyped-def]  # a SQL expression
    return and_(
        RectificationNotice.status.in_(WAITING_FOR_ENTERPRISE),
        RectificationNotice.deadline <= now,
    )


async def overdue_notices_by_site(
    session: AsyncSession, site_ids: Collection[uuid.UUID], now: datetime
) -> dict[uuid.UUID, int]:
    """How many notices of each site are overdue at ``now`` (sites without any left out): one
    grouped query within the session's scope. The regulators' risk colour reads it."""
    if not site_ids:
        return {}
    rows = await session.execute(
        select(RectificationNotice.site_id, func.count())
        .where(RectificationNotice.site_id.in_(list(site_ids)), _overdue_clause(now))
        .group_by(RectificationNotice.site_id)
    )
    return {site: int(n) for site, n in rows.all()}


async def items_of_notices(
    *, session: AsyncSession, notice_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[NoticeItem]]:
    rows = await session.scalars(
        select(NoticeItem)
        .where(NoticeItem.notice_id.in_(notice_ids))
        .order_by(NoticeItem.notice_id, NoticeItem.position)
    )
    found: dict[uuid.UUID, list[NoticeItem]] = {}
    for row in rows:
        found.setdefault(row.notice_id, []).append(row)
    return found


async def latest_responses(
    *, session: AsyncSession, item_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, NoticeResponse]:
    """Each item's answer of the latest round (items not yet answered left out)."""
    rows = await session.scalars(
        select(NoticeResponse)
        .where(NoticeResponse.item_id.in_(item_ids))
        .order_by(NoticeResponse.item_id, NoticeResponse.round)
    )
    return {row.item_id: row for row in rows}  # the last round wins


async def events_of_notices(
    *, session: AsyncSession, notice_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[NoticeEvent]]:
    rows = await session.scalars(
        select(NoticeEvent)
        .where(NoticeEvent.notice_id.in_(notice_ids))
        .order_by(NoticeEvent.notice_id, NoticeEvent.at, NoticeEvent.created_at, NoticeEvent.id)
    )
    found: dict[uuid.UUID, list[NoticeEvent]] = {}
    for row in rows:
        found.setdefault(row.notice_id, []).append(row)
    return found


# --- writing --------------------------------------------------------------------------------


def _require_side(domain: str, side: str, what: str) -> None:
    """Regulators issue and verify; the enterprise acknowledges and answers."""
    if domain_kind(domain) != side:
        who = "a regulator" if side == "gov" else "the enterprise"
        raise Forbidden(f"only {who} may {what} a rectification notice")


def issuing_division(principal: Principal, site: Site) -> str:
    """The most specific division of the caller's memberships that covers the site."""
    codes = [
        grant.domain.removeprefix("gov:")
        for grant in principal.grants
        if grant.domain.startswith("gov:") and covers(grant.domain[4:], site.division_code)
    ]
    if not codes:  # the authorizer let a regulator through: one of its divisions covers it
        raise NotFound(f"site {site.id} not found")
    return max(codes, key=lambda code: (len(divisions.division_prefix(code)), code))


def _event(
    notice: RectificationNotice,
    kind: NoticeEventKind,
    principal: Principal,
    at: datetime,
    comment: str | None = None,
) -> NoticeEvent:
    return NoticeEvent(
        tenant_id=notice.tenant_id,
        site_id=notice.site_id,
        notice_id=notice.id,
        kind=kind,
        at=at,
        actor=principal.id,
        comment=comment,
    )


async def _next_sequence(session: AsyncSession, division: str, year: int) -> int:
    last = await session.scalar(
        select(func.max(RectificationNotice.sequence)).where(
            RectificationNotice.issuing_division == division, RectificationNotice.year == year
        )
    )
    return int(last or 0) + 1


async def issue_notice(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    site_id: uuid.UUID,
    deadline: datetime,
    items: Sequence[ItemEntry],
    objects: ObjectStore | None = None,
    clock: Clock = WALL_CLOCK,
) -> RectificationNotice:
    """A notice to the enterprise owning the site, numbered next in the issuing division's
    year, each finding with the regulator's photos of it. Refused (nothing stored) for a
    deadline not in the future, no items, an empty finding, text over its limit, or a photo
    not uploaded for this site (``objects`` is where uploads are; needed with photos)."""
    site, domain = await _site_of(session, authz, principal, site_id)
    require(authz, principal, domain, OBJECT, "create", operation="issue rectification notices")
    _require_side(domain, "gov", "issue")
    now = clock.now()
    if deadline.tzinfo is None:
        raise BadInput("the deadline needs a time zone", field="deadline")
    if deadline <= now:
        raise BadInput("the deadline must be in the future", field="deadline")
    if not items:
        raise BadInput("a notice has at least one item", field="items")
    if len(items) > MAX_ITEMS:
        raise BadInput(f"a notice has at most {MAX_ITEMS} items", field="items")
    cleaned = [
        (
            bounded_text(item.finding, "finding", MAX_FINDING, required=True),
            bounded_text(item.basis, "basis", MAX_BASIS, required=False),
            _finding_photos(objects, site, item.photos, index),
        )
        for index, item in enumerate(items)
    ]
    division = issuing_division(principal, site)
    year = now.astimezone(CHINA_TIME).year
    notice: RectificationNotice | None = None
    for attempt in range(_NUMBER_TRIES):
        candidate = RectificationNotice(
            tenant_id=site.tenant_id,
            site_id=site.id,
            issuing_division=division,
            year=year,
            sequence=await _next_sequence(session, division, year),
            status=NoticeStatus.ISSUED,
            deadline=deadline,
            issued_at=now,
            issued_by=principal.id,
            created_at=now,
            updated_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(candidate)
                await session.flush()
        except IntegrityError:
            # Another issuer took the number between our read and our insert: take the next.
            if attempt == _NUMBER_TRIES - 1:
                raise Conflict("the notice could not be numbered; try again") from None
            continue
        notice = candidate
        break
    assert notice is not None
    session.add_all(
        NoticeItem(
            tenant_id=notice.tenant_id,
            site_id=notice.site_id,
            notice_id=notice.id,
            position=index,
            finding=finding,
            basis=basis,
            photos=photos,
        )
        for index, (finding, basis, photos) in enumerate(cleaned)
    )
    session.add(_event(notice, NoticeEventKind.ISSUED, principal, now))
    await record_change(
        session,
        principal.actor(domain),
        "notice.issue",
        domain=domain,
        object_type=OBJECT,
        object_id=notice.id,
        detail={
            "site_id": str(site.id),
            "number": serial(notice),
            "deadline": deadline.isoformat(),
            "items": len(cleaned),
            "photos": sum(len(photos) for _, _, photos in cleaned),
        },
    )
    return notice


def _mark_received(
    session: AsyncSession, notice: RectificationNotice, principal: Principal, now: datetime
) -> None:
    notice.received_at = now
    notice.received_by = principal.id
    notice.updated_at = now
    session.add(_event(notice, NoticeEventKind.RECEIVED, principal, now))


async def acknowledge_receipt(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    notice_id: uuid.UUID,
    clock: Clock = WALL_CLOCK,
) -> RectificationNotice:
    """送达: a member of the enterprise, signed in, acknowledges the notice was received. Once:
    later acknowledgements change nothing."""
    notice, _, domain = await _notice(session, authz, principal, notice_id)
    _require_side(domain, "tenant", "acknowledge")
    if notice.received_at is not None:
        return notice
    now = clock.now()
    _mark_received(session, notice, principal, now)
    await record_change(
        session,
        principal.actor(domain),
        "notice.receive",
        domain=domain,
        object_type=OBJECT,
        object_id=notice.id,
        detail={"number": serial(notice)},
    )
    return notice


def _photo_keys(
    objects: ObjectStore, tenant_id: uuid.UUID, keys: Sequence[str], index: int
) -> list[str]:
    if len(keys) > MAX_PHOTOS:
        raise BadInput(f"an answer has at most {MAX_PHOTOS} photos", field="photos", index=index)
    pattern = re.compile(rf"^photos/{tenant_id}/{_UUID}\.(jpg|png)$")
    for key in keys:
        if not pattern.match(key) or not objects.exists(key):
            raise BadInput(
                f"not a photo of this enterprise: {key!r} (upload it first)",
                field="photos",
                index=index,
            )
    if len(set(keys)) != len(keys):
        raise BadInput("a photo is attached once", field="photos", index=index)
    return list(keys)


def _finding_photos(
    objects: ObjectStore | None, site: Site, keys: Sequence[str], index: int
) -> list[str]:
    """The regulator's photos of one finding: uploaded for this very site (so neither another
    site's, another tenant's nor the enterprise's own photos), each once, at most nine."""
    if not keys:
        return []
    if len(keys) > MAX_PHOTOS:
        raise BadInput(f"a finding has at most {MAX_PHOTOS} photos", field="photos", index=index)
    pattern = re.compile(rf"^photos/{site.tenant_id}/{site.id}/{_UUID}\.(jpg|png)$")
    for key in keys:
        if not pattern.match(key) or objects is None or not objects.exists(key):
            raise BadInput(
                f"not a photo uploaded for this site: {key!r} (upload it first)",
                field="photos",
                index=index,
            )
    if len(set(keys)) != len(keys):
        raise BadInput("a photo is attached once", field="photos", index=index)
    return list(keys)


async def authorise_site_photo_upload(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, site_id: uuid.UUID
) -> tuple[Site, str]:
    """The site and the caller's domain on it, once the caller may photograph its findings: a
    regulator who issues notices there (director, inspector). A site outside the caller's
    jurisdiction is not found; an analyst, or the enterprise, is forbidden."""
    site, domain = await _site_of(session, authz, principal, site_id)
    require(authz, principal, domain, OBJECT, "create", operation="photograph findings")
    _require_side(domain, "gov", "photograph the findings of")
    return site, domain


async def attach_finding_photos(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    objects: ObjectStore,
    notice_id: uuid.UUID,
    item_id: uuid.UUID,
    photos: Sequence[str],
    clock: Clock = WALL_CLOCK,
) -> RectificationNotice:
    """More of the regulator's photos of one finding (director, inspector), while the notice
    waits for the enterprise's first answer: once answered, the findings are what it
    answered to and stay as they were."""
    notice, site, domain = await _notice(session, authz, principal, notice_id)
    require(authz, principal, domain, OBJECT, "create", operation="photograph findings")
    _require_side(domain, "gov", "photograph the findings of")
    if notice.status is not NoticeStatus.ISSUED:
        raise Conflict(
            f"the notice is {notice.status.value}: photos are attached before it is answered",
            field="status",
        )
    item = await session.scalar(
        select(NoticeItem).where(NoticeItem.id == item_id, NoticeItem.notice_id == notice.id)
    )
    if item is None:
        raise BadInput(f"item {item_id} is not on this notice", field="itemId")
    if not photos:
        raise BadInput("attach at least one photo", field="photos")
    existing = list(item.photos or [])
    combined = _finding_photos(objects, site, [*existing, *photos], item.position)
    now = clock.now()
    item.photos = combined
    notice.updated_at = now
    await record_change(
        session,
        principal.actor(domain),
        "notice.attach_photos",
        domain=domain,
        object_type=OBJECT,
        object_id=notice.id,
        detail={
            "number": serial(notice),
            "item": item.position + 1,
            "photos": len(combined) - len(existing),
        },
    )
    return notice


async def respond_to_notice(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    objects: ObjectStore,
    notice_id: uuid.UUID,
    responses: Sequence[ResponseEntry],
    clock: Clock = WALL_CLOCK,
) -> RectificationNotice:
    """The enterprise's answer to every item of an issued or returned notice (owner, safety
    manager). Answering acknowledges receipt if nobody had."""
    notice, _, domain = await _notice(session, authz, principal, notice_id)
    require(authz, principal, domain, OBJECT, "update", operation="answer rectification notices")
    _require_side(domain, "tenant", "answer")
    if notice.status not in WAITING_FOR_ENTERPRISE:
        raise Conflict(
            f"the notice is {notice.status.value}: it waits for the regulator, not an answer",
            field="status",
        )
    items = (await items_of_notices(session=session, notice_ids=[notice.id])).get(notice.id, [])
    by_id = {item.id: item for item in items}
    answered: dict[uuid.UUID, tuple[str, list[str]]] = {}
    for index, entry in enumerate(responses):
        if entry.item_id not in by_id:
            raise BadInput(
                f"item {entry.item_id} is not on this notice", field="itemId", index=index
            )
        if entry.item_id in answered:
            raise BadInput("each item is answered once", field="itemId", index=index)
        text = bounded_text(entry.text, "text", MAX_RESPONSE, required=True)
        assert text is not None
        answered[entry.item_id] = (
            text,
            _photo_keys(objects, notice.tenant_id, entry.photos, index),
        )
    missing = [item.position + 1 for item in items if item.id not in answered]
    if missing:
        raise BadInput(
            f"every item is answered; items {', '.join(map(str, missing))} are not",
            field="responses",
        )
    rounds = await session.scalar(
        select(func.max(NoticeResponse.round)).where(NoticeResponse.notice_id == notice.id)
    )
    round_ = int(rounds or 0) + 1
    now = clock.now()
    if notice.received_at is None:
        _mark_received(session, notice, principal, now)
    session.add_all(
        NoticeResponse(
            tenant_id=notice.tenant_id,
            site_id=notice.site_id,
            notice_id=notice.id,
            item_id=item_id,
            round=round_,
            text=text,
            photos=photos,
            responded_at=now,
            responded_by=principal.id,
        )
        for item_id, (text, photos) in answered.items()
    )
    before = notice.status
    notice.status = NoticeStatus.RESPONDED
    notice.updated_at = now
    session.add(_event(notice, NoticeEventKind.RESPONDED, principal, now))
    await record_change(
        session,
        principal.actor(domain),
        "notice.respond",
        domain=domain,
        object_type=OBJECT,
        object_id=notice.id,
        detail={
            "number": serial(notice),
            "round": round_,
            "from": before.value,
            "photos": sum(len(p) for _, p in answered.values()),
            "late": notice.deadline <= now,
        },
    )
    return notice


async def verify_notice(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    notice_id: uuid.UUID,
    accepted: bool,
    comment: str | None = None,
    clock: Clock = WALL_CLOCK,
) -> RectificationNotice:
    """A regulator's verdict on an answered notice: accepted closes it (VERIFIED), otherwise it
    goes back to the enterprise (RETURNED) with the comment saying why, which is required."""
    notice, _, domain = await _notice(session, authz, principal, notice_id)
    require(authz, principal, domain, OBJECT, "update", operation="verify rectification notices")
    _require_side(domain, "gov", "verify")
    cleaned = bounded_text(comment, "comment", MAX_COMMENT, required=not accepted)
    if notice.status is not NoticeStatus.RESPONDED:
        raise Conflict(
            f"the notice is {notice.status.value}: only an answered notice is verified",
            field="status",
        )
    now = clock.now()
    notice.status = NoticeStatus.VERIFIED if accepted else NoticeStatus.RETURNED
    if not accepted:
        notice.return_comment = cleaned
    notice.updated_at = now
    kind = NoticeEventKind.VERIFIED if accepted else NoticeEventKind.RETURNED
    session.add(_event(notice, kind, principal, now, cleaned))
    await record_change(
        session,
        principal.actor(domain),
        "notice.verify" if accepted else "notice.return",
        domain=domain,
        object_type=OBJECT,
        object_id=notice.id,
        detail={"number": serial(notice), "to": notice.status.value},
    )
    return notice


# --- overdue: the directors are told ----------------------------------------------------------


def _overdue_mail(notice: RectificationNotice, site: Site) -> tuple[str, str]:
    number = document_number(notice)
    deadline = notice.deadline.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")
    subject = f"整改通知逾期：{number} / Rectification notice overdue: {serial(notice)}"
    body = (
        f"整改通知 {number}（{site.name}）的整改期限 {deadline}（北京时间）已过，"
        "企业尚未答复。请登录安监平台查看。\n\n"
        f"The deadline of rectification notice {serial(notice)} for {site.name} "
        f"({deadline} China Standard Time) has passed without the enterprise's answer. "
        "Sign in to Anjian to follow it up.\n"
    )
    return subject, body


async def _directors(session: AsyncSession, division: str) -> list[User]:
    rows = await session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.domain == f"gov:{division}",
            Membership.role == "director",
            User.disabled.is_(False),
        )
        .order_by(User.id)
    )
    return list(rows.all())


async def unscoped_notify_overdue_in_own_transaction(
    *, sessions: async_sessionmaker[AsyncSession], now: datetime, batch: int = 100
) -> int:
    """Tell the directors of each notice's issuing division, by mail, once per notice, that it
    became overdue (the issuer when the division has no director); returns the notices told
    about. A system process over every tenant: the relay sends the mail after the commit."""
    told = 0
    while True:
        async with unscoped_session(sessions) as session, session.begin():
            rows = (
                await session.execute(
                    select(RectificationNotice, Site)
                    .join(Site, Site.id == RectificationNotice.site_id)
                    .where(_overdue_clause(now), RectificationNotice.overdue_notified_at.is_(None))
                    .order_by(RectificationNotice.deadline, RectificationNotice.id)
                    .limit(batch)
                )
            ).all()
            for notice, site in rows:
                recipients = await _directors(session, notice.issuing_division)
                if not recipients and notice.issued_by is not None:
                    issuer = await session.get(User, notice.issued_by)
                    recipients = [] if issuer is None or issuer.disabled else [issuer]
                subject, body = _overdue_mail(notice, site)
                for user in recipients:
                    await enqueue_mail(
                        session=session,
                        to=user.email,
                        subject=subject,
                        body=body,
                        idempotency_key=f"notice-overdue:{notice.id}:{user.id}",
                    )
                notice.overdue_notified_at = now
                await record(
                    session,
                    Principal.system().actor(),
                    "notice.overdue",
                    domain=f"gov:{notice.issuing_division}",
                    object_type=OBJECT,
                    object_id=notice.id,
                    detail={"number": serial(notice), "told": len(recipients)},
                )
            told += len(rows)
        if len(rows) < batch:
            return told


async def photo_of_a_readable_notice(
    *, session: AsyncSession, authz: Authorizer, principal: Principal, key: str
) -> bool:
    """Whether ``key`` is a photo of an answer to a notice the caller reads, or one a regulator
    uploaded for a site whose notices the caller reads: how a regulator, who is no member of
    the enterprise, sees the photos it answered with and the findings' photos."""
    bound = _SITE_PHOTO.match(key)
    if bound is not None:
        try:
            site, _ = await _site_of(session, authz, principal, uuid.UUID(bound.group("site")))
        except NotFound:  # outside the caller's jurisdiction, or a role that reads no notice
            return False
        return str(site.tenant_id) == bound.group("tenant")
    rows = await session.execute(
        select(NoticeResponse.photos, Site)
        .join(Site, Site.id == NoticeResponse.site_id)
        .where(cast(NoticeResponse.photos, String).contains(key))
        .limit(20)
    )
    return any(
        key in (keys or [])
        and authz.may(principal, site_domain(principal.scope, site), OBJECT, "read")
        for keys, site in rows.all()
    )

"""Open311 GeoReport v2 over the hazard reports (CONTRACT.md, public hazard reports): the
report categories as services, a client's POST stored exactly as a report through
``POST /api/v1/reports`` is (the same checks, the same transaction), and the requests as the
specification shapes them.

Who reads what: without an API key, only reports whose moderated public summary was
published, with the summary as their description and their place generalised to the
division (its name as the address; the division data has no centroids, so no lat/long); the
day they arrived, not the minute. With a client's key, the requests that client sent, their
text with personal data masked. Never the reporter's contact, the receipt code, or internal
notes. ``service_request_id`` is the report's id, not its receipt code: it lets no one track
the report's timeline.

Every refusal is an ``Open311Refused`` carrying the specification's errors, each with the
HTTP code and a description.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth.throttle import UNKNOWN_ADDRESS, Policy
from backend.core.db import retry_lost_race
from backend.core.errors import AnjianError
from backend.core.timestamps import parse_datetime, serialize_datetime
from backend.reports import service as reports
from backend.reports._input import ReportRefused, parse_submission
from backend.reports.blocklist import refuse_blocked
from backend.reports.categories import BY_CODE, CATEGORIES, Category
from backend.reports.models import (
    MAX_SUBJECT,
    HazardReport,
    ReportEvent,
    ReportStatus,
)
from backend.reports.open311 import keys
from backend.reports.open311.models import Open311Request
from privacy import pii
from privacy.audit import CHINA_TIME
from tenants.divisions import ancestors, division, division_prefix, is_valid

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-03T00:00:00Z"
# A client (a city app, a hotline system) sends for many people: 300 at once, then one more
# every 6 seconds (600 an hour); the key, not the proof of work, is what it answers for.
REQUESTS_PER_KEY = Policy(free=300, leak_seconds=6, base_seconds=10, cap_seconds=3600)
OPEN311 = "open311"  # the throttle kind
_RATE_MESSAGE = (
    "此 api_key 提交过于频繁，请 {seconds} 秒后再试 / too many requests with this api_key; "
    "try again in {seconds} seconds"
)
# The specification's window: a listing spans at most 90 days, the most recent by default.
WINDOW = timedelta(days=90)
MAX_LISTED = 1000
MAX_IDS = 100

OPEN_STATUSES = (ReportStatus.RECEIVED, ReportStatus.ACCEPTED, ReportStatus.INVESTIGATING)
DETAIL = {
    ReportStatus.RECEIVED: "已收到，等待受理 / received, awaiting acceptance",
    ReportStatus.ACCEPTED: "已受理 / accepted",
    ReportStatus.REJECTED: "不予受理 / not accepted",
    ReportStatus.INVESTIGATING: "核查中 / under investigation",
    ReportStatus.CLOSED: "已办结 / closed",
    ReportStatus.MERGED: "已并入另一举报一并办理 / merged into another report",
}

# What a POST may carry (the specification's arguments); anything else is refused. ``email``,
# ``device_id`` and ``account_id`` are taken and not kept: the report domain has no place for
# them, and an e-mail address or a device id is personal data nobody here needs.
SUBJECT = "attribute[subject]"
OBSERVED_AT = "attribute[observed_at]"
POST_FIELDS = frozenset(
    {
        "api_key",
        "jurisdiction_id",
        "service_code",
        "lat",
        "long",
        "address_string",
        "address_id",
        "email",
        "device_id",
        "account_id",
        "first_name",
        "last_name",
        "phone",
        "description",
        "media_url",
        SUBJECT,
        OBSERVED_AT,
    }
)
# The names a submission's refusals use, as an Open311 client knows them.
_FIELD_NAMES = {
    "category": "service_code",
    "description": "description",
    "divisionCode": "jurisdiction_id",
    "location": "lat/long",
    "address": "address_string",
    "subject": SUBJECT,
    "observedAt": OBSERVED_AT,
    "contact": "first_name/last_name/phone",
    "contact.name": "first_name/last_name",
    "contact.mobile": "phone",
    "photos": "media_url",
}
_CJK = re.compile(r"[\u3400-\u9fff]")


class Open311Refused(AnjianError):
    """A refusal in the specification's shape: each error its HTTP code and description."""

    code = "BAD_USER_INPUT"

    def __init__(
        self, status: int, descriptions: Sequence[str], retry_after: int | None = None
    ) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = list(descriptions)
        self.retry_after = retry_after

    def errors(self) -> list[dict[str, Any]]:
        return [{"code": self.status, "description": d} for d in self.descriptions]

    @classmethod
    def of(cls, exc: AnjianError, status: int) -> Open311Refused:
        """``exc`` in the specification's shape; ``status`` is the HTTP status of its
        category (``backend.api.errors``)."""
        if isinstance(exc, Open311Refused):
            return exc
        if isinstance(exc, ReportRefused):
            return cls(400, [_described(field, message) for field, message in exc.errors])
        seconds = exc.details.get("retryAfterSeconds")
        return cls(status, [exc.message], seconds if isinstance(seconds, int) else None)


def _described(field: str | None, message: str) -> str:
    if field is None:
        return message
    return f"{_FIELD_NAMES.get(field, field)}: {message}"


def bad(*descriptions: str) -> Open311Refused:
    return Open311Refused(400, descriptions)


# --- services ----------------------------------------------------------------------------------


def _service(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name_zh,
        "description": f"{category.name_zh} / {category.name_en}",
        "metadata": True,
        "type": "realtime",
        "keywords": category.name_en,
        "group": "安全生产隐患举报 / work-safety hazard reports",
    }


def check_jurisdiction(jurisdiction_id: str | None) -> str | None:
    """A division code given as ``jurisdiction_id``; 404 in the specification's terms when it
    names no division (GB/T 2260)."""
    if jurisdiction_id is None or jurisdiction_id == "":
        return None
    if not is_valid(jurisdiction_id):
        raise Open311Refused(
            404,
            [
                "jurisdiction_id: 须为 GB/T 2260 行政区划代码 / jurisdiction_id must be a "
                f"GB/T 2260 division code such as 320102, got {jurisdiction_id[:20]!r}"
            ],
        )
    return jurisdiction_id


def services() -> list[dict[str, Any]]:
    """Every report category, the same in every division."""
    return [_service(c) for c in CATEGORIES]


def service_definition(code: str) -> dict[str, Any]:
    """A service's attributes: the enterprise or site named and when the hazard was seen,
    both optional (sent as ``attribute[subject]`` and ``attribute[observed_at]``)."""
    if code not in BY_CODE:
        raise Open311Refused(
            404, [f"service_code: 没有这个服务 / no service has the code {code[:40]!r}"]
        )
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": "subject",
                "datatype": "string",
                "required": False,
                "datatype_description": f"至多 {MAX_SUBJECT} 字 / at most {MAX_SUBJECT} characters",
                "order": 1,
                "description": "被举报单位或场所 / the enterprise or site reported",
            },
            {
                "variable": True,
                "code": "observed_at",
                "datatype": "datetime",
                "required": False,
                "datatype_description": "W3C 时间，如 2026-12-01T08:30:00+08:00 / a W3C "
                "datetime such as 2026-12-01T08:30:00+08:00",
                "order": 2,
                "description": "发现时间 / when the hazard was seen",
            },
        ],
    }


def discovery(base_url: str) -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": "安监平台管理员 / the Anjian platform administrator",
        "key_service": "向平台管理员申请 api_key / ask the platform administrator for an api_key",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": f"{base_url.rstrip('/')}/open311/v2",
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }


# --- keys and rates ----------------------------------------------------------------------------


async def admit_key(
    *,
    sessions: async_sessionmaker[AsyncSession],
    intake: reports.ReportIntake,
    api_key: str | None,
    address: str | None,
    count: bool,
) -> uuid.UUID | None:
    """The client ``api_key`` names (None without one), after refusing a blocked network
    and a bad key (403); ``count``: the request counts against the key's rate (429 over it),
    in a transaction of its own, so a request refused later for its input still counts."""
    where = address or UNKNOWN_ADDRESS

    async def admit() -> uuid.UUID | None:
        async with reports.public_session(sessions) as session, session.begin():
            await refuse_blocked(session, where)
            if api_key is None:
                return None
            key = await keys.authenticate(session, api_key)
            if count:
                await intake.throttle.count(
                    session,
                    kind=OPEN311,
                    subject=str(key.id),
                    policy=REQUESTS_PER_KEY,
                    message=_RATE_MESSAGE,
                )
            return key.id

    return await retry_lost_race(admit, conflicts=(IntegrityError,))


# --- POST requests.json ------------------------------------------------------------------------


def _one(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad(f"{name}: 只能给出一次 / {name} is given more than once")
    value = values[0].strip()
    return value or None


def _coordinate(text: str | None, name: str, most: float, errors: list[str]) -> float | None:
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        errors.append(f"{name}: 须为十进制度数 / {name} must be decimal degrees, got {text[:20]!r}")
        return None
    if not -most <= number <= most:
        errors.append(f"{name}: 须在 -{most:g} 到 {most:g} 之间 / {name} must be within ±{most:g}")
        return None
    return number


def _contact_name(first: str | None, last: str | None) -> str | None:
    parts = [p for p in (first, last) if p]
    if not parts:
        return None
    if any(_CJK.search(p) for p in parts):
        return "".join(p for p in (last, first) if p)  # 姓 then 名, no space
    return " ".join(parts)


def submission_body(form: Mapping[str, list[str]]) -> dict[str, Any]:
    """A POST's arguments as the body ``POST /api/v1/reports`` takes (without its proof of
    work), or ``Open311Refused`` naming what no report can be made of. The body's own checks
    are the intake's."""
    errors = [
        f"{name[:40]}: 未知参数 / unknown argument {name[:40]!r}"
        for name in sorted(set(form) - POST_FIELDS)
    ]
    errors += [
        f"{name}: 只能给出一次 / {name} is given more than once"
        for name in sorted(POST_FIELDS & set(form))
        if len(form[name]) > 1
    ]
    if errors:
        raise bad(*errors)
    if _one(form, "media_url") is not None:
        errors.append(
            "media_url: 不接受照片链接，请在公众端上传照片 / media_url is not accepted: "
            "photos are uploaded through the public portal, where they are sanitised"
        )
    if _one(form, "address_id") is not None:
        errors.append(
            "address_id: 不支持地址编号，请给出 lat/long 或 address_string / address_id is "
            "not supported; send lat and long, or address_string"
        )
    lat_text, long_text = _one(form, "lat"), _one(form, "long")
    latitude = _coordinate(lat_text, "lat", 90, errors)
    longitude = _coordinate(long_text, "long", 180, errors)
    if (lat_text is None) != (long_text is None):
        errors.append("lat/long: 经纬度须同时给出 / lat and long come together")
    address = _one(form, "address_string")
    if lat_text is None and long_text is None and address is None:
        errors.append(
            "lat/long: 须给出位置：lat 与 long，或 address_string / a location is required: "
            "lat and long, or address_string"
        )
    if _one(form, "jurisdiction_id") is None:
        errors.append(
            "jurisdiction_id: 须给出所在地的 GB/T 2260 行政区划代码 / jurisdiction_id is "
            "required: the GB/T 2260 code of the division where the hazard is, such as 320102"
        )
    if errors:
        raise bad(*errors)
    name = _contact_name(_one(form, "first_name"), _one(form, "last_name"))
    phone = _one(form, "phone")
    contact = None if name is None and phone is None else {"name": name, "mobile": phone}
    located = latitude is not None and longitude is not None
    return {
        "category": _one(form, "service_code"),
        "description": _one(form, "description"),
        "divisionCode": _one(form, "jurisdiction_id"),
        "location": {"lat": latitude, "lon": longitude} if located else None,
        "address": address,
        "observedAt": _one(form, OBSERVED_AT),
        "photos": [],
        "contact": contact,
        "subject": _one(form, SUBJECT),
    }


@dataclass(frozen=True)
class Posted:
    service_request_id: str
    token: str
    receipt: str


async def submit_request(
    *,
    sessions: async_sessionmaker[AsyncSession],
    intake: reports.ReportIntake,
    key_id: uuid.UUID,
    form: Mapping[str, list[str]],
    client_address: str | None,
) -> Posted:
    """Store one request of the client ``key_id``: checked and stored as a report through
    the REST route is, with the client recorded beside it in the same transaction. Any
    refusal stores nothing."""
    submission = parse_submission(submission_body(form), intake.now(), proof=False)
    token = secrets.token_urlsafe(24)

    async def sent_by_client(session: AsyncSession, report: HazardReport) -> None:
        session.add(Open311Request(report_id=report.id, key_id=key_id, token=token))
        await session.flush()

    receipt, report_id = await reports.store_submission(
        sessions=sessions,
        intake=intake,
        submission=submission,
        challenge=None,
        client_address=client_address,
        also=sent_by_client,
    )
    return Posted(str(report_id), token, receipt)


def posted_reply(posted: Posted) -> list[dict[str, Any]]:
    return [
        {
            "service_request_id": posted.service_request_id,
            "token": posted.token,
            "service_notice": (
                f"举报已收到。回执码 {posted.receipt}，请转告举报人，凭此在公众端查询办理进度 / "
                f"report received; its receipt code {posted.receipt} lets the reporter track it "
                "on the public portal"
            ),
            "account_id": None,
        }
    ]


# --- GET requests.json, requests/{id}.json, tokens/{id}.json ----------------------------------


def _when(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_datetime(text)
    except (ValueError, OverflowError, OSError) as exc:
        raise bad(f"{name}: W3C 时间格式错误 / {name} must be a W3C datetime: {exc}") from None


def _listed(text: str | None) -> list[str]:
    return [] if text is None else [p.strip() for p in text.split(",") if p.strip()]


def parse_request_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Listing:
    """What ``GET requests.json`` asks for."""

    ids: tuple[uuid.UUID, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: frozenset[str] = frozenset()
    jurisdiction: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def parse_listing(params: Mapping[str, str | None]) -> Listing:
    ids_given = _listed(params.get("service_request_id"))
    if len(ids_given) > MAX_IDS:
        raise bad(f"service_request_id: 至多 {MAX_IDS} 个 / at most {MAX_IDS} ids at once")
    ids = []
    for text in ids_given:
        parsed = parse_request_id(text)
        if parsed is None:
            raise bad(f"service_request_id: 不是请求编号 / not a request id: {text[:40]!r}")
        ids.append(parsed)
    jurisdiction = check_jurisdiction(params.get("jurisdiction_id"))
    if ids:  # the specification: ids override every other argument
        return Listing(ids=tuple(ids), jurisdiction=jurisdiction)
    codes = _listed(params.get("service_code"))
    unknown = [c for c in codes if c not in BY_CODE]
    if unknown:
        raise bad(f"service_code: 没有这个服务 / no service has the code {unknown[0][:40]!r}")
    statuses = frozenset(s.lower() for s in _listed(params.get("status")))
    if statuses - {"open", "closed"}:
        raise bad("status: 须为 open 或 closed / status must be open, closed or both")
    start = _when(params.get("start_date"), "start_date")
    end = _when(params.get("end_date"), "end_date")
    if start is not None and end is not None:
        if end < start:
            raise bad("end_date: 不得早于 start_date / end_date is before start_date")
        if end - start > WINDOW:
            raise bad("start_date/end_date: 跨度至多 90 天 / the range spans at most 90 days")
    return Listing(
        service_codes=tuple(codes),
        statuses=statuses,
        jurisdiction=jurisdiction,
        start=start,
        end=end,
    )


def _window(listing: Listing, now: datetime) -> tuple[datetime, datetime]:
    if listing.start is not None and listing.end is not None:
        return listing.start, listing.end
    if listing.start is not None:
        return listing.start, listing.start + WINDOW
    end = listing.end or now
    return end - WINDOW, end


def _filtered(query: Select[Any], listing: Listing, now: datetime) -> Select[Any]:
    if listing.jurisdiction is not None:
        prefix = division_prefix(listing.jurisdiction)
        query = query.where(HazardReport.division_code.startswith(prefix, autoescape=True))
    if listing.ids:
        return query.where(HazardReport.id.in_(listing.ids))
    start, end = _window(listing, now)
    query = query.where(HazardReport.received_at >= start, HazardReport.received_at <= end)
    if listing.service_codes:
        query = query.where(HazardReport.category.in_(listing.service_codes))
    if listing.statuses == {"open"}:
        query = query.where(HazardReport.status.in_(OPEN_STATUSES))
    elif listing.statuses == {"closed"}:
        query = query.where(HazardReport.status.not_in(OPEN_STATUSES))
    return query


def _place(code: str) -> str:
    """A division's full name, its province first: 江苏省南京市玄武区."""
    return "".join(d.name for d in (*ancestors(code), division(code)))


def _day(at: datetime) -> datetime:
    """The China-time day an instant falls on, as its midnight."""
    local = at.astimezone(CHINA_TIME)
    return datetime(local.year, local.month, local.day, tzinfo=CHINA_TIME)


def _common(row: HazardReport) -> dict[str, Any]:
    category = BY_CODE.get(row.category)
    return {
        "service_request_id": str(row.id),
        "status": "open" if row.status in OPEN_STATUSES else "closed",
        "service_name": category.name_zh if category else row.category,
        "service_code": row.category,
        "agency_responsible": _place(row.handling_division_code),
        "service_notice": None,
        "address_id": None,
        "zipcode": None,
        "media_url": None,
    }


def public_view(row: HazardReport) -> dict[str, Any]:
    """A published report as anyone reads it: the moderated summary, the division for its
    place, the day it arrived; no coordinates (the division data has no centroids)."""
    assert row.public_summary is not None and row.summary_published_at is not None
    return {
        **_common(row),
        "status_notes": f"{row.status.value}: {DETAIL[row.status]}",
        "description": pii.mask_text(row.public_summary),
        "requested_datetime": serialize_datetime(_day(row.received_at)),
        "updated_datetime": serialize_datetime(row.summary_published_at),
        "expected_datetime": None,
        "address": _place(row.division_code),
    }


def own_view(row: HazardReport, latest: ReportEvent | None) -> dict[str, Any]:
    """A request as the client that sent it reads it: its own text with personal data
    masked, its place as sent, the detailed status with the last public note (the outcome
    once closed), the deadline the handling division works to. Never the contact."""
    note = row.outcome if row.status is ReportStatus.CLOSED and row.outcome else None
    if note is None and latest is not None:
        note = latest.note
    notes = f"{row.status.value}: {DETAIL[row.status]}"
    if note:
        notes += f" — {pii.mask_text(note)}"
    updated = latest.at if latest is not None else row.received_at
    due = row.close_due_at if row.accepted_at is not None else row.accept_due_at
    view = {
        **_common(row),
        "status_notes": notes,
        "description": pii.mask_text(row.description),
        "requested_datetime": serialize_datetime(row.received_at),
        "updated_datetime": serialize_datetime(updated),
        "expected_datetime": (
            serialize_datetime(due) if due is not None and row.status in OPEN_STATUSES else None
        ),
        "address": pii.mask_text(row.address) if row.address else _place(row.division_code),
    }
    if row.latitude is not None and row.longitude is not None:
        view["lat"] = row.latitude
        view["long"] = row.longitude
    return view


async def _latest_events(
    session: AsyncSession, report_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ReportEvent]:
    ids = list(report_ids)
    if not ids:
        return {}
    last = (
        select(ReportEvent.report_id, func.max(ReportEvent.at).label("at"))
        .where(ReportEvent.report_id.in_(ids))
        .group_by(ReportEvent.report_id)
        .subquery()
    )
    rows = await session.scalars(
        select(ReportEvent)
        .join(last, (ReportEvent.report_id == last.c.report_id) & (ReportEvent.at == last.c.at))
        .order_by(ReportEvent.created_at)
    )
    return {event.report_id: event for event in rows}  # the later of two at one instant


async def list_requests(
    *,
    sessions: async_sessionmaker[AsyncSession],
    key_id: uuid.UUID | None,
    listing: Listing,
    now: datetime,
) -> list[dict[str, Any]]:
    """The requests a listing asks for, latest first (at most ``MAX_LISTED``): the client's
    own with its key, else the published ones."""
    async with reports.public_session(sessions) as session:
        query = select(HazardReport)
        if key_id is None:
            query = query.where(HazardReport.summary_published_at.is_not(None))
        else:
            query = query.join(Open311Request, Open311Request.report_id == HazardReport.id).where(
                Open311Request.key_id == key_id
            )
        query = _filtered(query, listing, now).order_by(
            HazardReport.received_at.desc(), HazardReport.id
        )
        rows = list(await session.scalars(query.limit(MAX_LISTED)))
        if key_id is None:
            return [public_view(r) for r in rows if r.public_summary is not None]
        latest = await _latest_events(session, (r.id for r in rows))
        return [own_view(r, latest.get(r.id)) for r in rows]


def _no_such_request() -> Open311Refused:
    return Open311Refused(404, ["service_request_id: 没有这个请求 / no such service request"])


async def one_request(
    *,
    sessions: async_sessionmaker[AsyncSession],
    key_id: uuid.UUID | None,
    request_id: str,
    jurisdiction: str | None,
) -> list[dict[str, Any]]:
    """One request as a list of one, as the specification answers; an id that is not one,
    not published (without a key) or not the client's (with one) is the same 404."""
    parsed = parse_request_id(request_id)
    if parsed is None:
        raise _no_such_request()
    found = await list_requests(
        sessions=sessions,
        key_id=key_id,
        listing=Listing(ids=(parsed,), jurisdiction=jurisdiction),
        now=datetime.now(UTC),
    )
    if not found:
        raise _no_such_request()
    return found


async def token_request(
    *, sessions: async_sessionmaker[AsyncSession], token: str
) -> list[dict[str, Any]]:
    """The request a POST's token stands for (``GET tokens/{token}.json``)."""
    if len(token) > 64:
        raise Open311Refused(404, ["token: 没有这个令牌 / no such token"])
    async with reports.public_session(sessions) as session:
        report_id = await session.scalar(
            select(Open311Request.report_id).where(Open311Request.token == token)
        )
    if report_id is None:
        raise Open311Refused(404, ["token: 没有这个令牌 / no such token"])
    return [{"service_request_id": str(report_id), "token": token}]


__all__ = [
    "Open311Refused",
    "Posted",
    "admit_key",
    "check_jurisdiction",
    "discovery",
    "list_requests",
    "one_request",
    "parse_listing",
    "posted_reply",
    "service_definition",
    "services",
    "submit_request",
    "token_request",
]

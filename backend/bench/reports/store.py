"""The reports already in the store of ``anjian bench reports``: their plan, and their rows.

The plan is a pure function of the scale and a seed: at scale 1, 100,000 reports received over
the past year, spread round-robin over the counties of Jiangsu (320000), each at the stage its
age gives it: the last ``ACCEPT_WITHIN`` days mostly waiting to be accepted, the last two
months mostly under investigation, older ones closed, rejected or merged. A tenth of the
descriptions carry a mobile number, so the masking of free text has work; a third of the
reporters leave their contact.

The rows are written in bulk through the models (executemany) in one unscoped transaction, with
the free text and contacts sealed under the platform data key exactly as a flush seals them
(``privacy.crypto.RowSealer``), and each report's public timeline beside it. Photos are not
built: the queue lists their keys from their own table, which stays empty for these reports.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from backend.auth.models import Membership
from backend.bench.oversight.world import counties
from backend.core.settings import Settings
from backend.reports import receipts
from backend.reports.categories import CATEGORIES
from backend.reports.models import (
    ACCEPT_WITHIN,
    CLOSE_WITHIN,
    FEEDBACK_WITHIN,
    HazardReport,
    ReportEvent,
    ReportStatus,
)
from backend.reports.service import HANDLING_ROLES, RECEIVED_NOTE
from privacy.crypto import KeyStore, RowSealer
from privacy.keyring import load_keyring
from tenants.divisions import ancestors
from tenants.scope import UNSCOPED_KEY

REPORTS = 100_000
DAYS = 365
SEED = 2613
INSERT_CHUNK = 5_000
TABLE = HazardReport.__tablename__

_PLACES = ("储罐区", "仓库", "车间", "码头", "加油站", "工地", "锅炉房", "配电室")
_HAZARDS = (
    "围堰破损，夜间有明显的油气味",
    "消防通道被货物堵塞，灭火器过期",
    "无证储存液化气瓶二十余个",
    "工人在密闭空间作业无人监护",
    "粉尘浓度高，除尘设备长期停用",
    "脚手架未设防护网，高处作业不系安全带",
    "夜间偷排废液，现场有刺鼻气味",
    "压力容器超期未检，安全阀锈死",
)


@dataclass(frozen=True)
class PlannedReport:
    id: uuid.UUID
    index: int
    receipt: str  # as the reporter holds it: AJ-XXXX-XXXX-XXXX-XXXX
    division_code: str
    category: str
    status: ReportStatus
    received_at: datetime
    named: bool  # the reporter left a contact
    located: bool

    @property
    def description(self) -> str:
        text = (
            f"{_PLACES[self.index % len(_PLACES)]}{_HAZARDS[self.index % len(_HAZARDS)]}，"
            f"已持续{self.index % 9 + 1}天（编号{self.index:06d}）"
        )
        if self.index % 10 == 3:
            text += f"，知情人电话139{self.index % 100_000_000:08d}"
        return text


@dataclass(frozen=True)
class Store:
    scale: float
    now: datetime
    reports: tuple[PlannedReport, ...]

    def by_status(self) -> dict[str, int]:
        counted = Counter(r.status.value for r in self.reports)
        return {s.value: counted.get(s.value, 0) for s in ReportStatus}


def plan(scale: float, seed: int = SEED, now: datetime | None = None) -> Store:
    """The reports at ``scale`` (a fraction of 100,000; at least one)."""
    if not 0 < scale <= 1:
        raise ValueError("scale is a fraction between 0 (excluded) and 1")
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    places = counties()
    n = max(1, round(REPORTS * scale))
    slot = timedelta(days=DAYS) / n
    reports = []
    for i in range(n):
        age = slot * i + slot * rng.random()
        number = rng.getrandbits(receipts.BITS)
        symbols = "".join(
            receipts.ALPHABET[(number >> (5 * k)) & 31] for k in reversed(range(receipts.SYMBOLS))
        )
        reports.append(
            PlannedReport(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                index=i,
                receipt=receipts.format_receipt(symbols),
                division_code=places[i % len(places)],
                category=CATEGORIES[i % len(CATEGORIES)].code,
                status=_status_at(age, rng.random()),
                received_at=now - age,
                named=i % 3 == 0,
                located=i % 2 == 0,
            )
        )
    return Store(scale=scale, now=now, reports=tuple(reports))


def _status_at(age: timedelta, draw: float) -> ReportStatus:
    S = ReportStatus
    if age < ACCEPT_WITHIN:
        return S.RECEIVED if draw < 0.8 else S.ACCEPTED
    if age < CLOSE_WITHIN:
        for status, upto in ((S.ACCEPTED, 0.2), (S.INVESTIGATING, 0.7), (S.CLOSED, 0.9)):
            if draw < upto:
                return status
        return S.REJECTED if draw < 0.97 else S.MERGED
    return S.CLOSED if draw < 0.85 else S.REJECTED if draw < 0.95 else S.MERGED


def _steps(report: PlannedReport, now: datetime) -> list[tuple[ReportStatus, datetime]]:
    """The timeline the report's status implies, each step well before now."""
    S = ReportStatus
    age = now - report.received_at
    at = report.received_at
    steps = [(S.RECEIVED, at)]
    accepted = at + min(timedelta(days=1), age * 0.2)
    if report.status in (S.ACCEPTED, S.INVESTIGATING, S.CLOSED):
        steps.append((S.ACCEPTED, accepted))
    if report.status in (S.INVESTIGATING, S.CLOSED):
        steps.append((S.INVESTIGATING, at + min(timedelta(days=2), age * 0.4)))
    if report.status in (S.CLOSED, S.REJECTED, S.MERGED):
        steps.append((report.status, at + min(timedelta(days=20), age * 0.8)))
    return steps


def _handlers(session: Session) -> set[str]:
    """The divisions with accounts that handle reports (as ``service.handling_division``)."""
    domains = session.scalars(
        select(Membership.domain)
        .where(Membership.domain.startswith("gov:"), Membership.role.in_(HANDLING_ROLES))
        .distinct()
    )
    return {d.removeprefix("gov:") for d in domains}


def _handling(code: str, handlers: set[str]) -> str:
    chain = [code, *(d.code for d in reversed(ancestors(code)))]
    return next((c for c in chain if c in handlers), chain[-1])


def _rows(
    chunk: Sequence[PlannedReport],
    sealer: RowSealer,
    handlers: set[str],
    now: datetime,
    merged_into: dict[int, uuid.UUID],
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    S = ReportStatus
    reports: list[dict[str, object]] = []
    events: list[dict[str, object]] = []

    def sealed(name: str, report: PlannedReport, value: str | None) -> bytes | None:
        return None if value is None else sealer.seal(TABLE, name, None, report.id, value)

    for r in chunk:
        steps = _steps(r, now)
        when = dict(steps)
        accepted = when.get(S.ACCEPTED)
        ended = when.get(S.CLOSED)
        closed = r.status is S.CLOSED
        reports.append(
            {
                "id": r.id,
                "created_at": r.received_at,
                "receipt_hash": receipts.receipt_hash(receipts.canonical(r.receipt) or ""),
                "category": r.category,
                "description_enc": sealed("description", r, r.description),
                "division_code": r.division_code,
                "handling_division_code": _handling(r.division_code, handlers),
                "latitude": 31.0 + (r.index % 400) / 100 if r.located else None,
                "longitude": 116.5 + (r.index % 500) / 100 if r.located else None,
                "address_enc": sealed("address", r, f"{r.division_code} 某路{r.index % 900 + 1}号"),
                "subject_enc": sealed(
                    "subject", r, f"某某化工有限公司{r.index % 997}" if r.index % 5 < 2 else None
                ),
                "observed_at": r.received_at - timedelta(hours=r.index % 48),
                "contact_name_enc": sealed("contact_name", r, "张三" if r.named else None),
                "contact_mobile_enc": sealed(
                    "contact_mobile", r, f"138{r.index % 100_000_000:08d}" if r.named else None
                ),
                "status": r.status,
                "received_at": r.received_at,
                "accept_due_at": r.received_at + ACCEPT_WITHIN,
                "accepted_at": accepted,
                "close_due_at": None if accepted is None else accepted + CLOSE_WITHIN,
                "close_extended": False,
                "closed_at": ended,
                "feedback_due_at": None if ended is None else ended + FEEDBACK_WITHIN,
                "feedback_at": None if ended is None else ended + timedelta(days=1),
                "assigned_to": None,
                "merged_into_id": merged_into.get(r.index),
                "outcome": "经核查，问题属实，已责令企业限期整改并复查合格。" if closed else None,
                "public_summary": None,
                "summary_published_at": None,
                "client_hash": None,  # erased after 30 days, and these are older or built
            }
        )
        for status, at in steps:
            events.append(
                {
                    "id": uuid.uuid5(r.id, status.value),
                    "created_at": at,
                    "report_id": r.id,
                    "at": at,
                    "status": status,
                    "note": RECEIVED_NOTE if status is S.RECEIVED else None,
                }
            )
    return reports, events


def _chunks(reports: Sequence[PlannedReport]) -> Iterator[Sequence[PlannedReport]]:
    for start in range(0, len(reports), INSERT_CHUNK):
        yield reports[start : start + INSERT_CHUNK]


def insert_reports(
    settings: Settings, store: Store, advance: Callable[[int], None] | None = None
) -> dict[str, int]:
    """The store's reports and their timelines, in one unscoped transaction;
    ``advance(reports)`` after each chunk. Returns the rows written per table."""
    # A merged report points at an earlier one of the plan (already written).
    merged_into = {
        r.index: store.reports[r.index - 1].id
        for r in store.reports
        if r.status is ReportStatus.MERGED and r.index > 0
    }
    written = {"hazard_reports": 0, "hazard_report_events": 0}
    keys = KeyStore(load_keyring(settings.master_key_file))
    engine = create_engine(settings.sync_database_url)
    try:
        with Session(engine) as session, session.begin():
            session.info[UNSCOPED_KEY] = True
            handlers = _handlers(session)
            sealer = RowSealer.for_connection(keys, session.connection())
            for chunk in _chunks(store.reports):
                reports, events = _rows(chunk, sealer, handlers, store.now, merged_into)
                session.execute(insert(HazardReport), reports)
                session.execute(insert(ReportEvent), events)
                written["hazard_reports"] += len(reports)
                written["hazard_report_events"] += len(events)
                if advance is not None:
                    advance(len(chunk))
    finally:
        engine.dispose()
    return written

"""Calls of the public report routes as the portal makes them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import func, select

from backend.reports import pow, receipts
from backend.reports.models import HazardReport, ReportChallenge, ReportEvent, ReportPhoto
from backend.runtime import Runtime
from privacy.audit import AuditEntry
from tenants.scope import unscoped_session
from tests.graphql import GraphQLClient
from tests.privacy.test_images import face_scene, gps_exif

REPORTS = "/api/v1/reports"
PHOTOS = "/api/v1/reports/photos"
MOBILE = "13912345678"


def jpeg_with_gps_and_a_face() -> bytes:
    buffer = io.BytesIO()
    face_scene().save(buffer, "JPEG", exif=gps_exif(), quality=90)
    return buffer.getvalue()


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


async def solved(api: GraphQLClient) -> dict[str, str]:
    answer = await api.http.get(f"{REPORTS}/challenge")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    nonce = pow.solve(body["challenge"], body["difficulty"])
    return {"challenge": body["challenge"], "nonce": nonce}


def report_body(proof: dict[str, str], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "major_accident_hazard",
        "description": "储罐区围堰破损，夜间有明显的油气味，已持续一周",
        "divisionCode": "320102",
        "location": {"lat": 32.05, "lon": 118.79},
        "address": "玄武区某化工仓库东侧",
        "observedAt": "2026-12-01T08:30:00+08:00",
        "photos": [],
        "contact": None,
        "subject": "某某化工有限公司",
        "pow": proof,
    }
    body.update(changes)
    return body


async def submit(api: GraphQLClient, body: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    answer = await api.http.post(REPORTS, json=body, **kwargs)
    return answer.status_code, answer.json()


async def upload_photo(
    api: GraphQLClient,
    proof: dict[str, str] | None,
    data: bytes,
    media: str = "image/jpeg",
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": media}
    if proof is not None:
        headers["X-Anjian-PoW"] = f"{proof['challenge']}:{proof['nonce']}"
    answer = await api.http.post(PHOTOS, content=data, headers=headers)
    return answer.status_code, answer.json()


async def stored(runtime: Runtime) -> dict[str, int]:
    """How many rows and files the reports domain holds (to show a refusal stored nothing)."""
    counts: dict[str, int] = {}
    async with unscoped_session(runtime.sessions) as session:
        for model in (HazardReport, ReportEvent, ReportPhoto):
            counts[model.__tablename__] = (
                await session.scalar(select(func.count()).select_from(model)) or 0
            )
        counts["reported challenges"] = (
            await session.scalar(
                select(func.count())
                .select_from(ReportChallenge)
                .where(ReportChallenge.reported_at.is_not(None))
            )
            or 0
        )
    counts["files"] = len(list(report_files(runtime)))
    return counts


def report_files(runtime: Runtime) -> list[Path]:
    return sorted((Path(runtime.settings.objects_dir) / "reports").glob("*.*"))


def fields(body: dict[str, Any]) -> set[str | None]:
    return {error["field"] for error in body["errors"]}


# --- handling ---------------------------------------------------------------------------------


async def submitted(api: GraphQLClient, runtime: Runtime, **changes: Any) -> tuple[str, str]:
    """Submit a report through the public route; its id and receipt code."""
    status, body = await submit(api, report_body(await solved(api), **changes))
    assert status == 201, body
    symbols = receipts.canonical(body["receipt"])
    assert symbols is not None
    async with unscoped_session(runtime.sessions) as session:
        report_id = await session.scalar(
            select(HazardReport.id).where(
                HazardReport.receipt_hash == receipts.receipt_hash(symbols)
            )
        )
    assert report_id is not None
    return str(report_id), body["receipt"]


async def tracked(api: GraphQLClient, receipt: str) -> dict[str, Any]:
    answer = await api.http.get(f"{REPORTS}/{receipt}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def audit_actions(runtime: Runtime, report_id: str) -> list[str]:
    """The audit trail's actions on one report, oldest first."""
    async with unscoped_session(runtime.sessions) as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "report", AuditEntry.object_id == report_id)
            .order_by(AuditEntry.seq)
        )
        return list(rows)


REPORT_FIELDS = """id status description address location { lat lon } divisionCode
  handlingDivisionCode acceptedAt closeDueAt closedAt feedbackDueAt feedbackAt closeExtended
  overdue outcome publicSummary summaryPublishedAt rewardEligible rejectReason contactGiven
  contactReadable anonymous mergedIntoId linkedInspectionId linkedNoticeId
  assignee { userId email } subjectSite { id name }
  timeline { at status note internal actorEmail }"""
REPORT = f"query($id: ID!) {{ hazardReport(id: $id) {{ {REPORT_FIELDS} }} }}"
CONTACT = "query($id: ID!) { hazardReportContact(id: $id) { name mobile } }"
ASSIGNEES = "query($id: ID!) { reportAssignees(reportId: $id) { userId email } }"
QUEUE = """query($d: String, $s: HazardReportStatus, $o: Boolean, $m: Boolean) {
  hazardReports(divisionCode: $d, status: $s, overdue: $o, assignedToMe: $m, first: 500) {
    id status overdue handlingDivisionCode assignee { userId } } }"""


def mutation(name: str, args: str, params: str) -> str:
    """``mutation(...) { name(...) { the report's fields } }``."""
    return f"mutation({params}) {{ {name}({args}) {{ {REPORT_FIELDS} }} }}"


ACCEPT = mutation(
    "acceptHazardReport",
    "id: $id, note: $note, subjectSiteId: $site",
    "$id: ID!, $note: String, $site: ID",
)
REJECT = mutation(
    "rejectHazardReport",
    "id: $id, reason: $reason, note: $note",
    "$id: ID!, $reason: ReportRejectReason!, $note: String!",
)
ASSIGN = mutation("assignHazardReport", "id: $id, assigneeUserId: $to", "$id: ID!, $to: ID!")
INVESTIGATE = mutation(
    "recordHazardReportInvestigation",
    "id: $id, note: $note, inspectionId: $inspection, noticeId: $notice",
    "$id: ID!, $note: String!, $inspection: ID, $notice: ID",
)
CLOSE = mutation(
    "closeHazardReport",
    "id: $id, outcome: $outcome, rewardEligible: $reward",
    "$id: ID!, $outcome: String!, $reward: Boolean",
)
FEEDBACK = mutation(
    "recordHazardReportFeedback", "id: $id, note: $note", "$id: ID!, $note: String!"
)
EXTEND = mutation(
    "extendHazardReportDeadline", "id: $id, reason: $reason", "$id: ID!, $reason: String!"
)
DRAFT = mutation(
    "draftHazardReportSummary", "id: $id, summary: $summary", "$id: ID!, $summary: String!"
)
PUBLISH = mutation("publishHazardReportSummary", "id: $id", "$id: ID!")
MERGE = mutation("mergeHazardReport", "id: $id, intoId: $into", "$id: ID!, $into: ID!")
CONFIRM = mutation("confirmHazardReportSubject", "id: $id, siteId: $site", "$id: ID!, $site: ID")

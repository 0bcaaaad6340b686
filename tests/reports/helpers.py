"""Calls of the public report routes as the portal makes them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import func, select

from backend.reports import pow
from backend.reports.models import HazardReport, ReportChallenge, ReportEvent, ReportPhoto
from backend.runtime import Runtime
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

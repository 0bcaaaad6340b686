"""Public hazard reports over REST (CONTRACT.md, public hazard reports), no account needed:
``GET /api/v1/reports/challenge``, ``POST /api/v1/reports/photos``, ``GET
/api/v1/reports/categories``, ``POST /api/v1/reports``, ``GET /api/v1/reports/{receipt}``, and
for the public portal's picker ``GET /api/v1/reports/divisions?parent=<code>``; and for the
regulators ``GET /api/v1/reports/photos/{key}``, a report's photo (signed in, the session and
CSRF rules of every REST route; only a regulator whose jurisdiction covers the report, anyone
else 404).

Every refusal answers ``{"errors": [{"field", "message"}]}`` (``field`` null when it concerns
the request as a whole): 400 for bad input, 403 for a blocked network, 404 for an unknown
receipt, 413 for a body over its limit, 415 for a wrong content type, 429 with
``Retry-After`` over the rate. Bodies are read against their limit as they arrive.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anyio
from litestar import Request, Response, get, post
from litestar.datastructures import State

from backend.api.errors import http_status_for, retry_after_for
from backend.api.http_body import UnreadableJson, decode_request_json
from backend.api.rest import json_reply, runtime_of, signed_in_user
from backend.auth.throttle import client_address
from backend.core.errors import (
    AnjianError,
    BadInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from backend.reports import handling, service
from backend.reports._input import ReportRefused
from backend.reports.blocklist import refuse_blocked
from backend.reports.categories import CATEGORIES
from privacy.images import MAX_PHOTO_BYTES
from tenants.divisions import children, english_name, provinces
from tenants.scope import scoped_session

log = logging.getLogger("anjian.api")

# A report is a few kilobytes of text; 64 KiB leaves room for any legitimate one.
MAX_REPORT_BODY = 64 * 1024
_NO_STORE = {"Cache-Control": "no-store"}


def _address(request: Request[Any, Any, State]) -> str | None:
    runtime = runtime_of(request)
    peer = request.client.host if request.client else None
    return client_address(
        peer, request.headers.get("x-forwarded-for"), runtime.settings.trusted_proxies
    )


def _refused(what: str, exc: AnjianError, field: str | None = None) -> Response[bytes]:
    """The refusal in the routes' one shape; bad input that names no field of its own (a body
    too large, of the wrong type, not an image) is about ``field``."""
    status = http_status_for(exc)
    if isinstance(exc, ReportRefused):
        errors = [{"field": name, "message": message} for name, message in exc.errors]
    else:
        errors = [{"field": field if isinstance(exc, BadInput) else None, "message": exc.message}]
    log.info("%s refused %s: %s", what, status, exc.message)
    response = json_reply(status, {"errors": errors}, retry_after_for(exc))
    response.headers.update(_NO_STORE)
    return response


async def _body(request: Request[Any, Any, State], limit: int, zh: str, en: str) -> bytes:
    """The body, read against ``limit`` as it arrives (``PayloadTooLarge`` past it)."""
    announced = request.headers.get("content-length")
    too_large = PayloadTooLarge(
        f"{zh}最大 {limit // 1024:,} KiB / {en} is at most {limit // 1024:,} KiB"
    )
    if announced is not None and announced.isdigit() and int(announced) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


@get("/api/v1/reports/challenge")
async def report_challenge(request: Request[Any, Any, State]) -> Response[bytes]:
    runtime = runtime_of(request)
    try:
        async with service.public_session(runtime.sessions) as session:
            await refuse_blocked(session, _address(request) or "")
    except AnjianError as exc:
        return _refused("report challenge", exc)
    challenge = service.new_challenge(runtime.report_intake)
    response = json_reply(200, {"challenge": challenge.text, "difficulty": challenge.difficulty})
    response.headers.update(_NO_STORE)  # every form gets a challenge of its own
    return response


@get("/api/v1/reports/categories")
async def report_categories() -> Response[bytes]:
    return json_reply(
        200, [{"code": c.code, "nameZh": c.name_zh, "nameEn": c.name_en} for c in CATEGORIES]
    )


@get("/api/v1/reports/divisions")
async def report_divisions(request: Request[Any, Any, State]) -> Response[bytes]:
    """The divisions directly inside ``parent`` (GB/T 2260), or the provinces without it;
    ``nameEn`` where the data has one (the provinces)."""
    parent = request.query_params.get("parent")
    try:
        found = provinces() if parent in (None, "") else children(str(parent))
    except BadInput as exc:
        return _refused("division list", ReportRefused([("parent", exc.message)]))
    listed = []
    for d in found:
        entry = {"code": d.code, "name": d.name, "level": d.level}
        name_en = english_name(d.code)
        if name_en is not None:
            entry["nameEn"] = name_en
        listed.append(entry)
    return json_reply(200, listed)


@post("/api/v1/reports/photos", status_code=201, request_max_body_size=None)
async def report_photo(request: Request[Any, Any, State]) -> Response[bytes]:
    runtime = runtime_of(request)
    intake = runtime.report_intake
    try:
        await service.admit_client(
            sessions=runtime.sessions, intake=intake, address=_address(request), kind=service.PHOTO
        )
        content_type = request.headers.get("content-type") or ""
        service.check_photo_type(content_type)
        challenge = await service.check_photo_proof(
            sessions=runtime.sessions, intake=intake, header=request.headers.get("x-anjian-pow")
        )
        body = await _body(request, MAX_PHOTO_BYTES, "照片", "a photo")
        # Decoding and face detection take up to a few hundred milliseconds: off the loop.
        key, media = await anyio.to_thread.run_sync(
            service.store_report_photo, intake.objects, content_type, body
        )
        await service.record_report_photo(
            sessions=runtime.sessions, intake=intake, challenge=challenge, key=key, media=media
        )
    except AnjianError as exc:
        return _refused("report photo", exc, "photo")
    return json_reply(201, {"photo": key})


@post("/api/v1/reports", status_code=201, request_max_body_size=None)
async def submit_report(request: Request[Any, Any, State]) -> Response[bytes]:
    runtime = runtime_of(request)
    address = _address(request)
    try:
        await service.admit_client(
            sessions=runtime.sessions,
            intake=runtime.report_intake,
            address=address,
            kind=service.REPORT,
        )
        media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if media != "application/json":
            raise UnsupportedMediaType("举报须以 JSON 提交 / send the report as application/json")
        raw = await _body(request, MAX_REPORT_BODY, "举报内容", "a report")
        try:
            body = decode_request_json(raw)
        except (UnreadableJson, json.JSONDecodeError) as exc:
            reason = exc.reason if isinstance(exc, UnreadableJson) else "not valid JSON"
            raise ReportRefused([(None, f"请求体不是有效的 JSON / {reason}")]) from None
        receipt = await service.submit_report(
            sessions=runtime.sessions,
            intake=runtime.report_intake,
            body=body,
            client_address=address,
        )
    except AnjianError as exc:
        return _refused("hazard report", exc, "body")
    return json_reply(201, {"receipt": receipt})


@get("/api/v1/reports/photos/{key:path}")
async def report_photo_for_regulators(
    request: Request[Any, Any, State], key: Path
) -> Response[bytes]:
    """A report's photo, by the key ``HazardReport.photos`` lists (``reports/<hex>.jpg``; the
    ``reports/`` may be left out). Only keys a report claimed are served."""
    runtime = runtime_of(request)
    name = str(key).lstrip("/")
    if not name.startswith("reports/"):
        name = f"reports/{name}"
    try:
        principal = await signed_in_user(request)
        if not principal.scope.jurisdictions:
            raise NotFound(f"photo {name} not found")
        async with scoped_session(runtime.sessions, principal.scope) as session:
            media = await handling.readable_photo(
                session=session, authz=runtime.authz, principal=principal, key=name
            )
        if not runtime.objects.exists(name):
            raise NotFound(f"photo {name} not found")
        data = await anyio.to_thread.run_sync(runtime.objects.get, name)
    except AnjianError as exc:
        status = http_status_for(exc)
        log.info("report photo read refused %s: %s", status, exc.message)
        return json_reply(status, {"error": exc.message})
    return Response(
        data,
        media_type=media,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


@get("/api/v1/reports/{receipt:str}")
async def track_report(request: Request[Any, Any, State], receipt: str) -> Response[bytes]:
    runtime = runtime_of(request)
    try:
        answer = await service.track_report(sessions=runtime.sessions, code=receipt)
    except AnjianError as exc:
        refused = _refused("report tracking", exc)
        if isinstance(exc, NotFound):
            refused = json_reply(404, {"errors": [{"field": "receipt", "message": exc.message}]})
            refused.headers.update(_NO_STORE)
        return refused
    response = json_reply(200, answer)
    response.headers.update(_NO_STORE)
    return response


ROUTES = [
    report_challenge,
    report_categories,
    report_divisions,
    report_photo,
    report_photo_for_regulators,
    submit_report,
    track_report,
]

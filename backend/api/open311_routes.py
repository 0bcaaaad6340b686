"""Open311 GeoReport v2 under ``/open311/v2/`` (CONTRACT.md, public hazard reports), in JSON
or, for a path ending in ``.xml``, the specification's XML: ``discovery.json``,
``services.json``, ``services/{code}.json``, ``requests.json`` (GET and POST),
``requests/{id}.json`` and ``tokens/{token}.json``; ``jurisdiction_id`` is a GB/T 2260
division code.

A POST is form-encoded, as the specification has it, and needs the ``api_key`` the platform
administrator issued; it is checked and stored as ``POST /api/v1/reports`` would store it,
the key standing in for the proof of work, and counted against the key's rate. A GET with a
key lists that client's own requests; without one, the published summaries only. Every
refusal is the specification's error list, ``[{"code": 400, "description": "…"}]`` (in XML
``<errors><error>``): 400 for bad input, 403 for a bad key or a blocked network, 404 for what
does not exist, 413 and 415 for a body too large or not a form, 429 with ``Retry-After`` over
the rate.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from litestar import Request, Response, get, post
from litestar.datastructures import State

from backend.api.errors import http_status_for
from backend.api.rest import json_reply, runtime_of
from backend.auth.throttle import client_address
from backend.core.errors import AnjianError
from backend.reports.open311 import service as open311
from backend.reports.open311 import xml
from backend.reports.open311.service import Open311Refused

log = logging.getLogger("anjian.api")

PREFIX = "/open311/v2"
# A request is a few kilobytes of text; 64 KiB leaves room for any legitimate one.
MAX_REQUEST_BODY = 64 * 1024
MAX_FIELDS = 50
_NO_STORE = {"Cache-Control": "no-store"}
_FORM = "application/x-www-form-urlencoded"
FORMATS = ("json", "xml")
# The XML root (and item) element of each kind of answer.
_XML: dict[str, tuple[str, str | None]] = {
    "discovery": ("discovery", None),
    "services": ("services", "service"),
    "definition": ("service_definition", None),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}


def _address(request: Request[Any, Any, State]) -> str | None:
    runtime = runtime_of(request)
    peer = request.client.host if request.client else None
    return client_address(
        peer, request.headers.get("x-forwarded-for"), runtime.settings.trusted_proxies
    )


def _reply(
    fmt: str,
    status: int,
    body: dict[str, Any] | list[Any],
    kind: str,
    retry_after: int | None = None,
) -> Response[bytes]:
    if fmt != "xml":
        response = json_reply(status, body, retry_after)
    else:
        root, item = _XML[kind]
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        response = Response(
            xml.render(root, body, item),
            status_code=status,
            media_type="application/xml; charset=utf-8",
            headers=headers,
        )
    response.headers.update(_NO_STORE)
    return response


def _refused(what: str, exc: AnjianError, fmt: str = "json") -> Response[bytes]:
    refusal = Open311Refused.of(exc, http_status_for(exc))
    log.info("open311 %s refused %s", what, refusal.status)
    return _reply(fmt, refusal.status, refusal.errors(), "errors", refusal.retry_after)


def _format_of(request: Request[Any, Any, State]) -> str:
    """``json`` or ``xml``, as the path ends."""
    return request.url.path.rpartition(".")[2]


def _split(name: str, what: str) -> tuple[str, str]:
    """``fire_safety.json`` → (``fire_safety``, ``json``); another format is not served."""
    stem, dot, fmt = name.rpartition(".")
    if not dot or not stem:
        raise Open311Refused(404, [f"{what}: 须以 .json 或 .xml 结尾 / end the path in .json"])
    if fmt not in FORMATS:
        raise Open311Refused(
            404, [f"format: 仅提供 JSON 与 XML / only .json and .xml are served, not .{fmt[:10]}"]
        )
    return stem, fmt


def _paths(name: str) -> list[str]:
    return [f"{PREFIX}/{name}.{fmt}" for fmt in FORMATS]


def _key_of(request: Request[Any, Any, State]) -> str | None:
    value = request.query_params.get("api_key")
    return value or None


def _params(request: Request[Any, Any, State]) -> dict[str, str | None]:
    return {name: request.query_params.get(name) for name in request.query_params}


async def _form(request: Request[Any, Any, State]) -> dict[str, list[str]]:
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != _FORM:
        raise Open311Refused(415, [f"请求体须为 {_FORM} / send the request form-encoded ({_FORM})"])
    too_large = Open311Refused(
        413, [f"请求体最大 {MAX_REQUEST_BODY // 1024} KiB / at most {MAX_REQUEST_BODY // 1024} KiB"]
    )
    announced = request.headers.get("content-length")
    if announced is not None and announced.isdigit() and int(announced) > MAX_REQUEST_BODY:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BODY:
            raise too_large
        chunks.append(chunk)
    try:
        text = b"".join(chunks).decode("utf-8")
        return parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise open311.bad(
            f"请求体须为 UTF-8 表单，至多 {MAX_FIELDS} 个参数 / the body must be a UTF-8 form "
            f"of at most {MAX_FIELDS} arguments"
        ) from None


@get(_paths("discovery"))
async def discovery(request: Request[Any, Any, State]) -> Response[bytes]:
    answer = open311.discovery(runtime_of(request).settings.link_base)
    return _reply(_format_of(request), 200, answer, "discovery")


@get(_paths("services"))
async def service_list(request: Request[Any, Any, State]) -> Response[bytes]:
    fmt = _format_of(request)
    try:
        open311.check_jurisdiction(request.query_params.get("jurisdiction_id"))
    except AnjianError as exc:
        return _refused("services", exc, fmt)
    return _reply(fmt, 200, open311.services(), "services")


@get(f"{PREFIX}/services/{{name:str}}")
async def service_definition(request: Request[Any, Any, State], name: str) -> Response[bytes]:
    fmt = "json"
    try:
        code, fmt = _split(name, "service_code")
        open311.check_jurisdiction(request.query_params.get("jurisdiction_id"))
        answer = open311.service_definition(code)
    except AnjianError as exc:
        return _refused("service definition", exc, fmt)
    return _reply(fmt, 200, answer, "definition")


@get(_paths("requests"))
async def request_list(request: Request[Any, Any, State]) -> Response[bytes]:
    runtime = runtime_of(request)
    fmt = _format_of(request)
    try:
        listing = open311.parse_listing(_params(request))
        key_id = await open311.admit_key(
            sessions=runtime.sessions,
            intake=runtime.report_intake,
            api_key=_key_of(request),
            address=_address(request),
            count=False,
        )
        answer = await open311.list_requests(
            sessions=runtime.sessions,
            key_id=key_id,
            listing=listing,
            now=runtime.report_intake.now(),
        )
    except AnjianError as exc:
        return _refused("request list", exc, fmt)
    return _reply(fmt, 200, answer, "requests")


@post(_paths("requests"), status_code=201, request_max_body_size=None)
async def create_request(request: Request[Any, Any, State]) -> Response[bytes]:
    runtime = runtime_of(request)
    address = _address(request)
    fmt = _format_of(request)
    try:
        form = await _form(request)
        given = form.pop("api_key", None) or [request.query_params.get("api_key") or ""]
        if len(given) != 1 or not given[0]:
            raise Open311Refused(403, ["api_key: 提交须附 api_key / a POST needs an api_key"])
        key_id = await open311.admit_key(
            sessions=runtime.sessions,
            intake=runtime.report_intake,
            api_key=given[0],
            address=address,
            count=True,
        )
        assert key_id is not None
        posted = await open311.submit_request(
            sessions=runtime.sessions,
            intake=runtime.report_intake,
            key_id=key_id,
            form=form,
            client_address=address,
        )
    except AnjianError as exc:
        return _refused("request", exc, fmt)
    log.info("open311 request stored")
    return _reply(fmt, 201, open311.posted_reply(posted), "requests")


@get(f"{PREFIX}/requests/{{name:str}}")
async def one_request(request: Request[Any, Any, State], name: str) -> Response[bytes]:
    runtime = runtime_of(request)
    fmt = "json"
    try:
        request_id, fmt = _split(name, "service_request_id")
        jurisdiction = open311.check_jurisdiction(request.query_params.get("jurisdiction_id"))
        key_id = await open311.admit_key(
            sessions=runtime.sessions,
            intake=runtime.report_intake,
            api_key=_key_of(request),
            address=_address(request),
            count=False,
        )
        answer = await open311.one_request(
            sessions=runtime.sessions,
            key_id=key_id,
            request_id=request_id,
            jurisdiction=jurisdiction,
        )
    except AnjianError as exc:
        return _refused("request", exc, fmt)
    return _reply(fmt, 200, answer, "requests")


@get(f"{PREFIX}/tokens/{{name:str}}")
async def token(request: Request[Any, Any, State], name: str) -> Response[bytes]:
    runtime = runtime_of(request)
    fmt = "json"
    try:
        token_text, fmt = _split(name, "token")
        answer = await open311.token_request(sessions=runtime.sessions, token=token_text)
    except AnjianError as exc:
        return _refused("token", exc, fmt)
    return _reply(fmt, 200, answer, "requests")


ROUTES = [
    discovery,
    service_list,
    service_definition,
    request_list,
    create_request,
    one_request,
    token,
]

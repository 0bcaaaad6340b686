"""Device ingestion over HTTP (CONTRACT.md): thin handlers around ``Ingest``."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import State

from backend.auth.tokens import bearer_token
from backend.telemetry.ingest import MAX_SNAPSHOT_BYTES, Ingest, IngestError
from backend.telemetry.registry import DeviceInfo

_json = msgspec.json.Encoder()


def _reply(status: int, body: dict[str, Any], retry_after: int | None = None) -> Response[bytes]:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return Response(
        _json.encode(body), status_code=status, media_type="application/json", headers=headers
    )


def _refusal(exc: IngestError) -> Response[bytes]:
    return _reply(exc.status, exc.body, exc.retry_after)


def _ingest(request: Request[Any, Any, State]) -> Ingest:
    return request.app.state.runtime.ingest  # type: ignore[no-any-return]


async def _device(request: Request[Any, Any, State], ingest: Ingest) -> DeviceInfo:
    return await ingest.authenticate(bearer_token(request.headers.get("authorization")))


@post("/api/v1/telemetry", status_code=202)
async def telemetry(request: Request[Any, Any, State]) -> Response[bytes]:
    ingest = _ingest(request)
    try:
        device = await _device(request, ingest)
        accepted = await ingest.telemetry(device, await request.body())
    except IngestError as exc:
        return _refusal(exc)
    return _reply(202, accepted.as_json())


@post("/api/v1/events", status_code=202)
async def events(request: Request[Any, Any, State]) -> Response[bytes]:
    ingest = _ingest(request)
    try:
        device = await _device(request, ingest)
        accepted = await ingest.events(device, await request.body())
    except IngestError as exc:
        return _refusal(exc)
    return _reply(202, accepted.as_json())


@post("/api/v1/heartbeat", status_code=202)
async def heartbeat(request: Request[Any, Any, State]) -> Response[bytes]:
    ingest = _ingest(request)
    try:
        device = await _device(request, ingest)
        await ingest.heartbeat(device, await request.body())
    except IngestError as exc:
        return _refusal(exc)
    return _reply(202, {"status": "online"})


@post("/api/v1/snapshots", status_code=201, request_max_body_size=MAX_SNAPSHOT_BYTES)
async def snapshots(request: Request[Any, Any, State]) -> Response[bytes]:
    ingest = _ingest(request)
    try:
        device = await _device(request, ingest)
        key = ingest.snapshot(
            device, request.headers.get("content-type") or "", await request.body()
        )
    except IngestError as exc:
        return _refusal(exc)
    return _reply(201, {"snapshot": key})


ROUTES = [telemetry, events, heartbeat, snapshots]

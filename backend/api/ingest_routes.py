"""Device ingestion over HTTP (CONTRACT.md): thin handlers around ``Ingest``."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import anyio
from litestar import Request, Response, get, post
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.api.errors import http_status_for, retry_after_for
from backend.api.rest import json_reply, signed_in_user
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.auth.tokens import TokenCodec, bearer_token
from backend.core.errors import AnjianError, BadInput, NotFound
from backend.telemetry.ingest import (
    MAX_SNAPSHOT_BYTES,
    ORIGINAL_SUFFIX,
    SNAPSHOT_TYPES,
    Ingest,
    IngestError,
)
from backend.telemetry.registry import DeviceInfo
from backend.telemetry.snapshots import SNAPSHOT_PERMISSION, SNAPSHOT_READ_PATH
from privacy.audit import record
from tenants.scope import scoped_session
from tenants.service import get_site, site_domain

log = logging.getLogger("anjian.ingest")


class IngestServices(Protocol):
    """What these routes use of ``app.state.runtime``."""

    @property
    def ingest(self) -> Ingest: ...

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def tokens(self) -> TokenCodec: ...

    @property
    def authz(self) -> Authorizer: ...


def _services(request: Request[Any, Any, State]) -> IngestServices:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _refusal(exc: IngestError, device: DeviceInfo | None = None) -> Response[bytes]:
    """The device's refusal, logged as what it is: a device sending bad data, an unknown
    token or over its rate is one INFO line (the device is told why in the body); a full
    spool (503) is a WARNING, as the server is falling behind. Faults are not IngestErrors:
    they reach Litestar's exception hook and are logged at ERROR with their traceback."""
    status = http_status_for(exc)
    body = exc.body
    errors = body.get("errors")
    first = errors[0].get("message") if isinstance(errors, list) and errors else body.get("error")
    count = f" ({len(errors)} errors)" if isinstance(errors, list) and len(errors) > 1 else ""
    who = f"device {device.id}" if device is not None else "a device"
    level = logging.WARNING if status >= 500 else logging.INFO
    log.log(level, "ingest refused %s from %s: %s%s", status, who, first, count)
    return json_reply(status, body, retry_after_for(exc))


def _ingest(request: Request[Any, Any, State]) -> Ingest:
    return _services(request).ingest


async def _device(request: Request[Any, Any, State], ingest: Ingest) -> DeviceInfo:
    return await ingest.authenticate(bearer_token(request.headers.get("authorization")))


async def _accept(
    request: Request[Any, Any, State],
    take: Callable[[Ingest, DeviceInfo, bytes], Awaitable[dict[str, Any]]],
) -> Response[bytes]:
    """One device batch: authenticate, hand the body to ingest, answer 202 or the refusal."""
    ingest = _ingest(request)
    device: DeviceInfo | None = None
    try:
        device = await _device(request, ingest)
        body = await take(ingest, device, await request.body())
    except IngestError as exc:
        return _refusal(exc, device)
    return json_reply(202, body)


async def _telemetry(ingest: Ingest, device: DeviceInfo, body: bytes) -> dict[str, Any]:
    return (await ingest.telemetry(device, body)).as_json()


async def _events(ingest: Ingest, device: DeviceInfo, body: bytes) -> dict[str, Any]:
    return (await ingest.events(device, body)).as_json()


async def _heartbeat(ingest: Ingest, device: DeviceInfo, body: bytes) -> dict[str, Any]:
    await ingest.heartbeat(device, body)
    return {"status": "online"}


@post("/api/v1/telemetry", status_code=202)
async def telemetry(request: Request[Any, Any, State]) -> Response[bytes]:
    return await _accept(request, _telemetry)


@post("/api/v1/events", status_code=202)
async def events(request: Request[Any, Any, State]) -> Response[bytes]:
    return await _accept(request, _events)


@post("/api/v1/heartbeat", status_code=202)
async def heartbeat(request: Request[Any, Any, State]) -> Response[bytes]:
    return await _accept(request, _heartbeat)


# --- snapshots ---------------------------------------------------------------------------------


@post("/api/v1/snapshots", status_code=201, request_max_body_size=MAX_SNAPSHOT_BYTES)
async def snapshots(request: Request[Any, Any, State]) -> Response[bytes]:
    ingest = _ingest(request)
    device: DeviceInfo | None = None
    try:
        device = await _device(request, ingest)
        content_type = request.headers.get("content-type") or ""
        body = await request.body()
        # Decoding and face detection take up to a few hundred milliseconds: off the loop.
        key = await anyio.to_thread.run_sync(ingest.snapshot, device, content_type, body)
    except IngestError as exc:
        return _refusal(exc, device)
    return json_reply(201, {"snapshot": key})


# An unpixelated face is biometric data about a worker: only the roles that manage worker
# records (owner, safety manager) may see it; operators, viewers and regulators may not.
ORIGINAL_SNAPSHOT_PERMISSION = ("worker", "update")

_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SNAPSHOT_KEY = re.compile(
    rf"^snapshots/(?P<tenant>{_UUID})/(?P<site>{_UUID})/(?P<id>{_UUID})\.(?P<ext>[a-z]+)$"
)
_MEDIA_TYPES = {extension: media for media, extension in SNAPSHOT_TYPES.items()}


def _flag(value: str | None) -> bool:
    if value is None or value.lower() in ("", "0", "false"):
        return False
    if value.lower() in ("1", "true"):
        return True
    raise BadInput(f"original must be 1 or 0, not {value!r}")


async def _snapshot_object(
    services: IngestServices, principal: Principal, key: str, *, original: bool
) -> tuple[str, str]:
    """The object key to serve and its media type, once the caller may see it.

    The site comes from the key and is loaded through the caller's scope, so another
    tenant's snapshot, or one outside a regulator's jurisdiction, is not found rather than
    forbidden. Every read of an original is written to the audit trail."""
    match = _SNAPSHOT_KEY.match(key)
    media = _MEDIA_TYPES.get(match.group("ext")) if match else None
    if match is None or media is None:
        raise NotFound(f"snapshot {key} not found")
    tenant_id, site_id = uuid.UUID(match.group("tenant")), uuid.UUID(match.group("site"))
    async with scoped_session(services.sessions, principal.scope) as session, session.begin():
        try:
            site = await get_site(session=session, site_id=site_id)
        except NotFound:
            raise NotFound(f"snapshot {key} not found") from None
        if site.tenant_id != tenant_id:
            raise NotFound(f"snapshot {key} not found")
        domain = site_domain(principal.scope, site)
        require(services.authz, principal, domain, *SNAPSHOT_PERMISSION)
        stored = key
        if original:
            require(
                services.authz,
                principal,
                domain,
                *ORIGINAL_SNAPSHOT_PERMISSION,
                operation="see snapshots with faces unblurred",
            )
            stored = f"{key.rsplit('.', 1)[0]}{ORIGINAL_SUFFIX}.{match.group('ext')}"
        if not services.ingest.objects.exists(stored):
            raise NotFound(f"snapshot {key} not found")
        if original:
            await record(
                session,
                principal.actor(domain),
                "snapshot.read_original",
                domain=domain,
                object_type="snapshot",
                object_id=match.group("id"),
                detail={"key": key, "site_id": str(site_id)},
            )
    return stored, media


@get(f"{SNAPSHOT_READ_PATH}/{{key:path}}")
async def snapshot(request: Request[Any, Any, State], key: Path) -> Response[bytes]:
    """A snapshot for a signed-in user: faces pixelated, or whole with ``?original=1`` for the
    roles that may see faces."""
    services = _services(request)
    try:
        original = _flag(request.query_params.get("original"))
        principal = await signed_in_user(request)
        stored, media = await _snapshot_object(
            services, principal, str(key).lstrip("/"), original=original
        )
        data = await anyio.to_thread.run_sync(services.ingest.objects.get, stored)
    except AnjianError as exc:
        status = http_status_for(exc)
        log.info("snapshot read refused %s: %s", status, exc.message)
        return json_reply(status, {"error": exc.message})
    return Response(
        data,
        media_type=media,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


ROUTES = [telemetry, events, heartbeat, snapshots, snapshot]

"""Photos people attach (CONTRACT.md, web portals): ``POST /api/v1/photos`` stores one upload,
sanitised (``backend/response/photos.py``), and answers its key — for the caller's tenant, or
with ``?site=<id>`` for a site of a regulator's jurisdiction whose findings it photographs
(director, inspector); ``GET /api/v1/photos/{key}`` shows it to whoever may read its tenant's
work orders, and to whoever reads a rectification notice answered with it, the notices of the
site it was uploaded for, or an alarm supervision reported with it (a regulator of the site's
jurisdiction)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any, Protocol

import anyio
from litestar import Request, Response, get, post
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.api.errors import http_status_for
from backend.api.rest import json_reply, runtime_of, signed_in_user
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.core.errors import AnjianError, BadInput, NotFound
from backend.core.objects import ObjectStore
from backend.oversight.notices.service import (
    authorise_site_photo_upload,
    photo_of_a_readable_notice,
)
from backend.oversight.supervision.service import photo_of_a_readable_supervision
from backend.response import photos
from tenants.scope import scoped_session

log = logging.getLogger("anjian.api")


class PhotoServices(Protocol):
    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def authz(self) -> Authorizer: ...

    @property
    def objects(self) -> ObjectStore: ...


def _tenant(request: Request[Any, Any, State]) -> uuid.UUID | None:
    value = request.query_params.get("tenant")
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadInput(f"tenant must be a tenant id, not {value!r}") from None


def _site(request: Request[Any, Any, State]) -> uuid.UUID | None:
    value = request.query_params.get("site")
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadInput(f"site must be a site id, not {value!r}") from None


def _refused(what: str, exc: AnjianError) -> Response[bytes]:
    status = http_status_for(exc)
    log.info("%s refused %s: %s", what, status, exc.message)
    return json_reply(status, {"error": exc.message})


@post("/api/v1/photos", status_code=201, request_max_body_size=photos.MAX_PHOTO_BYTES)
async def upload_photo(request: Request[Any, Any, State]) -> Response[bytes]:
    services: PhotoServices = runtime_of(request)
    try:
        principal = await signed_in_user(request)
        site_id = _site(request)
        if site_id is None:
            tenant_id = photos.upload_tenant(principal, _tenant(request))
            domain = photos.authorise_upload(services.authz, principal, tenant_id)
        else:
            async with scoped_session(services.sessions, principal.scope) as session:
                site, domain = await authorise_site_photo_upload(
                    session=session, authz=services.authz, principal=principal, site_id=site_id
                )
            tenant_id = site.tenant_id
        body = await request.body()
        # Decoding and face detection take up to a few hundred milliseconds: off the loop.
        key = await anyio.to_thread.run_sync(
            photos.store_photo,
            services.objects,
            tenant_id,
            request.headers.get("content-type") or "",
            body,
            site_id,
        )
        async with scoped_session(services.sessions, principal.scope) as session, session.begin():
            await photos.record_upload(session, principal, domain, key)
    except AnjianError as exc:
        return _refused("photo upload", exc)
    return json_reply(201, {"photo": key})


@get("/api/v1/photos/{key:path}")
async def photo(request: Request[Any, Any, State], key: Path) -> Response[bytes]:
    services: PhotoServices = runtime_of(request)
    name = str(key).lstrip("/")
    try:
        principal = await signed_in_user(request)
        try:
            media = photos.readable_photo(services.authz, principal, services.objects, name)
        except NotFound:
            media = await _photo_of_what_regulators_read(services, principal, name)
        data = await anyio.to_thread.run_sync(services.objects.get, name)
    except AnjianError as exc:
        return _refused("photo read", exc)
    return Response(
        data,
        media_type=media,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


async def _photo_of_what_regulators_read(
    services: PhotoServices, principal: Principal, key: str
) -> str:
    """The media type of a photo of a notice answer, of a site's findings or of a supervision
    report the caller reads; else not found."""
    extension = key.rsplit(".", 1)[-1]
    if extension not in photos.MEDIA_TYPES or not principal.scope.jurisdictions:
        raise NotFound(f"photo {key} not found")
    async with scoped_session(services.sessions, principal.scope) as session:
        seen = await photo_of_a_readable_notice(
            session=session, authz=services.authz, principal=principal, key=key
        ) or await photo_of_a_readable_supervision(
            session=session, authz=services.authz, principal=principal, key=key
        )
    if not seen or not services.objects.exists(key):
        raise NotFound(f"photo {key} not found")
    return photos.MEDIA_TYPES[extension]


ROUTES = [upload_photo, photo]

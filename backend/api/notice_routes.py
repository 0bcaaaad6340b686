"""The printable rectification notice (CONTRACT.md, web portals: binary transfers use REST
routes): ``GET /api/v1/notices/{id}/pdf`` answers the notice as an A4 PDF, the regulator's
photos of its findings drawn small beside them, to whoever reads it
in GraphQL — the enterprise it was issued to, the regulators of the site's jurisdiction — and
404 to everyone else, with the session, CSRF and permission checks of GraphQL."""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import quote

import anyio
from litestar import Request, Response, get
from litestar.datastructures import State

from backend.api.errors import http_status_for
from backend.api.rest import json_reply, runtime_of, signed_in_user
from backend.core.errors import AnjianError, NotFound
from backend.oversight.notices.document import render_notice_pdf
from backend.oversight.notices.service import notice_document
from tenants.scope import scoped_session

log = logging.getLogger("anjian.api")


@get("/api/v1/notices/{notice_id:str}/pdf")
async def notice_pdf(request: Request[Any, Any, State], notice_id: str) -> Response[bytes]:
    runtime = runtime_of(request)
    try:
        principal = await signed_in_user(request)
        try:
            parsed = uuid.UUID(notice_id)
        except ValueError:
            raise NotFound(f"rectification notice {notice_id} not found") from None
        async with scoped_session(runtime.sessions, principal.scope) as session:
            document = await notice_document(
                session=session,
                authz=runtime.authz,
                principal=principal,
                notice_id=parsed,
                clock=runtime.clock,
            )
        # Laying out the pages takes a CPU-second, reading the findings' photos some I/O: off
        # the event loop.
        pdf = await anyio.to_thread.run_sync(render_notice_pdf, document, runtime.objects.get)
    except AnjianError as exc:
        status = http_status_for(exc)
        log.info("notice PDF refused %s: %s", status, exc.message)
        return json_reply(status, {"error": exc.message})
    name = quote(document.file_name)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


ROUTES = [notice_pdf]

"""The tenant's audit trail as a CSV file (CONTRACT.md, web portals: CSV exports are UTF-8 with
a BOM): ``GET /api/v1/audit.csv`` with the filters of GraphQL's ``auditEntries``.

Signed in as for GraphQL (a bearer token, or the browser's session cookie with the CSRF
header), with the same permission checks: the owner and safety managers of the tenant. The
export is written to the audit trail as a read of personal data, in the transaction that reads
the entries.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State

from backend.api.errors import http_status_for
from backend.api.rest import json_reply, runtime_of, signed_in_user
from backend.api.scalars import parse_datetime
from backend.auth.service import audit_entries_csv
from backend.core.errors import AnjianError, BadInput, NotFound
from privacy.audit import EntryFilter
from tenants.scope import scoped_session

log = logging.getLogger("anjian.audit")


def _time(params: Any, name: str) -> datetime | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        # Epoch milliseconds arrive as digits in a query string.
        return parse_datetime(int(value) if value.lstrip("-").isdigit() else value)
    except ValueError as exc:
        raise BadInput(f"{name}: {exc}") from None


def _text(params: Any, name: str) -> str | None:
    value = params.get(name)
    return None if value is None or value == "" else str(value)


def _tenant(params: Any) -> uuid.UUID | None:
    value = _text(params, "tenantId")
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"tenant {value} not found") from None


@get("/api/v1/audit.csv")
async def audit_csv(request: Request[Any, Any, State]) -> Response[bytes]:
    """``?from=&to=&action=&actorEmail=&objectType=&tenantId=``, as ``auditEntries``."""
    runtime = runtime_of(request)
    try:
        principal = await signed_in_user(request)
        params = request.query_params
        where = EntryFilter(
            start=_time(params, "from"),
            end=_time(params, "to"),
            action=_text(params, "action"),
            object_type=_text(params, "objectType"),
        )
        async with (
            scoped_session(runtime.sessions, principal.scope) as session,
            session.begin(),
        ):
            body = await audit_entries_csv(
                session=session,
                authz=runtime.authz,
                principal=principal,
                where=where,
                actor_email=_text(params, "actorEmail"),
                tenant_id=_tenant(params),
            )
    except AnjianError as exc:
        status = http_status_for(exc)
        log.info("audit export refused %s: %s", status, exc.message)
        return json_reply(status, {"error": exc.message})
    stamp = runtime.clock.now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


ROUTES = [audit_csv]

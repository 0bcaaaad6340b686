"""Workers: the people of a tenant (personal data, sealed at rest)."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import BadInput, Conflict, NotFound
from privacy.audit import record_change
from tenants.acting import Acting, Permissions
from tenants.models import Worker
from tenants.service._checks import clean_text, tenant_domain
from tenants.service._sites import get_site

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_ID_NUMBER = re.compile(r"\d{17}[\dX]")


async def create_worker(
    *,
    session: AsyncSession,
    authz: Permissions,
    principal: Acting,
    tenant_id: uuid.UUID,
    name: str,
    employee_number: str,
    mobile: str | None = None,
    id_number: str | None = None,
    site_id: uuid.UUID | None = None,
) -> Worker:
    """A worker of one of the caller's own tenants, in the caller's transaction."""
    if tenant_id not in principal.scope.tenant_ids:
        raise NotFound(f"tenant {tenant_id} not found")
    domain = tenant_domain(tenant_id)
    authz.require(principal, domain, "worker", "create")
    if mobile is not None and not _MOBILE.match(mobile):
        raise BadInput(f"not a mainland mobile number: {mobile!r}")
    if id_number is not None and not _ID_NUMBER.fullmatch(id_number):
        raise BadInput("an ID number has 17 digits and a check digit (0-9 or X)")
    if site_id is not None:
        site = await get_site(session=session, site_id=site_id)
        if site.tenant_id != tenant_id:
            raise NotFound(f"site {site_id} not found")
    number = clean_text(employee_number, "employee number", 32)
    same_number = select(Worker.id).where(
        Worker.tenant_id == tenant_id, Worker.employee_number == number
    )
    if await session.scalar(same_number) is not None:
        raise Conflict(f"employee number {number} is already in use")
    worker = Worker(
        tenant_id=tenant_id,
        name=clean_text(name, "name", 100),
        employee_number=number,
        mobile=mobile,
        id_number=id_number,
        site_id=site_id,
    )
    await record_change(
        session,
        principal.actor(domain),
        "worker.create",
        added=worker,
        domain=domain,
        object_type="worker",
    )
    return worker


async def list_workers(
    *,
    session: AsyncSession,
    authz: Permissions,
    principal: Acting,
    first: int = 100,
    after: uuid.UUID | None = None,
) -> list[Worker]:
    """Workers of the caller's own tenants where its role may read them, in pages by id.

    Regulators see workers only through the privacy pipeline (pseudonymised), not here.
    """
    if not 1 <= first <= 1000:
        raise BadInput("first must be between 1 and 1000")
    readable = [
        t
        for t in principal.scope.tenant_ids
        if authz.may(principal, tenant_domain(t), "worker", "read")
    ]
    query = select(Worker).where(Worker.tenant_id.in_(readable)).order_by(Worker.id).limit(first)
    if after is not None:
        query = query.where(Worker.id > after)
    return list((await session.scalars(query)).all())

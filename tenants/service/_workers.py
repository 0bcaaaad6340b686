"""Workers: the people of a tenant (personal data, sealed at rest)."""

from __future__ import annotations

import enum
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


class Keep(enum.Enum):
    """An update argument left out: the field keeps its value (``None`` clears it)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def _check_mobile(mobile: str | None) -> None:
    if mobile is not None and not _MOBILE.match(mobile):
        raise BadInput(f"not a mainland mobile number: {mobile!r}")


def _check_id_number(id_number: str | None) -> None:
    if id_number is not None and not _ID_NUMBER.fullmatch(id_number):
        raise BadInput("an ID number has 17 digits and a check digit (0-9 or X)")


async def _check_site(
    session: AsyncSession, site_id: uuid.UUID | None, tenant_id: uuid.UUID
) -> None:
    if site_id is not None:
        site = await get_site(session=session, site_id=site_id)
        if site.tenant_id != tenant_id:
            raise NotFound(f"site {site_id} not found")


async def _check_number_free(
    session: AsyncSession, tenant_id: uuid.UUID, number: str, worker_id: uuid.UUID | None
) -> None:
    same_number = select(Worker.id).where(
        Worker.tenant_id == tenant_id, Worker.employee_number == number
    )
    if worker_id is not None:
        same_number = same_number.where(Worker.id != worker_id)
    if await session.scalar(same_number) is not None:
        raise Conflict(f"employee number {number} is already in use")


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
    _check_mobile(mobile)
    _check_id_number(id_number)
    await _check_site(session, site_id, tenant_id)
    number = clean_text(employee_number, "employee number", 32)
    await _check_number_free(session, tenant_id, number, None)
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


async def update_worker(
    *,
    session: AsyncSession,
    authz: Permissions,
    principal: Acting,
    worker_id: uuid.UUID,
    name: str | Keep = KEEP,
    employee_number: str | Keep = KEEP,
    mobile: str | Keep | None = KEEP,
    id_number: str | Keep | None = KEEP,
    site_id: uuid.UUID | Keep | None = KEEP,
) -> Worker:
    """Change what is given of a worker of the caller's own tenants, checked as at creation,
    in the caller's transaction. The audit entry names the fields changed, never their values:
    the trail is read by more people than may read a worker's mobile or ID number."""
    worker = await session.get(Worker, worker_id)
    if worker is None or worker.tenant_id not in principal.scope.tenant_ids:
        raise NotFound(f"worker {worker_id} not found")
    domain = tenant_domain(worker.tenant_id)
    authz.require(principal, domain, "worker", "update")
    # Every value is checked before anything is assigned: a refusal changes nothing.
    changes: dict[str, object] = {}
    if not isinstance(name, Keep):
        changes["name"] = clean_text(name, "name", 100)
    if not isinstance(employee_number, Keep):
        number = clean_text(employee_number, "employee number", 32)
        await _check_number_free(session, worker.tenant_id, number, worker.id)
        changes["employee_number"] = number
    if not isinstance(mobile, Keep):
        _check_mobile(mobile)
        changes["mobile"] = mobile
    if not isinstance(id_number, Keep):
        _check_id_number(id_number)
        changes["id_number"] = id_number
    if not isinstance(site_id, Keep):
        await _check_site(session, site_id, worker.tenant_id)
        changes["site_id"] = site_id
    changed = sorted(k for k, v in changes.items() if getattr(worker, k) != v)
    if not changed:
        return worker
    for field in changed:
        setattr(worker, field, changes[field])
    await record_change(
        session,
        principal.actor(domain),
        "worker.update",
        domain=domain,
        object_type="worker",
        object_id=worker.id,
        detail={"fields": changed},
    )
    return worker


async def list_workers(
    *,
    session: AsyncSession,
    authz: Permissions,
    principal: Acting,
    first: int = 100,
    after: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
) -> list[Worker]:
    """Workers of the caller's own tenants where its role may read them, in pages by id;
    ``tenant_id`` narrows the list to one of them (another tenant is ``NotFound``).

    Regulators see workers only through the privacy pipeline (pseudonymised), not here.
    """
    if not 1 <= first <= 1000:
        raise BadInput("first must be between 1 and 1000")
    if tenant_id is not None:
        if tenant_id not in principal.scope.tenant_ids:
            raise NotFound(f"tenant {tenant_id} not found")
        authz.require(principal, tenant_domain(tenant_id), "worker", "read")
    readable = [
        t
        for t in principal.scope.tenant_ids
        if (tenant_id is None or t == tenant_id)
        and authz.may(principal, tenant_domain(t), "worker", "read")
    ]
    query = select(Worker).where(Worker.tenant_id.in_(readable)).order_by(Worker.id).limit(first)
    if after is not None:
        query = query.where(Worker.id > after)
    return list((await session.scalars(query)).all())

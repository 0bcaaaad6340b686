"""Tenants: creation, subscriptions, offboarding, and the lists of them.

A tenant comes into being with its owner account; the account is ``backend.auth``'s (which
builds on this package), so creating a tenant takes the step that creates the owner as a
callable (``backend.auth.provisioning`` supplies it).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from backend.core import counters
from backend.core.db import utcnow
from backend.core.errors import BadInput, Conflict, NotFound
from backend.core.settings import IDLE_TIMEOUT_MINUTES
from privacy.audit import record_change
from tenants.acting import Acting, Permissions
from tenants.divisions import validate_division
from tenants.models import (
    Industry,
    Plan,
    Site,
    Subscription,
    SubscriptionStatus,
    Tenant,
    TenantStatus,
)
from tenants.plans import PLANS
from tenants.scope import unscoped_session
from tenants.service._checks import clean_text, parse_industry, tenant_domain

_CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def seed_plans(session: Session) -> int:
    """Insert or update the contract's plans (run by ``anjian migrate``); returns changes."""
    changes = 0
    for quota in PLANS:
        plan = session.get(Plan, quota.code)
        values = {
            "name_zh": quota.name_zh,
            "name_en": quota.name_en,
            "max_sensors": quota.max_sensors,
            "max_readings_per_minute": quota.max_readings_per_minute,
            "default_retention_days": quota.default_retention_days,
        }
        if plan is None:
            session.add(Plan(code=quota.code, **values))
            changes += 1
        elif any(getattr(plan, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(plan, key, value)
            changes += 1
    return changes


@dataclass(frozen=True)
class NewTenant:
    """A tenant's fields, checked, and the platform's permission to create it granted."""

    name: str
    industry: Industry
    division_code: str
    credit_code: str | None


def check_new_tenant(
    *,
    authz: Permissions,
    principal: Acting,
    name: str,
    division_code: str,
    industry: str,
    credit_code: str | None = None,
) -> NewTenant:
    """Refuse what the platform administrator may not create, before anything is written."""
    authz.require(principal, "platform", "tenant", "create")
    tenant_industry = parse_industry(industry)
    division = validate_division(division_code)
    tenant_name = clean_text(name, "name", 200)
    if credit_code is not None and not _CREDIT_CODE.match(credit_code):
        raise BadInput(f"not a unified social credit code: {credit_code!r}")
    return NewTenant(tenant_name, tenant_industry, division, credit_code)


async def unscoped_create_tenant(
    *,
    session: AsyncSession,
    principal: Acting,
    tenant: NewTenant,
    create_owner: Callable[[AsyncSession, str], Awaitable[object]],
) -> Tenant:
    """Write a checked tenant in the caller's unscoped transaction (provisioning precedes the
    tenant's own scope: it creates it); ``create_owner(session, domain)`` makes its owner
    account before the creation is recorded."""
    if await session.scalar(select(Tenant.id).where(Tenant.name == tenant.name)) is not None:
        raise Conflict(f"a tenant named {tenant.name!r} already exists")
    row = Tenant(
        name=tenant.name,
        industry=tenant.industry,
        division_code=tenant.division_code,
        credit_code=tenant.credit_code,
    )
    session.add(row)
    await session.flush()
    domain = tenant_domain(row.id)
    await create_owner(session, domain)
    await record_change(
        session,
        principal.actor("platform"),
        "tenant.create",
        domain=domain,
        object_type="tenant",
        object_id=row.id,
        detail={"name": tenant.name, "industry": tenant.industry.value},
    )
    return row


async def unscoped_set_subscription_status_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Permissions,
    principal: Acting,
    site_id: uuid.UUID,
    status: SubscriptionStatus,
) -> Subscription:
    """Suspend or resume a site's subscription (platform billing, or the CLI operator)."""
    authz.require(principal, "platform", "subscription", "update")
    async with unscoped_session(sessions) as session, session.begin():
        subscription = await session.scalar(
            select(Subscription).where(Subscription.site_id == site_id)
        )
        if subscription is None:
            raise NotFound(f"site {site_id} not found")
        previous = subscription.status
        subscription.status = status
        await record_change(
            session,
            principal.actor("platform"),
            "subscription.status",
            counter=counters.REGISTRY,
            domain=tenant_domain(subscription.tenant_id),
            object_type="site",
            object_id=site_id,
            detail={"status": status.value, "previous": previous.value},
        )
    return subscription


async def unscoped_offboard_tenant_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Permissions,
    principal: Acting,
    tenant_id: uuid.UUID,
    reason: str,
) -> Tenant:
    """A tenant leaves: its sites stop ingesting now, and its data is erased (rows deleted,
    data key destroyed) by the retention job once the legal floors have passed."""
    authz.require(principal, "platform", "tenant", "update")
    why = clean_text(reason, "reason", 500)
    async with unscoped_session(sessions) as session, session.begin():
        tenant = await session.scalar(select(Tenant).where(Tenant.id == tenant_id))
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        if tenant.status in (TenantStatus.OFFBOARDING, TenantStatus.ERASED):
            raise BadInput(f"tenant {tenant_id} is already {tenant.status.value}")
        tenant.status = TenantStatus.OFFBOARDING
        tenant.offboarded_at = utcnow()
        for subscription in await session.scalars(
            select(Subscription).where(Subscription.tenant_id == tenant_id)
        ):
            subscription.status = SubscriptionStatus.SUSPENDED
        await record_change(
            session,
            principal.actor("platform"),
            "tenant.offboard",
            counter=counters.REGISTRY,
            domain=tenant_domain(tenant_id),
            object_type="tenant",
            object_id=tenant_id,
            detail={"reason": why},
        )
    return tenant


async def set_idle_timeout(
    *,
    session: AsyncSession,
    authz: Permissions,
    principal: Acting,
    tenant_id: uuid.UUID,
    minutes: int | None,
) -> Tenant:
    """The owner chooses after how many minutes without use its members' sessions end (None:
    the platform's default). A member of several tenants gets the strictest of them."""
    if tenant_id not in principal.scope.tenant_ids:
        raise NotFound(f"tenant {tenant_id} not found")
    domain = tenant_domain(tenant_id)
    authz.require(principal, domain, "tenant", "update")
    low, high = IDLE_TIMEOUT_MINUTES
    if minutes is not None and not low <= minutes <= high:
        raise BadInput(f"the idle timeout is from {low} to {high} minutes, got {minutes}")
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    previous = tenant.idle_timeout_minutes
    tenant.idle_timeout_minutes = minutes
    await record_change(
        session,
        principal.actor(domain),
        "tenant.idle_timeout",
        domain=domain,
        object_type="tenant",
        object_id=tenant_id,
        detail={"minutes": minutes, "previous": previous},
    )
    return tenant


async def list_tenants(
    *, session: AsyncSession, authz: Permissions, principal: Acting
) -> list[Tenant]:
    """All tenants for the platform (billing); otherwise the caller's own. (Tenants are not
    tenant-owned rows: the scope does not filter them, this does.)"""
    query = select(Tenant).order_by(Tenant.name)
    if not authz.may(principal, "platform", "tenant", "read"):
        query = query.where(Tenant.id.in_(principal.scope.tenant_ids))
    return list((await session.scalars(query)).all())


async def unscoped_site_tenant(
    *, sessions: async_sessionmaker[AsyncSession], site_id: uuid.UUID
) -> uuid.UUID:
    """The tenant owning a site, for the operator's CLI (which names sites, not tenants)."""
    async with unscoped_session(sessions) as session:
        tenant_id = await session.scalar(select(Site.tenant_id).where(Site.id == site_id))
    if tenant_id is None:
        raise NotFound(f"site {site_id} not found")
    return tenant_id


@dataclass(frozen=True)
class TenantListing:
    tenant: Tenant
    sites: int


async def unscoped_tenant_list(
    *, sessions: async_sessionmaker[AsyncSession]
) -> list[TenantListing]:
    """Every tenant with its number of sites, by name: the platform operator's CLI."""
    sites = select(Site.tenant_id, func.count().label("n")).group_by(Site.tenant_id).subquery()
    async with unscoped_session(sessions) as session:
        rows = await session.execute(
            select(Tenant, func.coalesce(sites.c.n, 0))
            .outerjoin(sites, sites.c.tenant_id == Tenant.id)
            .order_by(Tenant.name, Tenant.id)
        )
        return [TenantListing(tenant, int(count)) for tenant, count in rows]

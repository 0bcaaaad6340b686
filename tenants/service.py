"""Tenant lifecycle: provisioning, sites, subscriptions, zones and workers.

Every operation takes the acting principal and works inside its scope; an object outside the
scope is ``NotFound``, one inside that the role may not touch is ``Forbidden``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from backend.auth import service as auth_service
from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.core import counters
from backend.core.db import utcnow
from backend.core.errors import BadInput, Conflict, NotFound
from privacy.audit import record
from tenants.divisions import validate_division
from tenants.models import (
    Industry,
    Plan,
    Site,
    Subscription,
    SubscriptionStatus,
    Tenant,
    TenantStatus,
    Worker,
    Zone,
    ZoneKind,
)
from tenants.plans import DEFAULT_PLAN, PLAN_CODES, PLANS
from tenants.scope import Scope, scoped_session, unscoped_session

_CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def tenant_domain(tenant_id: uuid.UUID) -> str:
    return f"tenant:{tenant_id}"


def site_domain(scope: Scope, site: Site) -> str:
    """The domain whose role governs the caller on a site: the tenant's for its members, the
    site's division for a regulator (a province's role holds there through domain matching)."""
    if site.tenant_id in scope.tenant_ids:
        return tenant_domain(site.tenant_id)
    return f"gov:{site.division_code}"


def _text(value: str, field: str, max_length: int) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > max_length:
        raise BadInput(f"{field} must be 1 to {max_length} characters")
    return cleaned


def parse_industry(value: str) -> Industry:
    try:
        return Industry(value)
    except ValueError:
        choices = ", ".join(i.value for i in Industry)
        raise BadInput(f"unknown industry {value!r}; choose one of {choices}") from None


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


async def provision_tenant(
    maker: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    *,
    name: str,
    division_code: str,
    industry: str,
    owner_email: str,
    owner_password: str,
    credit_code: str | None = None,
    log2_n: int,
) -> Tenant:
    """Create a tenant and its owner account; the platform administrator's operation."""
    auth_service.require(authz, principal, "platform", "tenant", "create")
    tenant_industry = parse_industry(industry)
    division = validate_division(division_code)
    tenant_name = _text(name, "name", 200)
    if credit_code is not None and not _CREDIT_CODE.match(credit_code):
        raise BadInput(f"not a unified social credit code: {credit_code!r}")
    auth_service.check_password_strength(owner_password)
    actor = principal.actor("platform")
    # Provisioning precedes the tenant's own scope: it creates it.
    async with unscoped_session(maker) as session, session.begin():
        if await session.scalar(select(Tenant.id).where(Tenant.name == tenant_name)) is not None:
            raise Conflict(f"a tenant named {tenant_name!r} already exists")
        tenant = Tenant(
            name=tenant_name,
            industry=tenant_industry,
            division_code=division,
            credit_code=credit_code,
        )
        session.add(tenant)
        await session.flush()
        domain = tenant_domain(tenant.id)
        owner = await auth_service.create_user(
            session, email=owner_email, password=owner_password, actor=actor, log2_n=log2_n
        )
        await auth_service.grant_membership(
            session, user=owner, domain=domain, role="owner", actor=actor
        )
        await record(
            session,
            actor,
            "tenant.create",
            domain=domain,
            object_type="tenant",
            object_id=tenant.id,
            detail={"name": tenant_name, "industry": industry},
        )
    return tenant


async def get_site(session: AsyncSession, site_id: uuid.UUID) -> Site:
    # A query, not session.get(): the identity map would skip the scope criterion.
    site = await session.scalar(select(Site).where(Site.id == site_id))
    if site is None:
        raise NotFound(f"site {site_id} not found")
    return site


async def create_site(
    maker: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    *,
    tenant_id: uuid.UUID,
    name: str,
    division_code: str,
    plan: str = DEFAULT_PLAN,
    major_hazard_grade: int | None = None,
    address: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Site:
    if tenant_id not in principal.scope.tenant_ids and principal.kind != "system":
        raise NotFound(f"tenant {tenant_id} not found")
    domain = tenant_domain(tenant_id)
    auth_service.require(authz, principal, domain, "site", "create")
    division = validate_division(division_code)
    site_name = _text(name, "name", 200)
    if plan not in PLAN_CODES:
        raise BadInput(f"unknown plan {plan!r}; choose one of {', '.join(PLAN_CODES)}")
    if major_hazard_grade is not None and major_hazard_grade not in (1, 2, 3, 4):
        raise BadInput("major hazard grade must be 1, 2, 3 or 4")
    if latitude is not None and not -90 <= latitude <= 90:
        raise BadInput("latitude must be between -90 and 90")
    if longitude is not None and not -180 <= longitude <= 180:
        raise BadInput("longitude must be between -180 and 180")
    async with scoped_session(maker, Scope.for_tenant(tenant_id)) as session, session.begin():
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        if (
            await session.scalar(
                select(Site.id).where(Site.tenant_id == tenant_id, Site.name == site_name)
            )
            is not None
        ):
            raise Conflict(f"the tenant already has a site named {site_name!r}")
        quota = await session.get(Plan, plan)
        if quota is None:
            raise BadInput(f"plan {plan!r} is not installed; run `anjian migrate`")
        site = Site(
            tenant_id=tenant_id,
            name=site_name,
            division_code=division,
            industry=tenant.industry,
            major_hazard_grade=major_hazard_grade,
            address=address,
            latitude=latitude,
            longitude=longitude,
        )
        session.add(site)
        await session.flush()
        session.add(
            Subscription(
                tenant_id=tenant_id,
                site_id=site.id,
                plan_code=plan,
                retention_days=quota.default_retention_days,
            )
        )
        await record(
            session,
            principal.actor(domain),
            "site.create",
            domain=domain,
            object_type="site",
            object_id=site.id,
            detail={"name": site_name, "division": division, "plan": plan},
        )
    return site


async def set_subscription_status(
    maker: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    *,
    site_id: uuid.UUID,
    status: SubscriptionStatus,
) -> Subscription:
    """Suspend or resume a site's subscription (platform billing, or the CLI operator)."""
    auth_service.require(authz, principal, "platform", "subscription", "update")
    async with unscoped_session(maker) as session, session.begin():
        subscription = await session.scalar(
            select(Subscription).where(Subscription.site_id == site_id)
        )
        if subscription is None:
            raise NotFound(f"site {site_id} not found")
        previous = subscription.status
        subscription.status = status
        await counters.bump(session, counters.REGISTRY)
        await record(
            session,
            principal.actor("platform"),
            "subscription.status",
            domain=tenant_domain(subscription.tenant_id),
            object_type="site",
            object_id=site_id,
            detail={"status": status.value, "previous": previous.value},
        )
    return subscription


async def list_sites(session: AsyncSession) -> list[Site]:
    """Every site in the session's scope; an empty scope lists nothing."""
    return list((await session.scalars(select(Site).order_by(Site.name, Site.id))).all())


async def create_zone(
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    *,
    site_id: uuid.UUID,
    name: str,
    kind: str = ZoneKind.GENERAL.value,
) -> Zone:
    site = await get_site(session, site_id)
    domain = site_domain(principal.scope, site)
    auth_service.require(authz, principal, domain, "zone", "create")
    try:
        zone_kind = ZoneKind(kind)
    except ValueError:
        raise BadInput(
            f"unknown zone kind {kind!r}; choose one of {', '.join(k.value for k in ZoneKind)}"
        ) from None
    zone_name = _text(name, "name", 100)
    if (
        await session.scalar(select(Zone.id).where(Zone.site_id == site.id, Zone.name == zone_name))
        is not None
    ):
        raise Conflict(f"the site already has a zone named {zone_name!r}")
    zone = Zone(tenant_id=site.tenant_id, site_id=site.id, name=zone_name, kind=zone_kind)
    session.add(zone)
    await session.flush()
    await record(
        session,
        principal.actor(domain),
        "zone.create",
        domain=domain,
        object_type="zone",
        object_id=zone.id,
    )
    return zone


async def create_worker(
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    *,
    tenant_id: uuid.UUID,
    name: str,
    employee_number: str,
    mobile: str | None = None,
    id_number: str | None = None,
    site_id: uuid.UUID | None = None,
) -> Worker:
    if tenant_id not in principal.scope.tenant_ids:
        raise NotFound(f"tenant {tenant_id} not found")
    domain = tenant_domain(tenant_id)
    auth_service.require(authz, principal, domain, "worker", "create")
    if mobile is not None and not _MOBILE.match(mobile):
        raise BadInput(f"not a mainland mobile number: {mobile!r}")
    if id_number is not None and not re.fullmatch(r"\d{17}[\dX]", id_number):
        raise BadInput("an ID number has 17 digits and a check digit (0-9 or X)")
    if site_id is not None:
        site = await get_site(session, site_id)
        if site.tenant_id != tenant_id:
            raise NotFound(f"site {site_id} not found")
    number = _text(employee_number, "employee number", 32)
    if (
        await session.scalar(
            select(Worker.id).where(Worker.tenant_id == tenant_id, Worker.employee_number == number)
        )
        is not None
    ):
        raise Conflict(f"employee number {number} is already in use")
    worker = Worker(
        tenant_id=tenant_id,
        name=_text(name, "name", 100),
        employee_number=number,
        mobile=mobile,
        id_number=id_number,
        site_id=site_id,
    )
    session.add(worker)
    await session.flush()
    await record(
        session,
        principal.actor(domain),
        "worker.create",
        domain=domain,
        object_type="worker",
        object_id=worker.id,
    )
    return worker


async def list_workers(
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    *,
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
        if auth_service.may(authz, principal, tenant_domain(t), "worker", "read")
    ]
    query = select(Worker).where(Worker.tenant_id.in_(readable)).order_by(Worker.id).limit(first)
    if after is not None:
        query = query.where(Worker.id > after)
    return list((await session.scalars(query)).all())


async def list_tenants(
    maker: async_sessionmaker[AsyncSession], authz: Authorizer, principal: Principal
) -> list[Tenant]:
    """All tenants for the platform (billing); otherwise the caller's own."""
    platform = auth_service.may(authz, principal, "platform", "tenant", "read")
    async with maker() as session:
        query = select(Tenant).order_by(Tenant.name)
        if not platform:
            query = query.where(Tenant.id.in_(principal.scope.tenant_ids))
        return list((await session.scalars(query)).all())


async def unscoped_site_tenant(
    maker: async_sessionmaker[AsyncSession], site_id: uuid.UUID
) -> uuid.UUID:
    """The tenant owning a site, for the operator's CLI (which names sites, not tenants)."""
    async with unscoped_session(maker) as session:
        tenant_id = await session.scalar(select(Site.tenant_id).where(Site.id == site_id))
    if tenant_id is None:
        raise NotFound(f"site {site_id} not found")
    return tenant_id


async def offboard_tenant(
    maker: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    principal: Principal,
    *,
    tenant_id: uuid.UUID,
    reason: str,
) -> Tenant:
    """A tenant leaves: its sites stop ingesting now, and its data is erased (rows deleted,
    data key destroyed) by the retention job once the legal floors have passed."""
    auth_service.require(authz, principal, "platform", "tenant", "update")
    why = _text(reason, "reason", 500)
    async with unscoped_session(maker) as session, session.begin():
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
        await counters.bump(session, counters.REGISTRY)
        await record(
            session,
            principal.actor("platform"),
            "tenant.offboard",
            domain=tenant_domain(tenant_id),
            object_type="tenant",
            object_id=tenant_id,
            detail={"reason": why},
        )
    return tenant


# -- the operator's overview (CLI) -------------------------------------------------------------


@dataclass(frozen=True)
class TenantListing:
    tenant: Tenant
    sites: int


@dataclass(frozen=True)
class SiteListing:
    site: Site
    plan_code: str | None
    subscription: SubscriptionStatus | None
    devices: int
    sensors: int


async def unscoped_tenant_list(maker: async_sessionmaker[AsyncSession]) -> list[TenantListing]:
    """Every tenant with its number of sites, by name: the platform operator's CLI."""
    sites = select(Site.tenant_id, func.count().label("n")).group_by(Site.tenant_id).subquery()
    async with unscoped_session(maker) as session:
        rows = await session.execute(
            select(Tenant, func.coalesce(sites.c.n, 0))
            .outerjoin(sites, sites.c.tenant_id == Tenant.id)
            .order_by(Tenant.name, Tenant.id)
        )
        return [TenantListing(tenant, int(count)) for tenant, count in rows]


async def unscoped_site_list(
    maker: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID | None = None
) -> list[SiteListing]:
    """Every site (of one tenant, when given) with its plan and how many devices and sensors
    it has, by name. A tenant that does not exist is NotFound rather than an empty list, as
    the operator named it."""
    from backend.telemetry.models import Device, Sensor

    devices = select(Device.site_id, func.count().label("n")).group_by(Device.site_id).subquery()
    sensors = select(Sensor.site_id, func.count().label("n")).group_by(Sensor.site_id).subquery()
    async with unscoped_session(maker) as session:
        if tenant_id is not None and await session.get(Tenant, tenant_id) is None:
            raise NotFound(f"tenant {tenant_id} not found")
        query = (
            select(
                Site,
                Subscription.plan_code,
                Subscription.status,
                func.coalesce(devices.c.n, 0),
                func.coalesce(sensors.c.n, 0),
            )
            .outerjoin(Subscription, Subscription.site_id == Site.id)
            .outerjoin(devices, devices.c.site_id == Site.id)
            .outerjoin(sensors, sensors.c.site_id == Site.id)
            .order_by(Site.name, Site.id)
        )
        if tenant_id is not None:
            query = query.where(Site.tenant_id == tenant_id)
        rows = await session.execute(query)
        return [
            SiteListing(site, plan, status, int(n_devices), int(n_sensors))
            for site, plan, status, n_devices, n_sensors in rows
        ]

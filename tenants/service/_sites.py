"""Sites, their subscriptions and their zones."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core.errors import BadInput, Conflict, NotFound
from privacy.audit import record_change
from tenants.acting import Acting, Permissions
from tenants.divisions import validate_division
from tenants.models import Plan, Site, Subscription, Tenant, Zone, ZoneKind
from tenants.plans import DEFAULT_PLAN, PLAN_CODES
from tenants.scope import Scope, scoped_session
from tenants.service._checks import clean_text, site_domain, tenant_domain


async def get_site(*, session: AsyncSession, site_id: uuid.UUID) -> Site:
    """The site, if the session's scope sees it; ``NotFound`` otherwise."""
    # A query, not session.get(): the identity map would skip the scope criterion.
    site = await session.scalar(select(Site).where(Site.id == site_id))
    if site is None:
        raise NotFound(f"site {site_id} not found")
    return site


async def list_sites(*, session: AsyncSession) -> list[Site]:
    """Every site in the session's scope; an empty scope lists nothing."""
    return list((await session.scalars(select(Site).order_by(Site.name, Site.id))).all())


async def zones_of_sites(
    *, session: AsyncSession, site_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Zone]]:
    """The zones of each site, by name (every id a key, with no zones if it has none)."""
    rows = await session.scalars(select(Zone).where(Zone.site_id.in_(site_ids)).order_by(Zone.name))
    grouped: dict[uuid.UUID, list[Zone]] = {site_id: [] for site_id in site_ids}
    for zone in rows:
        grouped[zone.site_id].append(zone)
    return grouped


async def subscriptions_of_sites(
    *, session: AsyncSession, site_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Subscription]:
    """The subscription of each site that has one."""
    rows = await session.scalars(select(Subscription).where(Subscription.site_id.in_(site_ids)))
    return {row.site_id: row for row in rows}


def _check_site_fields(
    plan: str,
    major_hazard_grade: int | None,
    latitude: float | None,
    longitude: float | None,
) -> None:
    if plan not in PLAN_CODES:
        raise BadInput(f"unknown plan {plan!r}; choose one of {', '.join(PLAN_CODES)}")
    if major_hazard_grade is not None and major_hazard_grade not in (1, 2, 3, 4):
        raise BadInput("major hazard grade must be 1, 2, 3 or 4")
    if latitude is not None and not -90 <= latitude <= 90:
        raise BadInput("latitude must be between -90 and 90")
    if longitude is not None and not -180 <= longitude <= 180:
        raise BadInput("longitude must be between -180 and 180")


async def create_site_in_own_transaction(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Permissions,
    principal: Acting,
    tenant_id: uuid.UUID,
    name: str,
    division_code: str,
    plan: str = DEFAULT_PLAN,
    major_hazard_grade: int | None = None,
    address: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Site:
    """A site of the tenant with its subscription to ``plan``, in the tenant's scope."""
    if tenant_id not in principal.scope.tenant_ids and principal.kind != "system":
        raise NotFound(f"tenant {tenant_id} not found")
    domain = tenant_domain(tenant_id)
    authz.require(principal, domain, "site", "create")
    division = validate_division(division_code)
    site_name = clean_text(name, "name", 200)
    _check_site_fields(plan, major_hazard_grade, latitude, longitude)
    async with scoped_session(sessions, Scope.for_tenant(tenant_id)) as session, session.begin():
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        same_name = select(Site.id).where(Site.tenant_id == tenant_id, Site.name == site_name)
        if await session.scalar(same_name) is not None:
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
        await record_change(
            session,
            principal.actor(domain),
            "site.create",
            added=Subscription(
                tenant_id=tenant_id,
                site_id=site.id,
                plan_code=plan,
                retention_days=quota.default_retention_days,
            ),
            domain=domain,
            object_type="site",
            object_id=site.id,
            detail={"name": site_name, "division": division, "plan": plan},
        )
    return site


async def create_zone(
    *,
    session: AsyncSession,
    authz: Permissions,
    principal: Acting,
    site_id: uuid.UUID,
    name: str,
    kind: str = ZoneKind.GENERAL.value,
) -> Zone:
    """A zone of a site in the caller's scope, in the caller's transaction."""
    site = await get_site(session=session, site_id=site_id)
    domain = site_domain(principal.scope, site)
    authz.require(principal, domain, "zone", "create")
    try:
        zone_kind = ZoneKind(kind)
    except ValueError:
        raise BadInput(
            f"unknown zone kind {kind!r}; choose one of {', '.join(k.value for k in ZoneKind)}"
        ) from None
    zone_name = clean_text(name, "name", 100)
    same_name = select(Zone.id).where(Zone.site_id == site.id, Zone.name == zone_name)
    if await session.scalar(same_name) is not None:
        raise Conflict(f"the site already has a zone named {zone_name!r}")
    zone = Zone(tenant_id=site.tenant_id, site_id=site.id, name=zone_name, kind=zone_kind)
    await record_change(
        session,
        principal.actor(domain),
        "zone.create",
        added=zone,
        domain=domain,
        object_type="zone",
    )
    return zone

"""GraphQL: tenants, sites, zones and workers."""

from __future__ import annotations

import importlib
import uuid
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import select
from strawberry.dataloader import DataLoader

from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.ids import parse_id
from tenants import service
from tenants.models import Site, Subscription, Tenant, Worker, Zone
from tenants.plans import DEFAULT_PLAN

if TYPE_CHECKING:
    from backend.telemetry.schema import SensorType


@strawberry.type(name="Tenant")
class TenantType:
    id: strawberry.ID
    name: str
    industry: str
    division_code: str
    status: str

    @classmethod
    def of(cls, tenant: Tenant) -> TenantType:
        return cls(
            id=strawberry.ID(str(tenant.id)),
            name=tenant.name,
            industry=tenant.industry.value,
            division_code=tenant.division_code,
            status=tenant.status.value,
        )


@strawberry.type(name="Zone")
class ZoneType:
    id: strawberry.ID
    name: str
    kind: str

    @classmethod
    def of(cls, zone: Zone) -> ZoneType:
        return cls(id=strawberry.ID(str(zone.id)), name=zone.name, kind=zone.kind.value)


@strawberry.type(name="SitePlan", description="The site's subscription: plan, status, retention.")
class SubscriptionType:
    plan: str
    status: str
    retention_days: int


def _by_key_loader(info: Info, name: str, model: type, key_column: str) -> DataLoader:
    ctx = info.context
    column = getattr(model, key_column)

    async def load(keys: list[uuid.UUID]) -> list[object]:
        rows = (await ctx.session.scalars(select(model).where(column.in_(keys)))).all()
        found = {getattr(row, key_column): row for row in rows}
        return [found.get(k) for k in keys]

    return ctx.loader(name, lambda: DataLoader(load_fn=load))


def _zones_loader(info: Info) -> DataLoader[uuid.UUID, list[Zone]]:
    ctx = info.context

    async def load(keys: list[uuid.UUID]) -> list[list[Zone]]:
        rows = await ctx.session.scalars(
            select(Zone).where(Zone.site_id.in_(keys)).order_by(Zone.name)
        )
        grouped: dict[uuid.UUID, list[Zone]] = {k: [] for k in keys}
        for zone in rows:
            grouped[zone.site_id].append(zone)
        return [grouped[k] for k in keys]

    return ctx.loader("zones-by-site", lambda: DataLoader(load_fn=load))


@strawberry.type(name="Site")
class SiteType:
    id: strawberry.ID
    name: str
    division_code: str
    industry: str
    major_hazard_grade: int | None
    address: str | None
    latitude: float | None
    longitude: float | None
    tenant_id: strawberry.ID

    @classmethod
    def of(cls, site: Site) -> SiteType:
        return cls(
            id=strawberry.ID(str(site.id)),
            name=site.name,
            division_code=site.division_code,
            industry=site.industry.value,
            major_hazard_grade=site.major_hazard_grade,
            address=site.address,
            latitude=site.latitude,
            longitude=site.longitude,
            tenant_id=strawberry.ID(str(site.tenant_id)),
        )

    @strawberry.field
    async def tenant(self, info: Info) -> TenantType:
        tenant = await _by_key_loader(info, "tenant", Tenant, "id").load(uuid.UUID(self.tenant_id))
        return TenantType.of(tenant)

    @strawberry.field
    async def zones(self, info: Info) -> list[ZoneType]:
        return [ZoneType.of(z) for z in await _zones_loader(info).load(uuid.UUID(self.id))]

    @strawberry.field
    async def subscription(self, info: Info) -> SubscriptionType | None:
        row = await _by_key_loader(info, "subscription", Subscription, "site_id").load(
            uuid.UUID(self.id)
        )
        if row is None:
            return None
        return SubscriptionType(
            plan=row.plan_code, status=row.status.value, retention_days=row.retention_days
        )

    @strawberry.field
    async def sensors(
        self, info: Info
    ) -> list[Annotated[SensorType, strawberry.lazy("backend.telemetry.schema")]]:
        telemetry = importlib.import_module("backend.telemetry.schema")
        return await telemetry.sensors_of_site(info, uuid.UUID(self.id))


@strawberry.type(name="Worker")
class WorkerType:
    """Personal data: each field leaves through the privacy catalog (backend/api/privacy.py),
    so what a viewer gets depends on who they are (names for safety managers, pseudonyms for
    regulators)."""

    id: strawberry.ID
    name: str
    mobile: str | None
    id_number: str | None
    employee_number: str
    site_id: strawberry.ID | None
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, worker: Worker) -> WorkerType:
        return cls(
            id=strawberry.ID(str(worker.id)),
            name=worker.name,
            mobile=worker.mobile,
            id_number=worker.id_number,
            employee_number=worker.employee_number,
            site_id=None if worker.site_id is None else strawberry.ID(str(worker.site_id)),
            tenant_id=worker.tenant_id,
        )


@strawberry.type
class TenantsQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated], description="Every site the caller may see, by name."
    )
    async def sites(self, info: Info) -> list[SiteType]:
        return [SiteType.of(s) for s in await service.list_sites(info.context.session)]

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def site(self, info: Info, id: strawberry.ID) -> SiteType:
        return SiteType.of(await service.get_site(info.context.session, parse_id(id, "site")))

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Workers of the tenants where the caller's role may read them.",
    )
    async def workers(
        self, info: Info, first: int = 100, after: strawberry.ID | None = None
    ) -> list[WorkerType]:
        ctx = info.context
        rows = await service.list_workers(
            ctx.session,
            ctx.rt.authz,
            ctx.principal,
            first=first,
            after=None if after is None else parse_id(after, "worker"),
        )
        return [WorkerType.of(w) for w in rows]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Tenants, for the platform administrator (no tenant data).",
    )
    async def tenants(self, info: Info) -> list[TenantType]:
        ctx = info.context
        return [
            TenantType.of(t)
            for t in await service.list_tenants(ctx.rt.sessions, ctx.rt.authz, ctx.principal)
        ]


@strawberry.type
class TenantsMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_tenant(
        self,
        info: Info,
        name: str,
        division_code: str,
        industry: str,
        owner_email: str,
        owner_password: str,
        credit_code: str | None = None,
    ) -> TenantType:
        rt = info.context.rt
        tenant = await service.provision_tenant(
            rt.sessions,
            rt.authz,
            info.context.principal,
            name=name,
            division_code=division_code,
            industry=industry,
            owner_email=owner_email,
            owner_password=owner_password,
            credit_code=credit_code,
            log2_n=rt.log2_n,
        )
        return TenantType.of(tenant)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_site(
        self,
        info: Info,
        tenant_id: strawberry.ID,
        name: str,
        division_code: str,
        plan: str = DEFAULT_PLAN,
        major_hazard_grade: int | None = None,
        address: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
    ) -> SiteType:
        rt = info.context.rt
        site = await service.create_site(
            rt.sessions,
            rt.authz,
            info.context.principal,
            tenant_id=parse_id(tenant_id, "tenant"),
            name=name,
            division_code=division_code,
            plan=plan,
            major_hazard_grade=major_hazard_grade,
            address=address,
            latitude=latitude,
            longitude=longitude,
        )
        return SiteType.of(site)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_zone(
        self, info: Info, site_id: strawberry.ID, name: str, kind: str = "general"
    ) -> ZoneType:
        ctx = info.context
        async with ctx.write() as session:
            zone = await service.create_zone(
                session,
                ctx.rt.authz,
                ctx.principal,
                site_id=parse_id(site_id, "site"),
                name=name,
                kind=kind,
            )
        return ZoneType.of(zone)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_worker(
        self,
        info: Info,
        tenant_id: strawberry.ID,
        name: str,
        employee_number: str,
        mobile: str | None = None,
        id_number: str | None = None,
        site_id: strawberry.ID | None = None,
    ) -> WorkerType:
        ctx = info.context
        async with ctx.write() as session:
            worker = await service.create_worker(
                session,
                ctx.rt.authz,
                ctx.principal,
                tenant_id=parse_id(tenant_id, "tenant"),
                name=name,
                employee_number=employee_number,
                mobile=mobile,
                id_number=id_number,
                site_id=None if site_id is None else parse_id(site_id, "site"),
            )
        return WorkerType.of(worker)

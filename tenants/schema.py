"""GraphQL: tenants, sites, zones and workers.

``tenants`` sits below ``backend.auth`` and imports nothing above it: resolvers are typed by
``TenantsContext`` (what they use of ``backend.auth.context.RequestContext``, which satisfies
it), and ``Site.sensors`` resolves through an edge the API supplies when it assembles the
schema; its type is named for ``strawberry.lazy``, never imported. A tenant's creation with
its owner account is ``backend.auth.schema``'s (the account is auth's).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, Protocol, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from backend.core.errors import BadInput
from backend.core.graphql import IsAuthenticated
from backend.core.ids import parse_id
from backend.core.settings import Settings
from tenants import service
from tenants.acting import Acting, Permissions
from tenants.models import Site, Subscription, Tenant, Worker, Zone
from tenants.plans import DEFAULT_PLAN

Row = TypeVar("Row")
T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


class _Wiring(Protocol):
    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def settings(self) -> Settings: ...


class TenantsContext(Protocol):
    """What these resolvers use of the request context."""

    principal: Acting

    @property
    def rt(self) -> _Wiring: ...
    @property
    def authz(self) -> Permissions: ...
    @property
    def session(self) -> AsyncSession: ...
    @property
    def site_sensors(self) -> Callable[[Any, uuid.UUID], Awaitable[Sequence[Any]]]: ...
    def write(self) -> AbstractAsyncContextManager[AsyncSession]: ...
    def loader(self, name: str, factory: Callable[[], T]) -> T: ...
    def keyed_loader(
        self, name: str, fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]], *, missing: V
    ) -> DataLoader[K, V]: ...
    def rows_by_id(self, model: type[Row]) -> DataLoader[uuid.UUID, Row | None]: ...


Info = strawberry.Info[TenantsContext, None]


@strawberry.type(name="Tenant")
class TenantType:
    id: strawberry.ID
    name: str
    industry: str
    division_code: str
    status: str
    idle_timeout_minutes: int | None = strawberry.field(
        description="Minutes without use after which members' sessions end; null: the "
        "platform's default (sessionIdleDefaultMinutes)."
    )

    @classmethod
    def of(cls, tenant: Tenant) -> TenantType:
        return cls(
            id=strawberry.ID(str(tenant.id)),
            name=tenant.name,
            industry=tenant.industry.value,
            division_code=tenant.division_code,
            status=tenant.status.value,
            idle_timeout_minutes=tenant.idle_timeout_minutes,
        )

    @strawberry.field(description="The platform's idle timeout, for tenants that set none.")
    def session_idle_default_minutes(self, info: Info) -> int:
        return info.context.rt.settings.session_idle_minutes


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


def _zones_loader(info: Info) -> DataLoader[uuid.UUID, list[Zone]]:
    ctx = info.context
    return ctx.keyed_loader(
        "zones-by-site",
        lambda keys: service.zones_of_sites(session=ctx.session, site_ids=keys),
        missing=[],
    )


def _subscriptions_loader(info: Info) -> DataLoader[uuid.UUID, Subscription | None]:
    ctx = info.context
    return ctx.keyed_loader(
        "subscription-by-site",
        lambda keys: service.subscriptions_of_sites(session=ctx.session, site_ids=keys),
        missing=None,
    )


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
        tenant = await info.context.rows_by_id(Tenant).load(uuid.UUID(self.tenant_id))
        return TenantType.of(tenant)

    @strawberry.field
    async def zones(self, info: Info) -> list[ZoneType]:
        return [ZoneType.of(z) for z in await _zones_loader(info).load(uuid.UUID(self.id))]

    @strawberry.field
    async def subscription(self, info: Info) -> SubscriptionType | None:
        row = await _subscriptions_loader(info).load(uuid.UUID(self.id))
        if row is None:
            return None
        return SubscriptionType(
            plan=row.plan_code, status=row.status.value, retention_days=row.retention_days
        )

    @strawberry.field
    async def sensors(
        self, info: Info
    ) -> list[Annotated[SensorType, strawberry.lazy("backend.telemetry.schema")]]:  # noqa: F821
        return list(await info.context.site_sensors(info, uuid.UUID(self.id)))

    @strawberry.field(
        description="The site's hazard units (重大危险源辨识单元), by name; its majorHazardGrade "
        "follows them once it has any."
    )
    async def hazard_units(
        self, info: Info
    ) -> list[
        Annotated[HazardUnitType, strawberry.lazy("backend.oversight.hazards.schema")]  # noqa: F821
    ]:
        return list(await info.context.site_hazard_units(info, uuid.UUID(self.id)))


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
    tenant_id: strawberry.ID

    @classmethod
    def of(cls, worker: Worker) -> WorkerType:
        return cls(
            id=strawberry.ID(str(worker.id)),
            name=worker.name,
            mobile=worker.mobile,
            id_number=worker.id_number,
            employee_number=worker.employee_number,
            site_id=None if worker.site_id is None else strawberry.ID(str(worker.site_id)),
            tenant_id=strawberry.ID(str(worker.tenant_id)),
        )


@strawberry.type
class TenantsQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated], description="Every site the caller may see, by name."
    )
    async def sites(self, info: Info) -> list[SiteType]:
        return [SiteType.of(s) for s in await service.list_sites(session=info.context.session)]

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def site(self, info: Info, id: strawberry.ID) -> SiteType:
        site = await service.get_site(session=info.context.session, site_id=parse_id(id, "site"))
        return SiteType.of(site)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Workers of the tenants where the caller's role may read them (tenantId: "
        "of that one only).",
    )
    async def workers(
        self,
        info: Info,
        first: int = 100,
        after: strawberry.ID | None = None,
        tenant_id: strawberry.ID | None = None,
    ) -> list[WorkerType]:
        ctx = info.context
        rows = await service.list_workers(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            first=first,
            after=None if after is None else parse_id(after, "worker"),
            tenant_id=None if tenant_id is None else parse_id(tenant_id, "tenant"),
        )
        return [WorkerType.of(w) for w in rows]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Tenants, for the platform administrator (no tenant data).",
    )
    async def tenants(self, info: Info) -> list[TenantType]:
        ctx = info.context
        rows = await service.list_tenants(
            session=ctx.session, authz=ctx.authz, principal=ctx.principal
        )
        return [TenantType.of(t) for t in rows]


@strawberry.type
class TenantsMutation:
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
        ctx = info.context
        site = await service.create_site_in_own_transaction(
            sessions=ctx.rt.sessions,
            authz=ctx.authz,
            principal=ctx.principal,
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
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
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
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                tenant_id=parse_id(tenant_id, "tenant"),
                name=name,
                employee_number=employee_number,
                mobile=mobile,
                id_number=id_number,
                site_id=None if site_id is None else parse_id(site_id, "site"),
            )
        return WorkerType.of(worker)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="The owner sets after how many minutes without use (5 to 1440) its "
        "members' sessions end; null returns to the platform's default. A page left open and "
        "in use stays signed in. Audited.",
    )
    async def set_tenant_idle_timeout(
        self, info: Info, tenant_id: strawberry.ID, minutes: int | None
    ) -> TenantType:
        ctx = info.context
        async with ctx.write() as session:
            tenant = await service.set_idle_timeout(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                tenant_id=parse_id(tenant_id, "tenant"),
                minutes=minutes,
            )
        return TenantType.of(tenant)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Change what is given of a worker, checked as createWorker checks it; "
        "mobile, idNumber or siteId sent as null clears it (name and employeeNumber stay).",
    )
    async def update_worker(
        self,
        info: Info,
        id: strawberry.ID,
        name: str | None = strawberry.UNSET,
        employee_number: str | None = strawberry.UNSET,
        mobile: str | None = strawberry.UNSET,
        id_number: str | None = strawberry.UNSET,
        site_id: strawberry.ID | None = strawberry.UNSET,
    ) -> WorkerType:
        if name is None or employee_number is None:
            raise BadInput(
                "a worker keeps a name and an employee number: send new ones or leave them out"
            )
        ctx = info.context
        async with ctx.write() as session:
            worker = await service.update_worker(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                worker_id=parse_id(id, "worker"),
                name=_kept(name),
                employee_number=_kept(employee_number),
                mobile=_kept(mobile),
                id_number=_kept(id_number),
                site_id=(
                    service.KEEP
                    if site_id is strawberry.UNSET
                    else None
                    if site_id is None
                    else parse_id(site_id, "site")
                ),
            )
        return WorkerType.of(worker)


def _kept(value: T) -> T | service.Keep:
    """An argument left out keeps the field's value."""
    return service.KEEP if value is strawberry.UNSET else value

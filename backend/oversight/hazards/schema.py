"""GraphQL: the register of major hazard sources (重大危险源) — hazard units, their substances
and the figures GB 18218-2018 gives them, and the site's grade that follows them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.errors import BadInput
from backend.core.ids import parse_id
from backend.oversight import major_hazards
from backend.oversight.hazards import responsibles, service
from backend.oversight.hazards.models import HazardSubstance, HazardUnit, ResponsibleRole
from backend.oversight.hazards.responsible_types import (
    HazardDutyRecordType,
    HazardResponsibleRoleEnum,
    HazardResponsibleType,
    HazardUnitChangeType,
    duty_records_of,
    last_technical_check_of,
    responsibles_of,
)
from tenants.models import Site
from tenants.service import site_domain

if TYPE_CHECKING:
    from tenants.schema import SiteType


@strawberry.input(
    name="HazardSubstanceInput",
    description="Exactly one of casNumber (a named substance of GB 18218-2018 Table 1), entry "
    "(its Table 1 entry number, where a CAS number is missing or shared) or category (Table 2, "
    "e.g. W5.1); the largest quantity that may be present, in tonnes.",
)
class HazardSubstanceInput:
    quantity_tonnes: float
    name: str | None = None
    cas_number: str | None = None
    category: str | None = None
    entry: int | None = None
    beta_category: str | None = strawberry.field(
        default=None,
        description="The Table 4 category that sets β for a Table 1 chemical whose process "
        "puts it in another category than its usual one.",
    )

    def entry_of(self) -> service.SubstanceEntry:
        return service.SubstanceEntry(
            quantity_tonnes=self.quantity_tonnes,
            name=self.name,
            cas_number=self.cas_number,
            entry=self.entry,
            category=self.category,
            beta_category=self.beta_category,
        )


@strawberry.type(name="HazardSubstance")
class HazardSubstanceType:
    name: str = strawberry.field(description="As entered, else the standard's Chinese name.")
    standard_name: str = strawberry.field(description="The standard's Chinese name.")
    standard_name_en: str
    cas_number: str | None
    entry: int | None = strawberry.field(description="The Table 1 entry, for a named chemical.")
    category: str | None = strawberry.field(description="The Table 2 category it was named by.")
    beta_category: str | None
    quantity_tonnes: float = strawberry.field(description="q")
    critical_quantity: float = strawberry.field(description="Q, in tonnes")
    beta: float
    ratio: float = strawberry.field(description="q/Q")
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: HazardSubstance) -> HazardSubstanceType:
        return cls(
            name=row.name or row.standard_name_zh,
            standard_name=row.standard_name_zh,
            standard_name_en=row.standard_name_en,
            cas_number=row.cas_number,
            entry=row.entry,
            category=row.category,
            beta_category=row.beta_category,
            quantity_tonnes=row.quantity_tonnes,
            critical_quantity=row.critical_quantity_tonnes,
            beta=row.beta,
            ratio=row.q_over_Q,
            tenant_id=row.tenant_id,
        )


async def _substances(info: Info, unit_id: uuid.UUID) -> list[HazardSubstance]:
    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[HazardSubstance]]:
        return await service.substances_of_units(session=info.context.session, unit_ids=keys)

    loader = info.context.keyed_loader("hazard-unit-substances", fetch, missing=[])
    return await loader.load(unit_id)


@strawberry.type(name="HazardUnit", description="A hazard unit assessed after GB 18218-2018.")
class HazardUnitType:
    id: strawberry.ID
    name: str
    site_id: strawberry.ID
    people_within_500m: int = strawberry.field(
        description="People outside the boundary within 500 m (sets α)."
    )
    alpha: float
    sum_q_over_Q: float = strawberry.field(name="sumQOverQ", description="S = Σq/Q")
    r_value: float = strawberry.field(description="R = α·Σ(β·q/Q)")
    grade: int | None = strawberry.field(
        description="1 to 4 (I, the most severe, to IV); null when not a major hazard source."
    )
    is_major_hazard: bool = strawberry.field(description="Σq/Q ≥ 1")
    created_at: datetime
    updated_at: datetime
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, unit: HazardUnit) -> HazardUnitType:
        return cls(
            id=strawberry.ID(str(unit.id)),
            name=unit.name,
            site_id=strawberry.ID(str(unit.site_id)),
            people_within_500m=unit.people_within_500m,
            alpha=unit.alpha,
            sum_q_over_Q=unit.sum_q_over_Q,
            r_value=unit.r_value,
            grade=unit.grade,
            is_major_hazard=unit.is_major,
            created_at=unit.created_at,
            updated_at=unit.updated_at,
            tenant_id=unit.tenant_id,
        )

    @strawberry.field(description="In the order they were entered.")
    async def substances(self, info: Info) -> list[HazardSubstanceType]:
        return [HazardSubstanceType.of(s) for s in await _substances(info, uuid.UUID(self.id))]

    @strawberry.field(
        description="包保责任人: who holds each of the three roles (MAIN, TECHNICAL, "
        "OPERATIONAL) of a major hazard source; a role no one holds is left out.",
        metadata={"list_size": len(ResponsibleRole)},
    )
    async def responsibles(self, info: Info) -> list[HazardResponsibleType]:
        return await responsibles_of(info, uuid.UUID(self.id))

    @strawberry.field(description="履职记录: the latest checks, by the day checked, newest first.")
    async def duty_records(self, info: Info, first: int = 20) -> list[HazardDutyRecordType]:
        if not 1 <= first <= responsibles.MAX_DUTY_RECORDS:
            raise BadInput(
                f"first must be between 1 and {responsibles.MAX_DUTY_RECORDS}", field="first"
            )
        return await duty_records_of(info, uuid.UUID(self.id), first)

    @strawberry.field(description="The day of the technical lead's last check.")
    async def last_technical_check_at(self, info: Info) -> date | None:
        return await last_technical_check_of(info, uuid.UUID(self.id))

    @strawberry.field(
        description="A major hazard source whose technical lead has not checked it within 92 "
        "days (or ever); false for a unit that is not one."
    )
    async def technical_check_overdue(self, info: Info) -> bool:
        last = await last_technical_check_of(info, uuid.UUID(self.id))
        today = responsibles.china_today(info.context.rt.clock)
        return responsibles.technical_check_overdue(self.is_major_hazard, last, today)

    @strawberry.field(description="The site, with the grade that follows its units.")
    async def site(self, info: Info) -> Annotated[SiteType, strawberry.lazy("tenants.schema")]:
        from tenants.schema import SiteType

        site = await info.context.rows_by_id(Site).load(uuid.UUID(self.site_id))
        assert site is not None  # the unit was read through the same scope
        return SiteType.of(site)


async def hazard_units_of_site(info: Info, site_id: uuid.UUID) -> list[HazardUnitType]:
    """The site → hazard units edge of the Site type: empty for a role that reads nothing of
    the register there (one statement for the units of every site of the response)."""
    ctx = info.context
    site = await ctx.rows_by_id(Site).load(site_id)
    if site is None or not ctx.authz.may(
        ctx.principal, site_domain(ctx.principal.scope, site), service.OBJECT, "read"
    ):
        return []

    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[HazardUnit]]:
        return await service.units_of_sites(session=ctx.session, site_ids=keys)

    units = await ctx.keyed_loader("hazard-units-of-site", fetch, missing=[]).load(site_id)
    return [HazardUnitType.of(u) for u in units]


@strawberry.type(
    name="HazardCatalogSubstance", description="A named chemical of GB 18218-2018 Table 1."
)
class HazardCatalogSubstanceType:
    entry: int = strawberry.field(description="Its Table 1 entry number.")
    cas_numbers: list[str] = strawberry.field(
        description="None for a few entries; one number may be shared by several entries."
    )
    name_zh: str
    name_en: str
    aliases_zh: list[str]
    critical_quantity: float = strawberry.field(description="Q, in tonnes")
    beta: float
    beta_category: str | None = strawberry.field(
        description="The Table 4 category its β is read from; null for a toxic gas of Table 3."
    )

    @classmethod
    def of(cls, row: major_hazards.NamedSubstance) -> HazardCatalogSubstanceType:
        return cls(
            entry=row.entry,
            cas_numbers=list(row.cas_numbers),
            name_zh=row.name_zh,
            name_en=row.name_en,
            aliases_zh=list(row.aliases_zh),
            critical_quantity=row.critical_quantity_tonnes,
            beta=row.beta,
            beta_category=row.beta_class,
        )


@strawberry.type(
    name="HazardCategory",
    description="A hazard category of GB 18218-2018 Table 2, with its β from Table 4.",
)
class HazardCategoryType:
    code: str = strawberry.field(description="e.g. W5.1")
    hazard_zh: str
    hazard_en: str
    description_zh: str
    description_en: str
    critical_quantity: float = strawberry.field(description="Q, in tonnes")
    beta: float

    @classmethod
    def of(cls, row: major_hazards.Category) -> HazardCategoryType:
        return cls(
            code=row.code,
            hazard_zh=row.hazard_zh,
            hazard_en=row.hazard_en,
            description_zh=row.description_zh,
            description_en=row.description_en,
            critical_quantity=row.critical_quantity_tonnes,
            beta=row.beta,
        )


@strawberry.type(
    name="HazardCatalog",
    description="The tables of GB 18218-2018 a hazard unit's substances are named from.",
)
class HazardCatalogType:
    source: str
    named_substances: list[HazardCatalogSubstanceType] = strawberry.field(
        description="Table 1, in the standard's order."
    )
    categories: list[HazardCategoryType] = strawberry.field(
        description="Table 2, in the standard's order."
    )


@strawberry.type
class HazardUnitsQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The standard's tables (public data), for choosing a unit's substances.",
    )
    def hazard_catalog(self) -> HazardCatalogType:
        return HazardCatalogType(
            source=major_hazards.SOURCE,
            named_substances=[
                HazardCatalogSubstanceType.of(row) for row in major_hazards.named_substances()
            ],
            categories=[HazardCategoryType.of(row) for row in major_hazards.categories()],
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The hazard units of a site, by name.",
    )
    async def hazard_units(self, info: Info, site_id: strawberry.ID) -> list[HazardUnitType]:
        ctx = info.context
        rows = await service.list_hazard_units(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            site_id=parse_id(site_id, "site"),
        )
        return [HazardUnitType.of(u) for u in rows]

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def hazard_unit(self, info: Info, id: strawberry.ID) -> HazardUnitType:
        ctx = info.context
        unit = await service.get_hazard_unit(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            unit_id=parse_id(id, "hazard unit"),
        )
        return HazardUnitType.of(unit)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The major hazard register's changes (registered, updated, removed, "
        "responsible assigned) of one site, or of every site the caller reads (a regulator's "
        "jurisdiction), newest first; after is the last change's id of the previous page.",
    )
    async def hazard_unit_changes(
        self,
        info: Info,
        first: int = 50,
        after: strawberry.ID | None = None,
        site_id: strawberry.ID | None = None,
        unit_id: strawberry.ID | None = None,
    ) -> list[HazardUnitChangeType]:
        ctx = info.context
        rows = await responsibles.list_hazard_unit_changes(
            session=ctx.session,
            authz=ctx.authz,
            principal=ctx.principal,
            site_id=None if site_id is None else parse_id(site_id, "site"),
            unit_id=None if unit_id is None else parse_id(unit_id, "hazard unit"),
            first=first,
            after=None if after is None else _cursor(after),
        )
        return [HazardUnitChangeType.of(c) for c in rows]


def _cursor(value: str) -> int:
    if not value.isdigit():
        raise BadInput("after must be the id of a change", field="after")
    return int(value)


@strawberry.type
class HazardUnitsMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Give one of a major hazard source's three roles to a worker of the "
        "enterprise (of the unit's site or of none), replacing whoever held it (owner, safety "
        "manager).",
    )
    async def assign_hazard_responsible(
        self,
        info: Info,
        unit_id: strawberry.ID,
        role: HazardResponsibleRoleEnum,
        worker_id: strawberry.ID,
    ) -> HazardUnitType:
        ctx = info.context
        async with ctx.write() as session:
            unit = await responsibles.assign_hazard_responsible(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                unit_id=parse_id(unit_id, "hazard unit"),
                role=role.role,
                worker_id=parse_id(worker_id, "worker"),
                clock=ctx.rt.clock,
            )
        return HazardUnitType.of(unit)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Record a dated check of a major hazard source by the person holding the "
        "role (owner, safety manager); checkedOn is a day in China time, not in the future.",
    )
    async def record_hazard_duty_check(
        self,
        info: Info,
        unit_id: strawberry.ID,
        role: HazardResponsibleRoleEnum,
        checked_on: date,
        findings: str,
    ) -> HazardDutyRecordType:
        ctx = info.context
        async with ctx.write() as session:
            row = await responsibles.record_hazard_duty_check(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                unit_id=parse_id(unit_id, "hazard unit"),
                role=role.role,
                checked_on=checked_on,
                findings=findings,
                clock=ctx.rt.clock,
            )
        return HazardDutyRecordType.of(row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Register a hazard unit of a site (owner, safety manager); the server "
        "identifies and grades it, and the site's grade follows its units.",
    )
    async def register_hazard_unit(
        self,
        info: Info,
        site_id: strawberry.ID,
        name: str,
        people_within_500m: int,
        substances: list[HazardSubstanceInput],
    ) -> HazardUnitType:
        ctx = info.context
        async with ctx.write() as session:
            unit = await service.register_hazard_unit(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                site_id=parse_id(site_id, "site"),
                name=name,
                people_within_500m=people_within_500m,
                substances=[s.entry_of() for s in substances],
            )
        return HazardUnitType.of(unit)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Change a unit; substances, when given, replace its substances. The unit "
        "is assessed again and the site's grade follows.",
    )
    async def update_hazard_unit(
        self,
        info: Info,
        id: strawberry.ID,
        name: str | None = strawberry.UNSET,
        people_within_500m: int | None = strawberry.UNSET,
        substances: list[HazardSubstanceInput] | None = strawberry.UNSET,
    ) -> HazardUnitType:
        ctx = info.context
        async with ctx.write() as session:
            unit = await service.update_hazard_unit(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                unit_id=parse_id(id, "hazard unit"),
                name=service.KEEP if name is strawberry.UNSET or name is None else name,
                people_within_500m=(
                    service.KEEP
                    if people_within_500m is strawberry.UNSET or people_within_500m is None
                    else people_within_500m
                ),
                substances=(
                    service.KEEP
                    if substances is strawberry.UNSET or substances is None
                    else [s.entry_of() for s in substances]
                ),
            )
        return HazardUnitType.of(unit)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Remove a unit; returns its site, whose grade follows the units left.",
    )
    async def remove_hazard_unit(
        self, info: Info, id: strawberry.ID
    ) -> Annotated[SiteType, strawberry.lazy("tenants.schema")]:
        from tenants.schema import SiteType

        ctx = info.context
        async with ctx.write() as session:
            site = await service.remove_hazard_unit(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                unit_id=parse_id(id, "hazard unit"),
            )
        return SiteType.of(site)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Set a site's major hazard grade by hand (1 to 4, null for none): refused "
        "once the site has hazard units, whose grades it then follows.",
    )
    async def set_site_major_hazard_grade(
        self, info: Info, site_id: strawberry.ID, grade: int | None
    ) -> Annotated[SiteType, strawberry.lazy("tenants.schema")]:
        from tenants.schema import SiteType

        ctx = info.context
        async with ctx.write() as session:
            site = await service.set_site_major_hazard_grade(
                session=session,
                authz=ctx.authz,
                principal=ctx.principal,
                site_id=parse_id(site_id, "site"),
                grade=grade,
            )
        return SiteType.of(site)

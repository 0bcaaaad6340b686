"""GraphQL types of a major hazard source's accountable persons (包保责任人), their duty records
(履职记录) and the register's change history, with the per-request loaders that read them for
every unit of a response in one statement each."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

import strawberry

from backend.auth.context import Info
from backend.oversight.hazards import responsibles
from backend.oversight.hazards.models import (
    HazardDutyRecord,
    HazardResponsible,
    ResponsibleRole,
)
from tenants.models import Worker


@strawberry.enum(name="HazardResponsibleRole")
class HazardResponsibleRoleEnum(enum.Enum):
    MAIN = "main"  # 主要负责人
    TECHNICAL = "technical"  # 技术负责人
    OPERATIONAL = "operational"  # 操作负责人

    @property
    def role(self) -> ResponsibleRole:
        return ResponsibleRole(self.value)

    @classmethod
    def of(cls, role: ResponsibleRole) -> HazardResponsibleRoleEnum:
        return cls(role.value)


@strawberry.enum(name="HazardUnitChangeKind")
class HazardUnitChangeKindEnum(enum.Enum):
    REGISTERED = "registered"
    UPDATED = "updated"
    REMOVED = "removed"
    RESPONSIBLE_ASSIGNED = "responsible_assigned"


@strawberry.type(
    name="HazardResponsibleWorker",
    description="An accountable person of a major hazard source: filed with the regulator and "
    "posted on site, so regulators read the name and mobile in full.",
)
class HazardResponsibleWorkerType:
    id: strawberry.ID
    name: str
    mobile: str | None
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, worker: Worker) -> HazardResponsibleWorkerType:
        return cls(
            id=strawberry.ID(str(worker.id)),
            name=worker.name,
            mobile=worker.mobile,
            tenant_id=worker.tenant_id,
        )


async def _worker(info: Info, worker_id: uuid.UUID | None) -> HazardResponsibleWorkerType | None:
    if worker_id is None:
        return None
    worker = await info.context.rows_by_id(Worker).load(worker_id)
    return None if worker is None else HazardResponsibleWorkerType.of(worker)


@strawberry.type(name="HazardResponsible", description="Who holds one of a unit's three roles.")
class HazardResponsibleType:
    role: HazardResponsibleRoleEnum
    assigned_at: datetime
    worker_id: strawberry.Private[uuid.UUID]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: HazardResponsible) -> HazardResponsibleType:
        return cls(
            role=HazardResponsibleRoleEnum.of(row.role),
            assigned_at=row.assigned_at,
            worker_id=row.worker_id,
            tenant_id=row.tenant_id,
        )

    @strawberry.field
    async def worker(self, info: Info) -> HazardResponsibleWorkerType | None:
        return await _worker(info, self.worker_id)


@strawberry.type(name="HazardDutyRecord", description="A dated check by an accountable person.")
class HazardDutyRecordType:
    id: strawberry.ID
    role: HazardResponsibleRoleEnum
    checked_on: date = strawberry.field(description="The day of the check (China time).")
    findings: str
    recorded_at: datetime
    worker_id: strawberry.Private[uuid.UUID | None]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: HazardDutyRecord) -> HazardDutyRecordType:
        return cls(
            id=strawberry.ID(str(row.id)),
            role=HazardResponsibleRoleEnum.of(row.role),
            checked_on=row.checked_on,
            findings=row.findings,
            recorded_at=row.created_at,
            worker_id=row.worker_id,
            tenant_id=row.tenant_id,
        )

    @strawberry.field(description="Who checked (null once the worker is deleted).")
    async def worker(self, info: Info) -> HazardResponsibleWorkerType | None:
        return await _worker(info, self.worker_id)


_KINDS = {
    responsibles.ChangeKind.REGISTERED: HazardUnitChangeKindEnum.REGISTERED,
    responsibles.ChangeKind.UPDATED: HazardUnitChangeKindEnum.UPDATED,
    responsibles.ChangeKind.REMOVED: HazardUnitChangeKindEnum.REMOVED,
    responsibles.ChangeKind.RESPONSIBLE_ASSIGNED: HazardUnitChangeKindEnum.RESPONSIBLE_ASSIGNED,
}


@strawberry.type(
    name="HazardUnitChange",
    description="One change of the major hazard register, from the audit trail.",
)
class HazardUnitChangeType:
    id: strawberry.ID = strawberry.field(description="The cursor: after of the next page.")
    at: datetime
    kind: HazardUnitChangeKindEnum
    unit_id: strawberry.ID
    unit_name: str | None = strawberry.field(description="The unit's name at the change.")
    site_id: strawberry.ID
    grade_before: int | None
    grade_after: int | None
    fields: list[str] = strawberry.field(description="UPDATED: the fields given.")
    responsible_role: HazardResponsibleRoleEnum | None = strawberry.field(
        description="RESPONSIBLE_ASSIGNED: the role given."
    )
    actor_role: str | None = strawberry.field(description="The role of whoever made it.")
    worker_id: strawberry.Private[uuid.UUID | None]
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, change: responsibles.HazardUnitChange) -> HazardUnitChangeType:
        detail = change.detail
        name = change.figure("after", "name") or change.figure("before", "name")
        role = (
            detail.get("role")
            if change.kind is responsibles.ChangeKind.RESPONSIBLE_ASSIGNED
            else None
        )
        worker = detail.get("after") if role is not None else None
        return cls(
            id=strawberry.ID(str(change.seq)),
            at=change.entry.at,
            kind=_KINDS[change.kind],
            unit_id=strawberry.ID(str(change.unit_id)),
            unit_name=name if isinstance(name, str) else detail.get("name"),
            site_id=strawberry.ID(str(change.site_id)),
            grade_before=change.figure("before", "grade"),
            grade_after=change.figure("after", "grade"),
            fields=[str(f) for f in detail.get("fields", [])],
            responsible_role=None if role is None else HazardResponsibleRoleEnum(role),
            actor_role=change.entry.role,
            worker_id=None if not isinstance(worker, str) else uuid.UUID(worker),
            tenant_id=change.tenant_id,
        )

    @strawberry.field(description="RESPONSIBLE_ASSIGNED: the person given the role.")
    async def responsible(self, info: Info) -> HazardResponsibleWorkerType | None:
        return await _worker(info, self.worker_id)


# --- loaders over the units of a response ----------------------------------------------------


async def responsibles_of(info: Info, unit_id: uuid.UUID) -> list[HazardResponsibleType]:
    session = info.context.session

    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[HazardResponsible]]:
        return await responsibles.responsibles_of_units(session=session, unit_ids=keys)

    loader = info.context.keyed_loader("hazard-unit-responsibles", fetch, missing=[])
    return [HazardResponsibleType.of(r) for r in await loader.load(unit_id)]


async def last_technical_check_of(info: Info, unit_id: uuid.UUID) -> date | None:
    session = info.context.session

    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, date | None]:
        found = await responsibles.last_technical_checks(session=session, unit_ids=keys)
        return dict(found)

    loader = info.context.keyed_loader("hazard-unit-last-technical-check", fetch, missing=None)
    return await loader.load(unit_id)


async def duty_records_of(info: Info, unit_id: uuid.UUID, first: int) -> list[HazardDutyRecordType]:
    session = info.context.session

    async def fetch(keys: list[uuid.UUID]) -> dict[uuid.UUID, list[HazardDutyRecord]]:
        return await responsibles.duty_records_of_units(session=session, unit_ids=keys, first=first)

    loader = info.context.keyed_loader(f"hazard-unit-duty-records-{first}", fetch, missing=[])
    return [HazardDutyRecordType.of(r) for r in await loader.load(unit_id)]

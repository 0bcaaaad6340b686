"""Hazard units (重大危险源辨识单元) and the substances each holds.

A unit keeps what the enterprise entered (its name, the people within 500 m, each substance's
identification and quantity) beside what the server computed from it (Σq/Q, α, R, the grade),
so a regulator reads the same figures the enterprise filed. Substances are site-owned too, so
a regulator's scope reaches exactly the substances of the sites it sees.

A major hazard source has three accountable persons (包保责任人: 主要负责人, 技术负责人,
操作负责人), each a worker of the tenant, and their duty records (履职记录): dated checks of
the source, the technical lead's at least quarterly. Both are site-owned like the unit.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, SiteOwned, string_enum, utcnow

MAX_UNIT_NAME = 200
MAX_SUBSTANCE_NAME = 200
MAX_DUTY_FINDINGS = 2000


class HazardUnit(SiteOwned, Base):
    """One production or storage unit of a site, assessed after GB 18218-2018."""

    __tablename__ = "hazard_units"
    __site_table_args__ = (
        UniqueConstraint("site_id", "name"),
        CheckConstraint("grade BETWEEN 1 AND 4", name="grade"),
        CheckConstraint("people_within_500m >= 0", name="people_within_500m"),
    )

    name: Mapped[str] = mapped_column(String(MAX_UNIT_NAME))
    # People outside the unit's boundary within 500 m (GB 18218 Table 5 reads α from it).
    people_within_500m: Mapped[int]
    alpha: Mapped[float]
    sum_q_over_Q: Mapped[float]  # the standard's S = Σq/Q
    r_value: Mapped[float]
    is_major: Mapped[bool]
    grade: Mapped[int | None]  # 1 (I, the most severe) to 4 (IV); None when not major
    created_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class HazardSubstance(SiteOwned, Base):
    """One substance of a unit: as entered (exactly one of a CAS number, a Table 1 entry or a
    Table 2 category, and its quantity) and as the standard read it (Q, β, q/Q)."""

    __tablename__ = "hazard_substances"
    __site_table_args__ = (Index("ix_hazard_substances_unit_position", "unit_id", "position"),)

    unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazard_units.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    name: Mapped[str | None] = mapped_column(String(MAX_SUBSTANCE_NAME))
    cas_number: Mapped[str | None] = mapped_column(String(32))
    entry: Mapped[int | None]  # the Table 1 entry the substance was identified as
    category: Mapped[str | None] = mapped_column(String(16))  # the Table 2 code
    beta_category: Mapped[str | None] = mapped_column(String(16))
    quantity_tonnes: Mapped[float]
    standard_name_zh: Mapped[str] = mapped_column(String(200))
    standard_name_en: Mapped[str] = mapped_column(String(200))
    critical_quantity_tonnes: Mapped[float]
    beta: Mapped[float]
    q_over_Q: Mapped[float]


class ResponsibleRole(enum.StrEnum):
    """The three accountable persons of a major hazard source (包保责任人)."""

    MAIN = "main"  # 主要负责人
    TECHNICAL = "technical"  # 技术负责人
    OPERATIONAL = "operational"  # 操作负责人


class HazardResponsible(SiteOwned, Base):
    """Who holds one of a unit's three roles: a worker of the tenant (of the unit's site or
    of none). Replacing the person replaces the row; deleting the worker leaves the role
    vacant."""

    __tablename__ = "hazard_responsibles"
    __site_table_args__ = (UniqueConstraint("unit_id", "role"),)

    unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazard_units.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[ResponsibleRole] = mapped_column(string_enum(ResponsibleRole))
    worker_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workers.id", ondelete="CASCADE"), index=True
    )
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_by: Mapped[uuid.UUID | None]


class HazardDutyRecord(SiteOwned, Base):
    """One dated check of a major hazard source by one of its accountable persons, as the
    owner or a safety manager recorded it."""

    __tablename__ = "hazard_duty_records"
    __site_table_args__ = (
        Index("ix_hazard_duty_records_unit_id_role_checked_on", "unit_id", "role", "checked_on"),
    )

    unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazard_units.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[ResponsibleRole] = mapped_column(string_enum(ResponsibleRole))
    # The person holding the role when the check was recorded; null once the worker is deleted.
    worker_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workers.id", ondelete="SET NULL")
    )
    checked_on: Mapped[date]
    findings: Mapped[str] = mapped_column(String(MAX_DUTY_FINDINGS))
    recorded_by: Mapped[uuid.UUID | None]

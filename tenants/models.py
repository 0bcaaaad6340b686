"""Tenants, their sites, zones, plans, subscriptions and people."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, IdMixin, SiteOwned, TenantOwned, string_enum, utcnow
from privacy.crypto import Sealed, SealedRecord


class Industry(enum.StrEnum):
    CHEMICAL = "chemical"
    MINING = "mining"
    CONSTRUCTION = "construction"


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    OFFBOARDING = "offboarding"  # leaving: erased once the legal retention floors have passed
    ERASED = "erased"  # its data deleted and its data key destroyed; the row stays as a record


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"


class Tenant(IdMixin, Base):
    """An enterprise. Not tenant-owned itself: the platform lists tenants for billing."""

    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    industry: Mapped[Industry] = mapped_column(string_enum(Industry))
    division_code: Mapped[str] = mapped_column(String(6))
    status: Mapped[TenantStatus] = mapped_column(
        string_enum(TenantStatus), default=TenantStatus.ACTIVE
    )
    offboarded_at: Mapped[datetime | None]
    # Minutes without use after which its members' sessions end; None: the platform default.
    idle_timeout_minutes: Mapped[int | None]


class Plan(Base):
    """Quotas per site; seeded by ``anjian migrate``."""

    __tablename__ = "plans"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    max_sensors: Mapped[int]
    max_readings_per_minute: Mapped[int]
    default_retention_days: Mapped[int]


class Site(TenantOwned, Base):
    """A plant, a mine or a construction site: the unit of subscription."""

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint("major_hazard_grade BETWEEN 1 AND 4", name="major_hazard_grade"),
        CheckConstraint("length(division_code) = 6", name="division_code"),
        # The target of site-owned rows' composite foreign keys.
        UniqueConstraint("id", "tenant_id"),
    )

    name: Mapped[str] = mapped_column(String(200))
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    industry: Mapped[Industry] = mapped_column(string_enum(Industry))
    address: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    major_hazard_grade: Mapped[int | None]


class Subscription(SiteOwned, Base):
    __tablename__ = "subscriptions"
    __site_table_args__ = (UniqueConstraint("site_id"),)

    plan_code: Mapped[str] = mapped_column(ForeignKey("plans.code"))
    status: Mapped[SubscriptionStatus] = mapped_column(
        string_enum(SubscriptionStatus), default=SubscriptionStatus.ACTIVE
    )
    retention_days: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]


class ZoneKind(enum.StrEnum):
    TANK_FARM = "tank_farm"
    PROCESS_UNIT = "process_unit"
    WAREHOUSE = "warehouse"
    CONFINED_SPACE = "confined_space"
    HOT_WORK = "hot_work"
    WORKING_FACE = "working_face"
    RETURN_AIRWAY = "return_airway"
    HOISTING = "hoisting"
    FOUNDATION_PIT = "foundation_pit"
    SCAFFOLD = "scaffold"
    GENERAL = "general"


class Zone(SiteOwned, Base):
    __tablename__ = "zones"
    __site_table_args__ = (UniqueConstraint("site_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[ZoneKind] = mapped_column(string_enum(ZoneKind), default=ZoneKind.GENERAL)


class Worker(SealedRecord, TenantOwned, Base):
    """A person on the tenant's payroll. Personal data: classified and encrypted by privacy/.

    Name, mobile and ID number are stored as AES-256-GCM ciphertext under the tenant's data
    key; ``worker.name`` reads and takes plaintext. The employee number stays plaintext: it is
    the tenant's own unique key for the person.
    """

    __tablename__ = "workers"
    __table_args__ = (UniqueConstraint("tenant_id", "employee_number"),)

    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    mobile_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    employee_number: Mapped[str] = mapped_column(String(32))
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))

    name = Sealed[str]("name_enc")
    mobile = Sealed[str | None]("mobile_enc")
    id_number = Sealed[str | None]("id_number_enc")

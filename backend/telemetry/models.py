"""The device registry: devices (with their tokens) and the sensors they carry."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, SiteOwned


class Device(SiteOwned, Base):
    __tablename__ = "devices"

    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of a 256-bit random token: the token itself is shown once and never stored.
    token_hash: Mapped[bytes] = mapped_column(unique=True)
    revoked_at: Mapped[datetime | None]
    worker_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workers.id", ondelete="SET NULL")
    )

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class Sensor(SiteOwned, Base):
    __tablename__ = "sensors"
    # Codes name measuring points on the site's drawings: one code, one point per site.
    __site_table_args__ = (UniqueConstraint("site_id", "code"),)

    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(16))
    gas: Mapped[str | None] = mapped_column(String(16))
    min_value: Mapped[float]
    max_value: Mapped[float]
    zone_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("zones.id", ondelete="SET NULL"))

"""Inspection records (检查记录) and their findings.

Both tables are site-owned, like the rectification notices': the enterprise's scope reaches
the inspections of its own sites and a regulator's jurisdiction those of the sites inside it,
so one scoped query serves both sides (another tenant's, or another county's, is not found).

Findings are rows of their own, not a JSON list, so each finding's text is free text the
catalog masks at rest like a notice item's. An inspection issues at most one rectification
notice (``notice_id``, unique).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, SiteOwned, utcnow
from backend.oversight.notices.models import MAX_BASIS, MAX_FINDING

MAX_SUMMARY = 4000


class Inspection(SiteOwned, Base):
    """One inspection of a site by regulators of its jurisdiction."""

    __tablename__ = "inspections"
    __regulator_writes__ = True  # regulators record them and issue notices from them
    __site_table_args__ = (Index("ix_inspections_site_id_inspected_on", "site_id", "inspected_on"),)

    # The most specific division of the recorder's memberships that covers the site.
    division: Mapped[str] = mapped_column(String(6))
    inspected_on: Mapped[date]
    # The regulators who inspected: user ids, as strings.
    inspectors: Mapped[list[str]] = mapped_column(JSON, default=list)
    summary: Mapped[str | None] = mapped_column(String(MAX_SUMMARY))
    created_by: Mapped[uuid.UUID | None]
    notice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("rectification_notices.id", ondelete="SET NULL"), unique=True
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class InspectionFinding(SiteOwned, Base):
    """One finding of an inspection, with the legal basis it was found under."""

    __tablename__ = "inspection_findings"
    __regulator_writes__ = True  # regulators record them
    __site_table_args__ = (UniqueConstraint("inspection_id", "position"),)

    inspection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inspections.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    finding: Mapped[str] = mapped_column(String(MAX_FINDING))
    basis: Mapped[str | None] = mapped_column(String(MAX_BASIS))

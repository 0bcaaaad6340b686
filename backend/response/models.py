"""Response tables: work orders with their timeline, and shift handovers.

A work order's checklist is a small ordered list kept in the row (a JSON array): it is read
and written with its order, never queried item by item. Comments are timeline entries of
kind ``COMMENTED``, so the timeline is the one record of what happened to an order.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, SiteOwned, TenantOwned, string_enum, utcnow

MAX_TITLE = 200
MAX_DESCRIPTION = 4000
MAX_NOTE = 2000


class WorkOrderStatus(enum.StrEnum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    VERIFIED = "VERIFIED"
    CANCELLED = "CANCELLED"


class WorkOrder(SiteOwned, Base):
    """A job someone must do on a site, often because of an alarm or an incident."""

    __tablename__ = "work_orders"
    __site_table_args__ = (Index("ix_work_orders_tenant_created", "tenant_id", "created_at"),)

    alarm_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alarms.id", ondelete="SET NULL"), index=True
    )
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alarm_incidents.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    description: Mapped[str | None] = mapped_column(String(MAX_DESCRIPTION))
    # At most one of the two: a member of the tenant, or one of its workers.
    # User ids without a foreign key, like every other "who" of a record (alarms'
    # acknowledged_by, permits' opened_by): the record outlives the account.
    assignee_user_id: Mapped[uuid.UUID | None]
    assignee_worker_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workers.id", ondelete="SET NULL")
    )
    due_at: Mapped[datetime | None]
    status: Mapped[WorkOrderStatus] = mapped_column(string_enum(WorkOrderStatus), index=True)
    # [{"text": str, "done": bool, "done_by": str | None, "done_at": iso str | None}, ...]
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkOrderEvent(TenantOwned, Base):
    """One entry of a work order's timeline: who did what, when, with an optional note."""

    __tablename__ = "work_order_events"

    work_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))  # CREATED UPDATED STATUS CHECKED COMMENTED
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(64))  # a user id, or "system"
    note: Mapped[str | None] = mapped_column(String(MAX_NOTE))
    # What changed, by kind: {"from": …, "to": …}, {"index": …, "done": …}, {"fields": […]}.
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    photos: Mapped[list[str] | None] = mapped_column(JSON)


class Handover(SiteOwned, Base):
    """A shift handover (交接班): what was open on the site when the outgoing shift left,
    signed by the outgoing and, on acceptance, by the incoming shift."""

    __tablename__ = "shift_handovers"
    __site_table_args__ = (Index("ix_shift_handovers_site_created", "site_id", "created_at"),)

    note: Mapped[str] = mapped_column(String(MAX_NOTE))
    handed_over_by: Mapped[uuid.UUID]
    handed_over_at: Mapped[datetime]
    # {"alarms": {"total": n, "items": […]}, "permits": {…}, "work_orders": {…}}
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    accepted_by: Mapped[uuid.UUID | None]
    accepted_at: Mapped[datetime | None]
    accept_note: Mapped[str | None] = mapped_column(String(MAX_NOTE))

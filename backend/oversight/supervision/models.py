"""Alarm supervisions (督办) and their timeline.

Both tables are site-owned, like the rectification notices': the enterprise's scope reaches
its own supervisions and a regulator's jurisdiction reaches those of the sites inside it, so
one scoped query serves both sides (another tenant's, or another county's, is not found).

An alarm has at most one open (not accepted) supervision: a partial unique index says so, so
two regulators asking at once cannot both open one. Whether a supervision is overdue is
computed from its deadline and status against the clock, never stored.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, SiteOwned, string_enum, utcnow

MAX_REQUEST = 2000
MAX_REPORT = 4000
MAX_COMMENT = 2000


class SupervisionStatus(enum.StrEnum):
    REQUESTED = "REQUESTED"  # waiting for the enterprise's report
    REPORTED = "REPORTED"  # reported; waiting for the regulator
    ACCEPTED = "ACCEPTED"  # the regulator accepted the report: closed
    RETURNED = "RETURNED"  # the regulator sent the report back: waiting for the enterprise


# The statuses in which a supervision waits for the enterprise (and so can be overdue).
WAITING_FOR_ENTERPRISE = (SupervisionStatus.REQUESTED, SupervisionStatus.RETURNED)


class SupervisionEventKind(enum.StrEnum):
    REQUESTED = "REQUESTED"
    REPORTED = "REPORTED"
    ACCEPTED = "ACCEPTED"
    RETURNED = "RETURNED"


class AlarmSupervision(SiteOwned, Base):
    """One request of a regulator for the enterprise's handling report on one alarm."""

    __tablename__ = "alarm_supervisions"
    __regulator_writes__ = True  # regulators request, accept and return them
    __site_table_args__ = (
        # At most one open supervision per alarm: the loser of two requests at once is refused.
        Index(
            "uq_alarm_supervisions_open_alarm",
            "alarm_id",
            unique=True,
            sqlite_where=text("status <> 'ACCEPTED'"),
            postgresql_where=text("status <> 'ACCEPTED'"),
        ),
        Index("ix_alarm_supervisions_status_deadline", "status", "deadline"),
    )

    alarm_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alarms.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[SupervisionStatus] = mapped_column(string_enum(SupervisionStatus))
    deadline: Mapped[datetime]
    request: Mapped[str] = mapped_column(String(MAX_REQUEST))
    requested_at: Mapped[datetime]
    requested_by: Mapped[uuid.UUID | None]
    # The enterprise's latest report (each round's is also kept on the timeline).
    report: Mapped[str | None] = mapped_column(String(MAX_REPORT))
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    reported_at: Mapped[datetime | None]
    reported_by: Mapped[uuid.UUID | None]
    # The regulator's comment when it last returned the report.
    return_comment: Mapped[str | None] = mapped_column(String(MAX_COMMENT))
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SupervisionEvent(SiteOwned, Base):
    """One step of a supervision's timeline: who did what, when, with the words said (the
    round's report, the regulator's comment), so a returned report is kept."""

    __tablename__ = "alarm_supervision_events"
    __regulator_writes__ = True  # regulators request, accept and return them

    supervision_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alarm_supervisions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[SupervisionEventKind] = mapped_column(string_enum(SupervisionEventKind))
    at: Mapped[datetime]
    actor: Mapped[uuid.UUID | None]
    comment: Mapped[str | None] = mapped_column(String(MAX_REPORT))

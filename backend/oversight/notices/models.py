"""Rectification notices (整改通知书), their items, the enterprise's answers and their timeline.

Every table is site-owned, like the hazard register's: the enterprise's scope reaches its own
notices and a regulator's jurisdiction reaches the notices of the sites inside it, so one
scoped query serves both sides (another tenant's notice, or another county's, is not found).

A notice's number is sequential per issuing division and year: ``(issuing_division, year,
sequence)`` is unique, so two regulators issuing at once cannot share a number (the loser of
the race takes the next one). Whether a notice is overdue is computed from its deadline and
status against the clock, never stored; ``overdue_notified_at`` only records that the
issuing division's directors were told.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, SiteOwned, string_enum, utcnow

MAX_FINDING = 2000
MAX_BASIS = 1000
MAX_RESPONSE = 4000
MAX_COMMENT = 2000


class NoticeStatus(enum.StrEnum):
    ISSUED = "ISSUED"  # waiting for the enterprise's answer
    RESPONDED = "RESPONDED"  # answered; waiting for the regulator
    VERIFIED = "VERIFIED"  # the regulator accepted the answer: closed
    RETURNED = "RETURNED"  # the regulator sent the answer back: waiting for the enterprise


# The statuses in which a notice waits for the enterprise (and so can be overdue).
WAITING_FOR_ENTERPRISE = (NoticeStatus.ISSUED, NoticeStatus.RETURNED)


class NoticeEventKind(enum.StrEnum):
    ISSUED = "ISSUED"
    RECEIVED = "RECEIVED"  # 送达: the enterprise acknowledged receipt
    RESPONDED = "RESPONDED"
    VERIFIED = "VERIFIED"
    RETURNED = "RETURNED"


class RectificationNotice(SiteOwned, Base):
    """One notice a regulator issued to the enterprise owning the site."""

    __tablename__ = "rectification_notices"
    __regulator_writes__ = True  # regulators issue, verify and return them
    __site_table_args__ = (
        UniqueConstraint("issuing_division", "year", "sequence"),
        Index("ix_rectification_notices_status_deadline", "status", "deadline"),
    )

    issuing_division: Mapped[str] = mapped_column(String(6))
    year: Mapped[int]
    sequence: Mapped[int]
    status: Mapped[NoticeStatus] = mapped_column(string_enum(NoticeStatus))
    deadline: Mapped[datetime]
    issued_at: Mapped[datetime]
    issued_by: Mapped[uuid.UUID | None]
    received_at: Mapped[datetime | None]
    received_by: Mapped[uuid.UUID | None]
    # The regulator's comment when it last returned the notice.
    return_comment: Mapped[str | None] = mapped_column(String(MAX_COMMENT))
    # When the issuing division's directors were told the deadline had passed (once).
    overdue_notified_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoticeItem(SiteOwned, Base):
    """One finding of a notice, with the legal basis it was found under."""

    __tablename__ = "notice_items"
    __regulator_writes__ = True  # regulators issue, verify and return them
    __site_table_args__ = (UniqueConstraint("notice_id", "position"),)

    notice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rectification_notices.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    finding: Mapped[str] = mapped_column(String(MAX_FINDING))
    basis: Mapped[str | None] = mapped_column(String(MAX_BASIS))
    # The regulator's photos of the finding: keys uploaded through ``POST /api/v1/photos``
    # for the notice's site (``photos/<tenant id>/<site id>/<uuid>.<jpg|png>``).
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)


class NoticeResponse(SiteOwned, Base):
    """The enterprise's answer to one item in one round (a returned notice is answered again;
    the earlier rounds are kept)."""

    __tablename__ = "notice_responses"
    __site_table_args__ = (UniqueConstraint("item_id", "round"),)

    notice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rectification_notices.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notice_items.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int]
    text: Mapped[str] = mapped_column(String(MAX_RESPONSE))
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    responded_at: Mapped[datetime]
    responded_by: Mapped[uuid.UUID | None]


class NoticeEvent(SiteOwned, Base):
    """One step of a notice's timeline: who did what, when, with the regulator's comment."""

    __tablename__ = "notice_events"
    __regulator_writes__ = True  # regulators issue, verify and return them

    notice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rectification_notices.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[NoticeEventKind] = mapped_column(string_enum(NoticeEventKind))
    at: Mapped[datetime]
    actor: Mapped[uuid.UUID | None]
    comment: Mapped[str | None] = mapped_column(String(MAX_COMMENT))

"""Public hazard reports (安全生产隐患举报): the report, its public timeline, its photos, the
proofs of work spent on it and the networks refused.

Reports belong to the public and to the division that handles them, not to a tenant: none of
these tables is tenant-owned, and no enterprise scope reaches them. What identifies the
reporter is sealed under the platform data key (``privacy.crypto``): the contact's name and
mobile, and the free text (description, address, the enterprise named), which may name
people; what the reporter's client address says is kept only as a keyed hash, for 30 days
(``privacy/retention.py``). The receipt code is kept only as its SHA-256: 80 random bits
need no key to be unguessable, and nothing stored can be turned back into a code.

Deadlines follow the national rules: a report is accepted or refused within
``ACCEPT_WITHIN`` of its arrival, closed within 60 days of acceptance (30 more with
approval), and the reporter is told within 10 days of completion.

The timeline holds public entries, what the reporter reads when tracking the report, and
internal ones (the investigation's notes, assignments, extensions), which only regulators read.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, IdMixin, string_enum
from privacy.crypto import Sealed, SealedRecord

MAX_DESCRIPTION = 2000
MIN_DESCRIPTION = 5
MAX_ADDRESS = 200
MAX_SUBJECT = 200
MAX_NAME = 50
MAX_NOTE = 1000
MAX_OUTCOME = 4000
MAX_PHOTOS = 5

# Deciding whether to accept: platform policy, so an unaccepted report moves up in good time.
ACCEPT_WITHIN = timedelta(days=5)
# 60 days from acceptance to close, 30 more with approval; feedback within 10 days of completion.
CLOSE_WITHIN = timedelta(days=60)
CLOSE_EXTENSION = timedelta(days=30)
FEEDBACK_WITHIN = timedelta(days=10)


class ReportStatus(enum.StrEnum):
    RECEIVED = "RECEIVED"  # arrived; waiting for the handling division to accept it
    ACCEPTED = "ACCEPTED"  # 受理
    REJECTED = "REJECTED"  # 不予受理: duplicate, out of scope, not enough information
    INVESTIGATING = "INVESTIGATING"  # 核查中
    CLOSED = "CLOSED"  # 办结: the outcome is published to the reporter
    MERGED = "MERGED"  # a duplicate of another report, handled with it


# Handled: nothing more happens to it but the feedback and the published summary.
OPEN_STATUSES = (ReportStatus.RECEIVED, ReportStatus.ACCEPTED, ReportStatus.INVESTIGATING)
# Accepted and not yet closed: the 60-day deadline runs.
IN_HAND = (ReportStatus.ACCEPTED, ReportStatus.INVESTIGATING)


class RejectReason(enum.StrEnum):
    """Why a report is not accepted (不予受理), published to the reporter with a note."""

    DUPLICATE = "DUPLICATE"  # 重复举报
    OUT_OF_SCOPE = "OUT_OF_SCOPE"  # 不属于安全生产监管范围
    INSUFFICIENT_INFORMATION = "INSUFFICIENT_INFORMATION"  # 信息不足，无法核查


class HazardReport(SealedRecord, IdMixin, Base):
    """One report from the public."""

    __tablename__ = "hazard_reports"
    __table_args__ = (
        Index(
            "ix_hazard_reports_handling_division_code_status", "handling_division_code", "status"
        ),
    )

    receipt_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    description_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # Where the hazard is (GB/T 2260), and the division that handles it: the most specific
    # one covering it with regulator accounts.
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    handling_division_code: Mapped[str] = mapped_column(String(6))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The enterprise or site named by the reporter, as written.
    subject_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    observed_at: Mapped[datetime | None]
    contact_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_mobile_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[ReportStatus] = mapped_column(string_enum(ReportStatus), index=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    accept_due_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    # Set on acceptance (``CLOSE_WITHIN``), moved once by an approved extension.
    close_due_at: Mapped[datetime | None]
    close_extended: Mapped[bool] = mapped_column(default=False)
    closed_at: Mapped[datetime | None]
    # Set on completion (``FEEDBACK_WITHIN``); ``feedback_at`` when the reporter was told.
    feedback_due_at: Mapped[datetime | None]
    feedback_at: Mapped[datetime | None]
    assigned_to: Mapped[uuid.UUID | None]
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("hazard_reports.id", ondelete="SET NULL")
    )
    # The result recorded at closing (internal), and the summary the handler drafts and the
    # director publishes: what the tracking page shows once closed and Open311's public
    # listing shows. The summary is refused while it carries personal data.
    outcome: Mapped[str | None] = mapped_column(String(MAX_OUTCOME))
    public_summary: Mapped[str | None] = mapped_column(String(MAX_OUTCOME))
    summary_published_at: Mapped[datetime | None]
    reject_reason: Mapped[RejectReason | None] = mapped_column(string_enum(RejectReason))
    # 举报奖励: whether a real-name report qualifies, decided at closing (null until then).
    reward_eligible: Mapped[bool | None]
    # The registered site the regulator confirmed the report is about (not tenant data: a
    # reference only, read through the regulator's own scope).
    subject_site_id: Mapped[uuid.UUID | None]
    # The inspection and the rectification notice the investigation led to.
    linked_inspection_id: Mapped[uuid.UUID | None]
    linked_notice_id: Mapped[uuid.UUID | None]
    # The deadline the handling division's directors were last mailed about as missed (each
    # missed deadline is told once; a new one, after an extension or a move, again).
    overdue_notified_due: Mapped[datetime | None]
    # HMAC of the client's address (its /64 for IPv6), for abuse review; erased after 30 days.
    client_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)

    description = Sealed[str]("description_enc")
    address = Sealed[str | None]("address_enc")
    subject = Sealed[str | None]("subject_enc")
    contact_name = Sealed[str | None]("contact_name_enc")
    contact_mobile = Sealed[str | None]("contact_mobile_enc")


class ReportEvent(IdMixin, Base):
    """One entry of a report's timeline: public (the reporter reads it when tracking the
    report) or internal (regulators only)."""

    __tablename__ = "hazard_report_events"

    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hazard_reports.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    status: Mapped[ReportStatus] = mapped_column(string_enum(ReportStatus))
    # Identifiers PII detection finds are masked on write.
    note: Mapped[str | None] = mapped_column(String(MAX_NOTE))
    internal: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The regulator who acted; none for the reporter and the system (escalation).
    actor_id: Mapped[uuid.UUID | None]


class ReportPhoto(IdMixin, Base):
    """A sanitised upload (no metadata, faces pixelated) under an unguessable key; unclaimed
    by a report within an hour it is deleted."""

    __tablename__ = "hazard_report_photos"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    media_type: Mapped[str] = mapped_column(String(32))
    uploaded_at: Mapped[datetime] = mapped_column(index=True)
    # SHA-256 of the challenge the upload spent a slot of.
    challenge_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    report_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("hazard_reports.id", ondelete="CASCADE"), index=True
    )


class ReportChallenge(Base):
    """What a solved challenge has been spent on, so that every server process agrees: at most
    ``MAX_PHOTOS`` uploads and one report. Only challenges that were used have a row."""

    __tablename__ = "hazard_report_challenges"

    challenge_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    photos: Mapped[int] = mapped_column(Integer, default=0)
    reported_at: Mapped[datetime | None]
    # After this the challenge is refused anyway and the row may go.
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ReportBlock(IdMixin, Base):
    """A client network refused by the platform administrator (``anjian reports block``)."""

    __tablename__ = "hazard_report_blocks"

    network: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str | None] = mapped_column(String(200))

"""Every alarm table: rules and their revisions, alarms, incidents and transitions, the
transactional outbox, silences, work permits, notification channels and delivery receipts."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from backend.alarms.rules import PermitKind, Severity
from backend.core.db import Base, SiteOwned, TenantOwned, string_enum, utcnow
from privacy.crypto import Sealed, SealedRecord

MAX_SILENCE_REASON = 500
MAX_CHANNEL_TARGET = 500
MAX_DELIVERY_ERROR = 500
MAX_SNAPSHOT_KEY = 255


def severity_column() -> Enum:
    """A severity as the checked string it always was (``VARCHAR(8)``), read back as
    ``Severity``: the stored column is unchanged, the code sees the enum."""
    return Enum(
        Severity,
        native_enum=False,
        length=8,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class AlarmStatus(enum.StrEnum):
    ACTIVE_UNACKNOWLEDGED = "ACTIVE_UNACKNOWLEDGED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    DISPATCHED = "DISPATCHED"
    CLEARED = "CLEARED"
    CLOSED = "CLOSED"


class Verdict(enum.StrEnum):
    TRUE_POSITIVE = "TRUE_POSITIVE"
    FALSE_POSITIVE = "FALSE_POSITIVE"


class AlarmRule(SiteOwned, Base):
    """One rule on one sensor (or, for event rules, one device). The definition is data
    (``RuleSpec.as_json``); every change adds a revision and bumps ``version``."""

    __tablename__ = "alarm_rules"
    __site_table_args__ = (
        Index(
            "uq_alarm_rules_sensor_default",
            "sensor_id",
            "default_slot",
            unique=True,
            sqlite_where=text("default_slot IS NOT NULL AND sensor_id IS NOT NULL"),
            postgresql_where=text("default_slot IS NOT NULL AND sensor_id IS NOT NULL"),
        ),
        Index(
            "uq_alarm_rules_device_default",
            "device_id",
            "default_slot",
            unique=True,
            sqlite_where=text("default_slot IS NOT NULL AND sensor_id IS NULL"),
            postgresql_where=text("default_slot IS NOT NULL AND sensor_id IS NULL"),
        ),
        Index(
            "uq_alarm_rules_zone_default",
            "zone_id",
            "default_slot",
            unique=True,
            sqlite_where=text("default_slot IS NOT NULL AND zone_id IS NOT NULL"),
            postgresql_where=text("default_slot IS NOT NULL AND zone_id IS NOT NULL"),
        ),
    )

    sensor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sensors.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    # Zone-level rules (composite: gas high while a hot-work permit is open) have neither.
    zone_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("zones.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(64))  # "library:chemical@1" or "override"
    # Which library default this rule is ("threshold:0", "event:wearable.sos"); unique per
    # sensor or device, so two servers giving a new sensor its defaults cannot both succeed.
    default_slot: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(default=True)


class RuleRevision(TenantOwned, Base):
    """Every version of a rule's definition: who changed it, when, from what, and why."""

    __tablename__ = "alarm_rule_revisions"

    rule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alarm_rules.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))


class Alarm(SiteOwned, Base):
    __tablename__ = "alarms"
    __site_table_args__ = (
        # One active alarm per rule × sensor: a repeat refreshes it instead of adding one.
        Index(
            "uq_alarms_active_rule_sensor",
            "rule_id",
            "sensor_id",
            unique=True,
            sqlite_where=text("cleared_at IS NULL"),
            postgresql_where=text("cleared_at IS NULL"),
        ),
        Index("ix_alarms_tenant_raised", "tenant_id", "raised_at"),
        Index("ix_alarms_escalate_at", "escalate_at"),
        Index("ix_alarms_remind_at", "remind_at"),
    )

    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alarm_rules.id", ondelete="CASCADE"))
    sensor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sensors.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE")
    )
    zone_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("zones.id", ondelete="SET NULL"),
        index=True,  # a raise looks up its zone's
    )
    severity: Mapped[Severity] = mapped_column(severity_column())
    level: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[AlarmStatus] = mapped_column(string_enum(AlarmStatus), index=True)
    value: Mapped[float | None]
    peak_value: Mapped[float | None]
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None]
    dispatched_at: Mapped[datetime | None]
    assignee: Mapped[str | None] = mapped_column(String(200))
    cleared_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    verdict: Mapped[Verdict | None] = mapped_column(string_enum(Verdict))
    cause: Mapped[str | None] = mapped_column(String(2000))
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    # When the next escalation step and the next reminder fall due while nobody acknowledges:
    # kept in the row, so a restart escalates on time instead of forgetting.
    escalate_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None]
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    # Raised inside a silence or while flapping: recorded and shown, but nobody is paged.
    silence_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alarm_silences.id", ondelete="SET NULL")
    )
    flapping: Mapped[bool] = mapped_column(default=False)
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alarm_incidents.id", ondelete="SET NULL"), index=True
    )
    # An event alarm's camera frame: the snapshot key of the event that raised it, or of the
    # latest one that raised it again (served, faces pixelated, by GET /api/v1/snapshots/…).
    snapshot_key: Mapped[str | None] = mapped_column(String(MAX_SNAPSHOT_KEY))

    @hybrid_property
    def acknowledged(self) -> bool:
        """Someone acknowledged the alarm: derived from ``acknowledged_at``, its one source."""
        return self.acknowledged_at is not None

    @acknowledged.inplace.expression
    @classmethod
    def _acknowledged_expression(cls) -> ColumnElement[bool]:
        return cls.acknowledged_at.is_not(None)

    @property
    def pages_people(self) -> bool:
        return self.silence_id is None and not self.flapping


class AlarmIncident(SiteOwned, Base):
    """Alarms of one zone raised close together: one situation for the people responding."""

    __tablename__ = "alarm_incidents"

    zone_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("zones.id", ondelete="SET NULL"), index=True
    )
    severity: Mapped[Severity] = mapped_column(severity_column())
    alarm_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime]
    last_alarm_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class EscalationNotice(TenantOwned, Base):
    """One escalation delivered to one person (by e-mail): a retried job skips them."""

    __tablename__ = "escalation_notices"
    __table_args__ = (UniqueConstraint("outbox_seq", "user_id"),)

    outbox_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlarmTransition(TenantOwned, Base):
    """Every state change with who and when; MTTA and MTTR are derived from these."""

    __tablename__ = "alarm_transitions"

    alarm_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alarms.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))  # RAISED SEVERITY_CHANGED ACKNOWLEDGED …
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(64))  # user id, or "engine"
    note: Mapped[str | None] = mapped_column(String(2000))
    severity: Mapped[Severity | None] = mapped_column(severity_column())
    # A DISPATCHED step picked from the assignees: the member or worker sent (the alarm keeps
    # only the name), so the person can be linked from the timeline or a work order.
    assignee_user_id: Mapped[uuid.UUID | None]
    assignee_worker_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workers.id", ondelete="SET NULL")
    )


class OutboxMessage(Base):
    """Committed with the change it announces; the relay hands it to Dramatiq and to GraphQL
    subscribers, and marks it sent. Not tenant-scoped: only the relay reads it."""

    __tablename__ = "outbox"
    # Without AUTOINCREMENT SQLite hands out the numbers of deleted newest rows again, and the
    # delivery receipts keyed by ``seq`` would then make a new change look already delivered.
    __table_args__ = ({"sqlite_autoincrement": True},)

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)


class Silence(SiteOwned, Base):
    """A window in which a site, one of its zones or one sensor pages nobody."""

    __tablename__ = "alarm_silences"
    __site_table_args__ = (Index("ix_alarm_silences_site_expires", "site_id", "expires_at"),)

    zone_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("zones.id", ondelete="CASCADE"), index=True
    )
    sensor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sensors.id", ondelete="CASCADE"), index=True
    )
    owner: Mapped[uuid.UUID | None]  # the user who created it (None: the command line)
    reason: Mapped[str] = mapped_column(String(MAX_SILENCE_REASON))
    starts_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[uuid.UUID | None]

    def in_window(self, at: datetime) -> bool:
        if self.cancelled_at is not None and self.cancelled_at <= at:
            return False
        return self.starts_at <= at < self.expires_at


class WorkPermit(SealedRecord, SiteOwned, Base):
    """Hot work, confined-space entry and the like, open in one zone; the note names the
    people on the job, so it is sealed at rest."""

    __tablename__ = "work_permits"

    zone_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("zones.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[PermitKind] = mapped_column(string_enum(PermitKind))
    opened_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    opened_by: Mapped[uuid.UUID | None]
    closed_by: Mapped[uuid.UUID | None]
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)

    note = Sealed[str | None]("note_enc")

    def open_at(self, at: datetime) -> bool:
        if self.closed_at is not None and self.closed_at <= at:
            return False
        return self.opened_at <= at < self.expires_at


class ChannelKind(enum.StrEnum):
    WEBHOOK = "WEBHOOK"
    EMAIL = "EMAIL"
    SMS = "SMS"


class NotificationChannel(TenantOwned, Base):
    """Where a tenant's alarm events go, optionally only one site's."""

    __tablename__ = "notification_channels"
    __table_args__ = (
        # Nullable composite key: a site-bound channel's site must belong to its tenant.
        ForeignKeyConstraint(
            ["site_id", "tenant_id"], ["sites.id", "sites.tenant_id"], ondelete="CASCADE"
        ),
    )

    kind: Mapped[ChannelKind] = mapped_column(string_enum(ChannelKind))
    target: Mapped[str] = mapped_column(String(MAX_CHANNEL_TARGET))
    secret: Mapped[str | None] = mapped_column(String(128))
    min_severity: Mapped[Severity] = mapped_column(severity_column())
    enabled: Mapped[bool] = mapped_column(default=True)
    site_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # The last delivery given up on for good (a refused target), for the channel's managers.
    last_error: Mapped[str | None] = mapped_column(String(MAX_DELIVERY_ERROR))
    last_error_at: Mapped[datetime | None]

    def wants(self, severity: str, site_id: str | None) -> bool:
        """Whether an event of an alarm with this severity on this site goes here."""
        if not self.enabled:
            return False
        if self.site_id is not None and str(self.site_id) != site_id:
            return False
        try:
            return Severity(severity).rank >= self.min_severity.rank
        except ValueError:
            return False


class NotificationDelivery(TenantOwned, Base):
    """One outbox event delivered to one channel: the receiver has it, never send it again."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (UniqueConstraint("outbox_seq", "channel_id"),)

    outbox_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True
    )
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the event was not delivered and never will be (the target was refused): the
    # row still closes the (event, channel) pair, so retries do not try it again.
    error: Mapped[str | None] = mapped_column(String(MAX_DELIVERY_ERROR))

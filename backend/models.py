"""Every ORM model, imported once so the metadata is complete (Alembic, the scope guard)."""

from __future__ import annotations

from backend.alarms.models import (
    Alarm,
    AlarmIncident,
    AlarmRule,
    AlarmTransition,
    EscalationNotice,
    NotificationChannel,
    NotificationDelivery,
    OutboxMessage,
    RuleRevision,
    Silence,
    WorkPermit,
)
from backend.auth.mail_outbox import MailOutboxMessage
from backend.auth.models import (
    AuthSession,
    AuthzState,
    CasbinRule,
    Invitation,
    LoginThrottle,
    Membership,
    User,
)
from backend.core.db import Base
from backend.oversight.hazards.models import HazardSubstance, HazardUnit
from backend.oversight.inspections.models import Inspection, InspectionFinding
from backend.oversight.notices.models import (
    NoticeEvent,
    NoticeItem,
    NoticeResponse,
    RectificationNotice,
)
from backend.oversight.supervision.models import AlarmSupervision, SupervisionEvent
from backend.reports.models import (
    HazardReport,
    ReportBlock,
    ReportChallenge,
    ReportEvent,
    ReportPhoto,
)
from backend.reports.open311.models import Open311Key, Open311Request
from backend.response.models import Handover, WorkOrder, WorkOrderEvent
from backend.telemetry.models import Device, Sensor
from privacy.audit import AuditEntry, AuditHead
from privacy.checkpoints import AuditCheckpoint
from privacy.crypto import PlatformDataKey, TenantDataKey
from tenants.models import Plan, Site, Subscription, Tenant, Worker, Zone

__all__ = [
    "Alarm",
    "AlarmIncident",
    "AlarmRule",
    "AlarmSupervision",
    "AlarmTransition",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "AuthSession",
    "AuthzState",
    "Base",
    "CasbinRule",
    "Device",
    "EscalationNotice",
    "Handover",
    "HazardReport",
    "HazardSubstance",
    "HazardUnit",
    "Inspection",
    "InspectionFinding",
    "Invitation",
    "LoginThrottle",
    "MailOutboxMessage",
    "Membership",
    "NoticeEvent",
    "NoticeItem",
    "NoticeResponse",
    "NotificationChannel",
    "NotificationDelivery",
    "Open311Key",
    "Open311Request",
    "OutboxMessage",
    "Plan",
    "PlatformDataKey",
    "RectificationNotice",
    "ReportBlock",
    "ReportChallenge",
    "ReportEvent",
    "ReportPhoto",
    "RuleRevision",
    "Sensor",
    "Silence",
    "Site",
    "Subscription",
    "SupervisionEvent",
    "Tenant",
    "TenantDataKey",
    "User",
    "WorkOrder",
    "WorkOrderEvent",
    "WorkPermit",
    "Worker",
    "Zone",
]

"""How long each class of data is kept, and the legal minimums no plan can go below.

Floors: monitoring records of major hazard sources (重大危险源) are kept at least 30 days
(AQ 3035-2010 §5, GB 17681-2024); audit logs at least six months (Cybersecurity Law art. 21),
a floor the audit purge enforces itself (``privacy.audit.retention_floor``).
A plan's telemetry retention applies as ClickHouse TTLs per row; relational data is purged by
the retention job (backend/jobs/retention.py); an offboarded tenant is erased — its rows
deleted and its data key destroyed — once every floor covering its data has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

MAJOR_HAZARD_MONITORING_FLOOR = timedelta(days=30)


@dataclass(frozen=True)
class RetentionRule:
    data: str
    keep: timedelta
    basis: str


# Relational data the job purges (telemetry follows the plan, audit has its own purge).
RULES = (
    RetentionRule("closed alarms and their transitions", timedelta(days=365), "platform policy"),
    RetentionRule("relayed outbox messages", timedelta(days=7), "platform policy"),
    RetentionRule("notification and escalation receipts", timedelta(days=90), "platform policy"),
    RetentionRule("ended sign-in sessions", timedelta(days=30), "platform policy"),
    RetentionRule("unaccepted expired invitations", timedelta(days=30), "platform policy"),
    RetentionRule("hazard reporters' client address hashes", timedelta(days=30), "platform policy"),
    RetentionRule("audit entries (behind a signed checkpoint)", timedelta(days=365), "CSL art. 21"),
)
KEEP = {rule.data: rule.keep for rule in RULES}


def telemetry_retention_days(plan_days: int, *, major_hazard: bool) -> int:
    """The retention a site's readings get: its plan's, but never below the floor."""
    if major_hazard:
        return max(plan_days, MAJOR_HAZARD_MONITORING_FLOOR.days)
    return plan_days


def erasure_delay(*, major_hazard: bool) -> timedelta:
    """How long after offboarding a tenant's data may be erased: its monitoring records of
    major hazard sources must outlive the floor. (Audit entries are not tenant data here:
    they stay for their own floor.)"""
    return MAJOR_HAZARD_MONITORING_FLOOR if major_hazard else timedelta(0)

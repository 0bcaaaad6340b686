"""Builders and GraphQL documents shared by the response tests.

The session's world is shared by many tests, so each test that lists or snapshots works on a
site of its own (``new_site``) and counts only what it made there.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from backend.alarms.models import Alarm, AlarmRule, AlarmStatus, Verdict
from backend.alarms.rules import Severity
from backend.runtime import Runtime
from privacy.audit import READ_ACTION, AuditEntry
from tenants.scope import Scope, scoped_session, unscoped_session
from tests.graphql import GraphQLClient, Result

ORDER_FIELDS = """id title description status dueAt assigneeUserId assigneeWorkerId
  siteId alarmId incidentId createdBy overdue
  checklist { index text done doneBy doneAt }
  timeline { kind actor note fromStatus toStatus itemIndex itemDone changedFields photos }
  comments { author text photos }"""

CREATE = f"""mutation($title: String!, $site: ID, $alarm: ID, $incident: ID, $description: String,
  $user: ID, $worker: ID, $due: DateTime, $checklist: [String!]) {{
  createWorkOrder(title: $title, siteId: $site, alarmId: $alarm, incidentId: $incident,
    description: $description, assigneeUserId: $user, assigneeWorkerId: $worker, dueAt: $due,
    checklist: $checklist) {{ {ORDER_FIELDS} }}
}}"""
STATUS = f"""mutation($id: ID!, $status: WorkOrderStatus!, $note: String) {{
  setWorkOrderStatus(id: $id, status: $status, note: $note) {{ {ORDER_FIELDS} }}
}}"""
CHECK = f"""mutation($id: ID!, $index: Int!, $done: Boolean!) {{
  checkWorkOrderItem(id: $id, index: $index, done: $done) {{ {ORDER_FIELDS} }}
}}"""
COMMENT = f"""mutation($id: ID!, $text: String!, $photos: [String!]) {{
  commentWorkOrder(id: $id, text: $text, photos: $photos) {{ {ORDER_FIELDS} }}
}}"""
ONE = f"""query($id: ID!) {{ workOrder(id: $id) {{ {ORDER_FIELDS}
  alarm {{ id severity status verdict cause }} site {{ id }} }} }}"""
LIST = """query($site: ID, $status: WorkOrderStatus, $first: Int, $after: ID) {
  workOrders(siteId: $site, status: $status, first: $first, after: $after) { id title status }
}"""

HANDOVER_FIELDS = """id siteId note handedOverBy handedOverAt acceptedBy acceptedAt acceptNote
  accepted openAlarmCount openPermitCount openWorkOrderCount
  openAlarms { id severity status sensorCode } openPermits { id kind zoneId zoneName }
  openWorkOrders { id title status }"""
CREATE_HANDOVER = f"""mutation($site: ID!, $note: String!) {{
  createHandover(siteId: $site, note: $note) {{ {HANDOVER_FIELDS} }} }}"""
ACCEPT_HANDOVER = f"""mutation($id: ID!, $note: String) {{
  acceptHandover(id: $id, note: $note) {{ {HANDOVER_FIELDS} }} }}"""
HANDOVERS = """query($site: ID!, $first: Int, $after: ID) {
  handovers(siteId: $site, first: $first, after: $after) { id note accepted } }"""


def future(hours: float = 4) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def ok(api: GraphQLClient, user: str, document: str, /, **variables: Any) -> dict[str, Any]:
    """A request that must succeed; its single root field's value."""
    result = await api.query(document, variables, as_user=user)
    assert result.status == 200 and not result.codes, result.body
    assert result.data is not None
    (value,) = result.data.values()
    return value  # type: ignore[no-any-return]


async def ask(api: GraphQLClient, user: str, document: str, /, **variables: Any) -> Result:
    return await api.query(document, variables, as_user=user)


async def add_alarm(
    rt: Runtime,
    tenant_id: uuid.UUID,
    site_id: uuid.UUID,
    *,
    rule_id: uuid.UUID | None = None,
    sensor_id: uuid.UUID | None = None,
    status: AlarmStatus = AlarmStatus.ACTIVE_UNACKNOWLEDGED,
    verdict: Verdict | None = None,
    cause: str | None = None,
    severity: Severity = Severity.ORANGE,
) -> tuple[uuid.UUID, uuid.UUID]:
    """An alarm row (and a disabled rule for it, unless ``rule_id`` is given): the engine is
    not what these tests are about. Returns (alarm id, rule id)."""
    raised = datetime.now(UTC) - timedelta(minutes=30)
    async with scoped_session(rt.sessions, Scope.for_tenant(tenant_id)) as s, s.begin():
        if rule_id is None:
            rule = AlarmRule(
                tenant_id=tenant_id,
                site_id=site_id,
                sensor_id=sensor_id,
                kind="threshold",
                definition={"kind": "threshold", "levels": []},
                source="override",
                enabled=False,
            )
            s.add(rule)
            await s.flush()
            rule_id = rule.id
        closed = status is AlarmStatus.CLOSED
        cleared = closed or status is AlarmStatus.CLEARED
        alarm = Alarm(
            tenant_id=tenant_id,
            site_id=site_id,
            rule_id=rule_id,
            sensor_id=sensor_id,
            severity=severity,
            status=status,
            value=30.0,
            raised_at=raised,
            refreshed_at=raised,
            cleared_at=raised + timedelta(minutes=5) if cleared else None,
            closed_at=raised + timedelta(minutes=10) if closed else None,
            acknowledged_at=raised + timedelta(minutes=1) if closed else None,
            verdict=verdict,
            cause=cause,
        )
        s.add(alarm)
        await s.flush()
        return alarm.id, rule_id


async def audit_actions(rt: Runtime, object_id: str) -> list[tuple[str, str | None, str | None]]:
    """(action, role, domain) of every audited change of one object, in order (reads of its
    personal fields are audited too, and left out here)."""
    async with unscoped_session(rt.sessions) as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.role, AuditEntry.domain)
            .where(AuditEntry.object_id == object_id, AuditEntry.action != READ_ACTION)
            .order_by(AuditEntry.seq)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]

"""Helpers for the alarm integration tests: gas devices of their own, leaks through ingest,
the alarm console over GraphQL, and the rows the alarm service writes.

The ``api`` fixture's app runs the alarm pipeline and the outbox relay on the session runtime,
in the test client's own event loop (a blocking portal). Readings posted through
``/api/v1/telemetry`` are evaluated inline before the 202, and the resulting signals are
written by the pipeline's writer task; ``drain`` waits for that writer, so a test reads the
alarm console only once everything it sent has been applied.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from backend.alarms import library
from backend.alarms.models import AlarmTransition, OutboxMessage
from backend.alarms.rules import RuleKind
from backend.auth.models import User
from backend.auth.service import normalise_email
from backend.jobs.alarm_pipeline import AlarmPipeline
from backend.runtime import Runtime
from backend.telemetry.registry import DeviceInfo
from tenants.scope import SCOPE_KEY, Scope, scoped_session, unscoped_session
from tests.graphql import GraphQLClient, Result
from tests.ingest_helpers import GAS, IngestDevice, eventually, new_device, now_ms, post

# The combustible-gas threshold of the chemical library (GB/T 50493-2019): 1st level 25 %LEL
# (ORANGE, clears below 23), 2nd level 50 %LEL (RED, clears below 48). Its level names tell
# the threshold's alarms apart from the same sensor's "no data" (stale) alarm.
GAS_LEVELS = frozenset(
    level.name
    for spec in library.default_rules("chemical", "combustible_gas")
    if spec.kind is RuleKind.THRESHOLD
    for level in spec.levels
)
GAS_CODE = str(GAS["code"])

ALARM_FIELDS = """id severity status acknowledged acknowledgedAt clearedAt closedAt raisedAt
    level sensor { id code } site { id name }"""
ALARMS = f"""query($status: AlarmStatusFilter, $first: Int, $after: ID, $severity: Severity,
    $siteId: ID, $sensorId: ID, $from: DateTime, $to: DateTime) {{
  alarms(status: $status, first: $first, after: $after, severity: $severity, siteId: $siteId,
         sensorId: $sensorId, from: $from, to: $to) {{ {ALARM_FIELDS} }}
}}"""
ACKNOWLEDGE = """mutation($id: ID!, $note: String) {
  acknowledgeAlarm(id: $id, note: $note) { id status acknowledged acknowledgedAt } }"""
DISPATCH = """mutation($id: ID!, $assignee: String!, $note: String) {
  dispatchAlarm(id: $id, assignee: $assignee, note: $note) { id status acknowledged assignee } }"""
CLEAR = """mutation($id: ID!, $reason: String!) {
  clearAlarm(id: $id, reason: $reason) { id status clearedAt } }"""
CLOSE = """mutation($id: ID!, $verdict: Verdict!, $cause: String!) {
  closeAlarm(id: $id, verdict: $verdict, cause: $cause) { id status closedAt verdict cause } }"""

# Per device, the last reading time sent: every reading gets a strictly later timestamp (the
# engine ignores a reading older than the sensor's last one), never in the future.
_last_ts: dict[uuid.UUID, int] = {}


def next_ts(device_id: uuid.UUID) -> int:
    ts = max(_last_ts.get(device_id, 0) + 1, now_ms())
    _last_ts[device_id] = ts
    return ts


def pipeline(api: GraphQLClient) -> AlarmPipeline:
    """The app's live alarm pipeline (started by the lifespan of the ``api`` client)."""
    return api.http.app.state.alarms  # type: ignore[no-any-return]


async def drain(api: GraphQLClient) -> None:
    """Wait until the pipeline has written every signal queued so far. It runs in the test
    client's portal loop, so the wait is made there (from a worker thread)."""
    portal = api.http.blocking_portal
    await asyncio.to_thread(portal.call, pipeline(api).drain)


async def watched(api: GraphQLClient, dev: IngestDevice) -> None:
    """Wait until the pipeline has loaded the rules of every sensor of ``dev``: readings sent
    before that are not evaluated (the pipeline picks new sensors up within about a second)."""
    engine = pipeline(api).engine
    loaded = await eventually(
        lambda: all(engine.has_rules(s) for s in dev.sensors.values()), bool, within=20
    )
    assert loaded, f"the alarm pipeline never loaded the rules of device {dev.id}"


async def gas_device(
    api: GraphQLClient,
    rt: Runtime,
    tenant_id: uuid.UUID,
    site_id: uuid.UUID,
    sensors: Sequence[dict[str, Any]] = (GAS,),
) -> IngestDevice:
    """A new device (combustible gas ``GT-1`` 0..100 %LEL) whose rules the pipeline runs."""
    dev = await new_device(rt, tenant_id, site_id, sensors)
    await watched(api, dev)
    return dev


async def send(
    api: GraphQLClient, dev: IngestDevice, *values: float, code: str | None = None
) -> list[int]:
    """Post one batch of readings (one per value, in order) and wait until their signals are
    written. Returns the readings' timestamps (epoch ms)."""
    stamps = [next_ts(dev.id) for _ in values]
    body = {
        "batch_id": str(uuid.uuid4()),
        "readings": [
            {"sensor": code or dev.gas_code, "ts": ts, "value": v}
            for ts, v in zip(stamps, values, strict=True)
        ],
    }
    response = await post(api.http, dev, "telemetry", body)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == len(values), response.text
    await drain(api)
    return stamps


def _variables(filters: dict[str, Any]) -> dict[str, Any]:
    # A variable given as null would override the argument's default (status ACTIVE, first
    # 100): leave unset filters out instead.
    names = {"site_id": "siteId", "sensor_id": "sensorId", "from_": "from"}
    return {names.get(k, k): str(v) if isinstance(v, uuid.UUID) else v for k, v in filters.items()}


async def alarms_query(api: GraphQLClient, user: str, **filters: Any) -> Result:
    return await api.query(ALARMS, _variables(filters), as_user=user)


async def alarms(api: GraphQLClient, user: str, **filters: Any) -> list[dict[str, Any]]:
    """``alarms(...)`` as ``user``; fails the test on any error."""
    result = await alarms_query(api, user, **filters)
    assert result.status == 200 and not result.codes, result.body
    assert result.data is not None
    return list(result.data["alarms"])


async def gas_alarms(
    api: GraphQLClient, user: str, dev: IngestDevice, status: str = "ALL"
) -> list[dict[str, Any]]:
    """The alarms of ``dev``'s gas threshold rule (newest first), leaving out its stale rule's."""
    rows = await alarms(api, user, status=status, sensor_id=dev.sensors[dev.gas_code])
    return [a for a in rows if a["level"] in GAS_LEVELS]


async def only_gas_alarm(api: GraphQLClient, user: str, dev: IngestDevice) -> dict[str, Any]:
    rows = await gas_alarms(api, user, dev)
    assert len(rows) == 1, rows
    return rows[0]


async def raise_alarm(
    api: GraphQLClient, user: str, dev: IngestDevice, *values: float
) -> dict[str, Any]:
    """A leak on ``dev`` (values in order); returns its newest gas alarm."""
    await send(api, dev, *values)
    rows = await gas_alarms(api, user, dev)
    assert rows, f"no alarm after {values} on {dev.id}"
    return rows[0]


async def mutate(api: GraphQLClient, user: str, mutation: str, **variables: Any) -> Result:
    return await api.query(mutation, variables, as_user=user)


async def ok(api: GraphQLClient, user: str, mutation: str, **variables: Any) -> dict[str, Any]:
    """A mutation that must succeed; returns its single field's value."""
    result = await mutate(api, user, mutation, **variables)
    assert result.status == 200 and not result.codes, result.body
    assert result.data is not None
    (value,) = result.data.values()
    return dict(value)


# --- what the service wrote -----------------------------------------------------------------


async def user_id(rt: Runtime, email: str) -> uuid.UUID:
    async with rt.sessions() as session:
        email_is = await User.email.matches(session, normalise_email(email))
        found = await session.scalar(select(User.id).where(email_is))
    assert found is not None, email
    return found


async def transitions(rt: Runtime, tenant_id: uuid.UUID, alarm_id: str) -> list[AlarmTransition]:
    """The alarm's transitions in the order they happened."""
    async with scoped_session(rt.sessions, Scope.for_tenant(tenant_id)) as session:
        rows = await session.scalars(
            select(AlarmTransition)
            .where(AlarmTransition.alarm_id == uuid.UUID(alarm_id))
            .order_by(AlarmTransition.at)
        )
        return list(rows.all())


async def outbox(rt: Runtime, tenant_id: uuid.UUID, alarm_id: str) -> list[OutboxMessage]:
    """The outbox rows announcing the alarm's changes, in sequence order."""
    async with unscoped_session(rt.sessions) as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.tenant_id == tenant_id)
            .order_by(OutboxMessage.seq)
        )
        return [m for m in rows.all() if m.payload["alarm"]["id"] == alarm_id]


async def relayed(rt: Runtime, tenant_id: uuid.UUID, alarm_id: str) -> list[OutboxMessage]:
    """The alarm's outbox rows once the relay has sent them all (or as last seen)."""

    def done(rows: list[OutboxMessage]) -> bool:
        return bool(rows) and all(m.sent_at is not None for m in rows)

    return await eventually(lambda: outbox(rt, tenant_id, alarm_id), done, within=20)


# --- a second pipeline, as after a restart ---------------------------------------------------


def device_info(dev: IngestDevice) -> DeviceInfo:
    return DeviceInfo(
        id=dev.id,
        tenant_id=dev.tenant_id,
        site_id=dev.site_id,
        revoked=False,
        site_active=True,
        readings_per_minute=600_000,
        retention_days=30,
        sensors={},
    )


async def feed(p: AlarmPipeline, dev: IngestDevice, *values: float) -> None:
    """Readings handed to a pipeline directly, as ingest does, then written."""
    sensor = dev.sensors[dev.gas_code].bytes
    stamps = [next_ts(dev.id) for _ in values]
    p.readings_accepted(device_info(dev), [sensor] * len(values), stamps, list(values))
    await p.drain()


async def restarted(runtime: Runtime) -> AlarmPipeline:
    """A second pipeline on the same database, as after a server restart: it loads the rules
    and the alarms still open, and knows nothing else."""
    p = AlarmPipeline(runtime.sessions)
    await p.start()
    return p


class DeadSession:
    """A session of an unreachable database: opening it fails."""

    def __init__(self, owner: Unreachable) -> None:
        self.owner = owner
        self.info: dict[str, Any] = {}

    async def __aenter__(self) -> None:
        if SCOPE_KEY in self.info:  # a tenant-scoped session: the alarm writer's
            self.owner.writes += 1
        raise ConnectionError("the database is unreachable (test)")

    async def __aexit__(self, *exc: object) -> None:
        return None


class Unreachable:
    """Stands in for the runtime while the database is down."""

    def __init__(self) -> None:
        self.writes = 0

    def sessions(self) -> DeadSession:
        return DeadSession(self)

"""Escalation, reminders, silences, flapping, incidents, work permits and rule switches.

An unacknowledged alarm climbs operator → safety manager → owner → regulator (major hazard
sites) one rule deadline at a time, even across a restart, because its deadlines live in the
alarm row. Silenced and flapping alarms are recorded but page nobody. Alarms of one zone raised
together form an incident. Composite rules combine a zone's gas sensors with its open hot-work
permits.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from backend.alarms import escalation
from backend.alarms.models import Alarm, AlarmRule, EscalationNotice, OutboxMessage
from backend.alarms.notify import Notifier, Plan
from backend.alarms.rules import RuleKind
from backend.auth.models import User
from backend.auth.service import normalise_email
from backend.core import counters
from backend.jobs.alarm_pipeline import AlarmPipeline
from backend.runtime import Runtime
from privacy.audit import AuditEntry
from tenants.scope import Scope, scoped_session, unscoped_session
from tests.alarm_helpers import (
    ACKNOWLEDGE,
    GAS_CODE,
    feed,
    gas_alarms,
    gas_device,
    mutate,
    ok,
    restarted,
    send,
    transitions,
)
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import GAS, IngestDevice, eventually, new_device


async def set_rule(
    rt: Runtime, dev: IngestDevice, code: str = GAS_CODE, **changes: Any
) -> uuid.UUID:
    """Change the threshold rule of ``dev``'s sensor ``code`` in place (``ack_deadline_s``, or
    ``params`` entries); returns the rule id. Read at the next raise, no reload needed."""
    sensor = dev.sensors[code]
    async with unscoped_session(rt.sessions) as session, session.begin():
        rule = await session.scalar(
            select(AlarmRule).where(
                AlarmRule.sensor_id == sensor, AlarmRule.kind == RuleKind.THRESHOLD.value
            )
        )
        assert rule is not None
        definition = dict(rule.definition)
        params = dict(definition.get("params") or {})
        for key, value in changes.items():
            if key == "ack_deadline_s":
                definition[key] = value
            else:
                params[key] = value
        definition["params"] = params
        rule.definition = definition
        return rule.id


async def alarm_row(rt: Runtime, tenant_id: uuid.UUID, alarm_id: str | uuid.UUID) -> Alarm:
    async with scoped_session(rt.sessions, Scope.for_tenant(tenant_id)) as session:
        alarm = await session.scalar(select(Alarm).where(Alarm.id == uuid.UUID(str(alarm_id))))
    assert alarm is not None
    return alarm


async def outbox_of(rt: Runtime, alarm_id: str, topic: str = "alarm") -> list[OutboxMessage]:
    async with unscoped_session(rt.sessions) as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.topic == topic)
                .order_by(OutboxMessage.seq)
            )
        ).all()
    return [m for m in rows if m.payload["alarm"]["id"] == str(alarm_id)]


async def plan_of(rt: Runtime, seq: int, tenant_id: uuid.UUID) -> Plan | None:
    """What the notify job would send for one outbox event (it runs on its own loop)."""
    notifier = Notifier(rt.settings, keys=rt.keys)
    try:
        return await asyncio.to_thread(notifier._run, notifier.plan(seq, tenant_id))
    finally:
        await asyncio.to_thread(notifier.close)


async def reached(rt: Runtime, seq: int, tenant_id: uuid.UUID) -> set[str]:
    plan = await plan_of(rt, seq, tenant_id)
    assert plan is not None
    async with scoped_session(rt.sessions, Scope.for_tenant(tenant_id)) as session:
        done = list(
            await session.scalars(
                select(User)
                .join(EscalationNotice, EscalationNotice.user_id == User.id)
                .where(EscalationNotice.outbox_seq == seq)
            )
        )
    return {p.email for p in plan.people} | {u.email for u in done}


# --- escalation ---


async def test_restart_mid_alarm_one_alarm_still_active_still_escalating_on_time(
    runtime: Runtime, world: World
) -> None:
    """Tenant A's site is a major hazard source: safety manager, owner, then regulators."""
    dev = await new_device(runtime, world.a.tenant_id, world.a.site_id, (GAS,))
    first = await restarted(runtime)
    await set_rule(runtime, dev, ack_deadline_s=2)
    await feed(first, dev, 60.0)
    await first.stop()  # the server goes down with the alarm active and unacknowledged

    (alarm,) = [a for a in await pipeline_alarms(runtime, world, dev)]
    raised_at = alarm.raised_at
    second = await restarted(runtime)
    try:
        await feed(second, dev, 62.0)  # still high: the same alarm, not a second one

        async def escalations() -> list[Any]:
            rows = await transitions(runtime, world.a.tenant_id, str(alarm.id))
            return [t for t in rows if t.kind == "ESCALATED"]

        steps = await eventually(escalations, lambda rows: len(rows) >= 3, within=20)
    finally:
        await second.stop()
    assert len(steps) == 3, [t.note for t in steps]
    previous = raised_at
    for step in steps:  # each step one deadline (2 s) after the last, on a 1 s clock
        gap = (step.at - previous).total_seconds()
        assert 2.0 <= gap < 3.6, (gap, step.note)
        previous = step.at
    assert "safety manager" in (steps[0].note or "")
    assert "owner" in (steps[1].note or "")
    assert "regulator" in (steps[2].note or "")

    row = await alarm_row(runtime, world.a.tenant_id, alarm.id)
    assert (row.status.value, row.escalation_step, row.escalate_at) == (
        "ACTIVE_UNACKNOWLEDGED",
        3,
        None,
    )
    assert [a.id for a in await pipeline_alarms(runtime, world, dev)] == [alarm.id]

    # Who each step reaches: the tenant's role holders, then regulators over the site.
    messages = [
        m for m in await outbox_of(runtime, str(alarm.id)) if m.payload["kind"] == "ESCALATED"
    ]
    assert [m.payload["escalation"]["role"] for m in messages] == [
        "safety_manager",
        "owner",
        "regulator",
    ]
    # Who each step reaches: still to be e-mailed, or already e-mailed by the running workers.
    emails = [await reached(runtime, m.seq, world.a.tenant_id) for m in messages]
    a, gov = world.a.users, {k: normalise_email(v) for k, v in world.regulators.items()}
    assert normalise_email(a["safety_manager"]) in emails[0]
    assert normalise_email(a["owner"]) not in emails[0]
    assert normalise_email(a["owner"]) in emails[1]
    assert {gov["320000"], gov["320100"]} <= emails[2]
    assert gov["320500"] not in emails[2]  # Suzhou does not cover Nanjing


async def pipeline_alarms(rt: Runtime, world: World, dev: IngestDevice) -> list[Alarm]:
    async with scoped_session(rt.sessions, Scope.for_tenant(world.a.tenant_id)) as session:
        rows = await session.scalars(
            select(Alarm)
            .where(Alarm.sensor_id == dev.sensors[GAS_CODE], Alarm.level != "no data")
            .order_by(Alarm.raised_at)
        )
        return list(rows.all())


async def test_escalation_is_taken_once_by_concurrent_clocks(
    runtime: Runtime, world: World
) -> None:
    """Two servers' clocks finding the same alarm due: one ESCALATED, not two."""
    dev = await new_device(runtime, world.a.tenant_id, world.a.site_id, (GAS,))
    p = await restarted(runtime)
    try:
        await set_rule(runtime, dev, ack_deadline_s=600)
        await feed(p, dev, 60.0)
    finally:
        await p.stop()
    (alarm,) = await pipeline_alarms(runtime, world, dev)
    due = alarm.raised_at + timedelta(seconds=601)
    await asyncio.gather(
        *(escalation.run_due(sessions=runtime.sessions, now=due) for _ in range(4))
    )
    kinds = [t.kind for t in await transitions(runtime, world.a.tenant_id, str(alarm.id))]
    assert kinds.count("ESCALATED") == 1, kinds
    row = await alarm_row(runtime, world.a.tenant_id, alarm.id)
    assert row.escalation_step == 1
    assert row.escalate_at == due + timedelta(seconds=600)  # the next step, one deadline on


async def test_acknowledging_stops_escalation_and_reminders(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    await set_rule(runtime, dev, ack_deadline_s=2, remind_every_s=1)
    await send(api, dev, 60.0)
    (alarm,) = await gas_alarms(api, world.a.users["owner"], dev)
    reminded = await eventually(
        lambda: outbox_of(runtime, alarm["id"], "alarm.reminder"), bool, within=10
    )
    assert reminded[0].payload["kind"] == "REMINDER"
    await ok(api, world.a.users["operator"], ACKNOWLEDGE, id=alarm["id"])
    row = await alarm_row(runtime, world.a.tenant_id, alarm["id"])
    assert (row.escalate_at, row.remind_at) == (None, None)
    before = len(await outbox_of(runtime, alarm["id"], "alarm.reminder"))
    steps_before = row.escalation_step
    await escalation.run_due(sessions=runtime.sessions, now=datetime.now(UTC) + timedelta(hours=1))
    assert len(await outbox_of(runtime, alarm["id"], "alarm.reminder")) == before
    assert (
        await alarm_row(runtime, world.a.tenant_id, alarm["id"])
    ).escalation_step == steps_before
    # Reminders are notifications only: no transition, and subscribers never see them.
    kinds = {t.kind for t in await transitions(runtime, world.a.tenant_id, alarm["id"])}
    assert "REMINDER" not in kinds


async def test_an_acknowledged_alarm_that_rises_to_red_needs_acknowledging_again(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    """ISA-18.2 and CONTRACT.md v2: the operator acknowledged an ORANGE leak, not the RED one
    it became; the upgrade re-annunciates and pages again until someone acknowledges RED."""
    operator = world.a.users["operator"]
    dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    await set_rule(runtime, dev, ack_deadline_s=30)
    await send(api, dev, 30.0)
    (alarm,) = await gas_alarms(api, operator, dev)
    assert alarm["severity"] == "ORANGE"
    acked = await ok(api, operator, ACKNOWLEDGE, id=alarm["id"], note="checking the valve")
    assert (acked["status"], acked["acknowledged"]) == ("ACKNOWLEDGED", True)

    await send(api, dev, 60.0)
    (red,) = await gas_alarms(api, operator, dev)
    assert (red["id"], red["severity"], red["status"], red["acknowledged"]) == (
        alarm["id"],
        "RED",
        "ACTIVE_UNACKNOWLEDGED",
        False,
    )
    assert red["acknowledgedAt"] is None
    row = await alarm_row(runtime, world.a.tenant_id, alarm["id"])
    assert row.escalate_at is not None and row.remind_at is not None  # paging again

    again = await ok(api, operator, ACKNOWLEDGE, id=alarm["id"], note="evacuating the unit")
    assert (again["status"], again["acknowledged"]) == ("ACKNOWLEDGED", True)
    steps = await transitions(runtime, world.a.tenant_id, alarm["id"])
    assert [(t.kind, t.severity, t.note) for t in steps] == [
        ("RAISED", "ORANGE", None),
        ("ACKNOWLEDGED", "ORANGE", "checking the valve"),
        ("SEVERITY_CHANGED", "RED", None),
        ("ACKNOWLEDGED", "RED", "evacuating the unit"),
    ]


# --- silences and flapping ---

CREATE_SILENCE = """mutation($site: ID!, $zone: ID, $reason: String!, $expires: DateTime!) {
  createSilence(siteId: $site, zoneId: $zone, reason: $reason, expiresAt: $expires) { id } }"""
ALARM_FLAGS = """query($sensor: ID) { alarms(status: ALL, sensorId: $sensor) {
  id level silenced flapping escalationStep incidentId } }"""


async def flags(api: GraphQLClient, user: str, sensor: uuid.UUID) -> list[dict[str, Any]]:
    result = await api.query(ALARM_FLAGS, {"sensor": str(sensor)}, as_user=user)
    assert result.data is not None and not result.codes, result.body
    return [a for a in result.data["alarms"] if a["level"] != "no data"]


async def test_an_alarm_inside_a_silence_is_recorded_but_pages_nobody(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site_with_zone(runtime, world)
    dev = await gas_device(
        api, runtime, world.a.tenant_id, site, [{**GAS, "zone": "silenced-zone"}]
    )
    zone = await zone_of(runtime, world, dev)
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    await ok(
        api,
        world.a.users["safety_manager"],
        CREATE_SILENCE,
        site=str(site),
        zone=str(zone),
        reason="检修 maintenance",
        expires=expires,
    )
    await send(api, dev, 60.0)
    (alarm,) = await flags(api, world.a.users["owner"], dev.sensors[GAS_CODE])
    assert (alarm["silenced"], alarm["flapping"]) == (True, False)
    row = await alarm_row(runtime, world.a.tenant_id, alarm["id"])
    assert (row.escalate_at, row.remind_at) == (None, None)  # no escalation either
    (raised,) = [m for m in await outbox_of(runtime, alarm["id"]) if m.payload["kind"] == "RAISED"]
    assert raised.payload["alarm"]["silenced"] is True
    plan = await plan_of(runtime, raised.seq, world.a.tenant_id)
    assert plan is not None and plan.targets == () and plan.people == ()


async def test_the_fourth_raise_within_ten_minutes_is_flapping(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    for _ in range(4):
        await send(api, dev, 60.0, 10.0)  # raise, then clear below the deadband
    rows = await flags(api, world.a.users["owner"], dev.sensors[GAS_CODE])
    assert [a["flapping"] for a in reversed(rows)] == [False, False, False, True]
    newest = await alarm_row(runtime, world.a.tenant_id, rows[0]["id"])
    assert newest.escalate_at is None
    notes = [t.note for t in await transitions(runtime, world.a.tenant_id, rows[0]["id"])]
    assert any(n and n.startswith("flapping") for n in notes)


# --- incidents ---

INCIDENTS = """query($site: ID) { alarmIncidents(siteId: $site, openOnly: false) {
  id zoneId severity alarmCount closedAt alarms { id severity } } }"""


async def test_simultaneous_alarms_of_one_zone_form_one_incident(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site_with_zone(runtime, world)
    sensors = [
        {**GAS, "code": "GT-1", "zone": "tank-farm"},
        {**GAS, "code": "GT-2", "zone": "tank-farm"},
        {**GAS, "code": "GT-3", "zone": "office"},
    ]
    dev = await gas_device(api, runtime, world.a.tenant_id, site, sensors)
    await send(api, dev, 30.0, code="GT-1")
    await send(api, dev, 60.0, code="GT-2")
    await send(api, dev, 60.0, code="GT-3")  # another zone: not part of it
    owner = world.a.users["owner"]
    result = await api.query(INCIDENTS, {"site": str(site)}, as_user=owner)
    assert result.data is not None and not result.codes, result.body
    (incident,) = result.data["alarmIncidents"]
    assert (incident["alarmCount"], incident["severity"], incident["closedAt"]) == (2, "RED", None)
    members = {a["id"] for a in incident["alarms"]}
    gt1 = (await flags(api, owner, dev.sensors["GT-1"]))[0]
    gt3 = (await flags(api, owner, dev.sensors["GT-3"]))[0]
    assert gt1["id"] in members and gt1["incidentId"] == incident["id"]
    assert gt3["incidentId"] is None

    await send(api, dev, 5.0, code="GT-1")
    await send(api, dev, 5.0, code="GT-2")
    result = await api.query(INCIDENTS, {"site": str(site)}, as_user=owner)
    assert result.data is not None
    assert result.data["alarmIncidents"][0]["closedAt"] is not None  # the last alarm cleared
    # Another tenant sees none of it.
    other = await api.query(INCIDENTS, {"site": str(site)}, as_user=world.b.users["owner"])
    assert other.data == {"alarmIncidents": []}


# --- composite rules with work permits -----------------------------------------------------------

OPEN_PERMIT = """mutation($zone: ID!, $expires: DateTime!) {
  openWorkPermit(zoneId: $zone, kind: HOT_WORK, expiresAt: $expires, note: "焊接") { id } }"""
CLOSE_PERMIT = """mutation($id: ID!) { closeWorkPermit(id: $id) { id closedAt } }"""
ZONE_ALARMS = """query($site: ID) { alarms(status: ALL, siteId: $site) {
  id severity status level sensor { id } } }"""


async def zone_alarms(api: GraphQLClient, user: str, site: uuid.UUID) -> list[dict[str, Any]]:
    result = await api.query(ZONE_ALARMS, {"site": str(site)}, as_user=user)
    assert result.data is not None and not result.codes, result.body
    return [a for a in result.data["alarms"] if a["sensor"] is None]


async def test_gas_during_hot_work_is_red_only_while_the_permit_is_open(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = await new_site_with_zone(runtime, world)
    dev = await gas_device(api, runtime, world.a.tenant_id, site, [{**GAS, "zone": "hot-work-bay"}])
    zone = await zone_of(runtime, world, dev)
    owner, manager = world.a.users["owner"], world.a.users["safety_manager"]
    pipeline = api.http.app.state.alarms
    await eventually(lambda: _zone_loaded(pipeline, zone), bool, within=20)

    await send(api, dev, 12.0)  # above 10 %LEL, below the 25 %LEL first level: no permit, quiet
    assert await zone_alarms(api, owner, site) == []

    # An operator may not issue permits; another tenant cannot see the zone.
    expires = (datetime.now(UTC) + timedelta(hours=4)).isoformat()
    denied = await mutate(
        api, world.a.users["operator"], OPEN_PERMIT, zone=str(zone), expires=expires
    )
    assert denied.codes == ["FORBIDDEN"]
    hidden = await mutate(api, world.b.users["owner"], OPEN_PERMIT, zone=str(zone), expires=expires)
    assert hidden.codes == ["NOT_FOUND"]

    permit = await ok(api, manager, OPEN_PERMIT, zone=str(zone), expires=expires)
    rows = await eventually(lambda: zone_alarms(api, owner, site), bool, within=10)
    assert [(a["severity"], a["status"], a["level"]) for a in rows] == [
        ("RED", "ACTIVE_UNACKNOWLEDGED", "gas during hot work")
    ]
    await send(api, dev, 9.0)  # inside the deadband (clears below 8): still on
    assert (await zone_alarms(api, owner, site))[0]["status"] == "ACTIVE_UNACKNOWLEDGED"

    await ok(api, manager, CLOSE_PERMIT, id=permit["id"])
    cleared = await eventually(
        lambda: zone_alarms(api, owner, site),
        lambda r: r and r[0]["status"] == "CLEARED",
        within=10,
    )
    assert len(cleared) == 1


def _zone_loaded(pipeline: AlarmPipeline, zone: uuid.UUID) -> bool:
    return zone in pipeline.evaluator.loaded_zones


# --- enabling and disabling rules ---

RULES = """query($sensor: ID) { alarmRules(sensorId: $sensor) { id kind enabled } }"""
DEVICE_RULES = """query($device: ID) { alarmRules(deviceId: $device) { id kind enabled } }"""
SET_ENABLED = """mutation($id: ID!, $on: Boolean!, $why: String!) {
  setAlarmRuleEnabled(ruleId: $id, enabled: $on, reason: $why) { id enabled version } }"""


async def test_a_disabled_rule_stops_raising_and_the_switch_is_audited(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    manager = world.a.users["safety_manager"]
    result = await api.query(RULES, {"sensor": str(dev.sensors[GAS_CODE])}, as_user=manager)
    assert result.data is not None
    (rule,) = [r for r in result.data["alarmRules"] if r["kind"] == "threshold"]

    assert (
        await mutate(api, world.a.users["operator"], SET_ENABLED, id=rule["id"], on=False, why="x")
    ).codes == ["FORBIDDEN"]
    assert (
        await mutate(api, world.b.users["owner"], SET_ENABLED, id=rule["id"], on=False, why="x")
    ).codes == ["NOT_FOUND"]
    assert (await mutate(api, manager, SET_ENABLED, id=rule["id"], on=False, why=" ")).codes == [
        "BAD_USER_INPUT"
    ]

    off = await ok(api, manager, SET_ENABLED, id=rule["id"], on=False, why="传感器检修")
    assert off["enabled"] is False
    engine = api.http.app.state.alarms.engine
    await eventually(lambda: _threshold_gone(engine, dev), bool, within=20)
    await send(api, dev, 70.0)
    assert await gas_alarms(api, world.a.users["owner"], dev) == []

    await ok(api, manager, SET_ENABLED, id=rule["id"], on=True, why="检修完成")
    await eventually(lambda: not _threshold_gone(engine, dev), bool, within=20)
    await send(api, dev, 71.0)
    assert len(await gas_alarms(api, world.a.users["owner"], dev)) == 1

    async with unscoped_session(runtime.sessions) as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id == rule["id"])
                .order_by(AuditEntry.seq)
            )
        )
    assert actions == ["alarm_rule.disable", "alarm_rule.enable"]

    devices = await api.query(DEVICE_RULES, {"device": str(dev.id)}, as_user=manager)
    assert devices.data is not None
    assert "offline" in {r["kind"] for r in devices.data["alarmRules"]}


def _threshold_gone(engine: Any, dev: IngestDevice) -> bool:
    owner = engine._sensors.get(dev.sensors[GAS_CODE])
    return owner is None or not owner.feeds


# --- helpers ---


async def new_site_with_zone(rt: Runtime, world: World) -> uuid.UUID:
    """A fresh site of tenant A (so zones and incidents are the test's own)."""
    from tests.ingest_helpers import new_site

    return await new_site(rt, world.a.tenant_id)


async def zone_of(rt: Runtime, world: World, dev: IngestDevice) -> uuid.UUID:
    from backend.telemetry.models import Sensor

    async with scoped_session(rt.sessions, Scope.for_tenant(world.a.tenant_id)) as session:
        zone = await session.scalar(
            select(Sensor.zone_id).where(Sensor.id == next(iter(dev.sensors.values())))
        )
    assert zone is not None
    return zone


async def bump_registry(rt: Runtime) -> None:
    async with unscoped_session(rt.sessions) as session, session.begin():
        await counters.bump(session, counters.REGISTRY)

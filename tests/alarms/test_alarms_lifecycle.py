"""The alarm loop end to end (issue 4): readings through ``/api/v1/telemetry`` raise, upgrade
and clear alarms; people acknowledge, dispatch, clear and close them over GraphQL; every
change leaves a transition (who, when) and an outbox row that the relay sends.

Each test has a gas device of its own on tenant A's site (combustible gas 0..100 %LEL, the
chemical library: 1st level 25 %LEL ORANGE, 2nd level 50 %LEL RED, deadband 2 %LEL).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from backend.alarms.rules import Severity
from backend.jobs.alarm_pipeline import AlarmPipeline
from backend.runtime import Runtime
from tests.alarm_helpers import (
    ACKNOWLEDGE,
    CLEAR,
    CLOSE,
    DISPATCH,
    GAS_CODE,
    Unreachable,
    alarms,
    device_info,
    feed,
    gas_alarms,
    gas_device,
    mutate,
    next_ts,
    ok,
    only_gas_alarm,
    raise_alarm,
    relayed,
    restarted,
    send,
    transitions,
    user_id,
)
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import IngestDevice, eventually, from_ms, now_ms


@pytest.fixture
async def dev(api: GraphQLClient, runtime: Runtime, world: World) -> IngestDevice:
    return await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)


@pytest.fixture
def owner(world: World) -> str:
    return world.a.users["owner"]


def parsed(stamp: str) -> datetime:
    assert stamp.endswith("Z"), stamp
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def ids(rows: list[dict[str, object]]) -> set[object]:
    return {a["id"] for a in rows}


# --- raise, upgrade, refresh, clear ---------------------------------------------------------


async def test_a_leak_raises_orange_and_upgrades_the_same_alarm_to_red(
    api: GraphQLClient, dev: IngestDevice, owner: str, world: World
) -> None:
    await send(api, dev, 10.0, 24.9)
    assert await gas_alarms(api, owner, dev) == []  # below the 1st level: nothing

    (raised_ts,) = await send(api, dev, 25.0)  # exactly at the setpoint
    orange = await only_gas_alarm(api, owner, dev)
    assert orange["severity"] == "ORANGE"
    assert orange["status"] == "ACTIVE_UNACKNOWLEDGED"
    assert orange["acknowledged"] is False
    assert orange["acknowledgedAt"] is None and orange["clearedAt"] is None
    assert parsed(orange["raisedAt"]) == from_ms(raised_ts)  # timed by the reading
    assert orange["sensor"] == {"id": str(dev.sensors[GAS_CODE]), "code": GAS_CODE}
    assert orange["site"]["id"] == str(dev.site_id)

    await send(api, dev, 50.0)
    red = await only_gas_alarm(api, owner, dev)
    assert red["id"] == orange["id"]  # upgraded in place, not a second alarm
    assert red["severity"] == "RED"
    assert red["status"] == "ACTIVE_UNACKNOWLEDGED"
    assert red["raisedAt"] == orange["raisedAt"]
    assert red["id"] in ids(await alarms(api, owner))  # the default filter is ACTIVE


async def test_repeats_while_high_refresh_the_one_alarm(
    api: GraphQLClient, dev: IngestDevice, owner: str
) -> None:
    first = await raise_alarm(api, owner, dev, 30.0, 60.0)
    for _ in range(3):
        await send(api, dev, 70.0, 55.0, 65.0)
    await send(api, dev, 52.0)
    again = await only_gas_alarm(api, owner, dev)
    assert again["id"] == first["id"]
    assert (again["severity"], again["status"]) == ("RED", "ACTIVE_UNACKNOWLEDGED")


async def test_an_alarm_clears_only_below_the_deadband(
    api: GraphQLClient, dev: IngestDevice, owner: str
) -> None:
    alarm = await raise_alarm(api, owner, dev, 30.0)
    await send(api, dev, 24.0, 23.0)  # below the setpoint but inside the deadband (clears < 23)
    held = await only_gas_alarm(api, owner, dev)
    assert (held["status"], held["clearedAt"]) == ("ACTIVE_UNACKNOWLEDGED", None)

    (clear_ts,) = await send(api, dev, 22.9)
    cleared = await only_gas_alarm(api, owner, dev)
    assert cleared["id"] == alarm["id"]
    assert cleared["status"] == "CLEARED"
    assert parsed(cleared["clearedAt"]) == from_ms(clear_ts)
    assert cleared["acknowledged"] is False
    sensor = dev.sensors[GAS_CODE]
    # Cleared before anyone acknowledged it: still OPEN, no longer ACTIVE.
    assert alarm["id"] in ids(await alarms(api, owner, status="OPEN", sensor_id=sensor))
    assert alarm["id"] not in ids(await alarms(api, owner, status="ACTIVE", sensor_id=sensor))
    assert alarm["id"] not in ids(await alarms(api, owner, sensor_id=sensor))


async def test_a_red_alarm_holds_until_the_value_leaves_every_deadband(
    api: GraphQLClient, dev: IngestDevice, owner: str
) -> None:
    red = await raise_alarm(api, owner, dev, 60.0)
    assert red["severity"] == "RED"
    await send(api, dev, 49.0, 30.0, 24.0)  # no downgrade, no clear while any level holds
    held = await only_gas_alarm(api, owner, dev)
    assert (held["id"], held["severity"], held["status"]) == (
        red["id"],
        "RED",
        "ACTIVE_UNACKNOWLEDGED",
    )
    await send(api, dev, 20.0)
    assert (await only_gas_alarm(api, owner, dev))["status"] == "CLEARED"


async def test_a_new_leak_after_a_clear_raises_a_new_alarm(
    api: GraphQLClient, dev: IngestDevice, owner: str
) -> None:
    old = await raise_alarm(api, owner, dev, 30.0)
    await send(api, dev, 10.0)
    new = await raise_alarm(api, owner, dev, 40.0)
    assert new["id"] != old["id"]
    assert (new["severity"], new["status"]) == ("ORANGE", "ACTIVE_UNACKNOWLEDGED")
    rows = await gas_alarms(api, owner, dev)
    assert [a["id"] for a in rows] == [new["id"], old["id"]]  # newest first
    assert rows[1]["status"] == "CLEARED"


async def test_a_cleared_alarm_keeps_the_highest_reading_it_saw(
    api: GraphQLClient, dev: IngestDevice, owner: str
) -> None:
    """30 raises ORANGE, 45 stays ORANGE (RED is 50), 10 clears: the peak is 45, not the value
    of the raise (30) or of the clear (10)."""
    alarm = await raise_alarm(api, owner, dev, 30.0)
    await send(api, dev, 45.0, 33.0)
    await send(api, dev, 10.0)
    result = await api.query(
        "query($id: ID!) { alarm(id: $id) { status value peakValue } }",
        {"id": alarm["id"]},
        as_user=owner,
    )
    assert result.data["alarm"] == {"status": "CLEARED", "value": 10.0, "peakValue": 45.0}


# --- people -----------------------------------------------------------------------------------


async def test_acknowledge_clear_and_close_with_a_review(
    api: GraphQLClient, runtime: Runtime, world: World, dev: IngestDevice, owner: str
) -> None:
    alarm = await raise_alarm(api, owner, dev, 30.0, 55.0)
    acked = await ok(api, owner, ACKNOWLEDGE, id=alarm["id"], note="on my way")
    assert (acked["id"], acked["status"], acked["acknowledged"]) == (
        alarm["id"],
        "ACKNOWLEDGED",
        True,
    )
    assert acked["acknowledgedAt"] is not None

    # Only a cleared alarm can be closed.
    refused = await mutate(
        api, owner, CLOSE, id=alarm["id"], verdict="TRUE_POSITIVE", cause="flange leak"
    )
    assert refused.code == "BAD_USER_INPUT", refused.body
    assert (await only_gas_alarm(api, owner, dev))["status"] == "ACKNOWLEDGED"

    await send(api, dev, 10.0)
    cleared = await only_gas_alarm(api, owner, dev)
    assert (cleared["status"], cleared["acknowledged"]) == ("CLEARED", True)

    no_cause = await mutate(api, owner, CLOSE, id=alarm["id"], verdict="TRUE_POSITIVE", cause=" ")
    assert no_cause.code == "BAD_USER_INPUT", no_cause.body

    closed = await ok(
        api, owner, CLOSE, id=alarm["id"], verdict="TRUE_POSITIVE", cause="flange gasket leak"
    )
    assert (closed["status"], closed["verdict"], closed["cause"]) == (
        "CLOSED",
        "TRUE_POSITIVE",
        "flange gasket leak",
    )
    assert closed["closedAt"] is not None
    sensor = dev.sensors[GAS_CODE]
    assert alarm["id"] in ids(await alarms(api, owner, status="CLOSED", sensor_id=sensor))
    assert alarm["id"] not in ids(await alarms(api, owner, status="OPEN", sensor_id=sensor))
    final = await only_gas_alarm(api, owner, dev)
    assert (final["status"], final["acknowledged"]) == ("CLOSED", True)
    assert final["closedAt"] is not None and final["clearedAt"] is not None

    again = await mutate(api, owner, ACKNOWLEDGE, id=alarm["id"])
    assert again.code == "BAD_USER_INPUT", again.body  # a closed alarm stays closed

    person = str(await user_id(runtime, owner))
    steps = await transitions(runtime, world.a.tenant_id, alarm["id"])
    assert [(t.kind, t.actor) for t in steps] == [
        ("RAISED", "engine"),
        ("SEVERITY_CHANGED", "engine"),
        ("ACKNOWLEDGED", person),
        ("CLEARED", "engine"),
        ("CLOSED", person),
    ]
    assert [t.severity for t in steps[:2]] == ["ORANGE", "RED"]
    assert steps[2].note == "on my way"
    assert "flange gasket leak" in (steps[4].note or "")

    # Every transition was announced once, and the relay sent every announcement.
    messages = await relayed(runtime, world.a.tenant_id, alarm["id"])
    assert [m.payload["kind"] for m in messages] == [t.kind for t in steps]
    assert all(m.sent_at is not None for m in messages), [m.seq for m in messages]


async def test_an_alarm_cleared_before_acknowledgement_can_be_closed(
    api: GraphQLClient, runtime: Runtime, world: World, dev: IngestDevice, owner: str
) -> None:
    alarm = await raise_alarm(api, owner, dev, 26.0)
    await send(api, dev, 5.0)
    closed = await ok(
        api, owner, CLOSE, id=alarm["id"], verdict="FALSE_POSITIVE", cause="span gas test"
    )
    assert (closed["status"], closed["verdict"]) == ("CLOSED", "FALSE_POSITIVE")
    final = await only_gas_alarm(api, owner, dev)
    assert final["acknowledged"] is True  # reviewing it acknowledged it
    kinds = [t.kind for t in await transitions(runtime, world.a.tenant_id, alarm["id"])]
    assert kinds == ["RAISED", "CLEARED", "ACKNOWLEDGED", "CLOSED"]


async def test_dispatch_assigns_and_acknowledges(
    api: GraphQLClient, runtime: Runtime, world: World, dev: IngestDevice, owner: str
) -> None:
    manager = world.a.users["safety_manager"]
    alarm = await raise_alarm(api, owner, dev, 35.0)
    blank = await mutate(api, manager, DISPATCH, id=alarm["id"], assignee="  ")
    assert blank.code == "BAD_USER_INPUT", blank.body

    sent = await ok(api, manager, DISPATCH, id=alarm["id"], assignee="李四 维修班", note="带检测仪")
    assert (sent["status"], sent["acknowledged"], sent["assignee"]) == (
        "DISPATCHED",
        True,
        "李四 维修班",
    )
    shown = await only_gas_alarm(api, owner, dev)
    assert (shown["status"], shown["acknowledged"]) == ("DISPATCHED", True)
    assert shown["acknowledgedAt"] is not None

    await send(api, dev, 3.0)
    assert (await only_gas_alarm(api, owner, dev))["status"] == "CLEARED"
    late = await mutate(api, manager, DISPATCH, id=alarm["id"], assignee="王五")
    assert late.code == "BAD_USER_INPUT", late.body  # only an active alarm is dispatched

    steps = await transitions(runtime, world.a.tenant_id, alarm["id"])
    manager_id = str(await user_id(runtime, manager))
    assert [(t.kind, t.actor) for t in steps] == [
        ("RAISED", "engine"),
        ("DISPATCHED", manager_id),
        ("CLEARED", "engine"),
    ]
    assert steps[1].note == "带检测仪"


async def test_a_manual_clear_needs_a_reason_and_is_recorded(
    api: GraphQLClient, runtime: Runtime, world: World, dev: IngestDevice, owner: str
) -> None:
    operator = world.a.users["operator"]
    alarm = await raise_alarm(api, owner, dev, 30.0)
    blank = await mutate(api, operator, CLEAR, id=alarm["id"], reason="")
    assert blank.code == "BAD_USER_INPUT", blank.body

    cleared = await ok(api, operator, CLEAR, id=alarm["id"], reason="detector being calibrated")
    assert cleared["status"] == "CLEARED" and cleared["clearedAt"] is not None
    assert alarm["id"] not in ids(await alarms(api, owner, sensor_id=dev.sensors[GAS_CODE]))
    twice = await mutate(api, operator, CLEAR, id=alarm["id"], reason="again")
    assert twice.code == "BAD_USER_INPUT", twice.body

    steps = await transitions(runtime, world.a.tenant_id, alarm["id"])
    assert [(t.kind, t.actor, t.note) for t in steps] == [
        ("RAISED", "engine", None),
        ("CLEARED", str(await user_id(runtime, operator)), "detector being calibrated"),
    ]
    messages = await relayed(runtime, world.a.tenant_id, alarm["id"])
    assert [m.payload["kind"] for m in messages] == ["RAISED", "CLEARED"]


async def test_a_leak_still_present_after_a_manual_clear_raises_again(
    api: GraphQLClient, dev: IngestDevice, owner: str
) -> None:
    """Clearing by hand does not stop the gas: the next reading at or above the setpoint must
    raise a new alarm (one open alarm per rule × sensor, the cleared one no longer counts)."""
    alarm = await raise_alarm(api, owner, dev, 30.0)
    await ok(api, owner, CLEAR, id=alarm["id"], reason="cleared by mistake")
    await send(api, dev, 32.0, 34.0)
    rows = await gas_alarms(api, owner, dev)
    active = [a for a in rows if a["clearedAt"] is None]
    assert len(active) == 1, rows
    assert active[0]["id"] != alarm["id"]
    assert active[0]["severity"] == "ORANGE"


# --- restart ----------------------------------------------------------------------------------


async def test_after_a_restart_an_active_alarm_neither_doubles_nor_vanishes(
    api: GraphQLClient, runtime: Runtime, world: World, dev: IngestDevice, owner: str
) -> None:
    alarm = await raise_alarm(api, owner, dev, 30.0, 60.0)
    p = await restarted(runtime)
    try:
        await feed(p, dev, 70.0, 62.0)  # still high: the restored alarm, not a new one
        still = await only_gas_alarm(api, owner, dev)
        assert (still["id"], still["severity"], still["status"]) == (
            alarm["id"],
            "RED",
            "ACTIVE_UNACKNOWLEDGED",
        )
        await feed(p, dev, 49.0, 30.0)  # inside the deadbands it passed on the way up
        assert (await only_gas_alarm(api, owner, dev))["clearedAt"] is None
        await feed(p, dev, 15.0)
        cleared = await only_gas_alarm(api, owner, dev)
        assert (cleared["id"], cleared["status"]) == (alarm["id"], "CLEARED")
    finally:
        await p.stop()
    kinds = [t.kind for t in await transitions(runtime, world.a.tenant_id, alarm["id"])]
    assert kinds == ["RAISED", "SEVERITY_CHANGED", "CLEARED"]


async def test_after_a_restart_a_restored_orange_alarm_upgrades_in_place(
    api: GraphQLClient, runtime: Runtime, world: World, dev: IngestDevice, owner: str
) -> None:
    alarm = await raise_alarm(api, owner, dev, 27.0)
    p = await restarted(runtime)
    try:
        await feed(p, dev, 28.0, 51.0)
    finally:
        await p.stop()
    red = await only_gas_alarm(api, owner, dev)
    assert (red["id"], red["severity"], red["status"]) == (
        alarm["id"],
        "RED",
        "ACTIVE_UNACKNOWLEDGED",
    )
    steps = await transitions(runtime, world.a.tenant_id, alarm["id"])
    assert [(t.kind, t.severity) for t in steps] == [
        ("RAISED", "ORANGE"),
        ("SEVERITY_CHANGED", "RED"),
    ]
    messages = await relayed(runtime, world.a.tenant_id, alarm["id"])
    assert [m.payload["kind"] for m in messages] == ["RAISED", "SEVERITY_CHANGED"]


async def test_an_alarm_raised_during_a_database_outage_is_not_lost(
    api: GraphQLClient, runtime: Runtime, dev: IngestDevice, owner: str
) -> None:
    p = await restarted(runtime)
    down = Unreachable()
    try:
        p.writer.sessions = down.sessions  # type: ignore[assignment]
        sensor = dev.sensors[GAS_CODE].bytes
        p.readings_accepted(device_info(dev), [sensor], [next_ts(dev.id)], [30.0])
        assert await eventually(lambda: down.writes, bool, within=20), "the writer never tried"
        p.writer.sessions = runtime.sessions  # the database is back; the leak goes on
        await feed(p, dev, 31.0, 32.0)
        rows = await eventually(lambda: gas_alarms(api, owner, dev), bool, within=20)
    finally:
        p.writer.sessions = runtime.sessions
        await p.stop()
    assert [(a["severity"], a["status"]) for a in rows] == [("ORANGE", "ACTIVE_UNACKNOWLEDGED")]


async def test_stale_data_at_a_major_hazard_site_is_not_blue(
    api: GraphQLClient, runtime: Runtime, world: World, dev: IngestDevice
) -> None:
    """DESIGN.md: data-quality alarms are BLUE unless the site is a major hazard source
    (tenant A's site is grade 2). The pipeline's engine, ticked past the stale limit."""
    p = AlarmPipeline(runtime.sessions)
    await p.reload()
    start = now_ms()
    p.engine.tick(start)  # the stale count starts for a sensor never heard from
    later = p.engine.tick(start + 24 * 3600 * 1000)
    stale = [s for s in later if s.sensor_id == dev.sensors[GAS_CODE] and s.kind == "raise"]
    assert stale, later
    assert all(s.severity is not Severity.BLUE for s in stale), stale


# --- MTTA / MTTR ------------------------------------------------------------------------------

STATS = """query($f: DateTime!, $t: DateTime!, $s: ID) {
  alarmStats(from: $f, to: $t, siteId: $s) {
    raised acknowledged cleared mttaSeconds mttrSeconds by_severity: bySeverity { severity count }
  }
}"""


async def test_mtta_and_mttr_come_from_the_recorded_transitions(
    api: GraphQLClient, dev: IngestDevice, owner: str, world: World
) -> None:
    start = from_ms(now_ms() - 60_000).isoformat()
    alarm = await raise_alarm(api, owner, dev, 30.0)
    acked = await ok(api, owner, ACKNOWLEDGE, id=alarm["id"], note="on it")
    assert acked
    await send(api, dev, 1.0)  # below the deadband: cleared by the engine
    end = from_ms(now_ms() + 60_000).isoformat()
    result = await api.query(STATS, {"f": start, "t": end, "s": str(dev.site_id)}, as_user=owner)
    assert result.code is None, result.body
    stats = result.data["alarmStats"]
    assert stats["raised"] >= 1 and stats["acknowledged"] >= 1 and stats["cleared"] >= 1
    assert stats["mttaSeconds"] is not None and stats["mttaSeconds"] >= 0
    assert stats["mttrSeconds"] is not None and stats["mttrSeconds"] >= 0
    assert {row["severity"] for row in stats["by_severity"]} >= {"ORANGE"}
    # Tenant B sees none of it: the statistics follow the caller's scope.
    other = await api.query(
        STATS, {"f": start, "t": end, "s": str(dev.site_id)}, as_user=world.b.users["owner"]
    )
    assert other.data["alarmStats"]["raised"] == 0

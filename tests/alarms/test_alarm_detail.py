"""The alarm detail of the console: ``alarm(id)`` with its whole timeline (who, when, the
notes), peak value, rule, incident, device and zone; the dispatch picker (``assignees``) and
dispatching a member or worker picked from it. Names leave masked per role, another tenant
finds nothing, and a page of alarms with their timelines costs a fixed number of statements.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from backend.alarms.models import Alarm, AlarmRule, AlarmStatus, AlarmTransition
from backend.alarms.rules import Severity
from backend.auth.models import User
from backend.runtime import Runtime
from backend.telemetry.models import Device
from privacy.catalog import WITHHELD
from tenants.scope import Scope, scoped_session
from tests.alarm_helpers import (
    ACKNOWLEDGE,
    CLOSE,
    GAS_CODE,
    gas_device,
    mutate,
    ok,
    raise_alarm,
    send,
    user_id,
)
from tests.alarms.test_query_counts import counted_statements
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import GAS, TEMP, IngestDevice, new_device, new_site

DETAIL = """query($id: ID!) { alarm(id: $id) {
  id severity status level value peakValue
  transitions { kind severity at note actor { kind id name email } }
  rule { id kind levels { name setpoint } }
  incident { id }
  device { id name }
  zone { id name }
  wearer { id name }
  sensor { id code }
} }"""
ASSIGNEES = """query($site: ID!) { assignees(siteId: $site) {
  members { id name email role } workers { id name employeeNumber siteId } } }"""
DISPATCH_TO = """mutation($id: ID!, $member: ID, $worker: ID, $assignee: String, $note: String) {
  dispatchAlarm(id: $id, assigneeUserId: $member, assigneeWorkerId: $worker, assignee: $assignee,
                note: $note) { id status assignee } }"""
SENT = """query($id: ID!) { alarm(id: $id) {
  transitions { kind assigneeUserId assigneeWorkerId } } }"""
NAMES = {"owner": "王建国", "safety_manager": "李安全", "operator": "赵值班", "viewer": "钱看看"}
ZONE = "罐区B"
ACK_NOTE = "已通知班长 13812345678"


@dataclass
class Handled:
    site_id: uuid.UUID
    dev: IngestDevice
    alarm: str


async def name_people(rt: Runtime, world: World) -> None:
    """Display names for tenant A's members (the factories leave them unset)."""
    async with rt.sessions() as session, session.begin():
        for role, name in NAMES.items():
            uid = await user_id(rt, world.a.users[role])
            await session.execute(update(User).where(User.id == uid).values(display_name=name))


@pytest.fixture(scope="module")
async def handled(api: GraphQLClient, runtime: Runtime, world: World) -> Handled:
    """One leak on a site of its own, handled by every role in turn: raised ORANGE at 30,
    acknowledged with a note by the safety manager, upgraded to RED at 60 (unacknowledged
    again), dispatched by the operator to A's worker, cleared by the engine, closed by the
    owner."""
    await name_people(runtime, world)
    users = world.a.users
    site = await new_site(runtime, world.a.tenant_id)
    dev = await gas_device(api, runtime, world.a.tenant_id, site, [{**GAS, "zone": ZONE}])
    scope = Scope.for_tenant(world.a.tenant_id)
    # A wearable gas detector, worn by A's worker.
    async with scoped_session(runtime.sessions, scope) as session, session.begin():
        await session.execute(
            update(Device).where(Device.id == dev.id).values(worker_id=world.a.worker_id)
        )
    alarm = (await raise_alarm(api, users["owner"], dev, 30.0))["id"]
    await ok(api, users["safety_manager"], ACKNOWLEDGE, id=alarm, note=ACK_NOTE)
    await send(api, dev, 60.0)
    dispatched = await ok(
        api, users["operator"], DISPATCH_TO, id=alarm, worker=str(world.a.worker_id), note="快去"
    )
    assert dispatched["status"] == "DISPATCHED"
    await send(api, dev, 10.0)
    await ok(api, users["owner"], CLOSE, id=alarm, verdict="TRUE_POSITIVE", cause="阀门泄漏")
    return Handled(dev.site_id, dev, alarm)


async def detail(api: GraphQLClient, user: str, alarm: str) -> dict[str, Any]:
    result = await api.query(DETAIL, {"id": alarm}, as_user=user)
    assert not result.codes, result.body
    assert result.data is not None
    return dict(result.data["alarm"])


# --- the detail --------------------------------------------------------------------------------


async def test_the_timeline_shows_who_did_what_when_with_the_notes(
    api: GraphQLClient, runtime: Runtime, world: World, handled: Handled
) -> None:
    alarm = await detail(api, world.a.users["owner"], handled.alarm)
    steps = alarm["transitions"]
    assert [(s["kind"], s["severity"]) for s in steps] == [
        ("RAISED", "ORANGE"),
        ("ACKNOWLEDGED", "ORANGE"),
        ("SEVERITY_CHANGED", "RED"),
        ("DISPATCHED", "RED"),
        ("CLEARED", "RED"),
        ("CLOSED", "RED"),
    ]
    stamps = [s["at"] for s in steps]
    assert stamps == sorted(stamps)
    system = {"kind": "SYSTEM", "id": None, "name": None, "email": None}
    people = {
        role: {
            "kind": "USER",
            "id": str(await user_id(runtime, world.a.users[role])),
            "name": NAMES[role],
            "email": world.a.users[role].lower(),
        }
        for role in ("safety_manager", "operator", "owner")
    }
    assert [s["actor"] for s in steps] == [
        system,
        people["safety_manager"],
        system,
        people["operator"],
        system,
        people["owner"],
    ]
    notes = [s["note"] for s in steps]
    # Notes can be read back now; a mobile number in one was masked before it was stored.
    assert notes[1].startswith("已通知班长") and "13812345678" not in notes[1]
    assert notes[3] == "快去"
    assert notes[5] == "TRUE_POSITIVE: 阀门泄漏"


async def test_the_detail_has_peak_rule_device_and_zone(
    api: GraphQLClient, world: World, handled: Handled
) -> None:
    alarm = await detail(api, world.a.users["viewer"], handled.alarm)
    assert (alarm["severity"], alarm["status"]) == ("RED", "CLOSED")
    assert alarm["peakValue"] == 60.0
    assert alarm["value"] == 10.0  # the stored value ends as the clearing value
    assert alarm["rule"]["kind"] == "threshold"
    assert {lv["setpoint"] for lv in alarm["rule"]["levels"]} == {25.0, 50.0}
    assert alarm["device"]["id"] == str(handled.dev.id)
    assert alarm["zone"]["name"] == ZONE
    assert alarm["sensor"]["code"] == handled.dev.gas_code
    assert alarm["incident"] is None  # a lone alarm is no incident
    assert alarm["wearer"] == {"id": str(world.a.worker_id), "name": "张*"}  # a viewer's view
    owner = await detail(api, world.a.users["owner"], handled.alarm)
    assert owner["wearer"]["name"] == "张三"


async def test_alarm_by_id_is_not_found_elsewhere(
    api: GraphQLClient, world: World, handled: Handled
) -> None:
    for role, user in world.b.users.items():
        result = await api.query(DETAIL, {"id": handled.alarm}, as_user=user)
        assert result.code == "NOT_FOUND", (role, result.body)
    for bad in (str(uuid.uuid4()), "not-an-id"):
        result = await api.query(DETAIL, {"id": bad}, as_user=world.a.users["owner"])
        assert result.code == "NOT_FOUND", (bad, result.body)
    outside = await api.query(DETAIL, {"id": handled.alarm}, as_user=world.regulators["320500"])
    assert outside.code == "NOT_FOUND", outside.body
    assert (await api.query(DETAIL, {"id": handled.alarm})).code == "UNAUTHENTICATED"


async def test_names_and_notes_are_masked_per_role(
    api: GraphQLClient, world: World, handled: Handled
) -> None:
    def actors(alarm: dict[str, Any]) -> list[dict[str, Any]]:
        return [s["actor"] for s in alarm["transitions"] if s["actor"]["kind"] == "USER"]

    sm_email = world.a.users["safety_manager"]
    operator = await detail(api, world.a.users["operator"], handled.alarm)
    sm, me, owner = actors(operator)
    assert (sm["name"], owner["name"]) == ("李**", "王**")
    assert sm["email"] == f"s***@{sm_email.split('@')[1]}"
    assert me["name"] == NAMES["operator"]  # one's own account, as it is
    assert operator["transitions"][3]["note"] == "快去"

    viewer = await detail(api, world.a.users["viewer"], handled.alarm)
    assert [a["name"] for a in actors(viewer)] == ["李**", "赵**", "王**"]

    manager = await detail(api, world.a.users["safety_manager"], handled.alarm)
    assert [a["name"] for a in actors(manager)] == ["李安全", "赵值班", "王建国"]

    regulator = await detail(api, world.regulators["320100"], handled.alarm)
    for actor in actors(regulator):
        assert actor["name"] not in NAMES.values() and actor["email"] not in world.a.users.values()
        assert actor["id"].startswith("P-"), actor  # a pseudonym, not the user id
    assert "13812345678" not in regulator["transitions"][1]["note"]


# --- the dispatch picker ----------------------------------------------------------------------


async def assignees(api: GraphQLClient, user: str, site: uuid.UUID) -> dict[str, Any]:
    result = await api.query(ASSIGNEES, {"site": str(site)}, as_user=user)
    assert not result.codes, result.body
    return dict(result.data["assignees"])  # type: ignore[index]


async def test_the_picker_lists_the_tenants_members_and_workers(
    api: GraphQLClient, runtime: Runtime, world: World, handled: Handled
) -> None:
    found = await assignees(api, world.a.users["owner"], world.a.site_id)
    members = {m["email"]: m for m in found["members"]}
    assert {e.lower() for e in world.a.users.values()} <= members.keys()
    assert not {e.lower() for e in world.b.users.values()} & members.keys()
    sm = members[world.a.users["safety_manager"].lower()]
    assert (sm["name"], sm["role"]) == (NAMES["safety_manager"], "safety_manager")
    assert sm["id"] == str(await user_id(runtime, world.a.users["safety_manager"]))
    workers = {w["id"]: w for w in found["workers"]}
    assert str(world.a.worker_id) in workers and str(world.b.worker_id) not in workers
    assert workers[str(world.a.worker_id)]["name"] == "张三"


async def test_an_operator_picks_from_masked_names(
    api: GraphQLClient, world: World, handled: Handled
) -> None:
    found = await assignees(api, world.a.users["operator"], world.a.site_id)
    names = {m["role"]: m["name"] for m in found["members"] if m["name"]}
    assert names["safety_manager"] == "李**" and names["operator"] == NAMES["operator"]
    worker = {w["id"]: w for w in found["workers"]}[str(world.a.worker_id)]
    assert worker["name"] == "张*"
    assert worker["employeeNumber"] == WITHHELD


async def test_who_may_not_dispatch_gets_no_picker(
    api: GraphQLClient, world: World, handled: Handled
) -> None:
    viewer = await api.query(
        ASSIGNEES, {"site": str(world.a.site_id)}, as_user=world.a.users["viewer"]
    )
    assert viewer.code == "FORBIDDEN", viewer.body
    for role, user in world.b.users.items():
        result = await api.query(ASSIGNEES, {"site": str(world.a.site_id)}, as_user=user)
        assert result.code == "NOT_FOUND", (role, result.body)
    regulator = await api.query(
        ASSIGNEES, {"site": str(world.a.site_id)}, as_user=world.regulators["320100"]
    )
    assert regulator.code == "FORBIDDEN", regulator.body
    admin = await api.query(ASSIGNEES, {"site": str(world.a.site_id)}, as_user=world.platform_admin)
    assert admin.code == "NOT_FOUND", admin.body


async def test_dispatching_a_member_records_their_name(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    alarm = (await raise_alarm(api, world.a.users["owner"], dev, 33.0))["id"]
    sm = str(await user_id(runtime, world.a.users["safety_manager"]))
    done = await ok(api, world.a.users["owner"], DISPATCH_TO, id=alarm, member=sm)
    assert (done["status"], done["assignee"]) == ("DISPATCHED", NAMES["safety_manager"])
    # The contract's plain name still works.
    again = await ok(api, world.a.users["owner"], DISPATCH_TO, id=alarm, assignee="  班组二 ")
    assert again["assignee"] == "班组二"
    worker = str(world.a.worker_id)
    await ok(api, world.a.users["owner"], DISPATCH_TO, id=alarm, worker=worker)
    # The timeline keeps whom each dispatch sent, to link the person (the name is masked).
    result = await api.query(SENT, {"id": alarm}, as_user=world.a.users["viewer"])
    assert result.data is not None, result.body
    sent = [
        (step["assigneeUserId"], step["assigneeWorkerId"])
        for step in result.data["alarm"]["transitions"]
        if step["kind"] == "DISPATCHED"
    ]
    assert sent == [(sm, None), (None, None), (None, worker)]
    others = [
        step
        for step in result.data["alarm"]["transitions"]
        if step["kind"] != "DISPATCHED" and (step["assigneeUserId"] or step["assigneeWorkerId"])
    ]
    assert others == []


async def test_dispatching_someone_of_another_tenant_is_not_found(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    alarm = (await raise_alarm(api, world.a.users["owner"], dev, 33.0))["id"]
    b_owner = str(await user_id(runtime, world.b.users["owner"]))
    regulator = str(await user_id(runtime, world.regulators["320100"]))
    for variables in (
        {"member": b_owner},
        {"member": regulator},  # not a member of the tenant
        {"member": str(uuid.uuid4())},
        {"worker": str(world.b.worker_id)},
        {"worker": str(uuid.uuid4())},
    ):
        result = await mutate(api, world.a.users["operator"], DISPATCH_TO, id=alarm, **variables)
        assert result.code == "NOT_FOUND", (variables, result.body)
    for variables in ({}, {"member": b_owner, "assignee": "x"}, {"assignee": "   "}):
        result = await mutate(api, world.a.users["operator"], DISPATCH_TO, id=alarm, **variables)
        assert result.code == "BAD_USER_INPUT", (variables, result.body)
    # Nor may B dispatch A's worker to A's alarm, or its own worker to it.
    for worker in (world.a.worker_id, world.b.worker_id):
        result = await mutate(
            api, world.b.users["owner"], DISPATCH_TO, id=alarm, worker=str(worker)
        )
        assert result.code == "NOT_FOUND", result.body
    detail_after = await detail(api, world.a.users["owner"], alarm)
    assert detail_after["status"] == "ACTIVE_UNACKNOWLEDGED"


# --- cost -------------------------------------------------------------------------------------

PAGE = """query($site: ID, $first: Int) { alarms(status: ALL, siteId: $site, first: $first) {
  id peakValue transitions { kind at note actor { kind name email } }
  rule { id kind levels { setpoint } } incident { id } device { id name } zone { id name }
  sensor { id code } site { id name } } }"""
# The caller (4), the alarms and each edge's one batch (about 10), and the read audit of the
# personal fields read (3 per type: AlarmTransition's notes, AlarmActor's names); PostgreSQL
# adds the transaction's scope setting.
MAX_QUERIES = 24


async def _alarms_with_timelines(runtime: Runtime, world: World) -> uuid.UUID:
    """A site of its own with 100 closed alarms, each with a timeline of three steps by the
    engine and two people."""
    tenant = world.a.tenant_id
    device = await new_device(runtime, tenant, await new_site(runtime, tenant), (GAS, TEMP))
    people = [str(await user_id(runtime, world.a.users[r])) for r in ("operator", "owner")]
    start = datetime(2026, 2, 1, tzinfo=UTC)
    scope = Scope.for_tenant(tenant)
    async with scoped_session(runtime.sessions, scope) as session, session.begin():
        rules = [
            AlarmRule(
                tenant_id=tenant,
                site_id=device.site_id,
                sensor_id=sensor,
                device_id=device.id,
                kind="threshold",
                definition={"kind": "threshold", "levels": []},
                source="override",
                enabled=False,
            )
            for sensor in device.sensors.values()
        ]
        session.add_all(rules)
        await session.flush()
        for i in range(100):
            rule = rules[i % len(rules)]
            raised = start + timedelta(minutes=i)
            alarm = Alarm(
                tenant_id=tenant,
                site_id=device.site_id,
                rule_id=rule.id,
                sensor_id=rule.sensor_id,
                device_id=device.id,
                severity=Severity.ORANGE,
                status=AlarmStatus.CLOSED,
                value=30.0,
                peak_value=31.0,
                raised_at=raised,
                refreshed_at=raised,
                cleared_at=raised + timedelta(seconds=30),
                closed_at=raised + timedelta(seconds=60),
            )
            session.add(alarm)
            await session.flush()
            for step, (kind, actor) in enumerate(
                (("RAISED", "engine"), ("ACKNOWLEDGED", people[0]), ("CLOSED", people[1]))
            ):
                session.add(
                    AlarmTransition(
                        tenant_id=tenant,
                        alarm_id=alarm.id,
                        kind=kind,
                        at=raised + timedelta(seconds=step),
                        actor=actor,
                        note=f"step {step}",
                        severity=Severity.ORANGE,
                    )
                )
    return device.site_id


async def test_a_page_of_alarms_with_timelines_costs_the_same_for_10_and_100(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    await name_people(runtime, world)
    site = await _alarms_with_timelines(runtime, world)
    token = await api.token_for(world.a.users["safety_manager"])
    counts: dict[int, int] = {}
    for first in (10, 100):
        with counted_statements(runtime) as statements:
            result = await api.query(PAGE, {"site": str(site), "first": first}, token=token)
        assert not result.codes, result.body
        rows = result.data["alarms"]  # type: ignore[index]
        assert len(rows) == first
        for row in rows:
            assert [t["kind"] for t in row["transitions"]] == ["RAISED", "ACKNOWLEDGED", "CLOSED"]
            assert [t["actor"]["name"] for t in row["transitions"]] == [
                None,
                NAMES["operator"],
                NAMES["owner"],
            ]
            assert row["rule"]["kind"] == "threshold" and row["device"]["id"]
        counts[first] = len(statements)
    assert counts[10] == counts[100], counts
    assert 0 < counts[100] <= MAX_QUERIES, counts


ACKNOWLEDGE_WITH_EVERYTHING = """mutation($id: ID!) { acknowledgeAlarm(id: $id, note: "on it") {
  id status peakValue site { id name } sensor { id code zone latest { value } }
  rule { id kind } incident { id } device { id } zone { id }
  transitions { kind note actor { kind name } } } }"""


async def test_a_mutation_answer_with_many_nested_fields_resolves_them_all(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    """After the mutation commits, sibling fields' loaders all want the request's session at
    once: they take turns instead of racing for its connection (an internal error before)."""
    owner = world.a.users["owner"]
    for _ in range(5):
        dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
        alarm = await raise_alarm(api, owner, dev, 30.0)
        result = await api.query(ACKNOWLEDGE_WITH_EVERYTHING, {"id": alarm["id"]}, as_user=owner)
        assert result.code is None, result.body
        answer = result.data["acknowledgeAlarm"]
        assert answer["status"] == "ACKNOWLEDGED"
        assert answer["site"]["id"] == str(dev.site_id) and answer["sensor"]["code"] == GAS_CODE
        assert [t["kind"] for t in answer["transitions"]] == ["RAISED", "ACKNOWLEDGED"]

"""Work orders (工单): created from an alarm, an incident or for a site; a checklist, comments
and a timeline; OPEN → IN_PROGRESS → DONE → VERIFIED or CANCELLED, and nothing else; every
change audited; refused input changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from backend.alarms.models import AlarmIncident, AlarmStatus, Verdict
from backend.alarms.rules import Severity
from backend.response.models import WorkOrder, WorkOrderEvent
from backend.runtime import Runtime
from tenants.scope import Scope, scoped_session
from tests.alarm_helpers import user_id
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import new_site
from tests.response.helpers import (
    CHECK,
    COMMENT,
    CREATE,
    LIST,
    ONE,
    STATUS,
    add_alarm,
    ask,
    audit_actions,
    future,
    ok,
)

UPDATE = """mutation($id: ID!, $title: String, $description: String, $user: ID, $worker: ID,
  $due: DateTime) {
  updateWorkOrder(id: $id, title: $title, description: $description, assigneeUserId: $user,
    assigneeWorkerId: $worker, dueAt: $due) { id title description assigneeUserId
    assigneeWorkerId dueAt timeline { kind changedFields } }
}"""
UPDATE_USER_ONLY = """mutation($id: ID!, $user: ID) {
  updateWorkOrder(id: $id, assigneeUserId: $user) { id title assigneeUserId assigneeWorkerId } }"""


async def stored(rt: Runtime, tenant: uuid.UUID, order_id: str) -> tuple[Any, list[Any]]:
    """The row and its timeline as stored (what a refusal must leave alone)."""
    async with scoped_session(rt.sessions, Scope.for_tenant(tenant)) as session:
        order = await session.scalar(select(WorkOrder).where(WorkOrder.id == uuid.UUID(order_id)))
        events = list(
            await session.scalars(
                select(WorkOrderEvent.kind).where(
                    WorkOrderEvent.work_order_id == uuid.UUID(order_id)
                )
            )
        )
    assert order is not None
    return (
        order.title,
        order.description,
        order.status,
        order.assignee_user_id,
        order.assignee_worker_id,
        order.due_at,
        [dict(i) for i in order.checklist],
    ), events


async def a_work_order(
    api: GraphQLClient, world: World, user: str | None = None, **extra: Any
) -> dict[str, Any]:
    variables: dict[str, Any] = {"title": "检查罐区A泄漏", "site": str(world.a.site_id)}
    variables.update(extra)
    return await ok(api, user or world.a.users["operator"], CREATE, **variables)


# --- the lifecycle ---------------------------------------------------------------------------


async def test_a_work_order_from_an_alarm_goes_all_the_way_to_verified(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = world.a
    alarm, _ = await add_alarm(
        runtime,
        a.tenant_id,
        a.site_id,
        status=AlarmStatus.CLOSED,
        verdict=Verdict.TRUE_POSITIVE,
        cause="法兰垫片老化",
    )
    operator, manager = a.users["operator"], a.users["safety_manager"]
    operator_id = str(await user_id(runtime, operator))
    made = await ok(
        api,
        operator,
        CREATE,
        title="更换法兰垫片",
        alarm=str(alarm),
        description="罐区A 法兰处渗漏",
        user=operator_id,
        due=future(),
        checklist=["关闭阀门", "更换垫片", "复测浓度"],
    )
    assert made["status"] == "OPEN"
    assert made["siteId"] == str(a.site_id)  # the alarm's site
    assert made["alarmId"] == str(alarm)
    assert made["assigneeUserId"] == operator_id and made["createdBy"] == operator_id
    assert [i["text"] for i in made["checklist"]] == ["关闭阀门", "更换垫片", "复测浓度"]
    assert [i["index"] for i in made["checklist"]] == [0, 1, 2]
    assert not any(i["done"] for i in made["checklist"])
    assert made["overdue"] is False
    order = made["id"]

    started = await ok(api, operator, STATUS, id=order, status="IN_PROGRESS", note="到场")
    assert started["status"] == "IN_PROGRESS"
    for index in range(3):
        ticked = await ok(api, operator, CHECK, id=order, index=index, done=True)
        item = ticked["checklist"][index]
        assert item["done"] and item["doneBy"] == operator_id and item["doneAt"]
    commented = await ok(
        api,
        operator,
        COMMENT,
        id=order,
        text="垫片已更换，复测 0 %LEL",
        photos=[f"photos/{a.tenant_id}/{uuid.uuid4()}.jpg"],
    )
    assert commented["comments"][0]["text"] == "垫片已更换，复测 0 %LEL"
    assert commented["comments"][0]["author"] == operator_id
    assert len(commented["comments"][0]["photos"]) == 1
    done = await ok(api, operator, STATUS, id=order, status="DONE")
    assert done["status"] == "DONE"
    verified = await ok(api, manager, STATUS, id=order, status="VERIFIED", note="验收合格")
    assert verified["status"] == "VERIFIED"

    shown = await ok(api, a.users["viewer"], ONE, id=order)
    # The alarm's review is shown beside the order.
    assert shown["alarm"] == {
        "id": str(alarm),
        "severity": "ORANGE",
        "status": "CLOSED",
        "verdict": "TRUE_POSITIVE",
        "cause": "法兰垫片老化",
    }
    assert shown["site"] == {"id": str(a.site_id)}
    timeline = shown["timeline"]
    assert [e["kind"] for e in timeline] == [
        "CREATED",
        "STATUS",
        "CHECKED",
        "CHECKED",
        "CHECKED",
        "COMMENTED",
        "STATUS",
        "STATUS",
    ]
    moves = [(e["fromStatus"], e["toStatus"], e["note"]) for e in timeline if e["kind"] == "STATUS"]
    assert moves == [
        ("OPEN", "IN_PROGRESS", "到场"),
        ("IN_PROGRESS", "DONE", None),
        ("DONE", "VERIFIED", "验收合格"),
    ]
    manager_id = str(await user_id(runtime, manager))
    assert [e["actor"] for e in timeline] == [operator_id] * 7 + [manager_id]
    assert [e["itemIndex"] for e in timeline if e["kind"] == "CHECKED"] == [0, 1, 2]

    domain = f"tenant:{a.tenant_id}"
    assert await audit_actions(runtime, order) == [
        ("work_order.create", "operator", domain),
        ("work_order.status", "operator", domain),
        ("work_order.check", "operator", domain),
        ("work_order.check", "operator", domain),
        ("work_order.check", "operator", domain),
        ("work_order.comment", "operator", domain),
        ("work_order.status", "operator", domain),
        ("work_order.status", "safety_manager", domain),
    ]


async def test_a_work_order_from_an_incident_takes_its_site(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = world.a
    site = await new_site(runtime, a.tenant_id)
    now = datetime.now(UTC)
    async with scoped_session(runtime.sessions, Scope.for_tenant(a.tenant_id)) as s, s.begin():
        incident = AlarmIncident(
            tenant_id=a.tenant_id,
            site_id=site,
            severity=Severity.RED,
            alarm_count=2,
            opened_at=now,
            last_alarm_at=now,
        )
        s.add(incident)
    manager = a.users["safety_manager"]
    made = await ok(api, manager, CREATE, title="处置事件", incident=str(incident.id))
    assert made["incidentId"] == str(incident.id) and made["siteId"] == str(site)
    shown = await ok(
        api,
        manager,
        "query($id: ID!) { workOrder(id: $id) { incident { id severity } } }",
        id=made["id"],
    )
    assert shown["incident"] == {"id": str(incident.id), "severity": "RED"}

    alarm, _ = await add_alarm(runtime, a.tenant_id, a.site_id)
    elsewhere = await ask(
        api, manager, CREATE, title="x", incident=str(incident.id), site=str(a.site_id)
    )
    both = await ask(api, manager, CREATE, title="x", incident=str(incident.id), alarm=str(alarm))
    assert elsewhere.code == both.code == "BAD_USER_INPUT"
    assert "not the site of that alarm or incident" in elsewhere.body["errors"][0]["message"]


async def test_cancelling_needs_a_note_and_is_final(api: GraphQLClient, world: World) -> None:
    operator = world.a.users["operator"]
    order = (await a_work_order(api, world))["id"]
    refused = await ask(api, operator, STATUS, id=order, status="CANCELLED")
    assert refused.code == "BAD_USER_INPUT"
    assert "note" in refused.body["errors"][0]["message"]
    cancelled = await ok(api, operator, STATUS, id=order, status="CANCELLED", note="重复工单")
    assert cancelled["status"] == "CANCELLED"
    for status in ("OPEN", "IN_PROGRESS", "DONE", "VERIFIED"):
        again = await ask(api, world.a.users["owner"], STATUS, id=order, status=status, note="x")
        assert again.code == "BAD_USER_INPUT", (status, again.body)
        assert "CANCELLED" in again.body["errors"][0]["message"]


ALLOWED = {
    ("OPEN", "IN_PROGRESS"),
    ("OPEN", "CANCELLED"),
    ("IN_PROGRESS", "DONE"),
    ("IN_PROGRESS", "CANCELLED"),
    ("DONE", "VERIFIED"),
}
STATUSES = ("OPEN", "IN_PROGRESS", "DONE", "VERIFIED", "CANCELLED")
PATH = {
    "OPEN": [],
    "IN_PROGRESS": ["IN_PROGRESS"],
    "DONE": ["IN_PROGRESS", "DONE"],
    "VERIFIED": ["IN_PROGRESS", "DONE", "VERIFIED"],
    "CANCELLED": ["CANCELLED"],
}


@pytest.mark.parametrize(
    ("start", "target"),
    [(s, t) for s in STATUSES for t in STATUSES if (s, t) not in ALLOWED],
)
async def test_every_other_transition_is_refused_and_changes_nothing(
    api: GraphQLClient, runtime: Runtime, world: World, start: str, target: str
) -> None:
    owner = world.a.users["owner"]  # may do everything: only the transition rule refuses
    order = (await a_work_order(api, world, owner))["id"]
    for step in PATH[start]:
        await ok(api, owner, STATUS, id=order, status=step, note="理由")
    before = await stored(runtime, world.a.tenant_id, order)
    refused = await ask(api, owner, STATUS, id=order, status=target, note="理由")
    assert refused.code == "BAD_USER_INPUT", refused.body
    message = refused.body["errors"][0]["message"]
    assert f"from {start} to {target}" in message
    assert await stored(runtime, world.a.tenant_id, order) == before


async def test_done_waits_for_the_checklist(api: GraphQLClient, world: World) -> None:
    operator = world.a.users["operator"]
    order = (await a_work_order(api, world, checklist=["a", "b"]))["id"]
    await ok(api, operator, STATUS, id=order, status="IN_PROGRESS")
    await ok(api, operator, CHECK, id=order, index=0, done=True)
    refused = await ask(api, operator, STATUS, id=order, status="DONE")
    assert refused.code == "BAD_USER_INPUT"
    assert "item(s) 2 still open" in refused.body["errors"][0]["message"]
    unticked = await ok(api, operator, CHECK, id=order, index=0, done=False)
    assert unticked["checklist"][0] == {
        "index": 0,
        "text": "a",
        "done": False,
        "doneBy": None,
        "doneAt": None,
    }


async def test_only_an_owner_or_a_safety_manager_verifies(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    operator = world.a.users["operator"]
    order = (await a_work_order(api, world))["id"]
    await ok(api, operator, STATUS, id=order, status="IN_PROGRESS")
    await ok(api, operator, STATUS, id=order, status="DONE")
    before = await stored(runtime, world.a.tenant_id, order)
    for role in ("operator", "viewer"):
        refused = await ask(api, world.a.users[role], STATUS, id=order, status="VERIFIED")
        assert refused.code == "FORBIDDEN", (role, refused.body)
    assert await stored(runtime, world.a.tenant_id, order) == before
    verified = await ok(api, world.a.users["owner"], STATUS, id=order, status="VERIFIED")
    assert verified["status"] == "VERIFIED"


# --- validation: a refusal changes nothing ----------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "needle"),
    [
        ({"title": "   "}, "title is required"),
        ({"title": "x" * 201}, "title is at most 200"),
        ({"description": "x" * 4001}, "description is at most 4000"),
        ({"checklist": ["ok", " "]}, "checklist item 2 is required"),
        ({"checklist": [f"第{i}项" for i in range(51)]}, "at most 50 items"),
        ({"due": "2020-01-01T00:00:00Z"}, "due time must be in the future"),
        ({"site": None}, "name the site, the alarm or the incident"),
    ],
)
async def test_bad_input_creates_nothing(
    api: GraphQLClient,
    runtime: Runtime,
    world: World,
    variables: dict[str, Any],
    needle: str,
) -> None:
    site = await new_site(runtime, world.a.tenant_id)
    payload: dict[str, Any] = {"title": "巡检", "site": str(site), **variables}
    refused = await ask(api, world.a.users["operator"], CREATE, **payload)
    assert refused.code == "BAD_USER_INPUT", refused.body
    assert needle in refused.body["errors"][0]["message"]
    listed = await ok(api, world.a.users["owner"], LIST, site=str(site))
    assert listed == []


async def test_an_assignee_is_a_member_or_a_worker_of_the_same_tenant(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a, b = world.a, world.b
    site = await new_site(runtime, a.tenant_id)
    operator = a.users["operator"]
    for variables in (
        {"user": str(await user_id(runtime, b.users["operator"]))},  # B's member
        {"worker": str(b.worker_id)},  # B's worker
        {"user": str(uuid.uuid4())},
        {"user": str(await user_id(runtime, world.platform_admin))},  # no role in A
    ):
        refused = await ask(api, operator, CREATE, title="巡检", site=str(site), **variables)
        assert refused.code == "NOT_FOUND", (variables, refused.body)
    both = await ask(
        api,
        operator,
        CREATE,
        title="巡检",
        site=str(site),
        user=str(await user_id(runtime, operator)),
        worker=str(a.worker_id),
    )
    assert both.code == "BAD_USER_INPUT"
    assert await ok(api, a.users["owner"], LIST, site=str(site)) == []

    to_worker = await ok(
        api, operator, CREATE, title="巡检", site=str(site), worker=str(a.worker_id)
    )
    assert to_worker["assigneeWorkerId"] == str(a.worker_id)
    assert to_worker["assigneeUserId"] is None


async def test_update_changes_what_is_given_and_clears_what_is_null(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = world.a
    operator = a.users["operator"]
    made = await a_work_order(api, world, worker=str(a.worker_id), due=future(), description="d")
    order = made["id"]
    manager_id = str(await user_id(runtime, a.users["safety_manager"]))
    switched = await ok(api, operator, UPDATE_USER_ONLY, id=order, user=manager_id)
    # Naming a member replaces the worker; the title is left as it was.
    assert switched == {
        "id": order,
        "title": made["title"],
        "assigneeUserId": manager_id,
        "assigneeWorkerId": None,
    }
    cleared = await ok(api, operator, UPDATE, id=order, title="新标题", description=None, due=None)
    assert cleared["title"] == "新标题" and cleared["description"] is None
    assert cleared["dueAt"] is None
    # $user and $worker were not sent: the assignee stays.
    assert cleared["assigneeUserId"] == manager_id and cleared["assigneeWorkerId"] is None
    unassigned = await ok(api, operator, UPDATE_USER_ONLY, id=order, user=None)
    assert unassigned["assigneeUserId"] is None and unassigned["assigneeWorkerId"] is None
    again = await ok(api, operator, UPDATE, id=order, title="新标题")  # no change: no entry
    fields = [e["changedFields"] for e in again["timeline"] if e["kind"] == "UPDATED"]
    assert fields == [
        ["assigneeUserId", "assigneeWorkerId"],
        ["description", "dueAt", "title"],
        ["assigneeUserId"],
    ]

    before = await stored(runtime, a.tenant_id, order)
    for variables in (
        {"title": None},
        {"title": " "},
        {"due": "2020-01-01T00:00:00Z"},
        {"worker": str(world.b.worker_id)},
    ):
        refused = await ask(api, operator, UPDATE, id=order, **variables)
        assert refused.code in ("BAD_USER_INPUT", "NOT_FOUND"), (variables, refused.body)
    assert await stored(runtime, a.tenant_id, order) == before
    assert [k for k, _, _ in await audit_actions(runtime, order)] == [
        "work_order.create",
        "work_order.update",
        "work_order.update",
        "work_order.update",
    ]


async def test_a_finished_work_order_is_not_edited(api: GraphQLClient, world: World) -> None:
    owner = world.a.users["owner"]
    order = (await a_work_order(api, world, owner, checklist=["a"]))["id"]
    await ok(api, owner, STATUS, id=order, status="CANCELLED", note="取消")
    edit = await ask(api, owner, UPDATE, id=order, title="改")
    tick = await ask(api, owner, CHECK, id=order, index=0, done=True)
    assert edit.code == tick.code == "BAD_USER_INPUT"
    # A remark after the fact is still welcome.
    assert (await ok(api, owner, COMMENT, id=order, text="已合并到另一工单"))["comments"]


@pytest.mark.parametrize(("index", "needle"), [(-1, "no item -1"), (3, "no item 3")])
async def test_checking_an_item_that_does_not_exist_is_refused(
    api: GraphQLClient, world: World, index: int, needle: str
) -> None:
    order = (await a_work_order(api, world, checklist=["a", "b", "c"]))["id"]
    refused = await ask(api, world.a.users["operator"], CHECK, id=order, index=index, done=True)
    assert refused.code == "BAD_USER_INPUT" and needle in refused.body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("text", "photos", "needle"),
    [
        ("", None, "comment is required"),
        ("x" * 2001, None, "comment is at most 2000"),
        ("照片", ["../../etc/passwd"], "not a photo key"),
        ("照片", ["photos/{b}/{u}.jpg"], "not a photo key"),  # another tenant's upload
        ("照片", ["photos/{a}/{u}.gif"], "not a photo key"),
        ("照片", ["photos/{a}/{u}.jpg"] * 2, "attached once"),
        ("照片", [f"photos/{{a}}/{uuid.uuid4()}.png" for _ in range(6)], "at most 5 photos"),
    ],
)
async def test_a_bad_comment_is_refused_and_adds_nothing(
    api: GraphQLClient,
    runtime: Runtime,
    world: World,
    text: str,
    photos: list[str] | None,
    needle: str,
) -> None:
    order = (await a_work_order(api, world))["id"]
    keys = None
    if photos is not None:
        same = str(uuid.uuid4())
        keys = [p.format(a=world.a.tenant_id, b=world.b.tenant_id, u=same) for p in photos]
    before = await stored(runtime, world.a.tenant_id, order)
    refused = await ask(api, world.a.users["operator"], COMMENT, id=order, text=text, photos=keys)
    assert refused.code == "BAD_USER_INPUT", refused.body
    assert needle in refused.body["errors"][0]["message"]
    assert await stored(runtime, world.a.tenant_id, order) == before


async def test_identifiers_in_free_text_are_masked_before_they_are_stored(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    mobile = "13912345678"
    made = await a_work_order(api, world, description=f"联系张工 {mobile}")
    commented = await ok(
        api, world.a.users["operator"], COMMENT, id=made["id"], text=f"已电话 {mobile}"
    )
    assert mobile not in str(made) and mobile not in str(commented)
    (row, _) = await stored(runtime, world.a.tenant_id, made["id"])
    assert mobile not in str(row)


async def test_the_list_pages_newest_first_and_filters_by_status(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = str(await new_site(runtime, world.a.tenant_id))
    operator = world.a.users["operator"]
    made = [(await ok(api, operator, CREATE, title=f"工单{i}", site=site))["id"] for i in range(5)]
    await ok(api, operator, STATUS, id=made[1], status="IN_PROGRESS")
    viewer = world.a.users["viewer"]
    first = await ok(api, viewer, LIST, site=site, first=2)
    second = await ok(api, viewer, LIST, site=site, first=2, after=first[-1]["id"])
    third = await ok(api, viewer, LIST, site=site, first=2, after=second[-1]["id"])
    assert [o["id"] for o in first + second + third] == made[::-1]
    started = await ok(api, viewer, LIST, site=site, status="IN_PROGRESS")
    assert [o["id"] for o in started] == [made[1]]
    too_many = await ask(api, viewer, LIST, site=site, first=201)
    assert too_many.code == "BAD_USER_INPUT"

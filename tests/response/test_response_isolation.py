"""Who may do what with work orders and handovers: every enterprise role on its own tenant's
objects (viewers read, operators work, safety managers and owners also verify), every role
against another tenant's objects (NOT_FOUND, empty lists, nothing changed), and regulators and
the platform administrator, who see none of these records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.response.models import Handover, WorkOrder, WorkOrderEvent
from backend.runtime import Runtime
from tenants.scope import Scope, scoped_session
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.response.helpers import (
    ACCEPT_HANDOVER,
    CHECK,
    COMMENT,
    CREATE,
    CREATE_HANDOVER,
    HANDOVERS,
    LIST,
    ONE,
    STATUS,
    add_alarm,
    ask,
    ok,
)

ROLES = ("owner", "safety_manager", "operator", "viewer")
WORKERS = frozenset({"owner", "safety_manager", "operator"})  # create, update, progress
UPDATE = """mutation($id: ID!, $title: String) { updateWorkOrder(id: $id, title: $title) { id } }"""
REVIEWS = """query($site: ID!) { ruleReviewStats(siteId: $site) { ruleId closed } }"""


@dataclass(frozen=True)
class Objects:
    """One tenant's work order (with a checklist) and an open handover, and its alarm."""

    order: str
    handover: str
    alarm: str
    site: str


async def objects_of(api: GraphQLClient, runtime: Runtime, world: World, which: str) -> Objects:
    tenant = getattr(world, which)
    alarm, _ = await add_alarm(runtime, tenant.tenant_id, tenant.site_id)
    order = await ok(
        api,
        tenant.users["owner"],
        CREATE,
        title=f"{which} 工单",
        alarm=str(alarm),
        checklist=["一", "二"],
    )
    handover = await ok(
        api, tenant.users["owner"], CREATE_HANDOVER, site=str(tenant.site_id), note="交班"
    )
    return Objects(order["id"], handover["id"], str(alarm), str(tenant.site_id))


@pytest.fixture(scope="module")
async def theirs(api: GraphQLClient, runtime: Runtime, world: World) -> Objects:
    return await objects_of(api, runtime, world, "b")


async def state_of(runtime: Runtime, tenant_id: uuid.UUID) -> tuple[Any, ...]:
    """Every response row of a tenant, read through its own scope."""
    async with scoped_session(runtime.sessions, Scope.for_tenant(tenant_id)) as session:
        orders = (
            await session.execute(
                select(WorkOrder.id, WorkOrder.title, WorkOrder.status, WorkOrder.checklist)
                .where(WorkOrder.tenant_id == tenant_id)
                .order_by(WorkOrder.id)
            )
        ).all()
        events = await session.scalar(
            select(func.count())
            .select_from(WorkOrderEvent)
            .where(WorkOrderEvent.tenant_id == tenant_id)
        )
        handovers = (
            await session.execute(
                select(Handover.id, Handover.accepted_by)
                .where(Handover.tenant_id == tenant_id)
                .order_by(Handover.id)
            )
        ).all()
    return (
        [(str(i), t, s.value, str(c)) for i, t, s, c in orders],
        events,
        [(str(i), str(b)) for i, b in handovers],
    )


# --- own tenant ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_every_role_reads_its_own_tenants_work_orders_and_handovers(
    api: GraphQLClient, runtime: Runtime, world: World, role: str
) -> None:
    mine = await objects_of(api, runtime, world, "a")
    user = world.a.users[role]
    listed = await ok(api, user, LIST, site=mine.site, first=200)
    assert mine.order in {o["id"] for o in listed}
    shown = await ok(api, user, ONE, id=mine.order)
    assert shown["id"] == mine.order and shown["alarm"]["id"] == mine.alarm
    assert mine.handover in {h["id"] for h in await ok(api, user, HANDOVERS, site=mine.site)}
    assert isinstance(await ok(api, user, REVIEWS, site=mine.site), list)


@pytest.mark.parametrize("role", ROLES)
async def test_what_each_role_may_do_with_its_own_tenants_objects(
    api: GraphQLClient, runtime: Runtime, world: World, role: str
) -> None:
    mine = await objects_of(api, runtime, world, "a")
    user = world.a.users[role]
    attempts = {
        "create": await ask(api, user, CREATE, title="新工单", site=mine.site),
        "update": await ask(api, user, UPDATE, id=mine.order, title="改名"),
        "check": await ask(api, user, CHECK, id=mine.order, index=0, done=True),
        "comment": await ask(api, user, COMMENT, id=mine.order, text="备注"),
        "progress": await ask(api, user, STATUS, id=mine.order, status="IN_PROGRESS"),
        "hand over": await ask(api, user, CREATE_HANDOVER, site=mine.site, note="交班"),
    }
    for what, result in attempts.items():
        if role in WORKERS:
            assert not result.codes, (role, what, result.body)
        else:
            assert result.code == "FORBIDDEN", (role, what, result.body)
    accept = await ask(api, user, ACCEPT_HANDOVER, id=mine.handover)
    if role == "owner":  # the owner handed it over: its own handover
        assert accept.code == "BAD_USER_INPUT"
    elif role in WORKERS:
        assert not accept.codes, accept.body
    else:
        assert accept.code == "FORBIDDEN"
    if role == "viewer":
        assert "viewer" in attempts["create"].body["errors"][0]["message"]


async def test_a_viewers_refusals_change_nothing(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    mine = await objects_of(api, runtime, world, "a")
    before = await state_of(runtime, world.a.tenant_id)
    viewer = world.a.users["viewer"]
    for document, variables in (
        (UPDATE, {"id": mine.order, "title": "改名"}),
        (CHECK, {"id": mine.order, "index": 0, "done": True}),
        (COMMENT, {"id": mine.order, "text": "备注"}),
        (STATUS, {"id": mine.order, "status": "CANCELLED", "note": "x"}),
        (ACCEPT_HANDOVER, {"id": mine.handover}),
        (CREATE_HANDOVER, {"site": mine.site, "note": "交班"}),
    ):
        assert (await ask(api, viewer, document, **variables)).code == "FORBIDDEN"
    assert await state_of(runtime, world.a.tenant_id) == before


# --- another tenant -----------------------------------------------------------------------------


def _cases(theirs: Objects) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "workOrder": (ONE, {"id": theirs.order}),
        "createWorkOrder on their site": (CREATE, {"title": "x", "site": theirs.site}),
        "createWorkOrder from their alarm": (CREATE, {"title": "x", "alarm": theirs.alarm}),
        "updateWorkOrder": (UPDATE, {"id": theirs.order, "title": "x"}),
        "setWorkOrderStatus": (STATUS, {"id": theirs.order, "status": "CANCELLED", "note": "x"}),
        "checkWorkOrderItem": (CHECK, {"id": theirs.order, "index": 0, "done": True}),
        "commentWorkOrder": (COMMENT, {"id": theirs.order, "text": "x"}),
        "createHandover": (CREATE_HANDOVER, {"site": theirs.site, "note": "x"}),
        "acceptHandover": (ACCEPT_HANDOVER, {"id": theirs.handover, "note": "x"}),
        "ruleReviewStats": (REVIEWS, {"site": theirs.site}),
        "workOrders after their id": (LIST, {"after": theirs.order}),
        "handovers after their id": (HANDOVERS, {"site": theirs.site, "after": theirs.handover}),
    }


CASES = list(_cases(Objects("o", "h", "a", "s")))


async def _outsider_sees_nothing(
    api: GraphQLClient, runtime: Runtime, world: World, theirs: Objects, user: str, case: str
) -> None:
    before = await state_of(runtime, world.b.tenant_id)
    document, variables = _cases(theirs)[case]
    result = await ask(api, user, document, **variables)
    assert result.code == "NOT_FOUND", (case, result.body)
    assert result.data is None or not any(result.data.values()), result.body
    assert await state_of(runtime, world.b.tenant_id) == before


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("role", ROLES)
async def test_another_tenants_objects_are_not_found(
    api: GraphQLClient, runtime: Runtime, world: World, theirs: Objects, role: str, case: str
) -> None:
    await _outsider_sees_nothing(api, runtime, world, theirs, world.a.users[role], case)


@pytest.mark.parametrize("role", ROLES)
async def test_another_tenants_lists_are_empty(
    api: GraphQLClient, world: World, theirs: Objects, role: str
) -> None:
    user = world.a.users[role]
    assert theirs.order not in {o["id"] for o in await ok(api, user, LIST, first=200)}
    assert await ok(api, user, LIST, site=theirs.site) == []
    assert await ok(api, user, HANDOVERS, site=theirs.site) == []


# --- regulators and the platform ------------------------------------------------------------------

# Regulators see B's sites and alarms (and so its rules' review figures), not these records;
# with nothing of the kind in their reach, a page after one of B's ids is simply empty.
OUTSIDERS_CASES = [
    c
    for c in CASES
    if c not in ("ruleReviewStats", "workOrders after their id") and c != "handovers after their id"
]


def _outsiders(world: World) -> dict[str, str]:
    return {"province director": world.regulators["320000"], "platform": world.platform_admin}


@pytest.mark.parametrize("case", OUTSIDERS_CASES)
@pytest.mark.parametrize("who", ["province director", "platform"])
async def test_regulators_and_the_platform_find_none_of_it(
    api: GraphQLClient, runtime: Runtime, world: World, theirs: Objects, who: str, case: str
) -> None:
    await _outsider_sees_nothing(api, runtime, world, theirs, _outsiders(world)[who], case)


@pytest.mark.parametrize("who", ["province director", "platform"])
async def test_regulators_and_the_platform_list_nothing(
    api: GraphQLClient, world: World, theirs: Objects, who: str
) -> None:
    user = _outsiders(world)[who]
    assert await ok(api, user, LIST) == []
    assert await ok(api, user, LIST, site=theirs.site) == []
    assert await ok(api, user, LIST, after=theirs.order) == []
    assert await ok(api, user, HANDOVERS, site=theirs.site) == []
    assert await ok(api, user, HANDOVERS, site=theirs.site, after=theirs.handover) == []

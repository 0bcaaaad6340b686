"""Shift handovers (交接班): the server snapshots what is open on the site, another member of
the incoming shift accepts, both signatures stay, and the list pages newest first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from backend.alarms.models import AlarmStatus, Verdict
from backend.alarms.permits import close_permit, open_permit
from backend.alarms.rules import PermitKind
from backend.auth.principal import Principal
from backend.runtime import Runtime
from tenants.scope import Scope, scoped_session
from tenants.service import create_zone
from tests.alarm_helpers import user_id
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import GAS, new_device, new_site
from tests.response.helpers import (
    ACCEPT_HANDOVER,
    CREATE,
    CREATE_HANDOVER,
    HANDOVERS,
    STATUS,
    add_alarm,
    ask,
    audit_actions,
    ok,
)


async def a_busy_site(api: GraphQLClient, runtime: Runtime, world: World) -> dict[str, object]:
    """A site of its own with alarms, permits and work orders open and finished."""
    a = world.a
    site = await new_site(runtime, a.tenant_id)
    device = await new_device(runtime, a.tenant_id, site, (GAS,))
    site = device.site_id
    sensor = device.sensors["GT-1"]
    active, _ = await add_alarm(runtime, a.tenant_id, site, sensor_id=sensor)
    cleared, _ = await add_alarm(runtime, a.tenant_id, site, status=AlarmStatus.CLEARED)
    await add_alarm(
        runtime,
        a.tenant_id,
        site,
        status=AlarmStatus.CLOSED,
        verdict=Verdict.FALSE_POSITIVE,
        cause="标定漂移",
    )
    await add_alarm(runtime, a.tenant_id, a.site_id)  # another site: not this handover's
    scope = Scope.for_tenant(a.tenant_id)
    system = Principal.system(scope)
    async with scoped_session(runtime.sessions, scope) as session, session.begin():
        zone = await create_zone(
            session=session,
            authz=runtime.authz,
            principal=system,
            site_id=site,
            name="动火区",
            kind="hot_work",
        )
        expires = datetime.now(UTC) + timedelta(hours=4)
        hot = await open_permit(
            session=session,
            authz=runtime.authz,
            principal=system,
            zone_id=zone.id,
            kind=PermitKind.HOT_WORK,
            expires_at=expires,
            note="监护人 李四",
        )
        done = await open_permit(
            session=session,
            authz=runtime.authz,
            principal=system,
            zone_id=zone.id,
            kind=PermitKind.CONFINED_SPACE,
            expires_at=expires,
        )
        await close_permit(
            session=session, authz=runtime.authz, principal=system, permit_id=done.id
        )
    owner = a.users["owner"]
    orders = {}
    for title, path in (
        ("待处理", []),
        ("处理中", ["IN_PROGRESS"]),
        ("待验收", ["IN_PROGRESS", "DONE"]),
        ("已验收", ["IN_PROGRESS", "DONE", "VERIFIED"]),
        ("已取消", ["CANCELLED"]),
    ):
        order = (await ok(api, owner, CREATE, title=title, site=str(site)))["id"]
        for status in path:
            await ok(api, owner, STATUS, id=order, status=status, note="理由")
        orders[title] = order
    return {
        "site": site,
        "alarms": {str(active), str(cleared)},
        "permit": (str(hot.id), str(zone.id)),
        "orders": orders,
    }


async def test_a_handover_snapshots_what_is_open_and_is_accepted_by_another_member(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = world.a
    busy = await a_busy_site(api, runtime, world)
    site = str(busy["site"])
    outgoing, incoming = a.users["operator"], a.users["safety_manager"]
    made = await ok(api, outgoing, CREATE_HANDOVER, site=site, note="夜班无异常，GT-1 仍报警")
    assert made["note"] == "夜班无异常，GT-1 仍报警"
    assert made["handedOverBy"] == str(await user_id(runtime, outgoing))
    assert made["handedOverAt"] and not made["accepted"] and made["acceptedBy"] is None

    assert made["openAlarmCount"] == 2
    assert {x["id"] for x in made["openAlarms"]} == busy["alarms"]
    assert {x["status"] for x in made["openAlarms"]} == {"ACTIVE_UNACKNOWLEDGED", "CLEARED"}
    assert {x["sensorCode"] for x in made["openAlarms"]} == {"GT-1", None}
    permit, zone = busy["permit"]  # type: ignore[misc]
    assert made["openPermitCount"] == 1
    assert made["openPermits"] == [
        {"id": permit, "kind": "hot_work", "zoneId": zone, "zoneName": "动火区"}
    ]
    orders = busy["orders"]
    assert made["openWorkOrderCount"] == 3
    assert {(o["title"], o["status"]) for o in made["openWorkOrders"]} == {
        ("待处理", "OPEN"),
        ("处理中", "IN_PROGRESS"),
        ("待验收", "DONE"),
    }
    assert {o["id"] for o in made["openWorkOrders"]} == {
        orders["待处理"],  # type: ignore[index]
        orders["处理中"],  # type: ignore[index]
        orders["待验收"],  # type: ignore[index]
    }

    own = await ask(api, outgoing, ACCEPT_HANDOVER, id=made["id"], note="我自己接")
    assert own.code == "BAD_USER_INPUT"
    assert "your own handover" in own.body["errors"][0]["message"]

    accepted = await ok(api, incoming, ACCEPT_HANDOVER, id=made["id"], note="已接班")
    assert accepted["accepted"] and accepted["acceptNote"] == "已接班"
    assert accepted["acceptedBy"] == str(await user_id(runtime, incoming))
    assert accepted["acceptedAt"] >= made["handedOverAt"]
    assert accepted["handedOverBy"] == made["handedOverBy"]  # both signatures kept
    # The snapshot is what was open then, not now.
    await ok(api, a.users["owner"], STATUS, id=orders["待处理"], status="CANCELLED", note="x")  # type: ignore[index]
    listed = await ok(api, a.users["viewer"], HANDOVERS, site=site)
    assert listed == [{"id": made["id"], "note": made["note"], "accepted": True}]

    twice = await ask(api, a.users["owner"], ACCEPT_HANDOVER, id=made["id"])
    assert (
        twice.code == "BAD_USER_INPUT" and "already accepted" in twice.body["errors"][0]["message"]
    )

    domain = f"tenant:{a.tenant_id}"
    assert await audit_actions(runtime, made["id"]) == [
        ("handover.create", "operator", domain),
        ("handover.accept", "safety_manager", domain),
    ]


async def test_a_handover_needs_a_note(api: GraphQLClient, runtime: Runtime, world: World) -> None:
    site = str(await new_site(runtime, world.a.tenant_id))
    for note in ("", "   ", "x" * 2001):
        refused = await ask(api, world.a.users["operator"], CREATE_HANDOVER, site=site, note=note)
        assert refused.code == "BAD_USER_INPUT", refused.body
    assert await ok(api, world.a.users["owner"], HANDOVERS, site=site) == []


async def test_handovers_page_newest_first(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    site = str(await new_site(runtime, world.a.tenant_id))
    made = [
        (await ok(api, world.a.users["operator"], CREATE_HANDOVER, site=site, note=f"第{i}班"))[
            "id"
        ]
        for i in range(5)
    ]
    viewer = world.a.users["viewer"]
    pages: list[str] = []
    after = None
    while True:
        page = await ok(api, viewer, HANDOVERS, site=site, first=2, after=after)
        if not page:
            break
        pages += [h["id"] for h in page]
        after = page[-1]["id"]
    assert pages == made[::-1]
    unknown = await ask(api, viewer, HANDOVERS, site=site, after=str(uuid.uuid4()))
    assert unknown.code == "NOT_FOUND"

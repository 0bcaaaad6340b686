"""The alarm console over GraphQL (CONTRACT.md "GraphQL"): field names and enums, the filters,
newest-first pages, and who sees and may handle which alarms.

The module raises its alarms through ingest on a site of its own in tenant A (two gas devices)
and on tenant B's site, so every expectation below is about alarms this module made. A gas
sensor also carries a "no data" (stale) rule; comparisons look at the gas threshold's alarms.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from backend.runtime import Runtime
from tests.alarm_helpers import (
    ACKNOWLEDGE,
    ALARMS,
    CLEAR,
    CLOSE,
    DISPATCH,
    GAS_LEVELS,
    alarms,
    alarms_query,
    gas_device,
    mutate,
    ok,
    raise_alarm,
    send,
)
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import GAS, IngestDevice, new_site

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CONTRACT_FIELDS = """id severity status acknowledged acknowledgedAt clearedAt closedAt raisedAt
    sensor { id code } site { id name }"""


@dataclass
class Console:
    site_id: uuid.UUID
    d1: IngestDevice
    d2: IngestDevice
    a: list[str]  # A's alarms at the module's site, in the order raised
    b: str  # an active RED alarm of tenant B


@pytest.fixture(scope="module")
async def console(api: GraphQLClient, runtime: Runtime, world: World) -> Console:
    """a[0..2]: ORANGE, cleared (a[0] then closed); a[3]: RED, active (d1); a[4]: ORANGE,
    active (d2); b: RED, active, on tenant B's site."""
    owner = world.a.users["owner"]
    site = await new_site(runtime, world.a.tenant_id)
    d1 = await gas_device(api, runtime, world.a.tenant_id, site)
    d2 = await gas_device(api, runtime, world.a.tenant_id, site, [{**GAS, "code": "GT-2"}])
    b_dev = await gas_device(api, runtime, world.b.tenant_id, world.b.site_id)
    raised = []
    for _ in range(3):
        raised.append((await raise_alarm(api, owner, d1, 30.0))["id"])
        await send(api, d1, 10.0)
    raised.append((await raise_alarm(api, owner, d1, 60.0))["id"])
    raised.append((await raise_alarm(api, owner, d2, 30.0))["id"])
    await ok(api, owner, CLOSE, id=raised[0], verdict="FALSE_POSITIVE", cause="bump test")
    b = (await raise_alarm(api, world.b.users["owner"], b_dev, 60.0))["id"]
    return Console(site, d1, d2, raised, b)


def gas(rows: list[dict[str, Any]]) -> list[str]:
    """Ids of the gas-threshold alarms among ``rows``, in the order listed."""
    return [a["id"] for a in rows if a["level"] in GAS_LEVELS]


# --- shape ------------------------------------------------------------------------------------


async def test_alarm_fields_follow_the_contract(
    api: GraphQLClient, world: World, console: Console
) -> None:
    owner = world.a.users["owner"]
    query = f"""query($s: ID) {{ alarms(status: ALL, siteId: $s) {{ {CONTRACT_FIELDS} }} }}
    """
    result = await api.query(query, {"s": str(console.site_id)}, as_user=owner)
    assert not result.codes, result.body
    rows = {a["id"]: a for a in result.data["alarms"]}  # type: ignore[index]
    assert set(console.a) <= rows.keys()
    sites = await api.query("{ sites { id name } }", as_user=owner)
    site_name = {s["id"]: s["name"] for s in sites.data["sites"]}[str(console.site_id)]  # type: ignore[index]
    sensors = {
        str(console.d1.sensors[console.d1.gas_code]): console.d1.gas_code,
        str(console.d2.sensors[console.d2.gas_code]): console.d2.gas_code,
    }
    for alarm in rows.values():
        assert set(alarm) == {
            "id",
            "severity",
            "status",
            "acknowledged",
            "acknowledgedAt",
            "clearedAt",
            "closedAt",
            "raisedAt",
            "sensor",
            "site",
        }
        assert str(uuid.UUID(alarm["id"])) == alarm["id"]
        assert alarm["severity"] in {"RED", "ORANGE", "YELLOW", "BLUE"}
        assert isinstance(alarm["acknowledged"], bool)
        assert STAMP.match(alarm["raisedAt"]), alarm
        for name in ("acknowledgedAt", "clearedAt", "closedAt"):
            assert alarm[name] is None or STAMP.match(alarm[name]), alarm
        assert sensors.get(alarm["sensor"]["id"]) == alarm["sensor"]["code"]
        assert alarm["site"] == {"id": str(console.site_id), "name": site_name}
    closed = rows[console.a[0]]
    assert closed["status"] == "CLOSED" and closed["acknowledged"] is True
    assert None not in (closed["acknowledgedAt"], closed["clearedAt"], closed["closedAt"])
    assert [rows[i]["status"] for i in console.a[1:]] == [
        "CLEARED",
        "CLEARED",
        "ACTIVE_UNACKNOWLEDGED",
        "ACTIVE_UNACKNOWLEDGED",
    ]
    assert [rows[i]["severity"] for i in console.a] == ["ORANGE"] * 3 + ["RED", "ORANGE"]


async def enum_values(api: GraphQLClient, user: str, name: str) -> set[str]:
    result = await api.query(
        "query($n: String!) { __type(name: $n) { enumValues { name } } }", {"n": name}, as_user=user
    )
    assert result.data and result.data["__type"], (name, result.body)
    return {v["name"] for v in result.data["__type"]["enumValues"]}


async def test_the_enums_of_the_contract(api: GraphQLClient, world: World) -> None:
    owner = world.a.users["owner"]
    assert await enum_values(api, owner, "AlarmStatusFilter") == {"ACTIVE", "OPEN", "CLOSED", "ALL"}
    assert await enum_values(api, owner, "Severity") == {"RED", "ORANGE", "YELLOW", "BLUE"}
    assert await enum_values(api, owner, "AlarmStatus") == {
        "ACTIVE_UNACKNOWLEDGED",
        "ACKNOWLEDGED",
        "DISPATCHED",
        "CLEARED",
        "CLOSED",
    }
    events = await api.query(
        '{ __type(name: "AlarmEvent") { fields { name type { name ofType { name } } } } }',
        as_user=owner,
    )
    kind = {f["name"]: f["type"] for f in events.data["__type"]["fields"]}["kind"]  # type: ignore[index]
    assert await enum_values(api, owner, kind["name"] or kind["ofType"]["name"]) == {
        "RAISED",
        "SEVERITY_CHANGED",
        "ACKNOWLEDGED",
        "DISPATCHED",
        "CLEARED",
        "CLOSED",
        "ESCALATED",
    }


# --- filters ----------------------------------------------------------------------------------


async def test_status_filters(api: GraphQLClient, world: World, console: Console) -> None:
    owner, site = world.a.users["owner"], console.site_id
    a = console.a
    default = gas(await alarms(api, owner, site_id=site))
    assert set(default) == {a[3], a[4]}  # ACTIVE: raised and not yet cleared
    assert set(gas(await alarms(api, owner, status="ACTIVE", site_id=site))) == {a[3], a[4]}
    assert set(gas(await alarms(api, owner, status="OPEN", site_id=site))) == set(a[1:])
    assert set(gas(await alarms(api, owner, status="CLOSED", site_id=site))) == {a[0]}
    assert set(gas(await alarms(api, owner, status="ALL", site_id=site))) == set(a)


async def test_severity_filter(api: GraphQLClient, world: World, console: Console) -> None:
    owner, site = world.a.users["owner"], console.site_id
    a = console.a
    for severity, expected in (("RED", {a[3]}), ("ORANGE", {a[0], a[1], a[2], a[4]})):
        rows = await alarms(api, owner, status="ALL", site_id=site, severity=severity)
        assert {r["severity"] for r in rows} <= {severity}
        assert set(gas(rows)) == expected
    assert gas(await alarms(api, owner, status="ALL", site_id=site, severity="YELLOW")) == []


async def test_site_and_sensor_filters(api: GraphQLClient, world: World, console: Console) -> None:
    owner = world.a.users["owner"]
    elsewhere = await alarms(api, owner, status="ALL", site_id=world.a.site_id)
    assert not set(console.a) & {r["id"] for r in elsewhere}
    assert {r["site"]["id"] for r in elsewhere} <= {str(world.a.site_id)}

    d2 = console.d2.sensors[console.d2.gas_code]
    rows = await alarms(api, owner, status="ALL", sensor_id=d2)
    assert {r["sensor"]["id"] for r in rows} == {str(d2)}
    assert gas(rows) == [console.a[4]]
    both = await alarms(api, owner, status="ALL", sensor_id=d2, site_id=world.a.site_id)
    assert both == []


async def test_time_window_is_half_open_on_raised_at(
    api: GraphQLClient, world: World, console: Console
) -> None:
    owner, site = world.a.users["owner"], console.site_id
    a = console.a
    everything = {r["id"]: r for r in await alarms(api, owner, status="ALL", site_id=site)}
    at = [everything[i]["raisedAt"] for i in a]

    async def window(**bounds: Any) -> set[str]:
        return set(gas(await alarms(api, owner, status="ALL", site_id=site, **bounds)))

    assert await window(from_=at[2]) == {a[2], a[3], a[4]}
    assert await window(to=at[2]) == {a[0], a[1]}
    assert await window(from_=at[1], to=at[3]) == {a[1], a[2]}
    assert await window(from_=at[3], to=at[3]) == set()
    # Another zone and epoch milliseconds name the same instants.
    third = datetime.fromisoformat(at[2].replace("Z", "+00:00"))
    east8 = third.astimezone(timezone(timedelta(hours=8))).isoformat(timespec="milliseconds")
    assert await window(from_=east8) == {a[2], a[3], a[4]}
    assert await window(to=int(third.timestamp() * 1000)) == {a[0], a[1]}
    zoneless = await alarms_query(api, owner, status="ALL", from_="2026-01-01T00:00:00")
    assert zoneless.code == "BAD_USER_INPUT", zoneless.body


async def test_newest_first_in_pages_without_gaps_or_overlap(
    api: GraphQLClient, world: World, console: Console
) -> None:
    owner, site = world.a.users["owner"], console.site_id
    everything = await alarms(api, owner, status="ALL", site_id=site)
    assert gas(everything) == list(reversed(console.a))
    stamps = [r["raisedAt"] for r in everything]
    assert stamps == sorted(stamps, reverse=True)
    for size in (1, 2, 3):
        seen: list[str] = []
        after: str | None = None
        while True:
            page_filters: dict[str, Any] = {"status": "ALL", "site_id": site, "first": size}
            if after is not None:
                page_filters["after"] = after
            page = await alarms(api, owner, **page_filters)
            assert len(page) <= size
            if not page:
                break
            seen += [r["id"] for r in page]
            after = page[-1]["id"]
        assert seen == [r["id"] for r in everything], size


async def test_bad_cursors_and_page_sizes(
    api: GraphQLClient, world: World, console: Console
) -> None:
    owner = world.a.users["owner"]
    for after in (str(uuid.uuid4()), "not-an-id", console.b):  # B's alarm is not A's to see
        result = await alarms_query(api, owner, status="ALL", after=after)
        assert result.code == "NOT_FOUND", (after, result.body)
    for first in (0, -1, 1001):
        result = await alarms_query(api, owner, first=first)
        assert result.code == "BAD_USER_INPUT", (first, result.body)


async def test_signing_in_is_required(api: GraphQLClient) -> None:
    result = await api.query(ALARMS, {})
    assert result.code == "UNAUTHENTICATED", result.body


# --- who sees and handles what ----------------------------------------------------------------


async def test_another_tenant_sees_none_of_the_alarms(
    api: GraphQLClient, world: World, console: Console
) -> None:
    for role, user in world.b.users.items():
        rows = await alarms(api, user, status="ALL", first=1000)
        assert not set(console.a) & {r["id"] for r in rows}, role
        assert await alarms(api, user, status="ALL", site_id=console.site_id) == [], role
    assert console.b in {r["id"] for r in await alarms(api, world.b.users["viewer"])}


async def test_another_tenant_cannot_handle_the_alarms(
    api: GraphQLClient, world: World, console: Console
) -> None:
    target = console.a[4]
    attempts = [
        (ACKNOWLEDGE, {"id": target}),
        (DISPATCH, {"id": target, "assignee": "x"}),
        (CLEAR, {"id": target, "reason": "x"}),
        (CLOSE, {"id": target, "verdict": "TRUE_POSITIVE", "cause": "x"}),
    ]
    for role in ("owner", "safety_manager", "operator"):
        for mutation, variables in attempts:
            result = await mutate(api, world.b.users[role], mutation, **variables)
            assert result.code == "NOT_FOUND", (role, mutation, result.body)
    (row,) = [
        r
        for r in await alarms(api, world.a.users["owner"], site_id=console.site_id)
        if r["id"] == target
    ]
    assert (row["status"], row["acknowledged"]) == ("ACTIVE_UNACKNOWLEDGED", False)


async def test_a_viewer_sees_alarms_but_may_not_handle_them(
    api: GraphQLClient, world: World, console: Console
) -> None:
    viewer = world.a.users["viewer"]
    assert {console.a[3], console.a[4]} <= set(gas(await alarms(api, viewer)))
    for mutation, variables in (
        (ACKNOWLEDGE, {"id": console.a[4]}),
        (CLEAR, {"id": console.a[4], "reason": "x"}),
        (CLOSE, {"id": console.a[1], "verdict": "TRUE_POSITIVE", "cause": "x"}),
    ):
        result = await mutate(api, viewer, mutation, **variables)
        assert result.code == "FORBIDDEN", (mutation, result.body)
    rows = {r["id"]: r for r in await alarms(api, viewer, status="ALL", site_id=console.site_id)}
    assert rows[console.a[4]]["acknowledged"] is False
    assert rows[console.a[1]]["status"] == "CLEARED"


async def test_an_operator_may_acknowledge(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    dev = await gas_device(api, runtime, world.a.tenant_id, world.a.site_id)
    alarm = await raise_alarm(api, world.a.users["owner"], dev, 33.0)
    acked = await ok(api, world.a.users["operator"], ACKNOWLEDGE, id=alarm["id"])
    assert (acked["status"], acked["acknowledged"]) == ("ACKNOWLEDGED", True)


async def test_regulators_see_the_alarms_of_their_jurisdiction(
    api: GraphQLClient, world: World, console: Console
) -> None:
    a, b = console.a[4], console.b

    async def seen(division: str) -> set[str]:
        rows = await alarms(api, world.regulators[division], status="ALL", first=1000)
        return {r["id"] for r in rows}

    province, nanjing, suzhou = await seen("320000"), await seen("320100"), await seen("320500")
    assert {a, b} <= province
    assert a in nanjing and b not in nanjing
    assert b in suzhou and a not in suzhou
    # Regulators watch; handling is the enterprise's.
    watching = await mutate(api, world.regulators["320000"], ACKNOWLEDGE, id=a)
    assert watching.code == "FORBIDDEN", watching.body
    outside = await mutate(api, world.regulators["320500"], ACKNOWLEDGE, id=a)
    assert outside.code == "NOT_FOUND", outside.body


async def test_the_platform_admin_sees_no_alarms(
    api: GraphQLClient, world: World, console: Console
) -> None:
    assert await alarms(api, world.platform_admin, status="ALL") == []
    result = await mutate(api, world.platform_admin, ACKNOWLEDGE, id=console.a[4])
    assert result.code == "NOT_FOUND", result.body

"""A tenant reads its own audit trail (审计): ``auditEntries`` in GraphQL and ``GET
/api/v1/audit.csv``, for its owner and safety managers only, never another tenant's entries;
filters, newest-first pages, the CSV's BOM and content, and the read itself audited.

Entries are appended with the real ``privacy.audit.record`` under an action family of this
module's own, so every expectation is about entries this module wrote.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from backend.runtime import Runtime
from privacy.audit import READ_ACTION, Actor, AuditEntry, record
from tests.alarm_helpers import user_id
from tests.auth.test_browser_sessions import Browser
from tests.factories import World
from tests.graphql import GraphQLClient

ENTRIES = """query($from: DateTime, $to: DateTime, $action: String, $actor: String,
    $type: String, $first: Int, $after: ID, $tenant: ID) {
  auditEntries(from: $from, to: $to, action: $action, actorEmail: $actor, objectType: $type,
               first: $first, after: $after, tenantId: $tenant) {
    id at action objectType objectId detail actor { kind id email name role } } }"""
CSV_URL = "/api/v1/audit.csv"
BOM = b"\xef\xbb\xbf"


@dataclass
class Trail:
    family: str  # the action family of this module: "<family>.*"
    a: list[str]  # A's entry ids (seq), oldest first
    b: str  # B's entry id
    between: datetime  # after a[1], before a[2]


async def _append(
    rt: Runtime, actor: Actor, action: str, domain: str, **fields: Any
) -> tuple[str, datetime]:
    async with rt.sessions() as session, session.begin():
        entry = await record(session, actor, action, domain=domain, **fields)
        return str(entry.seq), entry.at


@pytest.fixture(scope="module")
async def trail(runtime: Runtime, world: World) -> Trail:
    family = f"t{uuid.uuid4().hex[:8]}"
    a_domain, b_domain = f"tenant:{world.a.tenant_id}", f"tenant:{world.b.tenant_id}"
    sm = str(await user_id(runtime, world.a.users["safety_manager"]))
    owner = str(await user_id(runtime, world.a.users["owner"]))
    as_sm = Actor("user", sm, "safety_manager")
    first, _ = await _append(
        runtime,
        as_sm,
        f"{family}.threshold",
        a_domain,
        object_type="alarm_rule",
        object_id="=1+1",  # what a spreadsheet would take for a formula
        detail={"reason": "阀门更换后调整"},
    )
    second, _ = await _append(
        runtime,
        Actor("user", owner, "owner"),
        f"{family}.role",
        a_domain,
        object_type="user",
        object_id=sm,
    )
    _, between = await _append(runtime, Actor.system(), "probe", "platform")
    third, _ = await _append(
        runtime,
        as_sm,
        f"{family}.threshold",
        a_domain,
        object_type="alarm_rule",
        object_id=str(uuid.uuid4()),
    )
    a = [first, second, third]
    b_owner = str(await user_id(runtime, world.b.users["owner"]))
    b, _ = await _append(runtime, Actor("user", b_owner, "owner"), f"{family}.threshold", b_domain)
    await _append(runtime, Actor.system(), f"{family}.gov", "gov:320100")
    return Trail(family, a, b, between)


async def entries(api: GraphQLClient, user: str, **variables: Any) -> list[dict[str, Any]]:
    result = await api.query(ENTRIES, variables, as_user=user)
    assert not result.codes, result.body
    return list(result.data["auditEntries"])  # type: ignore[index]


# --- GraphQL ----------------------------------------------------------------------------------


async def test_owner_and_safety_manager_read_their_tenants_trail_newest_first(
    api: GraphQLClient, world: World, trail: Trail
) -> None:
    for role in ("owner", "safety_manager"):
        rows = await entries(api, world.a.users[role], action=f"{trail.family}.*")
        assert [r["id"] for r in rows] == list(reversed(trail.a)), role
        first = rows[-1]
        assert first["action"] == f"{trail.family}.threshold"
        assert first["detail"] == {"reason": "阀门更换后调整"}
        assert first["actor"]["kind"] == "user" and first["actor"]["role"] == "safety_manager"
        assert first["actor"]["email"] == world.a.users["safety_manager"].lower()


async def test_the_filters(api: GraphQLClient, world: World, trail: Trail) -> None:
    owner, family = world.a.users["owner"], trail.family
    a = trail.a

    async def ids(**filters: Any) -> list[str]:
        return [r["id"] for r in await entries(api, owner, **filters)]

    assert await ids(action=f"{family}.role") == [a[1]]
    assert await ids(action=f"{family}.threshold") == [a[2], a[0]]
    assert await ids(action=family) == []  # exact unless it names a family
    sm = world.a.users["safety_manager"]
    assert await ids(action=f"{family}.*", actor=sm.upper()) == [a[2], a[0]]
    assert await ids(action=f"{family}.*", actor="nobody@example.cn") == []
    assert await ids(action=f"{family}.*", type="user") == [a[1]]
    stamp = trail.between.isoformat()
    assert await ids(action=f"{family}.*", **{"from": stamp}) == [a[2]]
    assert await ids(action=f"{family}.*", to=stamp) == [a[1], a[0]]
    bad = await api.query(
        ENTRIES, {"from": stamp, "to": stamp, "action": f"{family}.*"}, as_user=owner
    )
    assert bad.code == "BAD_USER_INPUT", bad.body
    for first in (0, 501):
        result = await api.query(ENTRIES, {"first": first}, as_user=owner)
        assert result.code == "BAD_USER_INPUT", (first, result.body)
    result = await api.query(ENTRIES, {"actor": "not an address"}, as_user=owner)
    assert result.code == "BAD_USER_INPUT", result.body


async def test_pages_without_gaps_or_overlap(
    api: GraphQLClient, world: World, trail: Trail
) -> None:
    seen: list[str] = []
    after: str | None = None
    while True:
        page_vars: dict[str, Any] = {"action": f"{trail.family}.*", "first": 1}
        if after is not None:
            page_vars["after"] = after
        page = await entries(api, world.a.users["safety_manager"], **page_vars)
        if not page:
            break
        seen += [r["id"] for r in page]
        after = page[-1]["id"]
    assert seen == list(reversed(trail.a))


async def test_operators_and_viewers_are_refused(
    api: GraphQLClient, world: World, trail: Trail
) -> None:
    for role in ("operator", "viewer"):
        result = await api.query(ENTRIES, {}, as_user=world.a.users[role])
        assert result.code == "FORBIDDEN", (role, result.body)


async def test_another_tenant_never_sees_the_entries(
    api: GraphQLClient, world: World, trail: Trail
) -> None:
    for role in ("owner", "safety_manager"):
        rows = await entries(api, world.b.users[role], action=f"{trail.family}.*")
        assert [r["id"] for r in rows] == [trail.b], role
    for role, user in world.b.users.items():
        result = await api.query(ENTRIES, {"tenant": str(world.a.tenant_id)}, as_user=user)
        assert result.code == "NOT_FOUND", (role, result.body)


async def test_regulators_and_the_platform_see_nothing(
    api: GraphQLClient, world: World, trail: Trail
) -> None:
    for user in (*world.regulators.values(), world.platform_admin):
        assert await entries(api, user, action=f"{trail.family}.*") == [], user
        result = await api.query(ENTRIES, {"tenant": str(world.a.tenant_id)}, as_user=user)
        assert result.code == "NOT_FOUND", (user, result.body)
    assert (await api.query(ENTRIES, {})).code == "UNAUTHENTICATED"


async def _reads_since(rt: Runtime, tenant: uuid.UUID, after: int, purpose: str) -> list[Any]:
    async with rt.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(
                AuditEntry.seq > after,
                AuditEntry.action == READ_ACTION,
                AuditEntry.domain == f"tenant:{tenant}",
            )
        )
        return [r for r in rows if r.detail.get("purpose") == purpose]


async def _last_seq(rt: Runtime) -> int:
    async with rt.sessions() as session:
        return int(
            await session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc())) or 0
        )


async def test_reading_who_did_what_is_itself_audited(
    api: GraphQLClient, runtime: Runtime, world: World, trail: Trail
) -> None:
    before = await _last_seq(runtime)
    await entries(api, world.a.users["owner"], action=f"{trail.family}.*")
    (read,) = await _reads_since(runtime, world.a.tenant_id, before, "enterprise.owner")
    assert read.object_type == "AuditActor" and "email" in read.detail["fields"]
    assert read.actor_id == str(await user_id(runtime, world.a.users["owner"]))


# --- CSV --------------------------------------------------------------------------------------


async def get_csv(
    api: GraphQLClient, params: dict[str, str], headers: dict[str, str] | None = None
) -> Any:
    try:
        return await api.http.get(CSV_URL, params=params, headers=headers or {})
    finally:
        api.http.cookies.clear()


async def bearer(api: GraphQLClient, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await api.token_for(user)}"}


def parse(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(BOM), body[:10]
    return list(csv.DictReader(io.StringIO(body[len(BOM) :].decode("utf-8"))))


async def test_the_csv_has_a_bom_and_the_same_entries(
    api: GraphQLClient, runtime: Runtime, world: World, trail: Trail
) -> None:
    owner = world.a.users["owner"]
    response = await get_csv(api, {"action": f"{trail.family}.*"}, await bearer(api, owner))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = parse(response.content)
    assert [r["seq"] for r in rows] == list(reversed(trail.a))
    oldest = rows[-1]
    assert oldest["action"] == f"{trail.family}.threshold"
    assert oldest["actor_email"] == world.a.users["safety_manager"].lower()
    assert oldest["role"] == "safety_manager"
    assert oldest["detail"] == '{"reason": "阀门更换后调整"}'  # the Chinese as it is
    assert oldest["object_id"] == "'=1+1"  # never a formula
    assert oldest["at"].endswith("Z")
    # Filters as in GraphQL.
    window = await get_csv(
        api,
        {"action": f"{trail.family}.*", "to": trail.between.isoformat()},
        await bearer(api, owner),
    )
    assert [r["seq"] for r in parse(window.content)] == [trail.a[1], trail.a[0]]


async def test_the_csv_export_is_audited(
    api: GraphQLClient, runtime: Runtime, world: World, trail: Trail
) -> None:
    before = await _last_seq(runtime)
    sm = world.a.users["safety_manager"]
    response = await get_csv(api, {"action": f"{trail.family}.*"}, await bearer(api, sm))
    assert response.status_code == 200, response.text
    (read,) = await _reads_since(runtime, world.a.tenant_id, before, "enterprise.audit")
    assert read.detail["count"] == len(trail.a)
    assert read.actor_id == str(await user_id(runtime, sm))


async def test_the_csv_takes_the_browser_session_with_its_csrf_header(
    api: GraphQLClient, world: World, trail: Trail
) -> None:
    cookie = await Browser(api).session(world.a.users["owner"])
    jar = {"Cookie": f"anjian_session={cookie}"}
    params = {"action": f"{trail.family}.*"}
    without = await get_csv(api, params, jar)
    assert without.status_code == 403, without.text
    signed = await get_csv(api, params, {**jar, "X-Anjian-CSRF": "1"})
    assert signed.status_code == 200, signed.text
    assert len(parse(signed.content)) == len(trail.a)
    assert (await get_csv(api, params)).status_code == 401


async def test_the_csv_refuses_as_graphql_does(
    api: GraphQLClient, world: World, trail: Trail
) -> None:
    params = {"action": f"{trail.family}.*"}
    for role in ("operator", "viewer"):
        response = await get_csv(api, params, await bearer(api, world.a.users[role]))
        assert response.status_code == 403, (role, response.text)
    for role, user in world.b.users.items():
        response = await get_csv(
            api, {**params, "tenantId": str(world.a.tenant_id)}, await bearer(api, user)
        )
        assert response.status_code == 404, (role, response.text)
    b_owner = await get_csv(api, params, await bearer(api, world.b.users["owner"]))
    assert [r["seq"] for r in parse(b_owner.content)] == [trail.b]
    regulator = await get_csv(api, params, await bearer(api, world.regulators["320000"]))
    assert regulator.status_code == 200 and parse(regulator.content) == []
    zoneless = await get_csv(
        api, {"from": "2026-01-01T00:00:00"}, await bearer(api, world.a.users["owner"])
    )
    assert zoneless.status_code == 400, zoneless.text

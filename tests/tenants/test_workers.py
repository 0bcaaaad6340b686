"""Editing workers, and listing them per tenant."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from backend.runtime import Runtime
from privacy.audit import AuditEntry
from tenants.models import Worker
from tests.factories import World, unique
from tests.graphql import GraphQLClient

FIELDS = "id name mobile idNumber employeeNumber siteId tenantId"
CREATE = (
    'mutation($t: ID!, $e: String!, $s: ID) { createWorker(tenantId: $t, name: "王五",'
    f' employeeNumber: $e, mobile: "13800138000", siteId: $s) {{ {FIELDS} }} }}'
)
WORKERS = f"query($t: ID) {{ workers(tenantId: $t, first: 1000) {{ {FIELDS} }} }}"


async def new_worker(api: GraphQLClient, world: World) -> dict[str, Any]:
    made = await api.query(
        CREATE,
        {"t": str(world.a.tenant_id), "e": unique("W"), "s": str(world.a.site_id)},
        as_user=world.a.users["owner"],
    )
    assert made.code is None, made.body
    return dict(made.data["createWorker"])


def update_of(worker_id: str, **fields: object) -> tuple[str, dict[str, object]]:
    """The mutation with only the given variables: a variable left out keeps the field."""
    names = {"name": "$name", "e": "$e", "m": "$m", "n": "$n", "s": "$s"}
    args = {"name": "name", "e": "employeeNumber", "m": "mobile", "n": "idNumber", "s": "siteId"}
    types = {"name": "String", "e": "String", "m": "String", "n": "String", "s": "ID"}
    decl = "".join(f", {names[k]}: {types[k]}" for k in fields)
    call = "".join(f", {args[k]}: {names[k]}" for k in fields)
    query = f"mutation($id: ID!{decl}) {{ updateWorker(id: $id{call}) {{ {FIELDS} }} }}"
    return query, {"id": worker_id, **fields}


async def test_an_edit_changes_only_what_is_given_sealed_and_audited(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    worker = await new_worker(api, world)
    assert worker["tenantId"] == str(world.a.tenant_id)
    query, variables = update_of(worker["id"], name="王五一", n="11010519491231002X")
    edited = await api.query(query, variables, as_user=world.a.users["safety_manager"])
    assert edited.code is None, edited.body
    assert edited.data["updateWorker"] == {
        **worker,
        "name": "王五一",
        "idNumber": "11010519491231002X",
    }
    # Cleared with an explicit null; the rest stays.
    query, variables = update_of(worker["id"], m=None, s=None)
    cleared = await api.query(query, variables, as_user=world.a.users["owner"])
    assert cleared.code is None, cleared.body
    row = cleared.data["updateWorker"]
    assert (row["mobile"], row["siteId"], row["name"]) == (None, None, "王五一")
    workers = Worker.__table__
    with runtime.owner_engine.connect() as connection:
        # The owner's connection: row-level security would hide the row from the app's.
        stored = connection.execute(
            select(workers.c.name_enc, workers.c.id_number_enc).where(
                workers.c.id == uuid.UUID(worker["id"])
            )
        ).one()
    async with runtime.sessions() as session:
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "worker.update", AuditEntry.object_id == worker["id"])
                .order_by(AuditEntry.seq)
            )
        ).all()
    assert "王五一".encode() not in bytes(stored[0])
    assert b"11010519491231002X" not in bytes(stored[1])
    assert [e.detail for e in entries] == [
        {"fields": ["id_number", "name"]},
        {"fields": ["mobile", "site_id"]},
    ]
    assert all(e.domain == f"tenant:{world.a.tenant_id}" for e in entries)
    # Nothing new to say: no entry.
    query, variables = update_of(worker["id"], name="王五一")
    assert (await api.query(query, variables, as_user=world.a.users["owner"])).code is None
    async with runtime.sessions() as session:
        count = len(
            (
                await session.scalars(
                    select(AuditEntry.seq).where(
                        AuditEntry.action == "worker.update", AuditEntry.object_id == worker["id"]
                    )
                )
            ).all()
        )
    assert count == 2


async def test_an_edit_is_checked_as_creation_is(api: GraphQLClient, world: World) -> None:
    worker = await new_worker(api, world)
    other = await new_worker(api, world)
    owner = world.a.users["owner"]
    refusals: list[tuple[dict[str, object], str]] = [
        ({"m": "12345"}, "BAD_USER_INPUT"),
        ({"n": "1101051949123100"}, "BAD_USER_INPUT"),
        ({"name": "  "}, "BAD_USER_INPUT"),
        ({"name": None}, "BAD_USER_INPUT"),
        ({"e": None}, "BAD_USER_INPUT"),
        ({"e": other["employeeNumber"]}, "BAD_USER_INPUT"),
        ({"s": str(world.b.site_id)}, "NOT_FOUND"),
        # A refusal changes nothing, not even the valid half of the edit.
        ({"name": "不该改", "m": "12345"}, "BAD_USER_INPUT"),
    ]
    for fields, code in refusals:
        query, variables = update_of(worker["id"], **fields)
        result = await api.query(query, variables, as_user=owner)
        assert result.code == code, (fields, result.body)
    listed = await api.query(WORKERS, {"t": str(world.a.tenant_id)}, as_user=owner)
    (row,) = [w for w in listed.data["workers"] if w["id"] == worker["id"]]
    assert row == worker
    # Keeping one's own employee number is no conflict.
    query, variables = update_of(worker["id"], e=worker["employeeNumber"])
    assert (await api.query(query, variables, as_user=owner)).code is None


async def test_who_may_edit_and_another_tenants_worker(api: GraphQLClient, world: World) -> None:
    worker = await new_worker(api, world)
    query, variables = update_of(worker["id"], name="改名")
    for role in ("operator", "viewer"):
        refused = await api.query(query, variables, as_user=world.a.users[role])
        assert refused.code == "FORBIDDEN", (role, refused.body)
    query, variables = update_of(str(world.b.worker_id), name="改名")
    for role in ("owner", "safety_manager", "operator", "viewer"):
        hidden = await api.query(query, variables, as_user=world.a.users[role])
        assert hidden.code == "NOT_FOUND", (role, hidden.body)
    regulator = await api.query(query, variables, as_user=world.regulators["320000"])
    assert regulator.code == "NOT_FOUND", regulator.body


async def test_workers_of_one_tenant(api: GraphQLClient, world: World) -> None:
    owner = world.a.users["owner"]
    mine = await api.query(WORKERS, {"t": str(world.a.tenant_id)}, as_user=owner)
    assert mine.code is None, mine.body
    assert mine.data["workers"]
    assert {w["tenantId"] for w in mine.data["workers"]} == {str(world.a.tenant_id)}
    assert str(world.a.worker_id) in {w["id"] for w in mine.data["workers"]}
    every = await api.query(WORKERS, {"t": None}, as_user=owner)
    assert every.data == mine.data
    other = await api.query(WORKERS, {"t": str(world.b.tenant_id)}, as_user=owner)
    assert other.code == "NOT_FOUND", other.body
    viewer = await api.query(
        WORKERS, {"t": str(world.a.tenant_id)}, as_user=world.a.users["viewer"]
    )
    assert viewer.code == "FORBIDDEN", viewer.body

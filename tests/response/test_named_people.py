"""Who signed, acted, wrote or is assigned, by name, masked per role as alarm actors are; and
each rule's review figures with what names the rule (its sensor's code, kind and levels)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update

from backend.alarms.models import AlarmRule, AlarmStatus, Verdict
from backend.alarms.rules import Direction, Level, RuleKind, RuleSpec, Severity
from backend.runtime import Runtime
from tenants.scope import Scope, scoped_session
from tests.alarm_helpers import user_id
from tests.alarms.test_alarm_detail import NAMES, name_people
from tests.alarms.test_query_counts import counted_statements
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import GAS, TEMP, new_device, new_site
from tests.response.helpers import add_alarm, ok

ACTOR = "{ kind id name email }"
CREATE = """mutation($site: ID!, $user: ID, $worker: ID) {
  createWorkOrder(title: "巡检", siteId: $site, assigneeUserId: $user,
    assigneeWorkerId: $worker) { id } }"""
COMMENT = 'mutation($id: ID!) { commentWorkOrder(id: $id, text: "已到现场") { id } }'
START = "mutation($id: ID!) { setWorkOrderStatus(id: $id, status: IN_PROGRESS) { id } }"
ORDER = f"""query($id: ID!) {{ workOrder(id: $id) {{
  assigneeUser {ACTOR} assigneeWorker {{ id name }}
  timeline {{ kind actor actedBy {ACTOR} }} comments {{ author writtenBy {ACTOR} }} }} }}"""
HANDOVER = """mutation($site: ID!) { createHandover(siteId: $site, note: "交班") { id } }"""
ACCEPT = "mutation($id: ID!) { acceptHandover(id: $id) { id } }"
HANDOVERS = f"""query($site: ID!) {{ handovers(siteId: $site) {{
  handedOverBy handedOverByActor {ACTOR} acceptedByActor {ACTOR} }} }}"""
REVIEWS = """query($site: ID!) { ruleReviewStats(siteId: $site) {
  ruleId closed ruleKind sensorCode levelNames } }"""


def masked_name(name: str) -> str:
    return name[0] + "*" * (len(name) - 1)


async def test_work_order_people_by_name_masked_per_role(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = world.a
    await name_people(runtime, world)
    site = await new_site(runtime, a.tenant_id)
    operator_id = str(await user_id(runtime, a.users["operator"]))
    made = await ok(
        api, a.users["safety_manager"], CREATE, site=str(site), user=operator_id, worker=None
    )
    await ok(api, a.users["operator"], COMMENT, id=made["id"])
    await ok(api, a.users["owner"], START, id=made["id"])

    manager = await ok(api, a.users["safety_manager"], ORDER, id=made["id"])
    assert manager["assigneeUser"] == {
        "kind": "USER",
        "id": operator_id,
        "name": NAMES["operator"],
        "email": a.users["operator"].lower(),
    }
    assert manager["assigneeWorker"] is None
    actors = [(e["kind"], e["actedBy"]["name"]) for e in manager["timeline"]]
    assert actors == [
        ("CREATED", NAMES["safety_manager"]),
        ("COMMENTED", NAMES["operator"]),
        ("STATUS", NAMES["owner"]),
    ]
    # The new field names whom the old id field names.
    assert all(e["actedBy"]["id"] == e["actor"] for e in manager["timeline"])
    (comment,) = manager["comments"]
    assert comment["writtenBy"]["name"] == NAMES["operator"]
    assert comment["writtenBy"]["id"] == comment["author"] == operator_id

    viewer = await ok(api, a.users["viewer"], ORDER, id=made["id"])
    assert viewer["assigneeUser"]["name"] == masked_name(NAMES["operator"])
    assert viewer["assigneeUser"]["email"] != a.users["operator"].lower()
    assert "***@" in viewer["assigneeUser"]["email"]
    assert [e["actedBy"]["name"] for e in viewer["timeline"]] == [
        masked_name(NAMES[r]) for r in ("safety_manager", "operator", "owner")
    ]
    # One's own account, as it is.
    operator = await ok(api, a.users["operator"], ORDER, id=made["id"])
    assert operator["comments"][0]["writtenBy"]["name"] == NAMES["operator"]
    assert operator["timeline"][0]["actedBy"]["name"] == masked_name(NAMES["safety_manager"])


async def test_a_worker_assignee_is_the_worker_masked_per_role(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = world.a
    site = await new_site(runtime, a.tenant_id)
    worker = await ok(
        api,
        a.users["owner"],
        'mutation($t: ID!, $e: String!) { createWorker(tenantId: $t, name: "孙师傅",'
        " employeeNumber: $e) { id } }",
        t=str(a.tenant_id),
        e=f"N-{uuid.uuid4().hex[:8]}",
    )
    made = await ok(api, a.users["owner"], CREATE, site=str(site), user=None, worker=worker["id"])
    owner = await ok(api, a.users["owner"], ORDER, id=made["id"])
    assert owner["assigneeUser"] is None
    assert owner["assigneeWorker"] == {"id": worker["id"], "name": "孙师傅"}
    viewer = await ok(api, a.users["viewer"], ORDER, id=made["id"])
    assert viewer["assigneeWorker"]["name"] == "孙**"


async def test_handover_signers_by_name_masked_per_role(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = world.a
    await name_people(runtime, world)
    site = await new_site(runtime, a.tenant_id)
    made = await ok(api, a.users["operator"], HANDOVER, site=str(site))
    (pending,) = await ok(api, a.users["owner"], HANDOVERS, site=str(site))
    assert pending["acceptedByActor"] is None
    await ok(api, a.users["safety_manager"], ACCEPT, id=made["id"])

    (owner,) = await ok(api, a.users["owner"], HANDOVERS, site=str(site))
    assert owner["handedOverByActor"] == {
        "kind": "USER",
        "id": owner["handedOverBy"],
        "name": NAMES["operator"],
        "email": a.users["operator"].lower(),
    }
    assert owner["acceptedByActor"]["name"] == NAMES["safety_manager"]
    (viewer,) = await ok(api, a.users["viewer"], HANDOVERS, site=str(site))
    assert viewer["handedOverByActor"]["name"] == masked_name(NAMES["operator"])
    assert viewer["acceptedByActor"]["name"] == masked_name(NAMES["safety_manager"])
    assert viewer["acceptedByActor"]["email"] != a.users["safety_manager"].lower()


async def test_review_stats_name_their_rules_at_a_fixed_cost(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = world.a
    device = await new_device(
        runtime, a.tenant_id, await new_site(runtime, a.tenant_id), (GAS, TEMP)
    )
    site = device.site_id
    spec = RuleSpec(
        kind=RuleKind.THRESHOLD,
        levels=(
            Level("一级报警", Severity.ORANGE, Direction.HIGH, 20.0, 18.0),
            Level("二级报警", Severity.RED, Direction.HIGH, 40.0, 38.0),
        ),
    )

    async def reviewed_rule(sensor: uuid.UUID | None) -> uuid.UUID:
        _, rule = await add_alarm(
            runtime,
            a.tenant_id,
            site,
            sensor_id=sensor,
            status=AlarmStatus.CLOSED,
            verdict=Verdict.FALSE_POSITIVE,
            cause="c",
        )
        scope = Scope.for_tenant(a.tenant_id)
        async with scoped_session(runtime.sessions, scope) as s, s.begin():
            await s.execute(
                update(AlarmRule).where(AlarmRule.id == rule).values(definition=spec.as_json())
            )
        return rule

    gas = await reviewed_rule(device.sensors["GT-1"])
    zone_rule = await reviewed_rule(None)

    async def stats() -> tuple[dict[str, Any], int]:
        with counted_statements(runtime) as seen:
            rows = await ok(api, a.users["viewer"], REVIEWS, site=str(site))
        return {r["ruleId"]: r for r in rows}, len(seen)

    got, few = await stats()
    assert got[str(gas)] == {
        "ruleId": str(gas),
        "closed": 1,
        "ruleKind": "threshold",
        "sensorCode": "GT-1",
        "levelNames": ["一级报警", "二级报警"],
    }
    assert got[str(zone_rule)]["sensorCode"] is None
    for _ in range(4):
        await reviewed_rule(device.sensors["TT-1"])
    got, many = await stats()
    assert len(got) == 6
    assert {r["sensorCode"] for r in got.values()} == {"GT-1", "TT-1", None}
    # Rules and sensors are loaded in one batch each, however many rules there are.
    assert 0 < many == few

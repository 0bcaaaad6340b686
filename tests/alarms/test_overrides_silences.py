"""Per-sensor threshold overrides (versioned, audited, used by the engine) and silences.

Each override test has a combustible-gas device of its own on tenant A's site (chemical
library: 1st level 25 %LEL ORANGE clearing below 23, 2nd level 50 %LEL RED clearing below
48). The GraphQL tests run the module's Query/Mutation classes on a schema of their own with
the app's error mapping, so they do not depend on the app's schema merge.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
import strawberry
from sqlalchemy import select
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from backend.alarms import library
from backend.alarms.models import AlarmRule, RuleRevision, Silence
from backend.alarms.overrides import LevelValues, override_levels
from backend.alarms.rules import RuleKind, RuleSpec, Severity
from backend.alarms.schema import RulesMutation, RulesQuery
from backend.alarms.silences import SILENCES_COUNTER, active_silences, silenced
from backend.api.errors import ErrorCodes
from backend.api.scalars import DateTimeScalar
from backend.auth import service as auth_service
from backend.auth.context import RequestContext
from backend.auth.principal import Principal
from backend.core import counters
from backend.core.db import utcnow
from backend.core.errors import BadInput
from backend.jobs.alarm_pipeline import AlarmPipeline
from backend.runtime import Runtime
from privacy.audit import AuditEntry
from tenants.scope import Scope, scoped_session, unscoped_session
from tests.factories import PASSWORD, World
from tests.ingest_helpers import GAS, IngestDevice, new_device

SCHEMA = strawberry.Schema(
    query=merge_types("Query", (RulesQuery,)),
    mutation=merge_types("Mutation", (RulesMutation,)),
    config=StrawberryConfig(scalar_map={datetime: DateTimeScalar}),
    extensions=[ErrorCodes],
)

RULES = """query($s: ID!) { alarmRules(sensorId: $s) { id kind source version
  onDelaySeconds levels { name severity direction setpoint clearAt }
  revisions { version changedBy reason levels { name setpoint } } } }"""
OVERRIDE = """mutation($r: ID!, $l: [LevelInput!]!, $d: Float, $why: String!) {
  overrideAlarmLevels(ruleId: $r, levels: $l, onDelaySeconds: $d, reason: $why) {
    id version source levels { name severity setpoint clearAt } } }"""
RESET = """mutation($r: ID!, $why: String!) { resetAlarmRule(ruleId: $r, reason: $why) {
  id version source levels { name setpoint clearAt } } }"""
SILENCES = """query($site: ID) { silences(siteId: $site) { id siteId zoneId sensorId owner
  reason startsAt expiresAt cancelledAt } }"""
CREATE_SILENCE = """mutation($site: ID!, $zone: ID, $sensor: ID, $why: String!,
    $from: DateTime, $until: DateTime!) {
  createSilence(siteId: $site, zoneId: $zone, sensorId: $sensor, reason: $why,
                startsAt: $from, expiresAt: $until) { id owner reason startsAt expiresAt } }"""
CREATE_SILENCE_NO_EXPIRY = """mutation($site: ID!, $why: String!) {
  createSilence(siteId: $site, reason: $why) { id } }"""
CANCEL_SILENCE = "mutation($id: ID!) { cancelSilence(id: $id) { id cancelledAt } }"

# New levels for the gas threshold: both below the library's.
NEW_LEVELS = [
    {"name": "1st level", "severity": "ORANGE", "direction": "high", "setpoint": 20.0,
     "clearAt": 18.0},
    {"name": "2nd level", "severity": "RED", "direction": "high", "setpoint": 40.0,
     "clearAt": 38.0},
]  # fmt: skip


async def principal_of(rt: Runtime, email: str) -> Principal:
    token = await auth_service.unscoped_login_in_own_transaction(
        sessions=rt.sessions, codec=rt.tokens, email=email, password=PASSWORD, log2_n=rt.log2_n
    )
    return await auth_service.unscoped_resolve_token(
        sessions=rt.sessions, codec=rt.tokens, authz=rt.authz, token=token
    )


class Gql:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._principals: dict[str, Principal] = {}

    async def __call__(
        self, query: str, variables: dict[str, Any] | None, *, as_user: str
    ) -> tuple[dict[str, Any] | None, list[str]]:
        if as_user not in self._principals:
            self._principals[as_user] = await principal_of(self.rt, as_user)
        ctx = RequestContext(runtime=self.rt, principal=self._principals[as_user])
        try:
            result = await SCHEMA.execute(query, variables, context_value=ctx)
        finally:
            await ctx.close()
        codes = [str((e.extensions or {}).get("code")) for e in result.errors or []]
        return result.data, codes


@pytest.fixture(scope="module")
async def gql(runtime: Runtime) -> Gql:
    return Gql(runtime)


@pytest.fixture
async def dev(runtime: Runtime, world: World) -> IngestDevice:
    """A gas device of the test's own, with its default rules in place."""
    device = await new_device(runtime, world.a.tenant_id, world.a.site_id, [GAS])
    await AlarmPipeline(runtime.sessions).reload()
    return device


def gas_id(dev: IngestDevice) -> uuid.UUID:
    return dev.sensors[str(GAS["code"])]


async def rows_of(rt: Runtime, tenant_id: uuid.UUID, model: Any, *where: Any) -> list[Any]:
    async with scoped_session(rt.sessions, Scope.for_tenant(tenant_id)) as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def threshold_rule(rt: Runtime, dev: IngestDevice) -> AlarmRule:
    rules = await rows_of(rt, dev.tenant_id, AlarmRule, AlarmRule.sensor_id == gas_id(dev))
    (rule,) = [r for r in rules if r.kind == RuleKind.THRESHOLD.value]
    return rule


async def audit_for(rt: Runtime, object_id: uuid.UUID, action: str) -> list[AuditEntry]:
    async with unscoped_session(rt.sessions) as session:
        rows = await session.scalars(
            select(AuditEntry).where(
                AuditEntry.object_id == str(object_id), AuditEntry.action == action
            )
        )
        return list(rows.all())


def setpoints(levels: list[dict[str, Any]]) -> list[float]:
    return [lv["setpoint"] for lv in levels]


DEFAULT_GAS = next(
    s for s in library.default_rules("chemical", "combustible_gas") if s.kind is RuleKind.THRESHOLD
)


# -- overrides ---------------------------------------------------------------------------------


async def test_override_is_versioned_audited_and_used_by_the_engine(
    runtime: Runtime, world: World, dev: IngestDevice, gql: Gql
) -> None:
    manager = world.a.users["safety_manager"]
    rule = await threshold_rule(runtime, dev)
    assert rule.version == 1 and rule.source.startswith("library:chemical")

    data, codes = await gql(
        OVERRIDE,
        {"r": str(rule.id), "l": NEW_LEVELS, "d": 0, "why": "sensor moved next to the pump"},
        as_user=manager,
    )
    assert codes == []
    assert data is not None
    changed = data["overrideAlarmLevels"]
    assert changed["version"] == 2 and changed["source"] == "override"
    assert setpoints(changed["levels"]) == [20.0, 40.0]

    # Revisions: the library version it replaced, and the override with who and why.
    revisions = await rows_of(runtime, dev.tenant_id, RuleRevision, RuleRevision.rule_id == rule.id)
    by_version = {r.version: r for r in revisions}
    assert set(by_version) == {1, 2}
    old = RuleSpec.from_json(by_version[1].definition)
    new = RuleSpec.from_json(by_version[2].definition)
    assert [lv.setpoint for lv in old.levels] == [lv.setpoint for lv in DEFAULT_GAS.levels]
    assert [lv.setpoint for lv in new.levels] == [20.0, 40.0]
    manager_id = (await principal_of(runtime, manager)).id
    assert by_version[2].changed_by == str(manager_id)
    assert by_version[2].reason == "sensor moved next to the pump"

    (entry,) = await audit_for(runtime, rule.id, "alarm_rule.override")
    assert entry.actor_id == str(manager_id) and entry.role == "safety_manager"
    assert entry.detail["reason"] == "sensor moved next to the pump"
    assert [lv["setpoint"] for lv in entry.detail["old"]["levels"]] == [
        lv.setpoint for lv in DEFAULT_GAS.levels
    ]
    assert [lv["setpoint"] for lv in entry.detail["new"]["levels"]] == [20.0, 40.0]

    # The rule as the engine loads it: 45 %LEL is now RED (it was ORANGE under the defaults).
    stored = await threshold_rule(runtime, dev)
    assert [lv.setpoint for lv in RuleSpec.from_json(stored.definition).levels] == [20.0, 40.0]
    pipeline = AlarmPipeline(runtime.sessions)
    await pipeline.reload()
    now = int(utcnow().timestamp() * 1000)
    signals = pipeline.engine.on_readings([gas_id(dev).bytes], [now], [45.0])
    raised = [s for s in signals if s.rule_id == rule.id and s.kind == "raise"]
    assert [s.severity for s in raised] == [Severity.RED]

    # Shown in alarmRules with both versions.
    data, codes = await gql(RULES, {"s": str(gas_id(dev))}, as_user=world.a.users["viewer"])
    assert codes == []
    assert data is not None
    (shown,) = [r for r in data["alarmRules"] if r["id"] == str(rule.id)]
    assert shown["version"] == 2 and shown["onDelaySeconds"] == 0
    assert [r["version"] for r in shown["revisions"]] == [1, 2]


async def test_override_moves_the_registry_counter(
    runtime: Runtime, world: World, dev: IngestDevice
) -> None:
    async with unscoped_session(runtime.sessions) as session:
        before = await counters.read(session, counters.REGISTRY)
    rule = await threshold_rule(runtime, dev)
    principal = await principal_of(runtime, world.a.users["owner"])
    async with scoped_session(runtime.sessions, principal.scope) as session, session.begin():
        await override_levels(
            session=session,
            authz=runtime.authz,
            principal=principal,
            rule_id=rule.id,
            levels=[
                LevelValues(
                    lv["name"], lv["severity"], lv["direction"], lv["setpoint"], lv["clearAt"]
                )
                for lv in NEW_LEVELS
            ],
            reason="tighter limits during the turnaround",
        )
    async with unscoped_session(runtime.sessions) as session:
        assert await counters.read(session, counters.REGISTRY) > before


@pytest.mark.parametrize("role", ["viewer", "operator"])
async def test_roles_without_rule_management_are_forbidden(
    runtime: Runtime, world: World, dev: IngestDevice, gql: Gql, role: str
) -> None:
    rule = await threshold_rule(runtime, dev)
    _, codes = await gql(
        OVERRIDE, {"r": str(rule.id), "l": NEW_LEVELS, "why": "x"}, as_user=world.a.users[role]
    )
    assert codes == ["FORBIDDEN"]
    assert (await threshold_rule(runtime, dev)).version == 1


async def test_another_tenant_gets_not_found(
    runtime: Runtime, world: World, dev: IngestDevice, gql: Gql
) -> None:
    rule = await threshold_rule(runtime, dev)
    b_owner = world.b.users["owner"]
    _, codes = await gql(
        OVERRIDE, {"r": str(rule.id), "l": NEW_LEVELS, "why": "x"}, as_user=b_owner
    )
    assert codes == ["NOT_FOUND"]
    _, codes = await gql(RESET, {"r": str(rule.id), "why": "x"}, as_user=b_owner)
    assert codes == ["NOT_FOUND"]
    _, codes = await gql(RULES, {"s": str(gas_id(dev))}, as_user=b_owner)
    assert codes == ["NOT_FOUND"]
    assert (await threshold_rule(runtime, dev)).version == 1


def _level(name: str, severity: str, setpoint: float, clear_at: float, direction: str = "high"):
    return {"name": name, "severity": severity, "direction": direction, "setpoint": setpoint,
            "clearAt": clear_at}  # fmt: skip


INVALID = {
    "RED not at the extreme": [_level("a", "RED", 20, 18), _level("b", "ORANGE", 40, 38)],
    "out of order": [_level("a", "ORANGE", 40, 38), _level("b", "RED", 20, 18)],
    "clear_at past the setpoint": [_level("a", "ORANGE", 20, 22), _level("b", "RED", 40, 38)],
    "outside the range": [_level("a", "ORANGE", 20, 18), _level("b", "RED", 140, 138)],
    "duplicate names": [_level("a", "ORANGE", 20, 18), _level("a", "RED", 40, 38)],
    "direction changed": [_level("a", "RED", 5, 7, "low")],
    "no levels": [],
}


@pytest.mark.parametrize("case", sorted(INVALID))
async def test_invalid_levels_are_bad_input_and_change_nothing(
    runtime: Runtime, world: World, dev: IngestDevice, gql: Gql, case: str
) -> None:
    rule = await threshold_rule(runtime, dev)
    _, codes = await gql(
        OVERRIDE,
        {"r": str(rule.id), "l": INVALID[case], "why": "testing"},
        as_user=world.a.users["safety_manager"],
    )
    assert codes == ["BAD_USER_INPUT"]
    after = await threshold_rule(runtime, dev)
    assert after.version == 1 and after.definition == rule.definition
    assert (
        await rows_of(runtime, dev.tenant_id, RuleRevision, RuleRevision.rule_id == rule.id) == []
    )
    assert await audit_for(runtime, rule.id, "alarm_rule.override") == []


async def test_blank_reason_and_negative_delay_are_bad_input(
    runtime: Runtime, world: World, dev: IngestDevice, gql: Gql
) -> None:
    rule = await threshold_rule(runtime, dev)
    manager = world.a.users["safety_manager"]
    _, codes = await gql(
        OVERRIDE, {"r": str(rule.id), "l": NEW_LEVELS, "why": "  "}, as_user=manager
    )
    assert codes == ["BAD_USER_INPUT"]
    _, codes = await gql(
        OVERRIDE, {"r": str(rule.id), "l": NEW_LEVELS, "d": -1, "why": "x"}, as_user=manager
    )
    assert codes == ["BAD_USER_INPUT"]
    assert (await threshold_rule(runtime, dev)).version == 1


async def test_reset_restores_the_library_default_as_a_new_version(
    runtime: Runtime, world: World, dev: IngestDevice, gql: Gql
) -> None:
    rule = await threshold_rule(runtime, dev)
    manager = world.a.users["safety_manager"]
    _, codes = await gql(
        OVERRIDE, {"r": str(rule.id), "l": NEW_LEVELS, "why": "trial"}, as_user=manager
    )
    assert codes == []
    data, codes = await gql(RESET, {"r": str(rule.id), "why": "trial over"}, as_user=manager)
    assert codes == []
    assert data is not None
    reset = data["resetAlarmRule"]
    assert reset["version"] == 3 and reset["source"].startswith("library:chemical@")
    assert setpoints(reset["levels"]) == [lv.setpoint for lv in DEFAULT_GAS.levels]
    stored = RuleSpec.from_json((await threshold_rule(runtime, dev)).definition)
    assert stored == DEFAULT_GAS
    versions = sorted(
        r.version
        for r in await rows_of(
            runtime, dev.tenant_id, RuleRevision, RuleRevision.rule_id == rule.id
        )
    )
    assert versions == [1, 2, 3]
    (entry,) = await audit_for(runtime, rule.id, "alarm_rule.reset")
    assert entry.detail["reason"] == "trial over"
    assert [lv["setpoint"] for lv in entry.detail["old"]["levels"]] == [20.0, 40.0]


async def test_reset_by_a_viewer_is_forbidden(
    runtime: Runtime, world: World, dev: IngestDevice, gql: Gql
) -> None:
    rule = await threshold_rule(runtime, dev)
    _, codes = await gql(RESET, {"r": str(rule.id), "why": "x"}, as_user=world.a.users["viewer"])
    assert codes == ["FORBIDDEN"]


# -- silences ----------------------------------------------------------------------------------


def iso(ts: datetime) -> str:
    return ts.isoformat()


async def silences_counter(rt: Runtime) -> int:
    async with unscoped_session(rt.sessions) as session:
        return await counters.read(session, SILENCES_COUNTER)


async def test_silence_create_list_cancel_with_audit(
    runtime: Runtime, world: World, gql: Gql
) -> None:
    manager = world.a.users["safety_manager"]
    until = utcnow() + timedelta(hours=2)
    counter_before = await silences_counter(runtime)
    data, codes = await gql(
        CREATE_SILENCE,
        {
            "site": str(world.a.site_id),
            "zone": str(world.a.zone_id),
            "why": "calibration",
            "until": iso(until),
        },
        as_user=manager,
    )
    assert codes == []
    assert data is not None
    created = data["createSilence"]
    manager_id = (await principal_of(runtime, manager)).id
    assert created["owner"] == str(manager_id) and created["reason"] == "calibration"
    silence_id = uuid.UUID(created["id"])

    data, codes = await gql(
        SILENCES, {"site": str(world.a.site_id)}, as_user=world.a.users["viewer"]
    )
    assert codes == [] and data is not None
    assert created["id"] in {s["id"] for s in data["silences"]}
    assert await silences_counter(runtime) > counter_before  # the pipeline re-reads them
    (entry,) = await audit_for(runtime, silence_id, "silence.create")
    assert entry.actor_id == str(manager_id) and entry.detail["reason"] == "calibration"

    # The pipeline's view: active now, for the zone's sensors, not for another zone.
    async with scoped_session(runtime.sessions, Scope.for_tenant(world.a.tenant_id)) as session:
        active = await active_silences(session=session, at=utcnow())
    assert silence_id in {s.id for s in active}
    gas = world.a.sensor_ids["GT-101"]
    assert silenced(active, world.a.site_id, world.a.zone_id, gas, utcnow())
    assert not silenced(active, world.a.site_id, uuid.uuid4(), None, utcnow())

    data, codes = await gql(CANCEL_SILENCE, {"id": str(silence_id)}, as_user=manager)
    assert codes == [] and data is not None and data["cancelSilence"]["cancelledAt"]
    (entry,) = await audit_for(runtime, silence_id, "silence.cancel")
    assert entry.actor_id == str(manager_id)
    async with scoped_session(runtime.sessions, Scope.for_tenant(world.a.tenant_id)) as session:
        assert silence_id not in {s.id for s in await active_silences(session=session, at=utcnow())}
    data, _ = await gql(SILENCES, {"site": str(world.a.site_id)}, as_user=manager)
    assert data is not None and created["id"] not in {s["id"] for s in data["silences"]}
    _, codes = await gql(CANCEL_SILENCE, {"id": str(silence_id)}, as_user=manager)
    assert codes == ["BAD_USER_INPUT"]


async def test_silence_needs_a_bounded_expiry_and_a_reason(world: World, gql: Gql) -> None:
    manager, site = world.a.users["safety_manager"], str(world.a.site_id)
    _, codes = await gql(CREATE_SILENCE_NO_EXPIRY, {"site": site, "why": "x"}, as_user=manager)
    assert codes == ["BAD_USER_INPUT"]
    now = utcnow()
    for variables in (
        {"why": "too long", "until": iso(now + timedelta(days=8))},
        {"why": "already over", "until": iso(now - timedelta(minutes=1))},
        {"why": "ends before it starts", "from": iso(now + timedelta(hours=2)),
         "until": iso(now + timedelta(hours=1))},
        {"why": " ", "until": iso(now + timedelta(hours=1))},
    ):  # fmt: skip
        _, codes = await gql(CREATE_SILENCE, {"site": site, **variables}, as_user=manager)
        assert codes == ["BAD_USER_INPUT"], variables


async def test_silence_rights_and_isolation(world: World, gql: Gql) -> None:
    until = iso(utcnow() + timedelta(hours=1))
    a_site = str(world.a.site_id)
    _, codes = await gql(
        CREATE_SILENCE,
        {"site": a_site, "why": "x", "until": until},
        as_user=world.a.users["viewer"],
    )
    assert codes == ["FORBIDDEN"]
    # Tenant B cannot silence A's site, nor a zone of A's on its own site.
    b_owner = world.b.users["owner"]
    _, codes = await gql(
        CREATE_SILENCE, {"site": a_site, "why": "x", "until": until}, as_user=b_owner
    )
    assert codes == ["NOT_FOUND"]
    _, codes = await gql(
        CREATE_SILENCE,
        {"site": str(world.b.site_id), "zone": str(world.a.zone_id), "why": "x", "until": until},
        as_user=b_owner,
    )
    assert codes == ["NOT_FOUND"]

    data, codes = await gql(
        CREATE_SILENCE, {"site": a_site, "why": "A's window", "until": until},
        as_user=world.a.users["owner"],
    )  # fmt: skip
    assert codes == [] and data is not None
    a_silence = data["createSilence"]["id"]
    for site in (a_site, None):
        data, codes = await gql(SILENCES, {"site": site}, as_user=b_owner)
        assert codes == [] and data is not None
        assert a_silence not in {s["id"] for s in data["silences"]}
    _, codes = await gql(CANCEL_SILENCE, {"id": a_silence}, as_user=b_owner)
    assert codes == ["NOT_FOUND"]
    _, codes = await gql(CANCEL_SILENCE, {"id": a_silence}, as_user=world.a.users["owner"])
    assert codes == []


def _silence(site: uuid.UUID, start: datetime, end: datetime, **kw: Any) -> Silence:
    return Silence(
        tenant_id=uuid.uuid4(), site_id=site, reason="r", starts_at=start, expires_at=end, **kw
    )


def test_silenced_matches_site_zone_sensor_inside_the_window() -> None:
    site, zone, sensor = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    start = datetime.fromisoformat("2026-11-28T10:00:00+00:00")
    end = start + timedelta(hours=1)
    inside, before, at_end = start + timedelta(minutes=5), start - timedelta(seconds=1), end

    whole_site = [_silence(site, start, end)]
    assert silenced(whole_site, site, zone, sensor, inside)
    assert silenced(whole_site, site, None, None, start)  # half-open: the start is inside
    assert not silenced(whole_site, site, zone, sensor, before)
    assert not silenced(whole_site, site, zone, sensor, at_end)  # … the end is not
    assert not silenced(whole_site, uuid.uuid4(), zone, sensor, inside)

    one_zone = [_silence(site, start, end, zone_id=zone)]
    assert silenced(one_zone, site, zone, sensor, inside)
    assert not silenced(one_zone, site, uuid.uuid4(), sensor, inside)
    assert not silenced(one_zone, site, None, sensor, inside)

    one_sensor = [_silence(site, start, end, sensor_id=sensor)]
    assert silenced(one_sensor, site, zone, sensor, inside)
    assert not silenced(one_sensor, site, zone, uuid.uuid4(), inside)

    cancelled = [_silence(site, start, end, cancelled_at=inside)]
    assert silenced(cancelled, site, zone, sensor, inside - timedelta(seconds=1))
    assert not silenced(cancelled, site, zone, sensor, inside)
    assert not silenced([], site, zone, sensor, inside)


def test_level_checks_reject_without_touching_the_database() -> None:
    from backend.alarms.overrides import check_levels

    with pytest.raises(BadInput, match="RED"):
        check_levels(
            DEFAULT_GAS,
            [
                LevelValues("a", "YELLOW", "high", 20, 18),
                LevelValues("b", "ORANGE", "high", 40, 38),
            ],
            (0, 100),
        )
    ok = check_levels(
        DEFAULT_GAS,
        [LevelValues("a", "ORANGE", "high", 20, 18), LevelValues("b", "RED", "high", 40, 38)],
        (0, 100),
    )
    assert [lv.setpoint for lv in ok] == [20, 40]

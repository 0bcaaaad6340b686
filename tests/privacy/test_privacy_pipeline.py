"""The classification catalog and the per-audience pipeline on GraphQL (issue 5, items 1–3).

Every column and every GraphQL field has a declaration; each viewer gets exactly its
audience's treatment of each classified field; a regulator sees workers pseudonymized and an
enterprise safety manager sees names, and both reads are in a verifiable audit trail.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from sqlalchemy import select

import backend.models  # noqa: F401  (fills the metadata)
from backend.api.schema import build_schema
from backend.auth.principal import Principal
from backend.core.db import Base
from backend.runtime import Runtime
from backend.telemetry.kinds import parse_sensors
from backend.telemetry.service import create_device
from privacy import masking, pii
from privacy.audit import AuditEntry, verify_chain
from privacy.catalog import AUDIENCES, Treatment, apply, catalog, parse_catalog
from tenants.scope import Scope, scoped_session, unscoped_session
from tenants.service import create_worker
from tests.factories import World, unique
from tests.graphql import GraphQLClient
from tests.pii_corpus import valid_id_number, valid_mobile


def object_fields() -> dict[str, list[str]]:
    from graphql import GraphQLObjectType

    schema = build_schema()._schema
    return {
        name: list(t.fields)
        for name, t in schema.type_map.items()
        if isinstance(t, GraphQLObjectType)
        and not name.startswith("__")
        and name not in ("Query", "Mutation", "Subscription")
    }


# --- the catalog is complete ------------------------------------------------------------------


def test_every_column_of_every_table_is_classified() -> None:
    missing = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if catalog().column(table.name, column.name) is None
    ]
    assert missing == [], f"declare these in privacy/catalog.yaml: {missing}"


def test_every_graphql_field_is_classified() -> None:
    missing = [
        f"{type_name}.{name}"
        for type_name, names in object_fields().items()
        for name in names
        if catalog().graphql_field(type_name, name) is None
    ]
    assert missing == [], f"declare these in privacy/catalog.yaml: {missing}"


def test_the_catalog_names_nothing_that_does_not_exist() -> None:
    tables = {t.name: {c.name for c in t.columns} for t in Base.metadata.sorted_tables}
    stale = [
        f"{table}.{column}"
        for table, columns in catalog().tables.items()
        for column in columns
        if column not in tables.get(table, set())
    ]
    fields = object_fields()
    stale += [
        f"{type_name}.{name}"
        for type_name, names in catalog().graphql.items()
        for name in names
        if name not in fields.get(type_name, [])
    ]
    assert stale == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("secret-ish", "unknown class"),
        ("personal colour", "unknown kind"),
        ("personal name boss=show", "unknown audience"),
        ("personal name owner=shred", "unknown treatment"),
    ],
)
def test_a_bad_declaration_fails_naming_the_place(entry: str, message: str) -> None:
    rows = "\n".join(
        f"  {c}: {{" + ", ".join(f"{a}: show" for a in AUDIENCES) + "}"
        for c in ("public", "internal", "personal", "sensitive", "confidential")
    )
    text = f"version: 1\nclasses:\n{rows}\ntables:\n  t:\n    c: {entry}\ngraphql: {{}}\n"
    with pytest.raises(Exception, match=message) as caught:
        parse_catalog(text)
    assert "tables.t.c" in str(caught.value)


def test_personal_and_sensitive_data_of_workers_is_declared_as_such() -> None:
    name = catalog().graphql_field("Worker", "name")
    id_number = catalog().graphql_field("Worker", "idNumber")
    assert name is not None and id_number is not None
    assert name.data_class.value == "personal" and id_number.data_class.value == "sensitive"
    assert name.treatment("government") is Treatment.PSEUDONYMIZE
    assert name.treatment("safety_manager") is Treatment.SHOW
    assert name.treatment("platform") is Treatment.SUPPRESS


# --- the audience matrix over GraphQL -----------------------------------------------------------

WORKERS = """query { workers { id name mobile idNumber employeeNumber } }"""
SITE_WEARABLES = """query($id: ID!) { site(id: $id) {
  sensors { kind wearer { id name mobile idNumber } } } }"""


async def a_worker(rt: Runtime, world: World, name: str) -> dict[str, Any]:
    rng = random.Random(name)
    values = {
        "name": name,
        "mobile": valid_mobile(rng),
        "id_number": valid_id_number(rng),
        "employee_number": f"E-{uuid.uuid4().hex[:6]}",
    }
    scope = Scope.for_tenant(world.a.tenant_id)
    async with scoped_session(rt.sessions, scope) as session, session.begin():
        worker = await create_worker(
            session=session,
            authz=rt.authz,
            principal=Principal.system(scope),
            tenant_id=world.a.tenant_id,
            site_id=world.a.site_id,
            **values,
        )
        device = await create_device(
            session=session,
            authz=rt.authz,
            principal=Principal.system(scope),
            site_id=world.a.site_id,
            name=f"手环 {name}",
            sensors=parse_sensors([{"code": unique("HR"), "kind": "heart_rate", "unit": "bpm"}]),
            worker_id=worker.id,
        )
    return {**values, "id": str(worker.id), "device_id": device.device.id}


def expected(field: str, audience: str, value: Any, key: bytes) -> Any:
    policy = catalog().graphql_field("Worker", field)
    assert policy is not None
    return apply(policy, policy.treatment(audience), value, lambda: key)


def pseudonym_key(rt: Runtime, tenant_id: uuid.UUID) -> bytes:
    keyring = rt.keyring
    return keyring.derive(f"pseudonym/{tenant_id}", keyring.versions[0].version)


@pytest.mark.parametrize("role", ["owner", "safety_manager", "operator", "viewer"])
async def test_each_enterprise_role_gets_its_treatment_of_each_worker_field(
    api: GraphQLClient, runtime: Runtime, world: World, role: str
) -> None:
    worker = await a_worker(runtime, world, "欧阳娜娜")
    result = await api.query(WORKERS, as_user=world.a.users[role])
    assert result.data is not None and not result.codes, result.body
    rows = [w for w in result.data["workers"] if w["id"] == worker["id"]]
    if role == "viewer":  # the role may not list workers at all
        assert rows == []
        return
    (row,) = rows
    key = pseudonym_key(runtime, world.a.tenant_id)
    for field, stored in [
        ("name", worker["name"]),
        ("mobile", worker["mobile"]),
        ("idNumber", worker["id_number"]),
        ("employeeNumber", worker["employee_number"]),
    ]:
        assert row[field] == expected(field, role, stored, key), (role, field, row[field])
    if role == "operator":
        assert row["name"] == "欧阳**" and worker["mobile"] not in str(row)
        assert worker["id_number"] not in str(row)
    else:
        assert (row["name"], row["mobile"], row["idNumber"]) == (
            worker["name"],
            worker["mobile"],
            worker["id_number"],
        )


async def test_a_regulator_sees_pseudonyms_and_a_safety_manager_names_and_both_reads_are_audited(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    """Done means (issue 5): a site's wearable data, as a regulator and as a safety manager."""
    worker = await a_worker(runtime, world, "张三")
    regulator, manager = world.regulators["320100"], world.a.users["safety_manager"]

    seen = await api.query(SITE_WEARABLES, {"id": str(world.a.site_id)}, as_user=regulator)
    assert seen.data is not None and not seen.codes, seen.body
    wearers = [s["wearer"] for s in seen.data["site"]["sensors"] if s["wearer"]]
    (wearer,) = [w for w in wearers if w["id"] == worker["id"]]
    key = pseudonym_key(runtime, world.a.tenant_id)
    assert wearer["name"] == masking.pseudonymize(key, "张三", prefix="W")
    assert wearer["name"].startswith("W-")
    text = str(seen.body)
    for raw in (worker["name"], worker["mobile"], worker["id_number"]):
        assert raw not in text

    named = await api.query(SITE_WEARABLES, {"id": str(world.a.site_id)}, as_user=manager)
    assert named.data is not None and not named.codes, named.body
    wearers = [s["wearer"] for s in named.data["site"]["sensors"] if s["wearer"]]
    (wearer,) = [w for w in wearers if w["id"] == worker["id"]]
    assert (wearer["name"], wearer["idNumber"]) == ("张三", worker["id_number"])

    # The same regulator, same worker, later: the same pseudonym (stable within a tenant).
    again = await api.query(SITE_WEARABLES, {"id": str(world.a.site_id)}, as_user=regulator)
    assert again.data is not None
    assert str(masking.pseudonymize(key, "张三", prefix="W")) in str(again.body)

    async with unscoped_session(runtime.sessions) as session:
        reads = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "data.read", AuditEntry.object_type == "Worker")
                .order_by(AuditEntry.seq.desc())
                .limit(20)
            )
        ).all()
        report = await verify_chain(session=session, keyring=runtime.keyring)
    purposes = {r.detail["purpose"] for r in reads}
    assert {"government.supervision", "enterprise.safety_manager"} <= purposes
    (gov,) = [r for r in reads if r.detail["purpose"] == "government.supervision"][:1]
    assert set(gov.detail["fields"]) >= {"name", "idNumber"}
    assert gov.domain is not None and gov.domain.startswith("gov:")
    assert report.ok, report


async def test_other_tenants_and_the_platform_administrator_see_no_workers(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    worker = await a_worker(runtime, world, "李四")
    for user in (world.b.users["owner"], world.platform_admin, world.regulators["320500"]):
        result = await api.query(WORKERS, as_user=user)
        assert result.data is not None, result.body
        assert worker["id"] not in str(result.data), user


# --- free text ----------------------------------------------------------------------------------

CREATE_SILENCE = """mutation($site: ID!, $reason: String!, $expires: DateTime!) {
  createSilence(siteId: $site, reason: $reason, expiresAt: $expires) { id reason } }"""
SILENCES = """query($site: ID) { silences(siteId: $site) { id reason } }"""


async def test_identifiers_in_a_silence_reason_are_never_stored_or_shown(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.ingest_helpers import new_site

    # A site of its own: a two-hour silence on the shared site would hush other tests' alarms.
    site_id = await new_site(runtime, world.a.tenant_id)

    mobile = valid_mobile(random.Random(7))
    reason = f"检修期间联系王工 {mobile}"
    expires = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    made = await api.query(
        CREATE_SILENCE,
        {"site": str(site_id), "reason": reason, "expires": expires},
        as_user=world.a.users["safety_manager"],
    )
    assert made.data is not None, made.body
    silence_id = made.data["createSilence"]["id"]
    # Silence reasons are masked at rest (catalog at_rest=mask): the identifier is never
    # stored, so even the author reads it back masked.
    stored = pii.redact_text(reason)

    def reason_for(result: Any) -> str:
        assert result.data is not None, result.body
        (row,) = [s for s in result.data["silences"] if s["id"] == silence_id]
        return str(row["reason"])

    site = {"site": str(site_id)}
    owner = reason_for(await api.query(SILENCES, site, as_user=world.a.users["owner"]))
    operator = reason_for(await api.query(SILENCES, site, as_user=world.a.users["operator"]))
    regulator = reason_for(await api.query(SILENCES, site, as_user=world.regulators["320100"]))
    assert owner == stored and mobile not in owner
    assert operator == stored
    assert regulator == pii.redact_text(reason) and mobile[-4:] not in regulator


async def an_alarm(
    rt: Runtime,
    tenant_id: uuid.UUID,
    site_id: uuid.UUID,
    sensor_id: uuid.UUID,
    device_id: uuid.UUID,
) -> Any:
    """A RED alarm on a sensor, through the alarm service (no readings needed)."""
    from backend.alarms.engine import Signal
    from backend.alarms.models import AlarmRule
    from backend.alarms.rules import Severity
    from backend.alarms.service import SignalContext, apply_signal

    async with scoped_session(rt.sessions, Scope.for_tenant(tenant_id)) as s, s.begin():
        rule = AlarmRule(
            tenant_id=tenant_id,
            site_id=site_id,
            sensor_id=sensor_id,
            kind="threshold",
            definition={"kind": "threshold", "levels": []},
            source="override",
            enabled=False,  # only the alarm matters here; the engine never loads this rule
        )
        s.add(rule)
        await s.flush()
        signal = Signal(rule.id, sensor_id, None, "raise", "1st level", Severity.RED, 60.0, 1)
        alarm = await apply_signal(
            session=s, signal=signal, where=SignalContext(tenant_id, site_id, device_id, None)
        )
        assert alarm is not None
        return alarm


ALARM_PEOPLE = """query($site: ID) { alarms(status: ALL, siteId: $site) { id assignee cause } }"""
DISPATCH = """mutation($id: ID!, $who: String!) { dispatchAlarm(id: $id, assignee: $who) { id } }"""


async def test_an_alarm_assignee_is_a_name_a_mask_or_a_pseudonym_by_audience(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    a = world.a
    alarm = await an_alarm(runtime, a.tenant_id, a.site_id, a.sensor_ids["GT-101"], a.device_id)
    done = await api.query(
        DISPATCH, {"id": str(alarm.id), "who": "欧阳明"}, as_user=a.users["owner"]
    )
    assert done.data is not None, done.body

    def assignee(result: Any) -> str:
        assert result.data is not None, result.body
        (row,) = [r for r in result.data["alarms"] if r["id"] == str(alarm.id)]
        return str(row["assignee"])

    site = {"site": str(a.site_id)}
    key = pseudonym_key(runtime, a.tenant_id)
    seen = {
        who: assignee(await api.query(ALARM_PEOPLE, site, as_user=user))
        for who, user in [
            ("owner", a.users["owner"]),
            ("operator", a.users["operator"]),
            ("viewer", a.users["viewer"]),
            ("government", world.regulators["320000"]),
        ]
    }
    assert seen == {
        "owner": "欧阳明",
        "operator": "欧阳*",
        "viewer": "欧阳*",
        "government": masking.pseudonymize(key, "欧阳明", prefix="W"),
    }


# --- the whole matrix: every classified field the console shows, every audience ------------------

MATRIX = """query($site: ID!) {
  workers { id name mobile idNumber employeeNumber }
  alarms(status: ALL, siteId: $site) { id assignee cause }
  silences(siteId: $site) { id owner reason }
  workPermits(siteId: $site) { id note }
  notificationChannels { id target }
}"""


M_DISPATCH = """mutation($id: ID!) { dispatchAlarm(id: $id, assignee: "诸葛亮") { id } }"""
M_CLEAR = """mutation($id: ID!) { clearAlarm(id: $id, reason: "已处置") { id } }"""
M_CLOSE = """mutation($id: ID!, $c: String!) {
  closeAlarm(id: $id, verdict: TRUE_POSITIVE, cause: $c) { id } }"""
M_SILENCE = """mutation($s: ID!, $r: String!, $e: DateTime!) {
  createSilence(siteId: $s, reason: $r, expiresAt: $e) { id } }"""
M_PERMIT = """mutation($z: ID!, $e: DateTime!, $n: String) {
  openWorkPermit(zoneId: $z, kind: HOT_WORK, expiresAt: $e, note: $n) { id } }"""
M_CHANNEL = """mutation($s: ID!) {
  createNotificationChannel(kind: EMAIL, target: "duty.officer@example.cn", siteId: $s) {
    id secret } }"""


async def matrix_world(api: GraphQLClient, runtime: Runtime, world: World) -> dict[str, Any]:
    """One object of each type with classified fields, on a site of the test's own, holding
    identifiers in its free text. Returns type → (id, field → stored value)."""
    from datetime import UTC, datetime, timedelta

    from tests.ingest_helpers import new_device, new_site

    a, manager, owner = world.a, world.a.users["safety_manager"], world.a.users["owner"]
    site = await new_site(runtime, a.tenant_id)
    dev = await new_device(
        runtime,
        a.tenant_id,
        site,
        [{"code": "GT-9", "kind": "combustible_gas", "unit": "%LEL", "zone": "罐区"}],
    )
    mobile = valid_mobile(random.Random(11))
    worker = await a_worker(runtime, world, "司马相如")

    alarm = await an_alarm(runtime, a.tenant_id, site, dev.sensors["GT-9"], dev.id)
    cause = f"法兰泄漏，联系人 {mobile}"

    async def run(user: str, query: str, **variables: Any) -> dict[str, Any]:
        result = await api.query(query, variables, as_user=user)
        assert result.data is not None and not result.codes, result.body
        return dict(result.data)

    alarm_id = str(alarm.id)
    await run(
        owner,
        M_DISPATCH,
        id=alarm_id,
    )
    await run(owner, M_CLEAR, id=alarm_id)
    await run(
        owner,
        M_CLOSE,
        id=alarm_id,
        c=cause,
    )
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    silence = await run(
        manager,
        M_SILENCE,
        s=str(site),
        r=f"检修，值班电话 {mobile}",
        e=later,
    )
    zone = await runtime_zone(runtime, world, dev.sensors["GT-9"])
    permit = await run(
        manager,
        M_PERMIT,
        z=str(zone),
        e=later,
        n=f"监护人 {mobile}",
    )
    channel = await run(
        owner,
        M_CHANNEL,
        s=str(site),
    )
    manager_id = await user_id_of(runtime, manager)
    return {
        "site": site,
        "Worker": (
            worker["id"],
            {
                "name": worker["name"],
                "mobile": worker["mobile"],
                "idNumber": worker["id_number"],
                "employeeNumber": worker["employee_number"],
            },
        ),
        # Causes and silence reasons are masked at rest (at_rest=mask); permit notes sealed.
        "Alarm": (alarm_id, {"assignee": "诸葛亮", "cause": pii.redact_text(cause)}),
        "Silence": (
            silence["createSilence"]["id"],
            {"owner": str(manager_id), "reason": pii.redact_text(f"检修，值班电话 {mobile}")},
        ),
        "WorkPermit": (permit["openWorkPermit"]["id"], {"note": f"监护人 {mobile}"}),
        "NotificationChannel": (
            channel["createNotificationChannel"]["id"],
            {"target": "duty.officer@example.cn"},
        ),
    }


async def runtime_zone(rt: Runtime, world: World, sensor: uuid.UUID) -> uuid.UUID:
    from backend.telemetry.models import Sensor

    async with scoped_session(rt.sessions, Scope.for_tenant(world.a.tenant_id)) as session:
        zone = await session.scalar(select(Sensor.zone_id).where(Sensor.id == sensor))
    assert zone is not None
    return zone


async def user_id_of(rt: Runtime, email: str) -> uuid.UUID:
    from backend.auth.models import User
    from backend.auth.service import normalise_email

    async with rt.sessions() as session:
        found = await session.scalar(
            select(User.id).where(await User.email.matches(session, normalise_email(email)))
        )
    assert found is not None
    return found


LISTS = {
    "Worker": "workers",
    "Alarm": "alarms",
    "Silence": "silences",
    "WorkPermit": "workPermits",
    "NotificationChannel": "notificationChannels",
}


async def test_every_classified_field_gets_exactly_its_audiences_treatment(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    made = await matrix_world(api, runtime, world)
    key = pseudonym_key(runtime, world.a.tenant_id)
    viewers = {
        "owner": world.a.users["owner"],
        "safety_manager": world.a.users["safety_manager"],
        "operator": world.a.users["operator"],
        "viewer": world.a.users["viewer"],
        "government": world.regulators["320100"],
    }
    checked: set[tuple[str, str, str]] = set()
    for audience, user in viewers.items():
        result = await api.query(MATRIX, {"site": str(made["site"])}, as_user=user)
        data = result.data or {}
        for type_name, field_name in LISTS.items():
            object_id, stored = made[type_name]
            rows = [r for r in (data.get(field_name) or []) if r["id"] == object_id]
            if not rows:
                continue  # the role may not see this kind of object at all
            (row,) = rows
            for field, raw in stored.items():
                policy = catalog().graphql_field(type_name, field)
                assert policy is not None
                want = apply(policy, policy.treatment(audience), raw, lambda: key)
                assert row[field] == want, (audience, type_name, field, row[field], want)
                checked.add((type_name, field, audience))
    # Every type was seen, and every audience saw something.
    seen_types = {t for t, _, _ in checked}
    assert seen_types == set(LISTS), seen_types
    assert {a for _, _, a in checked} == set(viewers)

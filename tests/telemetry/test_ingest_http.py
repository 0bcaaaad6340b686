"""Device ingestion over HTTP (CONTRACT.md "Device ingestion (HTTP)"): every answer a device can
get, with its status code and body, and what ends up stored in ClickHouse.

The app runs in-process on the session runtime (the ``api`` fixture's client, whose lifespan
runs the flusher). "Stores nothing" is checked once a later marker has landed (``settle``):
the flusher writes the spool in order, so everything acknowledged before it is in by then.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from backend.app import create_app
from backend.auth.principal import Principal
from backend.migrate import migrate
from backend.runtime import Runtime
from backend.telemetry.service import revoke_device
from tenants.models import SubscriptionStatus
from tenants.scope import Scope, scoped_session
from tenants.service import unscoped_set_subscription_status_in_own_transaction
from tests.conftest import make_settings
from tests.factories import World, build_tenant
from tests.graphql import GraphQLClient
from tests.ingest_helpers import (
    GAS,
    MARK,
    TEMP,
    Client,
    FailingClient,
    IngestDevice,
    eventually,
    from_ms,
    iso_z,
    landed,
    last_seen_ms,
    new_device,
    new_site,
    now_ms,
    post,
    raw_count,
    readings,
    scalar,
    settle,
    telemetry_body,
    upload,
)


def _encoded(image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 120, 40)).save(buffer, image_format)
    return buffer.getvalue()


# Real images: snapshots are decoded and re-encoded, so a bare signature is refused.
JPEG = _encoded("JPEG")
PNG = _encoded("PNG")
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def http(api: GraphQLClient) -> Client:
    return api.http


@pytest.fixture(scope="module")
async def dev(runtime: Runtime, world: World) -> IngestDevice:
    """A device of this module's own on tenant A's site: gas 0..100, temperature, a marker."""
    return await new_device(runtime, world.a.tenant_id, world.a.site_id, (GAS, TEMP, MARK))


# --- accepted, duplicates ---------------------------------------------------------------------


async def test_accepted_readings_land_with_their_values(
    http: Client, runtime: Runtime, dev: IngestDevice
) -> None:
    start = now_ms() - 30_000
    east8 = timezone(timedelta(hours=8))
    sent = [
        {"sensor": "GT-1", "ts": start, "value": 0},  # both ends of the range are inside it
        {"sensor": "GT-1", "ts": iso_z(from_ms(start + 1)), "value": 100},
        {"sensor": "GT-1", "ts": from_ms(start + 2).astimezone(east8).isoformat(), "value": 12.5},
        {"sensor": "GT-1", "ts": now_ms() + 4 * 60_000, "value": 1.5},  # < 5 min ahead
    ]
    before = await landed(http, runtime, dev, "GT-1")
    response = await post(http, dev, "telemetry", {"batch_id": str(uuid.uuid4()), "readings": sent})
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 4, "duplicates": 0}
    await settle(http, runtime, dev)
    rows = runtime.clickhouse.query(
        "SELECT toUnixTimestamp64Milli(ts), value, tenant_id, site_id FROM readings "
        "WHERE sensor_id = {s:UUID} AND ts >= fromUnixTimestamp64Milli({t:Int64}) ORDER BY ts",
        parameters={"s": str(dev.sensors["GT-1"]), "t": start},
    ).result_rows
    assert raw_count(runtime, dev.sensors["GT-1"]) == before + 4
    stamps = [start, start + 1, start + 2, sent[3]["ts"]]
    assert [(r[0], r[1]) for r in rows] == list(zip(stamps, [0.0, 100.0, 12.5, 1.5], strict=True))
    assert {(r[2], r[3]) for r in rows} == {(dev.tenant_id, dev.site_id)}


async def test_a_repeated_batch_answers_duplicates_and_is_stored_once(
    http: Client, runtime: Runtime, dev: IngestDevice
) -> None:
    body = telemetry_body(readings("TT-1", 7))
    before = await landed(http, runtime, dev, "TT-1")
    first = await post(http, dev, "telemetry", body)
    assert (first.status_code, first.json()) == (202, {"accepted": 7, "duplicates": 0})
    again = await post(http, dev, "telemetry", body)  # still in the spool
    assert (again.status_code, again.json()) == (202, {"accepted": 0, "duplicates": 7})
    await settle(http, runtime, dev)
    late = await post(http, dev, "telemetry", body)  # now in ClickHouse
    assert (late.status_code, late.json()) == (202, {"accepted": 0, "duplicates": 7})
    await settle(http, runtime, dev)
    assert raw_count(runtime, dev.sensors["TT-1"]) == before + 7


async def test_a_batch_id_is_scoped_to_its_device(
    http: Client, runtime: Runtime, world: World, dev: IngestDevice
) -> None:
    other = await new_device(runtime, world.a.tenant_id, world.a.site_id, (GAS,))
    batch_id = uuid.uuid4()
    for device in (dev, other):
        response = await post(
            http, device, "telemetry", telemetry_body(readings("GT-1", 2), batch_id)
        )
        assert response.json() == {"accepted": 2, "duplicates": 0}


# --- 400 ----------------------------------------------------------------------------------------

BAD_READINGS = {
    "unknown sensor code": ({"sensor": "NOPE-9"}, "sensor"),
    "string value": ({"value": "12.5"}, "value"),
    "boolean value": ({"value": True}, "value"),
    "infinite value": (b"1e999", "value"),
    "above the kind's range": ({"value": 100.01}, "value"),
    "below the kind's range": ({"value": -0.5}, "value"),
    "ts 6 minutes ahead": ({"ts": "future"}, "ts"),
    "ts without zone": ({"ts": "2026-01-01T10:00:00"}, "ts"),
    "unknown field": ({"unit": "%LEL"}, "unit"),
    "missing value": ({"value": None}, "value"),
}


def bad_batch(change: dict[str, Any] | bytes, batch_id: uuid.UUID) -> bytes:
    """Three gas readings, the middle one spoiled by ``change``."""
    items = readings("GT-1", 3)
    if isinstance(change, bytes):  # a literal JSON number json.dumps cannot write
        items[1]["value"] = "@@"
        return telemetry_body(items, batch_id).replace(b'"@@"', change)
    for key, value in change.items():
        if value is None:
            del items[1][key]
        elif value == "future":
            items[1][key] = now_ms() + 6 * 60_000
        else:
            items[1][key] = value
    return telemetry_body(items, batch_id)


@pytest.mark.parametrize("change, field", BAD_READINGS.values(), ids=BAD_READINGS.keys())
async def test_an_invalid_reading_rejects_the_batch_and_stores_nothing(
    http: Client, runtime: Runtime, dev: IngestDevice, change: Any, field: str
) -> None:
    batch_id = uuid.uuid4()
    before = await landed(http, runtime, dev, "GT-1")
    response = await post(http, dev, "telemetry", bad_batch(change, batch_id))
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    assert errors[0]["index"] == 1 and errors[0]["field"] == field, errors
    assert isinstance(errors[0]["message"], str) and errors[0]["message"]
    await settle(http, runtime, dev)
    assert raw_count(runtime, dev.sensors["GT-1"]) == before
    # The refused batch id was not used up: the corrected batch goes through.
    fixed = await post(http, dev, "telemetry", telemetry_body(readings("GT-1", 3), batch_id))
    assert (fixed.status_code, fixed.json()) == (202, {"accepted": 3, "duplicates": 0})


async def test_every_invalid_reading_is_listed(
    http: Client, runtime: Runtime, dev: IngestDevice
) -> None:
    items = readings("GT-1", 6)
    items[1]["sensor"] = "GT-999"
    items[2]["value"] = 101
    items[3]["ts"] = now_ms() + 10 * 60_000
    items[4]["ts"] = "2026-01-01 10:00:00"
    items[5]["value"] = -1
    response = await post(http, dev, "telemetry", telemetry_body(items))
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert sorted((e["index"], e["field"]) for e in errors) == [
        (1, "sensor"),
        (2, "value"),
        (3, "ts"),
        (4, "ts"),
        (5, "value"),
    ]


BAD_BODIES = {
    "malformed JSON": (b'{"batch_id": "', None),
    "not an object": (b"[1, 2]", None),
    "missing batch_id": (b'{"readings": [{"sensor": "GT-1", "ts": 1, "value": 1}]}', "batch_id"),
    "batch_id not a uuid": (b'{"batch_id": "batch-7", "readings": []}', "batch_id"),
    "unknown top-level field": (
        b'{"batch_id": "%s", "readings": [], "site": "x"}' % str(uuid.uuid4()).encode(),
        "site",
    ),
    "no readings": (b'{"batch_id": "%s", "readings": []}' % str(uuid.uuid4()).encode(), "readings"),
    "empty body": (b"", None),
}


@pytest.mark.parametrize("body, field", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_a_malformed_body_is_400_with_an_error_list(
    http: Client, dev: IngestDevice, body: bytes, field: str | None
) -> None:
    response = await post(http, dev, "telemetry", body)
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert errors and all(set(e) == {"index", "field", "message"} for e in errors), errors
    if field is not None:
        assert errors[0]["field"] == field, errors


# --- 401, 403 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["telemetry", "events", "heartbeat", "snapshots"])
@pytest.mark.parametrize(
    "authorization", [None, "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-device-token"]
)
async def test_unknown_or_missing_token_is_401(
    http: Client, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await http.post(
        f"/api/v1/{path}", content=telemetry_body(readings("GT-1", 1)), headers=headers
    )
    assert response.status_code == 401, response.text


async def test_a_revoked_token_is_401(http: Client, runtime: Runtime, world: World) -> None:
    device = await new_device(runtime, world.a.tenant_id, world.a.site_id, (GAS,))
    assert (await post(http, device, "heartbeat", b"")).status_code == 202
    scope = Scope.for_tenant(world.a.tenant_id)
    async with scoped_session(runtime.sessions, scope) as session, session.begin():
        await revoke_device(
            session=session,
            authz=runtime.authz,
            principal=Principal.system(scope),
            device_id=device.id,
        )

    async def attempt() -> int:
        body = telemetry_body(readings("GT-1", 1))
        return int((await post(http, device, "telemetry", body)).status_code)

    assert await eventually(attempt, lambda status: status == 401, within=5) == 401
    assert (await post(http, device, "heartbeat", b"")).status_code == 401


async def test_a_suspended_site_is_403_until_resumed(
    http: Client, runtime: Runtime, world: World
) -> None:
    site_id = await new_site(runtime, world.a.tenant_id)
    device = await new_device(runtime, world.a.tenant_id, site_id, (GAS,))

    async def attempt() -> int:
        body = telemetry_body(readings("GT-1", 1))
        return int((await post(http, device, "telemetry", body)).status_code)

    assert await attempt() == 202
    for status, expected in ((SubscriptionStatus.SUSPENDED, 403), (SubscriptionStatus.ACTIVE, 202)):
        await unscoped_set_subscription_status_in_own_transaction(
            sessions=runtime.sessions,
            authz=runtime.authz,
            principal=Principal.system(),
            site_id=site_id,
            status=status,
        )
        assert await eventually(attempt, lambda code, e=expected: code == e, within=5) == expected
        assert (await post(http, device, "heartbeat", b"")).status_code == expected


# --- 413, 429 -----------------------------------------------------------------------------------


async def test_limits_on_body_size_and_batch_length(http: Client, dev: IngestDevice) -> None:
    padded = telemetry_body(readings("GT-1", 1))
    padded = padded[:-1] + b" " * (4 * MiB + 1 - len(padded)) + b"}"
    assert (await post(http, dev, "telemetry", padded)).status_code == 413
    items = readings("TT-1", 10_001)
    assert (await post(http, dev, "telemetry", telemetry_body(items))).status_code == 413
    response = await post(http, dev, "telemetry", telemetry_body(items[:10_000]))
    assert (response.status_code, response.json()) == (202, {"accepted": 10_000, "duplicates": 0})


async def test_over_the_plan_rate_is_429_with_retry_after(
    http: Client, runtime: Runtime, world: World
) -> None:
    site_id = await new_site(runtime, world.a.tenant_id, plan="basic")  # 60,000 per minute
    device = await new_device(runtime, world.a.tenant_id, site_id, (GAS,))
    statuses = []
    for _ in range(7):
        body = telemetry_body(readings("GT-1", 10_000))
        response = await post(http, device, "telemetry", body)
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {202} and len(statuses) >= 6, statuses
    assert int(response.headers["Retry-After"]) >= 1
    # Refused, not remembered: the same batch is refused again rather than called a duplicate.
    assert (await post(http, device, "telemetry", body)).status_code == 429


# --- 503 ----------------------------------------------------------------------------------------


@pytest.fixture
async def store_down(tmp_path: Path, chdb_dir: Path) -> AsyncIterator[tuple[Runtime, Client]]:
    """An app whose spool holds 20 kB and whose flusher cannot reach ClickHouse."""
    rt = Runtime(make_settings(tmp_path, chdb_dir, ANJIAN_SPOOL_MAX_BYTES="20000"))
    try:
        migrate(
            owner_engine=rt.owner_engine,
            keyring=rt.keyring,
            clickhouse=rt.clickhouse,
            cluster=rt.settings.clickhouse_cluster,
        )
        rt.flusher.client = FailingClient()  # type: ignore[assignment]
        async with AsyncTestClient(app=create_app(runtime=rt)) as client:
            yield rt, client
    finally:
        await rt.close()


async def test_a_full_spool_is_503_and_loses_nothing_acknowledged(
    store_down: tuple[Runtime, Client],
) -> None:
    rt, http = store_down
    tenant = await build_tenant(rt, "S", "320100", "320102")
    dev = IngestDevice(
        tenant.device_id, tenant.tenant_id, tenant.site_id, tenant.device_token, tenant.sensor_ids
    )
    acknowledged: list[bytes] = []
    base = now_ms() - 120_000
    for k in range(50):
        body = telemetry_body(readings("GT-101", 100, start_ms=base + 1000 * k))
        response = await post(http, dev, "telemetry", body)
        if response.status_code != 202:
            break
        acknowledged.append(body)
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert acknowledged, "the spool took nothing before it was full"
    assert (await post(http, dev, "heartbeat", b"")).status_code == 503
    ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert any("spool" in reason for reason in ready.json()["reasons"]), ready.json()

    rt.flusher.client = rt.clickhouse  # ClickHouse is back: the spool drains by itself
    sensor = tenant.sensor_ids["GT-101"]
    landed = await eventually(
        lambda: raw_count(rt, sensor), lambda n: n >= 100 * len(acknowledged), within=30
    )
    assert landed == 100 * len(acknowledged)
    assert (
        await eventually(lambda: http.get("/readyz"), lambda r: r.status_code == 200)
    ).status_code == 200
    retried = await post(http, dev, "telemetry", body)  # the refused batch, sent again
    assert retried.json() == {"accepted": 100, "duplicates": 0}
    repeated = await post(http, dev, "telemetry", acknowledged[0])
    assert repeated.json() == {"accepted": 0, "duplicates": 100}
    final = await eventually(lambda: raw_count(rt, sensor), lambda n: n > landed)
    assert final == 100 * (len(acknowledged) + 1)
    distinct = scalar(
        rt, "SELECT uniqExact(ts) FROM readings WHERE sensor_id = {s:UUID}", s=str(sensor)
    )
    assert distinct == final  # no reading twice


# --- a device writes only its own sensors -------------------------------------------------------


async def test_a_device_cannot_write_another_devices_sensors(
    http: Client, runtime: Runtime, world: World, dev: IngestDevice
) -> None:
    neighbour = await new_device(
        runtime, world.a.tenant_id, world.a.site_id, ({**GAS, "code": "NB-1"},)
    )
    for code in ("NB-1", str(neighbour.sensors["NB-1"])):
        response = await post(http, dev, "telemetry", telemetry_body(readings(code, 1)))
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "sensor"
    await settle(http, runtime, dev)
    assert raw_count(runtime, neighbour.sensors["NB-1"]) == 0


async def test_the_same_code_in_another_tenant_is_never_written(
    http: Client, runtime: Runtime, world: World
) -> None:
    same = ({**GAS, "code": "SAME-1"}, MARK)
    mine = await new_device(runtime, world.a.tenant_id, world.a.site_id, same)
    theirs = await new_device(runtime, world.b.tenant_id, world.b.site_id, same)
    response = await post(http, mine, "telemetry", telemetry_body(readings("SAME-1", 5)))
    assert response.json() == {"accepted": 5, "duplicates": 0}
    await settle(http, runtime, mine)
    assert raw_count(runtime, mine.sensors["SAME-1"]) == 5
    assert raw_count(runtime, theirs.sensors["SAME-1"]) == 0
    tenants = scalar(
        runtime,
        "SELECT groupUniqArray(tenant_id) FROM readings WHERE sensor_id = {s:UUID}",
        s=str(mine.sensors["SAME-1"]),
    )
    assert tenants == [world.a.tenant_id]


# --- heartbeat ----------------------------------------------------------------------------------


async def test_heartbeats_mark_the_device_seen(
    http: Client, runtime: Runtime, world: World
) -> None:
    device = await new_device(runtime, world.a.tenant_id, world.a.site_id, (GAS,))
    sent = now_ms() - 30_000
    response = await post(http, device, "heartbeat", {"ts": iso_z(from_ms(sent))})
    assert response.status_code == 202, response.text
    assert (
        await eventually(lambda: last_seen_ms(runtime, device.id), lambda v: v is not None) == sent
    )
    empty = await http.post("/api/v1/heartbeat", headers=device.headers)
    assert empty.status_code == 202, empty.text
    later = await eventually(lambda: last_seen_ms(runtime, device.id), lambda v: v != sent)
    assert later is not None and later > sent


@pytest.mark.parametrize(
    "body",
    [{"ts": "2026-01-01T10:00:00"}, {"ts": "future"}, {"status": "ok"}, b"{"],
    ids=["ts without zone", "ts ahead", "unknown field", "malformed"],
)
async def test_a_bad_heartbeat_is_400(http: Client, dev: IngestDevice, body: Any) -> None:
    if body == {"ts": "future"}:
        body = {"ts": now_ms() + 6 * 60_000}
    response = await post(http, dev, "heartbeat", body)
    assert response.status_code == 400, response.text
    assert all(set(e) == {"index", "field", "message"} for e in response.json()["errors"])


# --- snapshots and events -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, content_type, status",
    [
        (JPEG, "image/jpeg", 201),
        (PNG, "image/png", 201),
        (b"GIF89a" + b"\x00" * 64, "image/gif", 415),
        (JPEG, "application/octet-stream", 415),
        (PNG, "image/jpeg", 400),
        (b"not an image", "image/png", 400),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg", 400),
        (JPEG[: len(JPEG) // 2], "image/jpeg", 400),
        (_encoded("GIF"), "image/png", 400),
        (JPEG + b"\x00" * (8 * MiB), "image/jpeg", 413),
    ],
    ids=[
        "jpeg",
        "png",
        "gif",
        "octet-stream",
        "png-as-jpeg",
        "text-as-png",
        "signature-only",
        "truncated",
        "gif-as-png",
        "over-8MiB",
    ],
)
async def test_snapshot_uploads(
    http: Client, dev: IngestDevice, data: bytes, content_type: str, status: int
) -> None:
    response = await upload(http, dev, data, content_type)
    assert response.status_code == status, response.text
    if status == 201:
        assert set(response.json()) == {"snapshot"} and response.json()["snapshot"]
    else:
        assert response.json().get("error") or response.json().get("detail"), response.text


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "ppe.no_helmet",
        "sensor": "GT-1",
        "ts": iso_z(from_ms(now_ms() - 5_000)),
        "attributes": {"confidence": 0.93, "zone": "tank-farm-A"},
        **overrides,
    }


async def test_events_with_a_snapshot_land(
    http: Client, runtime: Runtime, dev: IngestDevice
) -> None:
    key = (await upload(http, dev, JPEG, "image/jpeg")).json()["snapshot"]
    body = {
        "batch_id": str(uuid.uuid4()),
        "events": [event(snapshot=key), event(type="fire.smoke")],
    }
    response = await post(http, dev, "events", body)
    assert (response.status_code, response.json()) == (202, {"accepted": 2, "duplicates": 0})
    again = await post(http, dev, "events", body)
    assert again.json() == {"accepted": 0, "duplicates": 2}
    await settle(http, runtime, dev)
    rows = runtime.clickhouse.query(
        "SELECT type, snapshot, tenant_id FROM events WHERE batch_id = {b:UUID} ORDER BY type",
        parameters={"b": body["batch_id"]},
    ).result_rows
    assert rows == [("fire.smoke", None, dev.tenant_id), ("ppe.no_helmet", key, dev.tenant_id)]


async def test_invalid_events_are_400_per_event(
    http: Client, runtime: Runtime, world: World, dev: IngestDevice
) -> None:
    stranger = await new_device(runtime, world.b.tenant_id, world.b.site_id, (GAS,))
    foreign = (await upload(http, stranger, PNG, "image/png")).json()["snapshot"]
    made_up = foreign.rsplit("/", 1)[0].replace(str(world.b.tenant_id), str(dev.tenant_id))
    bad = [
        event(),
        event(type="ppe.no_gloves"),
        event(attributes={"confidence": 0.5, "face": "…"}),
        event(snapshot=foreign),  # another tenant's upload
        event(snapshot=f"{made_up}/{uuid.uuid4()}.jpg"),  # never uploaded
        event(sensor="NOPE-1"),
        event(ts="2026-01-01T10:00:00"),
    ]
    batch_id = str(uuid.uuid4())
    response = await post(http, dev, "events", {"batch_id": batch_id, "events": bad})
    assert response.status_code == 400, response.text
    assert sorted((e["index"], e["field"]) for e in response.json()["errors"]) == [
        (1, "type"),
        (2, "attributes"),
        (3, "snapshot"),
        (4, "snapshot"),
        (5, "sensor"),
        (6, "ts"),
    ]
    unknown = await post(
        http, dev, "events", {"batch_id": batch_id, "events": [{**event(), "who": 1}]}
    )
    assert unknown.status_code == 400
    await settle(http, runtime, dev)
    count = scalar(runtime, "SELECT count() FROM events WHERE batch_id = {b:UUID}", b=batch_id)
    assert count == 0

"""An event alarm shows the camera frame of the event that raised it: ``Alarm.snapshotUrl``
points at the snapshot route, which serves it with faces pixelated to whoever may read the
site's telemetry. Threshold alarms and events without a frame have none; another tenant finds
neither the alarm nor the image."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image

from backend.runtime import Runtime
from tests.alarm_helpers import drain, gas_device, pipeline, raise_alarm
from tests.factories import World
from tests.graphql import GraphQLClient
from tests.ingest_helpers import (
    TEMP,
    IngestDevice,
    eventually,
    from_ms,
    iso_z,
    new_device,
    new_site,
    now_ms,
    post,
    upload,
)

DETAIL = """query($id: ID!) { alarm(id: $id) { id level severity snapshotUrl device { id } } }"""
SITE_ALARMS = """query($site: ID!) {
  alarms(status: ALL, siteId: $site, first: 100) { id level snapshotUrl } }"""


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


@dataclass
class Camera:
    dev: IngestDevice
    key: str  # the snapshot the helmet event referenced


async def camera_device(api: GraphQLClient, runtime: Runtime, world: World) -> IngestDevice:
    """An AI camera on a site of its own, once the pipeline runs its event rules."""
    site = await new_site(runtime, world.a.tenant_id)
    dev = await new_device(runtime, world.a.tenant_id, site, [TEMP])
    engine = pipeline(api).engine
    loaded = await eventually(lambda: engine.has_device_rules(dev.id), bool, within=20)
    assert loaded, f"the alarm pipeline never loaded the event rules of device {dev.id}"
    return dev


async def send_events(api: GraphQLClient, dev: IngestDevice, *events: dict[str, Any]) -> None:
    body = {
        "batch_id": str(uuid.uuid4()),
        "events": [{"ts": iso_z(from_ms(now_ms() - 1_000)), **e} for e in events],
    }
    response = await post(api.http, dev, "events", body)
    assert response.status_code == 202, response.text
    await drain(api)


@pytest.fixture(scope="module")
async def camera(api: GraphQLClient, runtime: Runtime, world: World) -> Camera:
    """A camera that saw a worker without a helmet (with a frame) and smoke (without one)."""
    dev = await camera_device(api, runtime, world)
    uploaded = await upload(api.http, dev, _jpeg(), "image/jpeg")
    assert uploaded.status_code == 201, uploaded.text
    key = str(uploaded.json()["snapshot"])
    await send_events(
        api,
        dev,
        {"type": "ppe.no_helmet", "attributes": {"confidence": 0.94}, "snapshot": key},
        {"type": "fire.smoke", "attributes": {"confidence": 0.81}},
    )
    return Camera(dev, key)


async def site_alarms(api: GraphQLClient, user: str, site_id: uuid.UUID) -> dict[str, Any]:
    result = await api.query(SITE_ALARMS, {"site": str(site_id)}, as_user=user)
    assert not result.codes, result.body
    assert result.data is not None
    return {a["level"]: a for a in result.data["alarms"]}


async def fetch(api: GraphQLClient, url: str, email: str) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {await api.token_for(email)}"}
    response = await api.http.get(url, headers=headers)
    return response.status_code, response.headers.get("content-type", "")


@pytest.mark.parametrize("role", ["owner", "safety_manager", "operator", "viewer"])
async def test_the_helmet_alarm_shows_the_frame_of_its_event(
    api: GraphQLClient, world: World, camera: Camera, role: str
) -> None:
    user = world.a.users[role]
    found = await site_alarms(api, user, camera.dev.site_id)
    helmet = found["no helmet"]
    assert helmet["snapshotUrl"] == f"/api/v1/snapshots/{camera.key}"
    result = await api.query(DETAIL, {"id": helmet["id"]}, as_user=user)
    assert result.data is not None, result.body
    assert result.data["alarm"]["snapshotUrl"] == helmet["snapshotUrl"]
    assert result.data["alarm"]["device"]["id"] == str(camera.dev.id)
    assert await fetch(api, helmet["snapshotUrl"], user) == (200, "image/jpeg")


async def test_the_frame_served_is_the_one_with_faces_pixelated(
    api: GraphQLClient, runtime: Runtime, world: World, camera: Camera
) -> None:
    user = world.a.users["operator"]
    helmet = (await site_alarms(api, user, camera.dev.site_id))["no helmet"]
    headers = {"Authorization": f"Bearer {await api.token_for(user)}"}
    response = await api.http.get(helmet["snapshotUrl"], headers=headers)
    assert response.content == runtime.ingest.objects.get(camera.key)


async def test_a_regulator_over_the_site_sees_the_frame(
    api: GraphQLClient, world: World, camera: Camera
) -> None:
    director = world.regulators["320100"]
    helmet = (await site_alarms(api, director, camera.dev.site_id))["no helmet"]
    assert helmet["snapshotUrl"] == f"/api/v1/snapshots/{camera.key}"
    assert await fetch(api, helmet["snapshotUrl"], director) == (200, "image/jpeg")


async def test_an_event_without_a_frame_and_a_threshold_alarm_have_none(
    api: GraphQLClient, runtime: Runtime, world: World, camera: Camera
) -> None:
    owner = world.a.users["owner"]
    smoke = (await site_alarms(api, owner, camera.dev.site_id))["smoke"]
    assert smoke["snapshotUrl"] is None
    site = await new_site(runtime, world.a.tenant_id)
    gas = await gas_device(api, runtime, world.a.tenant_id, site)
    leak = await raise_alarm(api, owner, gas, 30)
    result = await api.query(DETAIL, {"id": leak["id"]}, as_user=owner)
    assert result.data is not None, result.body
    assert result.data["alarm"]["snapshotUrl"] is None


async def test_another_tenant_finds_neither_the_alarm_nor_its_frame(
    api: GraphQLClient, world: World, camera: Camera
) -> None:
    helmet = (await site_alarms(api, world.a.users["owner"], camera.dev.site_id))["no helmet"]
    outsiders = [*world.b.users.values(), world.regulators["320500"], world.platform_admin]
    for email in outsiders:
        result = await api.query(DETAIL, {"id": helmet["id"]}, as_user=email)
        assert result.code == "NOT_FOUND", (email, result.body)
        status, _ = await fetch(api, helmet["snapshotUrl"], email)
        assert status == 404, email


async def test_raised_again_the_alarm_shows_the_new_frame(
    api: GraphQLClient, runtime: Runtime, world: World
) -> None:
    """Cleared by hand and seen again: the new alarm has the new event's frame."""
    owner = world.a.users["owner"]
    dev = await camera_device(api, runtime, world)
    keys = []
    for _ in range(2):
        uploaded = await upload(api.http, dev, _jpeg(), "image/jpeg")
        keys.append(str(uploaded.json()["snapshot"]))
    flame = {"type": "fire.flame", "attributes": {"confidence": 0.9}}
    await send_events(api, dev, {**flame, "snapshot": keys[0]})
    first = (await site_alarms(api, owner, dev.site_id))["flame"]
    clear = """mutation($id: ID!) { clearAlarm(id: $id, reason: "误报已复核") { id status } }"""
    cleared = await api.query(clear, {"id": first["id"]}, as_user=owner)
    assert not cleared.codes, cleared.body
    await send_events(api, dev, {**flame, "snapshot": keys[1]})
    result = await api.query(SITE_ALARMS, {"site": str(dev.site_id)}, as_user=owner)
    assert result.data is not None, result.body
    urls = [a["snapshotUrl"] for a in result.data["alarms"] if a["level"] == "flame"]
    assert urls == [f"/api/v1/snapshots/{keys[1]}", f"/api/v1/snapshots/{keys[0]}"]

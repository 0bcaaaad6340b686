"""The alarm console, live: a leak reported through the device API appears in an open console
without a reload, an operator acknowledges it with a note, a viewer has no control to do so
and the server refuses the viewer's forged request, as it refuses any cookie request without
the CSRF header; a camera's helmet alarm shows its snapshot on the alarm's page.
(Masked mobiles on an operator's people page: test_console_management.py.)
"""

from __future__ import annotations

import asyncio
import io
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from PIL import Image

from tests.browser.console.pages import (
    Watched,
    assert_accessible,
    assert_nothing_foreign,
    close,
    error_codes,
    graphql_async,
    graphql_from_page,
    post_readings_async,
    screenshot,
    sign_in,
)
from tests.browser.console.world import World

ALARMS = """query($sensorId: ID) { alarms(status: OPEN, first: 50, sensorId: $sensorId) {
  id severity status acknowledged acknowledgedAt sensor { code } } }"""
ACKNOWLEDGE = "mutation($id: ID!, $note: String) { acknowledgeAlarm(id: $id, note: $note) { id } }"


def _row(page: Any, code: str, severity: str) -> Any:
    """The console's row of the alarm on ``code`` of this severity (a sensor can also carry a
    BLUE no-data alarm of its own)."""
    link = page.get_by_role("link", name=f"查看 {code} 的监测曲线")
    return page.get_by_role("listitem").filter(has=link).filter(has_text=severity)


async def _open_alarm_console(page: Any) -> None:
    await page.get_by_role("navigation", name="主菜单").get_by_role("link", name="报警处置").click()
    await page.get_by_role("list", name="报警列表").wait_for(timeout=15_000)
    await _row(page, "DJ-GT-102", "橙色").wait_for(timeout=15_000)


async def _alarm_of(world: World, code: str) -> dict[str, Any]:
    answer = await graphql_async(
        world.url,
        ALARMS,
        {"Authorization": f"Bearer {world.owner_token}"},
        {"sensorId": world.sensors_a[code]},
    )
    alarms = answer["data"]["alarms"]
    assert len(alarms) >= 1, answer
    return dict(alarms[0])


async def test_a_leak_appears_live_and_an_operator_acknowledges_it(
    world: World, chromium: Any
) -> None:
    watched = await sign_in(chromium, world, world.users["operator"])
    # The overview too, open beside the console in the same session (another tab).
    overview = Watched(await watched.page.context.new_page())
    await overview.page.goto(f"{world.url}/app/")
    tile = overview.page.get_by_role("link", name=re.compile("DJ-GT-101"))
    await tile.wait_for(timeout=15_000)
    assert "正常" in await tile.inner_text()
    page = watched.page
    await _open_alarm_console(page)
    # Something a reload would wipe out.
    for tab in (page, overview.page):
        await tab.evaluate("() => { window.__stillTheSamePage = true }")
    row = _row(page, "DJ-GT-101", "红色")
    assert await row.count() == 0

    accepted = await post_readings_async(
        world.url, world.token_a, [("DJ-GT-101", 55.0, datetime.now(UTC))]
    )
    await row.wait_for(timeout=10_000)
    seconds = time.perf_counter() - accepted
    assert await page.evaluate("() => window.__stillTheSamePage === true")
    assert "未确认" in await row.inner_text()
    # A new RED is announced, not only listed.
    await page.get_by_role("alert").get_by_text(re.compile("新的红色报警")).wait_for(timeout=5_000)
    assert seconds < 10, seconds
    await screenshot(page, "console-alarms-zh.png")
    await overview.page.get_by_role("link", name=re.compile("DJ-GT-101.*红色报警")).wait_for(
        timeout=10_000
    )
    assert await overview.page.evaluate("() => window.__stillTheSamePage === true")
    await overview.assert_clean(world.url)

    await row.get_by_role("button", name="确认报警 DJ-GT-101").click()
    dialog = page.get_by_role("dialog", name=re.compile("确认报警：DJ-GT-101"))
    await dialog.wait_for(timeout=5_000)
    await dialog.get_by_label("处置说明（可选）").fill("现场已排查，阀门法兰微漏，已紧固")
    await screenshot(page, "console-acknowledge-zh.png")
    await dialog.get_by_role("button", name="确认", exact=True).click()
    await dialog.wait_for(state="hidden", timeout=10_000)
    await row.get_by_text("已确认").wait_for(timeout=10_000)
    assert await row.get_by_role("button", name="确认报警 DJ-GT-101").count() == 0

    alarm = await _alarm_of(world, "DJ-GT-101")
    assert alarm["severity"] == "RED"
    assert alarm["status"] == "ACKNOWLEDGED" and alarm["acknowledged"] is True
    assert alarm["acknowledgedAt"]
    assert_nothing_foreign(await page.inner_text("body"), world, "the operator's alarm console")
    await watched.assert_clean(world.url)
    await close(watched)


async def test_a_viewer_has_no_acknowledge_control_and_a_forged_one_is_refused(
    world: World, chromium: Any
) -> None:
    watched = await sign_in(chromium, world, world.users["viewer"])
    page = watched.page
    await _open_alarm_console(page)
    row = _row(page, "DJ-GT-102", "橙色")
    assert "未确认" in await row.inner_text()
    assert await page.get_by_role("button", name=re.compile("^确认")).count() == 0
    assert await page.get_by_role("button", name=re.compile("^关闭报警")).count() == 0
    await screenshot(page, "console-alarms-viewer-zh.png")

    # What the page's own client would send, cookie and CSRF header included: the server
    # decides by role, not by what the page happens to show.
    mine = await graphql_from_page(page, ALARMS, {"sensorId": world.sensors_a["DJ-GT-102"]})
    alarm_id = mine["body"]["data"]["alarms"][0]["id"]
    forged = await graphql_from_page(page, ACKNOWLEDGE, {"id": alarm_id, "note": "viewer"})
    assert error_codes(forged) == ["FORBIDDEN"], forged
    assert not (forged["body"].get("data") or {}).get("acknowledgeAlarm")
    alarm = await _alarm_of(world, "DJ-GT-102")
    assert alarm["status"] == "ACTIVE_UNACKNOWLEDGED" and alarm["acknowledged"] is False
    await close(watched)


async def test_a_cookie_request_without_the_csrf_header_is_forbidden(
    world: World, chromium: Any
) -> None:
    """What a forged form or a script on another site could send: the cookie, no header."""
    watched = await sign_in(chromium, world, world.users["operator"])
    page = watched.page
    await _open_alarm_console(page)
    alarm_id = (await _alarm_of(world, "DJ-GT-102"))["id"]

    for query, variables in (
        (ACKNOWLEDGE, {"id": alarm_id, "note": "forged"}),
        ("query { me { email } }", {}),
    ):
        refused = await graphql_from_page(page, query, variables, csrf=False)
        assert error_codes(refused) == ["FORBIDDEN"], refused
        assert "X-Anjian-CSRF" in refused["body"]["errors"][0]["message"]
    alarm = await _alarm_of(world, "DJ-GT-102")
    assert alarm["status"] == "ACTIVE_UNACKNOWLEDGED"
    # With the header the same operator may: the refusal above was the header's alone.
    allowed = await graphql_from_page(page, "query { me { email } }")
    assert allowed["body"]["data"]["me"]["email"] == world.users["operator"]
    await close(watched)


async def _helmet_alarm_with_a_snapshot(world: World) -> dict[str, Any]:
    """Device A as an AI camera: a frame uploaded, then a no-helmet event referencing it."""
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (60, 140, 90)).save(buffer, "JPEG")
    device = {"Authorization": f"Bearer {world.token_a}"}
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as client:
        uploaded = await client.post(
            "/api/v1/snapshots",
            content=buffer.getvalue(),
            headers={**device, "Content-Type": "image/jpeg"},
        )
        assert uploaded.status_code == 201, uploaded.text
        event = {
            "type": "ppe.no_helmet",
            "ts": datetime.now(UTC).isoformat(),
            "attributes": {"confidence": 0.92},
            "snapshot": uploaded.json()["snapshot"],
        }
        posted = await client.post(
            "/api/v1/events",
            json={"batch_id": str(uuid.uuid4()), "events": [event]},
            headers=device,
        )
        assert posted.status_code == 202, posted.text
    query = "{ alarms(status: ACTIVE, first: 50) { id level snapshotUrl } }"
    owner = {"Authorization": f"Bearer {world.owner_token}"}
    deadline = time.monotonic() + 20
    while True:
        alarms = (await graphql_async(world.url, query, owner))["data"]["alarms"]
        found = [a for a in alarms if a["level"] == "no helmet" and a["snapshotUrl"]]
        if found:
            return dict(found[0])
        assert time.monotonic() < deadline, f"no helmet alarm with a snapshot: {alarms}"
        await asyncio.sleep(0.3)


async def test_a_helmet_alarm_shows_its_camera_snapshot_larger_on_click(
    world: World, chromium: Any
) -> None:
    alarm = await _helmet_alarm_with_a_snapshot(world)
    watched = await sign_in(chromium, world, world.users["viewer"])
    page = watched.page
    await page.goto(f"{world.url}/app/alarms/{alarm['id']}")
    image = page.get_by_role("img", name="未戴安全帽 报警时的现场抓拍（人脸已打码）")
    await image.first.wait_for(timeout=15_000)
    # Loaded: the browser decoded the frame the server served.
    assert await image.first.evaluate("(img) => img.complete && img.naturalWidth") == 320
    await assert_accessible(page)
    await page.get_by_role("button", name=re.compile("查看大图")).click()
    dialog = page.get_by_role("dialog", name="现场抓拍")
    await dialog.wait_for(timeout=5_000)
    large = dialog.get_by_role("img", name=re.compile("现场抓拍"))
    await large.wait_for(timeout=5_000)
    assert await large.evaluate("(img) => img.complete && img.naturalWidth") == 320
    await screenshot(page, "console-alarm-snapshot-zh.png")
    await watched.assert_clean(world.url)
    await close(watched)

"""The management pages in a real browser, on the package's server: an operator sees workers'
mobiles masked only, the owner the member list, a new device's token shows once and is gone
after a reload, a work order created from an alarm appears in the list, and no page of tenant A
(the management pages, the audit trail, an alarm's detail) shows a word of tenant B.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.browser.console.pages import (
    assert_accessible,
    assert_nothing_foreign,
    body_text,
    close,
    new_page,
    open_page,
    screenshot,
    sign_in,
)
from tests.browser.console.world import WORKER_A, WORKER_B, World, graphql

WAIT = 15_000


async def test_an_operator_sees_worker_mobiles_masked(world: World, chromium: Any) -> None:
    watched = await sign_in(chromium, world, world.users["operator"])
    page = watched.page
    await open_page(watched, f"{world.url}/app/people")
    mobile = WORKER_A["mobile"]
    # Masked, not left out: the first and last digits still tell workers apart.
    await page.get_by_text(f"{mobile[:3]}****{mobile[-4:]}").wait_for(timeout=WAIT)
    text = await body_text(page)
    assert mobile not in text
    assert mobile not in await page.content()
    assert WORKER_B["mobile"] not in text
    assert_nothing_foreign(text, world, "the operator's people page")
    await watched.assert_clean(world.url)
    await close(watched)


async def test_the_owner_sees_the_members(world: World, chromium: Any) -> None:
    watched = await sign_in(chromium, world, world.users["owner"])
    page = watched.page
    await open_page(watched, f"{world.url}/app/people")
    await page.get_by_text(world.users["viewer"]).wait_for(timeout=WAIT)
    text = await body_text(page)
    for email in world.users.values():
        assert email in text
    assert_nothing_foreign(text, world, "the owner's people page")
    await close(watched)


async def test_a_new_device_token_shows_once(world: World, chromium: Any) -> None:
    watched = await sign_in(chromium, world, world.users["safety_manager"])
    page = watched.page
    await open_page(watched, f"{world.url}/app/devices")
    name = f"东江手持检测仪-{uuid.uuid4().hex[:6]}"
    await page.get_by_role("button", name="新建设备").click()
    dialog = page.get_by_role("dialog")
    await dialog.locator('input[name="device-name"]').fill(name)
    await dialog.locator('input[name="code-0"]').fill(f"DJ-TT-{uuid.uuid4().hex[:4].upper()}")
    await dialog.locator('select[name="kind-0"]').select_option("temperature")
    await dialog.get_by_role("button", name="创建", exact=True).click()
    region = page.get_by_role("region", name=f"设备 {name} 的令牌")
    await region.wait_for(timeout=WAIT)
    token = await region.locator("input").input_value()
    assert len(token) >= 20
    await open_page(watched, f"{world.url}/app/devices")
    await page.get_by_text(name).first.wait_for(timeout=WAIT)
    assert token not in await page.content()
    await watched.assert_clean(world.url)
    await close(watched)


async def test_a_work_order_from_an_alarm_is_listed(world: World, chromium: Any) -> None:
    watched = await sign_in(chromium, world, world.users["operator"])
    page = watched.page
    await open_page(watched, f"{world.url}/app/alarms")
    await page.get_by_role("button", name="建工单：报警 DJ-GT-102").first.click(timeout=WAIT)
    title = f"处置 DJ-GT-102 可燃气体报警 {uuid.uuid4().hex[:6]}"
    dialog = page.get_by_role("dialog")
    await dialog.locator('input[name="title"]').fill(title)
    await dialog.get_by_role("button", name="创建", exact=True).click()
    await page.wait_for_url(re.compile(r"/app/work-orders/[^/]+$"), timeout=WAIT)
    await open_page(watched, f"{world.url}/app/work-orders")
    await page.get_by_text(title).wait_for(timeout=WAIT)
    await watched.assert_clean(world.url)
    await close(watched)


def _alarm_of_a(world: World) -> str:
    query = "{ alarms(status: ALL, first: 20) { id sensor { code } } }"
    alarms = graphql(world.url, query, token=world.owner_token)["data"]["alarms"]
    return next(a["id"] for a in alarms if a["sensor"] and a["sensor"]["code"] == "DJ-GT-102")


async def test_no_management_page_of_a_shows_b(world: World, chromium: Any) -> None:
    watched = await sign_in(chromium, world, world.users["owner"])
    page = watched.page
    pages = {
        "work-orders": "工单",
        "handovers": "交接班",
        "devices": "设备",
        "people": "人员",
        "permits": "作业票",
        "audit": "审计",
        f"alarms/{_alarm_of_a(world)}": "处置记录",
    }
    for path, heading in pages.items():
        await open_page(watched, f"{world.url}/app/{path}")
        await page.get_by_role("heading", name=re.compile(heading)).first.wait_for(timeout=WAIT)
        assert_nothing_foreign(await body_text(page), world, f"/app/{path}")
        shot = "alarm-detail" if path.startswith("alarms/") else path
        await screenshot(page, f"console-{shot}-zh.png")
        if path.startswith(("audit", "alarms/")):
            await assert_accessible(page)
    # The audit trail shows A's own entries: the worker created for the suite at least.
    await open_page(watched, f"{world.url}/app/audit")
    await page.get_by_role("table", name="审计记录").wait_for(timeout=WAIT)
    await watched.assert_clean(world.url)
    await close(watched)


async def test_a_forgotten_password_gets_the_same_answer_for_any_address(
    world: World, chromium: Any
) -> None:
    """Whether the address has an account must not show: both get the same sentence."""
    answers = []
    for email in (world.users["viewer"], f"nobody-{uuid.uuid4().hex[:6]}@dongjiang.example.cn"):
        watched = await new_page(chromium)
        page = watched.page
        await open_page(watched, f"{world.url}/app/login")
        await page.get_by_label("邮箱", exact=True).fill(email)
        await page.get_by_role("link", name="忘记密码？").click()
        await page.wait_for_url(re.compile(r"/app/forgot-password"), timeout=WAIT)
        assert await page.get_by_label("邮箱", exact=True).input_value() == email
        await page.get_by_role("button", name="发送重设邮件").click()
        notice = page.get_by_role("status").filter(has_text="如果该邮箱有账号")
        await notice.wait_for(timeout=WAIT)
        answers.append(await notice.inner_text())
        await assert_accessible(page)
        await watched.assert_clean(world.url)
        await close(watched)
    assert answers[0] == answers[1]

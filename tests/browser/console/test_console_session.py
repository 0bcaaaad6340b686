"""The owner's idle timeout for the tenant's sessions, in a real browser: the owner chooses one
on the people page and finds it chosen after a reload; no other role is offered the choice."""

from __future__ import annotations

from typing import Any

from tests.browser.console.pages import (
    assert_accessible,
    body_text,
    close,
    open_page,
    sign_in,
)
from tests.browser.console.world import World

WAIT = 15_000


async def test_the_owner_chooses_the_idle_timeout(world: World, chromium: Any) -> None:
    watched = await sign_in(chromium, world, world.users["owner"])
    page = watched.page
    await open_page(watched, f"{world.url}/app/people")
    picker = page.locator("select[name=idle-timeout]")
    await picker.wait_for(timeout=WAIT)
    assert "平台默认（30 分钟）" in await picker.inner_text()
    await assert_accessible(page)
    try:
        await picker.select_option(label="60 分钟")
        await page.get_by_role("button", name="保存").click()
        await page.get_by_role("status").filter(has_text="已保存").wait_for(timeout=WAIT)
        await page.reload()
        await picker.wait_for(timeout=WAIT)
        await page.wait_for_function(
            "() => document.querySelector('select[name=idle-timeout]')?.value === '60'",
            timeout=WAIT,
        )
    finally:
        await picker.select_option(label="平台默认（30 分钟）")
        await page.get_by_role("button", name="保存").click()
        await page.get_by_role("status").filter(has_text="已保存").wait_for(timeout=WAIT)
    await watched.assert_clean(world.url)
    await close(watched)


async def test_no_other_role_is_offered_the_idle_timeout(world: World, chromium: Any) -> None:
    for role in ("safety_manager", "operator"):
        watched = await sign_in(chromium, world, world.users[role])
        page = watched.page
        await open_page(watched, f"{world.url}/app/people")
        await page.get_by_role("heading", name="人员", exact=True).wait_for(timeout=WAIT)
        await page.get_by_text("作业人员").first.wait_for(timeout=WAIT)
        assert "会话超时" not in await body_text(page), role
        await close(watched)

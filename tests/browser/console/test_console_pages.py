"""Each console page as loaded from the server, on a desktop and on a 375 px phone: the
contract's security headers, no CSP violation, no request to another host, nothing logged as an
error, no serious or critical axe-core violation, no sideways scrolling on the phone (overview
and alarm console), and a screenshot of each when ANJIAN_TEST_SCREENSHOT_DIR is set.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.console.pages import (
    DESKTOP,
    PHONE,
    assert_accessible,
    assert_contract_headers,
    assert_no_horizontal_scroll,
    assert_nothing_foreign,
    body_text,
    close,
    new_page,
    open_page,
    screenshot,
    sign_in,
)
from tests.browser.console.world import SENSORS_A, SITE_A, World

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


async def test_the_sign_in_page(world: World, chromium: Any) -> None:
    watched = await new_page(chromium)
    page = watched.page
    assert_contract_headers(await open_page(watched, f"{world.url}/app/login"))
    assert await page.title() == "安监 · 企业端"
    await page.get_by_role("button", name="登录", exact=True).wait_for()
    await screenshot(page, "console-sign-in-zh.png")
    await assert_accessible(page)
    await watched.assert_clean(world.url)
    await close(watched)


@pytest.mark.parametrize("screen", list(VIEWPORTS))
async def test_the_console_pages_on_a_screen(world: World, chromium: Any, screen: str) -> None:
    viewport = VIEWPORTS[screen]
    watched = await sign_in(chromium, world, world.users["safety_manager"], viewport)
    page = watched.page
    suffix = "" if screen == "desktop" else "-phone"

    # 总览, loaded afresh so that its own response's headers are the ones checked.
    assert_contract_headers(await open_page(watched, f"{world.url}/app/"))
    for sensor in SENSORS_A:
        await page.get_by_role("link", name=re.compile(sensor["code"])).wait_for(timeout=15_000)
    text = await body_text(page)
    assert SITE_A in text and "在线率" in text
    assert_nothing_foreign(text, world, f"the overview ({screen})")
    await screenshot(page, f"console-overview-zh{suffix}.png")
    await assert_accessible(page)
    if screen == "phone":
        await assert_no_horizontal_scroll(page)

    # 报警处置
    assert_contract_headers(await open_page(watched, f"{world.url}/app/alarms"))
    await page.get_by_role("link", name="查看 DJ-GT-102 的监测曲线").first.wait_for(timeout=15_000)
    assert_nothing_foreign(await body_text(page), world, f"the alarm console ({screen})")
    await screenshot(page, f"console-alarms-list-zh{suffix}.png")
    await assert_accessible(page)
    if screen == "phone":
        await assert_no_horizontal_scroll(page)

    # 监测曲线: the chart is its own chunk, fetched on first use (still from this server).
    sensor = world.sensors_a["DJ-TT-201"]
    assert_contract_headers(await open_page(watched, f"{world.url}/app/sensors/{sensor}"))
    chart = page.get_by_role("img", name=re.compile("DJ-TT-201 的监测曲线"))
    await chart.wait_for(timeout=15_000)
    await page.locator("figure canvas").first.wait_for(timeout=15_000)
    await page.get_by_text(re.compile(r"每 \d+ 秒一个点，共 [1-9]\d* 个点")).wait_for(
        timeout=15_000
    )
    assert_nothing_foreign(await body_text(page), world, f"the sensor history ({screen})")
    await screenshot(page, f"console-history-zh{suffix}.png")
    await assert_accessible(page)

    await watched.assert_clean(world.url)
    await close(watched)


@pytest.mark.parametrize(
    "lang",
    [
        "zh-CN",
        "en",
    ],
)
async def test_a_tile_shows_its_whole_sensor_code(world: World, chromium: Any, lang: str) -> None:
    """The code is how a control room names a sensor: a tile must never cut it off."""
    watched = await sign_in(chromium, world, world.users["viewer"])
    page = watched.page
    await open_page(watched, f"{world.url}/app/?lang={lang}")
    await page.get_by_role("link", name=re.compile("DJ-GT-102")).wait_for(timeout=15_000)
    cut = await page.evaluate(
        """() => [...document.querySelectorAll('.tile__code')]
            .filter((code) => code.scrollWidth > code.clientWidth)
            .map((code) => code.textContent)"""
    )
    await close(watched)
    assert cut == []

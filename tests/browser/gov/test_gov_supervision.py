"""Supervision (督办) of an alarm in the two portals: an inspector of Nanjing puts the site's
active alarm under supervision from the site's page, the enterprise's safety manager reports
on it from the console's alarm page, the analyst follows without a button to act, and the
director closes it; no page shows a word of Suzhou.
"""

from __future__ import annotations

import re
from typing import Any

from tests.browser.console.pages import (
    DESKTOP,
    PHONE,
    assert_accessible,
    assert_no_horizontal_scroll,
    body_text,
    close,
    open_page,
    screenshot,
)
from tests.browser.gov.test_gov_notices import WAIT, _enterprise_sign_in
from tests.browser.gov.test_gov_portal import assert_nothing_foreign, gov_sign_in
from tests.browser.gov.world import SITE_A, GovWorld, graphql

REQUEST = "请于期限内报告 DJ-GT-102 可燃气体报警的原因及处置结果"
REPORT = "东江罐区法兰垫片老化渗漏，已更换垫片并复测，浓度回落至 0 %LEL"


def _alarm_id(world: GovWorld, code: str) -> str:
    alarms = graphql(
        world.url,
        "{ alarms(status: ACTIVE, first: 50) { id sensor { code } } }",
        token=world.bearer(world.safety_manager),
    )["data"]["alarms"]
    return next(a["id"] for a in alarms if a["sensor"] and a["sensor"]["code"] == code)


async def test_an_alarm_is_supervised_reported_and_closed(world: GovWorld, chromium: Any) -> None:
    watched = await gov_sign_in(chromium, world, world.regulators["inspector"], DESKTOP)
    page = watched.page
    await page.get_by_role("link", name=SITE_A).first.click()
    await page.get_by_role("heading", name=SITE_A).wait_for(timeout=WAIT)
    await page.get_by_role("button", name="督办 DJ-GT-102 的报警").click()
    dialog = page.get_by_role("dialog")
    await dialog.locator('textarea[name="request"]').fill(REQUEST)
    await dialog.get_by_role("button", name="督办", exact=True).click()
    await page.get_by_text("待报告").first.wait_for(timeout=WAIT)
    assert await page.get_by_role("button", name="督办 DJ-GT-102 的报警").count() == 0
    await watched.assert_clean(world.url)
    await close(watched)

    # The safety manager reports from the alarm's page, on a phone.
    alarm = _alarm_id(world, "DJ-GT-102")
    watched = await _enterprise_sign_in(chromium, world, world.safety_manager, PHONE)
    page = watched.page
    await open_page(watched, f"{world.url}/app/alarms/{alarm}")
    form = page.get_by_role("form", name="报送处置情况")
    await page.get_by_text(REQUEST).wait_for(timeout=WAIT)
    await form.get_by_role("button", name="报送").click()
    await form.get_by_text("请填写处置情况。").wait_for()
    await form.locator('textarea[name="report"]').fill(REPORT)
    await form.get_by_role("button", name="报送").click()
    await page.get_by_text("待审核").first.wait_for(timeout=WAIT)
    assert await page.get_by_role("form", name="报送处置情况").count() == 0
    await assert_no_horizontal_scroll(page)
    await assert_accessible(page)
    await screenshot(page, "console-supervision-phone-zh.png")
    await watched.assert_clean(world.url)
    await close(watched)

    # The analyst reads it, with nothing to act on.
    watched = await gov_sign_in(chromium, world, world.regulators["analyst"], DESKTOP)
    page = watched.page
    await page.get_by_role("link", name="督办", exact=True).click()
    await page.get_by_text(REPORT).wait_for(timeout=WAIT)
    assert await page.get_by_role("button", name="办结").count() == 0
    await close(watched)

    watched = await gov_sign_in(chromium, world, world.regulators["director"], DESKTOP)
    page = watched.page
    await page.get_by_role("link", name="督办", exact=True).click()
    await page.get_by_text(REPORT).wait_for(timeout=WAIT)
    await page.get_by_role("button", name="办结").click()
    await page.get_by_role("list", name="督办").get_by_text("已办结").wait_for(timeout=WAIT)
    text = await body_text(page)
    assert REQUEST in text and SITE_A in text
    assert_nothing_foreign(text, world, "the supervision page")
    await assert_accessible(page)
    await screenshot(page, "gov-supervision-zh.png")
    await watched.assert_clean(world.url)
    await close(watched)

    # The Suzhou enterprise gets nothing of it.
    answer = graphql(
        world.url,
        "{ alarmSupervisions { request } }",
        token=world.bearer("owner@gusu.example.cn"),
    )
    assert answer["data"]["alarmSupervisions"] == []
    assert re.search("DJ-GT-102", repr(answer)) is None

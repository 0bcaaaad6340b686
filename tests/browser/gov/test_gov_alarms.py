"""辖区报警 as the regulators of Nanjing use it: the jurisdiction's alarms with their site and
enterprise, narrowed by division and severity, an alarm raised meanwhile arriving without a
reload and leaving once it clears, 督办 for the director and not for the analyst, the CSV of
what the filters show; on a desktop and a tablet, and never a word of Suzhou.

The alarm raised here (DJ-GT-101, orange like the site's seeded one) is cleared before the
test ends, so the overview's colours and counts stay as the other tests expect them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.browser.console.pages import (
    DESKTOP,
    assert_accessible,
    assert_no_horizontal_scroll,
    body_text,
    close,
    post_readings,
    screenshot,
)
from tests.browser.gov.test_gov_notices import WAIT
from tests.browser.gov.test_gov_portal import TABLET, assert_nothing_foreign, gov_sign_in
from tests.browser.gov.test_gov_tables import _downloaded
from tests.browser.gov.world import SITE_A, TENANT_A, GovWorld

LIVE_SENSOR = "DJ-GT-101"


async def _open_alarms(chromium: Any, world: GovWorld, email: str, viewport: dict[str, int]) -> Any:
    watched = await gov_sign_in(chromium, world, email, viewport)
    page = watched.page
    await page.get_by_role("link", name="辖区报警").click()
    await page.wait_for_url(f"{world.url}/gov/alarms")
    await page.get_by_role("heading", name="辖区报警").wait_for(timeout=WAIT)
    await _rows(page).filter(has_text="DJ-GT-102").wait_for(timeout=WAIT)
    return watched


def _rows(page: Any) -> Any:
    return page.get_by_role("list", name="辖区报警列表").get_by_role("listitem")


async def test_the_director_follows_the_jurisdictions_alarms_live(
    world: GovWorld, chromium: Any
) -> None:
    watched = await _open_alarms(chromium, world, world.regulators["director"], DESKTOP)
    page = watched.page
    await page.get_by_text("实时更新中").wait_for(timeout=WAIT)
    text = await body_text(page)
    assert SITE_A in text and TENANT_A in text and "30 %LEL" in text
    assert_nothing_foreign(text, world, "the jurisdiction's alarms")
    row = _rows(page).filter(has_text="DJ-GT-102")
    await row.get_by_role("link", name=SITE_A).wait_for()
    assert await row.get_by_role("link", name=SITE_A).get_attribute("href") == (
        f"/gov/sites/{world.site_a}"
    )

    # A district without sites, then the site's own: the list narrows and comes back.
    division = page.locator('select[name="division"]')
    await division.select_option(label="秦淮区")
    await page.get_by_text("没有符合条件的报警。").wait_for(timeout=WAIT)
    assert SITE_A not in await body_text(page)
    await division.select_option(label="玄武区")
    await _rows(page).filter(has_text="DJ-GT-102").wait_for(timeout=WAIT)
    # Only red alarms: Nanjing has none.
    await page.locator('select[name="severity"]').select_option(label="红色")
    await page.get_by_text("没有符合条件的报警。").wait_for(timeout=WAIT)
    await page.locator('select[name="severity"]').select_option(label="全部级别")
    await division.select_option(value="")
    await _rows(page).filter(has_text="DJ-GT-102").wait_for(timeout=WAIT)
    before = await _rows(page).count()

    # An alarm raised now appears without a reload, newest first, with its 督办.
    post_readings(world.url, world.device_a, [(LIVE_SENSOR, 30.0, datetime.now(UTC))])
    live_row = _rows(page).filter(has_text=LIVE_SENSOR)
    await live_row.wait_for(timeout=WAIT)
    assert await _rows(page).count() == before + 1
    assert LIVE_SENSOR in await _rows(page).first.inner_text()
    await live_row.get_by_text("橙色报警").wait_for()
    supervise = live_row.get_by_role("button", name=f"督办 {SITE_A} {LIVE_SENSOR} 的报警")
    await supervise.wait_for()
    await supervise.click()
    dialog = page.get_by_role("dialog")
    await dialog.locator('textarea[name="request"]').wait_for()
    await dialog.get_by_role("button", name="取消").click()
    await dialog.wait_for(state="hidden")
    assert_nothing_foreign(await body_text(page), world, "the alarms after a live alarm")
    await screenshot(page, "gov-alarms-zh.png")
    await assert_accessible(page)

    rows = await _downloaded(page, "导出 CSV")
    assert rows[0] == [
        *("报警时间", "级别", "状态", "企业", "厂区"),
        *("区划", "监测点", "报警值", "确认情况"),
    ]
    exported = {r[6] for r in rows[1:]}
    assert {"DJ-GT-102", LIVE_SENSOR} <= exported
    assert all(r[3] == TENANT_A and r[4] == SITE_A and r[5] == "玄武区" for r in rows[1:])
    assert_nothing_foreign(repr(rows), world, "the exported alarms")

    # The reading falls back: the alarm clears and leaves the list of active alarms.
    post_readings(world.url, world.device_a, [(LIVE_SENSOR, 0.0, datetime.now(UTC))])
    await live_row.wait_for(state="detached", timeout=WAIT)
    await _rows(page).filter(has_text="DJ-GT-102").wait_for()
    await watched.assert_clean(world.url)
    await close(watched)


async def test_the_analyst_reads_without_supervising_on_a_tablet(
    world: GovWorld, chromium: Any
) -> None:
    watched = await _open_alarms(chromium, world, world.regulators["analyst"], TABLET)
    page = watched.page
    text = await body_text(page)
    assert SITE_A in text and TENANT_A in text
    assert_nothing_foreign(text, world, "the analyst's alarms")
    assert await page.get_by_role("button", name=re.compile("^督办")).count() == 0
    await page.locator('select[name="status"]').select_option(label="全部")
    await _rows(page).filter(has_text="DJ-GT-102").wait_for(timeout=WAIT)
    await assert_no_horizontal_scroll(page)
    await assert_accessible(page)
    await screenshot(page, "gov-alarms-zh-tablet.png")
    await watched.assert_clean(world.url)
    await close(watched)

"""The government portal's tables: enterprise rankings and data quality, as a regulator ranks
the jurisdiction's enterprises, exports them to CSV and chases the measuring points without
data; never a word of another city's enterprises, in the page or in the file.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import anyio

from tests.browser.console.pages import (
    DESKTOP,
    PHONE,
    assert_accessible,
    assert_no_horizontal_scroll,
    body_text,
    close,
    screenshot,
)
from tests.browser.gov.test_gov_portal import assert_nothing_foreign, gov_sign_in
from tests.browser.gov.world import SITE_A, TENANT_A, GovWorld


async def _downloaded(page: Any, button: str) -> list[list[str]]:
    """The CSV a button downloads, parsed; it starts with the byte-order mark Excel needs."""
    async with page.expect_download() as info:
        await page.get_by_role("button", name=button).click()
    download = await info.value
    raw = await anyio.Path(await download.path()).read_bytes()
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


async def test_rankings_rank_export_and_hold_nothing_foreign(
    world: GovWorld, chromium: Any
) -> None:
    watched = await gov_sign_in(chromium, world, world.regulators["analyst"], DESKTOP)
    page = watched.page
    await page.get_by_role("link", name="企业排名").click()
    await page.wait_for_url(f"{world.url}/gov/rankings")
    table = page.get_by_role("table", name="企业排名表")
    await table.wait_for(timeout=15_000)
    text = await body_text(page)
    assert TENANT_A in text
    assert_nothing_foreign(text, world, "the rankings")
    await page.get_by_label("排序指标").select_option(label="逾期整改通知")
    await page.get_by_label("统计期间").select_option(label="近 7 天")
    await table.get_by_role("cell", name=TENANT_A).wait_for()
    await screenshot(page, "gov-rankings-zh.png")
    await assert_accessible(page)

    rows = await _downloaded(page, "导出 CSV")
    assert rows[0][:3] == ["名次", "企业", "厂区数"]
    assert [r[1] for r in rows[1:]] == [TENANT_A]
    assert rows[1][4] == "75.0%"  # three of the site's four sensors reported
    assert_nothing_foreign(repr(rows), world, "the exported rankings")
    await watched.assert_clean(world.url)
    await close(watched)


async def test_data_quality_lists_the_silent_point_and_exports_it(
    world: GovWorld, chromium: Any
) -> None:
    watched = await gov_sign_in(chromium, world, world.regulators["inspector"], DESKTOP)
    page = watched.page
    await page.get_by_role("link", name="数据质量").click()
    await page.wait_for_url(f"{world.url}/gov/quality")
    table = page.get_by_role("table", name="数据质量问题监测点")
    await table.wait_for(timeout=15_000)
    text = await body_text(page)
    # The site's fourth sensor never reported: stale, never.
    assert "数据中断" in text and "从未上报" in text and SITE_A in text
    assert_nothing_foreign(text, world, "data quality")
    await screenshot(page, "gov-quality-zh.png")
    await assert_accessible(page)
    rows = await _downloaded(page, "导出全部 CSV")
    assert rows[0] == ["企业", "厂区", "监测点", "类型", "问题", "开始时间", "最后上报", "最新值"]
    assert any(r[0] == TENANT_A and r[1] == SITE_A and r[4] == "数据中断" for r in rows[1:])
    assert_nothing_foreign(repr(rows), world, "the exported data quality")
    # The point's site opens from the list.
    await table.get_by_role("link", name=SITE_A).first.click()
    await page.wait_for_url(re.compile(rf"{re.escape(world.url)}/gov/sites/"))
    await page.get_by_role("heading", name=SITE_A).wait_for(timeout=15_000)
    await watched.assert_clean(world.url)
    await close(watched)


async def test_the_tables_and_the_trend_fit_a_phone(world: GovWorld, chromium: Any) -> None:
    watched = await gov_sign_in(chromium, world, world.regulators["director"], PHONE)
    page = watched.page
    await page.get_by_role("heading", name="近 30 天在线率").wait_for(timeout=15_000)
    await page.get_by_role("img", name="近 30 天每日在线率折线图").wait_for(timeout=15_000)
    await assert_no_horizontal_scroll(page)
    await screenshot(page, "gov-overview-trend-zh-phone.png")
    for path, name in (("rankings", "企业排名表"), ("quality", "数据质量问题监测点")):
        await page.goto(f"{world.url}/gov/{path}")
        await page.get_by_role("table", name=name).wait_for(timeout=15_000)
        await assert_no_horizontal_scroll(page)
        await screenshot(page, f"gov-{path}-zh-phone.png")
    await watched.assert_clean(world.url)
    await close(watched)

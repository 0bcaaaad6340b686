"""An inspection (检查记录) from end to end: an inspector of Nanjing records one with its
findings, turns it into a rectification notice, which then opens and is linked from the
inspection, the site's page and the list; the analyst reads them with no button to act; the
enterprise's safety manager finds it beside its notices on a phone; and no page or export of
a Nanjing regulator shows a word of the Suzhou inspection the province recorded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

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
from tests.browser.gov.test_gov_notices import NUMBER, _enterprise_sign_in
from tests.browser.gov.test_gov_portal import assert_nothing_foreign, gov_sign_in
from tests.browser.gov.world import SITE_A, TENANT_A, GovWorld, graphql

WAIT = 15_000
SUMMARY = "检查液氯库与中控室，发现问题两项，已当场告知企业安全负责人。"
FINDINGS = [
    ("液氯库泄漏报警仪未与应急排风联锁", "GB 11984-2008 第 7.2 条"),
    ("中控室交接班记录缺少 11 月 30 日夜班", "《危险化学品企业安全风险隐患排查治理导则》"),
]
SUZHOU_FINDING = "姑苏车间二楼消防通道堆放纸箱"


def _today_in_china() -> str:
    return (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()


def _suzhou_inspection(world: GovWorld) -> None:
    """The provincial director's inspection of the Suzhou site: Nanjing must never see it."""
    answer = graphql(
        world.url,
        """mutation($s: ID!, $d: Date!, $f: String!) {
            createInspection(siteId: $s, inspectedOn: $d, findings: [{ finding: $f }]) { id }
        }""",
        {"s": world.site_s, "d": _today_in_china(), "f": SUZHOU_FINDING},
        token=world.bearer(world.provincial),
    )
    assert not answer.get("errors"), answer


async def _record_and_issue(chromium: Any, world: GovWorld) -> tuple[str, str]:
    """The inspector's part: the inspection's id and the number (文号) of its notice."""
    watched = await gov_sign_in(chromium, world, world.regulators["inspector"], DESKTOP)
    page = watched.page
    await page.get_by_role("link", name="检查记录", exact=True).click()
    await page.get_by_role("heading", name="检查记录", exact=True).wait_for(timeout=WAIT)
    await page.get_by_role("button", name="记录检查").click()
    dialog = page.get_by_role("dialog")
    # No site chosen: the form says so and sends nothing.
    await dialog.get_by_role("button", name="保存检查记录").click()
    await dialog.get_by_role("alert").get_by_text("请选择被检查的厂区。").wait_for(timeout=WAIT)
    site = dialog.locator('select[name="site"]')
    await site.locator(f'option[value="{world.site_a}"]').wait_for(state="attached", timeout=WAIT)
    options = await site.locator("option").all_inner_texts()
    assert_nothing_foreign(" ".join(options), world, "the site choice")
    await site.select_option(world.site_a)
    assert await dialog.locator('input[name="inspectedOn"]').input_value() == _today_in_china()
    await dialog.locator('textarea[name="summary"]').fill(SUMMARY)
    for n, (finding, basis) in enumerate(FINDINGS):
        if n:
            await dialog.get_by_role("button", name="添加一项").click()
        await dialog.locator(f'textarea[name="finding-{n}"]').fill(finding)
        await dialog.locator(f'input[name="basis-{n}"]').fill(basis)
    await screenshot(page, "gov-inspection-record-zh.png")
    await dialog.get_by_role("button", name="保存检查记录").click()
    await page.wait_for_url(re.compile(r"/gov/inspections/[0-9a-f-]{36}$"), timeout=WAIT)
    inspection_id = page.url.rsplit("/", 1)[1]
    await page.get_by_role("heading", name=f"检查记录 {_today_in_china()}").wait_for(timeout=WAIT)
    text = await body_text(page)
    assert SUMMARY in text and TENANT_A in text and "未下发整改通知" in text
    assert all(finding in text and f"依据：{basis}" in text for finding, basis in FINDINGS)
    await assert_accessible(page)

    # Turned into a notice: its items are the findings, shown before it is issued.
    await page.get_by_role("button", name="转为整改通知").click()
    dialog = page.get_by_role("dialog")
    items = dialog.get_by_role("list", name="检查发现的问题")
    assert [i.split("\n")[0] for i in await items.get_by_role("listitem").all_inner_texts()] == [
        f for f, _ in FINDINGS
    ]
    await page.wait_for_timeout(400)  # the dialog's opening animation, for the screenshot
    await screenshot(page, "gov-inspection-to-notice-zh.png")
    await dialog.get_by_role("button", name="下发", exact=True).click()
    await page.wait_for_url(re.compile(r"/gov/notices/[0-9a-f-]{36}$"), timeout=WAIT)
    heading = page.get_by_role("heading", name=re.compile("整改通知书"))
    await heading.wait_for(timeout=WAIT)
    number = NUMBER.search(await heading.inner_text())
    assert number is not None
    text = await body_text(page)
    assert "待整改" in text and all(f in text and b in text for f, b in FINDINGS)

    # The inspection links it and offers no second one.
    await open_page(watched, f"{world.url}/gov/inspections/{inspection_id}")
    await page.get_by_role("link", name=number.group(0)).wait_for(timeout=WAIT)
    assert await page.get_by_role("button", name="转为整改通知").count() == 0
    await screenshot(page, "gov-inspection-detail-zh.png")

    # The site's page lists it with its notice.
    await page.get_by_role("link", name=f"查看厂区：{SITE_A}").click()
    table = page.get_by_role("table", name="检查记录")
    await table.get_by_role("link", name=number.group(0)).wait_for(timeout=WAIT)
    await page.get_by_role("button", name="记录检查").wait_for(timeout=WAIT)
    await table.scroll_into_view_if_needed()
    await screenshot(page, "gov-site-inspections-zh.png")
    await watched.assert_clean(world.url)
    await close(watched)
    return inspection_id, number.group(0)


async def test_an_inspection_is_recorded_turned_into_a_notice_and_seen_by_all(
    world: GovWorld, chromium: Any
) -> None:
    _suzhou_inspection(world)
    world.foreign.append(SUZHOU_FINDING)
    inspection_id, number = await _record_and_issue(chromium, world)

    # The director names the inspectors (himself ticked first) of an inspection that found
    # nothing, which has no notice to issue.
    director, inspector = world.regulators["director"], world.regulators["inspector"]
    watched = await gov_sign_in(chromium, world, director, DESKTOP)
    page = watched.page
    await open_page(watched, f"{world.url}/gov/inspections")
    await page.get_by_role("button", name="记录检查").click()
    dialog = page.get_by_role("dialog")
    site = dialog.locator('select[name="site"]')
    await site.locator(f'option[value="{world.site_a}"]').wait_for(state="attached", timeout=WAIT)
    await site.select_option(world.site_a)
    mine = dialog.get_by_role("checkbox", name=re.compile(re.escape(director)))
    await mine.wait_for(timeout=WAIT)
    assert await mine.is_checked()
    assert await dialog.get_by_role("checkbox", name=re.compile("analyst@")).count() == 0
    await dialog.get_by_role("checkbox", name=re.compile(re.escape(inspector))).check()
    await page.wait_for_timeout(400)  # the dialog's opening animation, for the screenshot
    await screenshot(page, "gov-inspection-record-director-zh.png")
    await dialog.get_by_role("button", name="保存检查记录").click()
    await page.get_by_text("本次检查未发现问题。").wait_for(timeout=WAIT)
    # Both named; a colleague's address is masked for the reader (a pseudonym), one's own not.
    named = (
        await page.locator("dt", has_text="检查人员")
        .locator("xpath=following-sibling::dd")
        .inner_text()
    )
    assert director in named and len(named.split("、")) == 2, named
    assert await page.get_by_role("button", name="转为整改通知").count() == 0

    # The director's list: filtered by district and day, exported, nothing of Suzhou.
    await open_page(watched, f"{world.url}/gov/inspections")
    table = page.get_by_role("table", name="检查记录列表")
    await table.get_by_role("link", name=number).wait_for(timeout=WAIT)
    await page.locator('select[name="division"]').select_option("320102")
    await page.locator('input[name="from"]').fill(_today_in_china())
    await page.locator('input[name="to"]').fill(_today_in_china())
    await table.get_by_role("link", name=number).wait_for(timeout=WAIT)
    text = await body_text(page)
    assert TENANT_A in text and "2 项问题" in text
    assert_nothing_foreign(text, world, "the inspection list")
    assert_nothing_foreign(await page.content(), world, "the inspection list's DOM")
    await assert_accessible(page)
    await screenshot(page, "gov-inspections-zh.png")
    async with page.expect_download() as info:
        await page.get_by_role("button", name="导出 CSV").click()
    exported = (await anyio.Path(await (await info.value).path()).read_bytes()).decode("utf-8-sig")
    assert number in exported and FINDINGS[0][0] in exported and "玄武区" in exported
    assert_nothing_foreign(exported, world, "the exported inspections")
    # Another district of the city: not this inspection.
    await page.locator('select[name="division"]').select_option("320104")
    await page.get_by_text("没有符合条件的检查记录。").wait_for(timeout=WAIT)
    await watched.assert_clean(world.url)
    await close(watched)

    # The analyst reads, on a phone, without a button to act.
    watched = await gov_sign_in(chromium, world, world.regulators["analyst"], PHONE)
    page = watched.page
    await open_page(watched, f"{world.url}/gov/inspections")
    table = page.get_by_role("table", name="检查记录列表")
    await table.get_by_role("link", name=number).wait_for(timeout=WAIT)
    assert await page.get_by_role("button", name="记录检查").count() == 0
    assert_nothing_foreign(await page.content(), world, "the analyst's inspection list")
    await assert_no_horizontal_scroll(page)
    await screenshot(page, "gov-inspections-phone-zh.png")
    await open_page(watched, f"{world.url}/gov/inspections/{inspection_id}")
    await page.get_by_role("link", name=number).wait_for(timeout=WAIT)
    assert await page.get_by_role("button", name="转为整改通知").count() == 0
    await assert_no_horizontal_scroll(page)
    await screenshot(page, "gov-inspection-detail-phone-zh.png")
    # And in English.
    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name=f"Inspection of {_today_in_china()}").wait_for(
        timeout=WAIT
    )
    text = await body_text(page)
    assert "Findings" in text and f"Basis: {FINDINGS[0][1]}" in text and "Inspectors" in text
    await open_page(watched, f"{world.url}/gov/inspections")
    table = page.get_by_role("table", name="Inspection list")
    await table.get_by_role("link", name=number).wait_for(timeout=WAIT)
    assert "2 finding(s)" in await body_text(page)
    await assert_no_horizontal_scroll(page)
    await screenshot(page, "gov-inspections-phone-en.png")
    await watched.assert_clean(world.url)
    await close(watched)

    # The enterprise finds it beside its notices, read-only, with the notice linked.
    watched = await _enterprise_sign_in(chromium, world, world.safety_manager, PHONE)
    page = watched.page
    await open_page(watched, f"{world.url}/app/notices")
    table = page.get_by_role("table", name="检查记录列表")
    await table.get_by_role("link", name=number).wait_for(timeout=WAIT)
    await assert_no_horizontal_scroll(page)
    await screenshot(page, "console-inspections-phone-zh.png")
    await open_page(watched, f"{world.url}/app/inspections/{inspection_id}")
    await page.get_by_role("link", name=number).wait_for(timeout=WAIT)
    text = await body_text(page)
    assert SUMMARY in text and all(f in text for f, _ in FINDINGS)
    assert await page.get_by_role("button").filter(has_text="转为整改通知").count() == 0
    await assert_accessible(page)
    await screenshot(page, "console-inspection-detail-phone-zh.png")
    await page.get_by_role("link", name=number).click()
    await page.get_by_role("heading", name=f"整改通知书 {number}").wait_for(timeout=WAIT)
    await watched.assert_clean(world.url)
    await close(watched)

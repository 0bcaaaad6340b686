"""重大危险源 in the console, as people use it: a safety manager registers a chlorine store
through the dialog and sees the server's grade (GB 18218-2018: 10 t of chlorine with 60 people
within 500 m is R 12, grade III), the server's refusal of a second unit of the same name is
said in the dialog, and the dialog fits a phone; the unit's technical check shows overdue until
the safety manager names a technical lead from the site's workers and records a check; a viewer
reads the unit and finds nothing to change, on a phone too; the page and its dialog pass
axe-core, and tenant B's own register never shows."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.console.pages import (
    PHONE,
    assert_accessible,
    assert_no_horizontal_scroll,
    assert_nothing_foreign,
    body_text,
    close,
    open_page,
    screenshot,
    sign_in,
)
from tests.browser.console.world import SITE_A, WORKER_A, World, graphql

UNIT_A = "东江液氯储罐区"
# The substance select, named by its label and the option it shows.
SUBSTANCE = re.compile(r"^物质")
UNIT_B = "西岭液氨库"
REGISTER = """mutation($site: ID!, $name: String!, $substances: [HazardSubstanceInput!]!) {
  registerHazardUnit(siteId: $site, name: $name, peopleWithin500m: 120,
    substances: $substances) { id grade } }"""


def _register_in_tenant_b(world: World) -> None:
    """Tenant B's own major hazard (grade II: 200 t of ammonia, 120 people), for A to never see."""
    answer = graphql(
        world.url,
        REGISTER,
        {
            "site": world.sites_b[0],
            "name": UNIT_B,
            "substances": [{"casNumber": "7664-41-7", "quantityTonnes": 200}],
        },
        token=world.bearer(world.owner_b),
    )
    assert not answer.get("errors"), answer
    if UNIT_B not in world.foreign:
        world.foreign.append(UNIT_B)


async def _fill_unit(page: Any, name: str) -> Any:
    dialog = page.get_by_role("dialog", name="登记辨识单元")
    await dialog.wait_for()
    await dialog.get_by_label("单元名称").fill(name)
    await dialog.get_by_label("厂区边界外 500 m 内人数").fill("60")
    row = dialog.get_by_role("group", name="第 1 种物质")
    await expect_options(row.get_by_label(SUBSTANCE), more_than=50)
    await row.get_by_label("搜索名称或 CAS 号").fill("7782-50-5")
    await row.get_by_label(SUBSTANCE).select_option("12")
    await row.get_by_label("最大存在量（吨）").fill("10")
    return dialog


async def expect_options(select: Any, more_than: int) -> None:
    """The catalogue arrived: the substance list offers the standard's Table 1."""
    await select.page.wait_for_function(
        "([el, n]) => el.options.length > n",
        arg=[await select.element_handle(), more_than],
        timeout=15_000,
    )


async def test_a_safety_manager_registers_chlorine_and_a_viewer_reads_it(
    world: World, chromium: Any
) -> None:
    _register_in_tenant_b(world)
    watched = await sign_in(chromium, world, world.users["safety_manager"])
    page = watched.page
    await page.get_by_role("link", name="重大危险源").click()
    await page.wait_for_url(re.compile(r"/app/hazards"))
    await page.get_by_role("heading", name=f"重大危险源 · {SITE_A}").wait_for()
    await page.get_by_text("厂区等级 非重大危险源").wait_for(timeout=15_000)

    # Sent empty, the dialog says what is missing and nothing is registered.
    await page.get_by_role("button", name="登记辨识单元").click()
    dialog = page.get_by_role("dialog", name="登记辨识单元")
    await dialog.get_by_role("button", name="登记", exact=True).click()
    await dialog.get_by_text("请填写单元名称。").wait_for()
    await dialog.get_by_text("第 1 种物质：请选择物质。").wait_for()

    dialog = await _fill_unit(page, UNIT_A)
    await dialog.get_by_text(re.compile(r"估算.*R 12 · 三级重大危险源")).wait_for()
    await assert_accessible(page)
    await dialog.get_by_role("button", name="登记", exact=True).click()
    await dialog.wait_for(state="hidden")

    card = page.get_by_role("listitem").filter(has_text=UNIT_A)
    await card.get_by_text("三级重大危险源").wait_for(timeout=15_000)
    card_text = await card.inner_text()
    for fact in ("500 m 内人数 60", "Σq/Q 2", "α 1.5", "R 12", "q 10 t", "Q 5 t", "β 4"):
        assert fact in card_text, (fact, card_text)
    assert "7782-50-5" in card_text and "氯" in card_text
    await page.get_by_text("厂区等级 三级重大危险源").wait_for()

    # The same name again: the server refuses it, and says so in the dialog.
    await page.get_by_role("button", name="登记辨识单元").click()
    dialog = await _fill_unit(page, UNIT_A)
    await dialog.get_by_role("button", name="登记", exact=True).click()
    await dialog.get_by_role("alert").filter(has_text=UNIT_A).wait_for(timeout=15_000)
    assert "未完成" in await dialog.get_by_role("alert").inner_text()
    await dialog.get_by_role("button", name="取消").click()
    await dialog.wait_for(state="hidden")
    assert await page.get_by_role("listitem").filter(has_text=UNIT_A).count() == 1

    # 包保责任人: vacant and overdue at first; the technical lead is chosen from the workers.
    people = page.get_by_role("region", name=f"{UNIT_A}的包保责任人")
    await people.get_by_text("技术负责人检查已逾期").wait_for()
    pick = people.get_by_label("技术负责人人选")
    await pick.select_option(label=f"{WORKER_A['name']} · {WORKER_A['employeeNumber']}")
    await people.get_by_role("button", name="指定技术负责人").click()
    await page.get_by_text(f"已将{UNIT_A}的技术负责人指定为{WORKER_A['name']}。").wait_for(
        timeout=15_000
    )
    await people.get_by_text(f"{WORKER_A['name']} · {WORKER_A['mobile']}").wait_for()
    await people.get_by_label("检查人").select_option(label="技术负责人")
    await people.get_by_label("检查情况").fill("安全阀、液位计、紧急切断阀完好")
    await people.get_by_role("button", name="记录履职检查").click()
    await people.get_by_text("安全阀、液位计、紧急切断阀完好").wait_for(timeout=15_000)
    await people.get_by_text(re.compile(r"技术负责人上次检查：\d{4}-\d{2}-\d{2}")).wait_for()
    assert await people.get_by_text("技术负责人检查已逾期").count() == 0

    text = await body_text(page)
    assert UNIT_B not in text
    assert_nothing_foreign(text, world, "the hazard register (safety manager)")
    await screenshot(page, "console-hazards-zh.png")
    await assert_accessible(page)

    # On a 375 px phone the dialog's rows stack: nothing to scroll sideways to.
    await page.set_viewport_size(PHONE)
    await page.get_by_role("button", name="登记辨识单元").click()
    dialog = await _fill_unit(page, "东江手机登记单元")
    await assert_no_horizontal_scroll(page)
    box = await dialog.get_by_label("最大存在量（吨）").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    await dialog.get_by_role("button", name="取消").click()
    await dialog.wait_for(state="hidden")
    await watched.assert_clean(world.url)
    await close(watched)

    # A viewer, on a phone: the unit and its grade, nothing to register, change or remove.
    watched = await sign_in(chromium, world, world.users["viewer"], PHONE)
    page = watched.page
    await open_page(watched, f"{world.url}/app/hazards")
    card = page.get_by_role("listitem").filter(has_text=UNIT_A)
    await card.get_by_text("三级重大危险源").wait_for(timeout=15_000)
    assert "R 12" in await card.inner_text()
    assert await page.get_by_role("button", name="登记辨识单元").count() == 0
    assert await page.get_by_role("button", name=re.compile("编辑|删除")).count() == 0
    text = await body_text(page)
    assert_nothing_foreign(text, world, "the hazard register (viewer)")
    await assert_accessible(page)
    await assert_no_horizontal_scroll(page)
    await watched.assert_clean(world.url)
    await close(watched)

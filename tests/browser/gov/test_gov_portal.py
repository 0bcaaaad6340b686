"""The government portal as a regulator uses it: sign-in through /gov/login, 一张图 of the
jurisdiction, a drill-down into a district, a site's page; on a desktop, a tablet and a phone,
with the contract's headers, no CSP violation, no request off the server, nothing logged as an
error, no serious axe-core violation, and never a word of an enterprise outside the
jurisdiction.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.console.pages import (
    DESKTOP,
    PHONE,
    Watched,
    assert_accessible,
    assert_contract_headers,
    assert_no_horizontal_scroll,
    body_text,
    close,
    fill_sign_in,
    new_page,
    open_page,
    screenshot,
)
from tests.browser.gov.world import (
    GOV_ROLES,
    HAZARD_UNIT,
    PASSWORD,
    RESPONSIBLE,
    SENSORS_A,
    SITE_A,
    SITE_S,
    TENANT_A,
    TENANT_S,
    GovWorld,
)

TABLET = {"width": 768, "height": 1024}
ROLE_NAMES = {"director": "主管领导", "inspector": "执法检查员", "analyst": "统计分析员"}


async def gov_sign_in(
    chromium: Any, world: GovWorld, email: str, viewport: dict[str, int]
) -> Watched:
    """Through the form at /gov/login: the page is then on 一张图."""
    watched = await new_page(chromium, viewport)
    page = watched.page
    assert_contract_headers(await open_page(watched, f"{world.url}/gov/login"))
    assert await page.title() == "安监 · 政府端"
    await fill_sign_in(page, email, PASSWORD)
    await page.wait_for_url(f"{world.url}/gov/", timeout=15_000)
    await page.get_by_role("heading", name=re.compile("一张图 · ")).wait_for(timeout=15_000)
    return watched


async def crumbs_of(page: Any) -> list[str]:
    """The breadcrumb's levels, top down."""
    crumbs = page.get_by_role("navigation", name="所在区划")
    return [t.strip() for t in await crumbs.get_by_role("listitem").all_inner_texts()]


def assert_nothing_foreign(text: str, world: GovWorld, where: str) -> None:
    leaked = [word for word in world.foreign if word in text]
    assert leaked == [], f"{where} shows Suzhou's {leaked}"


@pytest.mark.parametrize("role", GOV_ROLES)
async def test_a_nanjing_regulator_sees_nanjing_only(
    world: GovWorld, chromium: Any, role: str
) -> None:
    watched = await gov_sign_in(chromium, world, world.regulators[role], DESKTOP)
    page = watched.page
    await page.get_by_role("link", name=SITE_A).wait_for()
    text = await body_text(page)
    assert "一张图 · 南京市" in text
    assert ROLE_NAMES[role] in text
    for district in ("玄武区", "秦淮区", "江宁区"):
        assert district in text
    assert TENANT_A in text
    assert "75.0%" in text  # three of the four sensors of the site have reported
    # The district tile is named with its colour, never by the colour alone.
    tile = page.get_by_role("link", name=re.compile(r"^玄武区\s+1 个厂区\s+较大风险（橙）$"))
    await tile.wait_for()
    assert_nothing_foreign(text, world, f"the {role}'s overview")
    await watched.assert_clean(world.url)
    await close(watched)


async def test_the_overview_and_a_drill_down(world: GovWorld, chromium: Any) -> None:
    watched = await gov_sign_in(chromium, world, world.regulators["director"], DESKTOP)
    page = watched.page
    await page.get_by_role("link", name=SITE_A).wait_for()
    await screenshot(page, "gov-overview-zh.png")
    await assert_accessible(page)

    # Keyboard: the district's tile is reachable and opens with Enter.
    tile = page.get_by_role("link", name=re.compile(r"^玄武区\s"))
    await tile.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{world.url}/gov/divisions/320102")
    await page.get_by_role("heading", name="一张图 · 玄武区").wait_for()
    assert await crumbs_of(page) == ["南京市", "玄武区"]
    crumbs = page.get_by_role("navigation", name="所在区划")
    await page.get_by_role("link", name=SITE_A).wait_for()
    assert "没有下级区划" in await body_text(page)

    # Back up through the breadcrumb.
    await crumbs.get_by_role("link", name="南京市").click()
    await page.wait_for_url(f"{world.url}/gov/")
    await page.get_by_role("heading", name="一张图 · 南京市").wait_for()
    await watched.assert_clean(world.url)
    await close(watched)


async def test_the_site_page(world: GovWorld, chromium: Any) -> None:
    watched = await gov_sign_in(chromium, world, world.regulators["inspector"], DESKTOP)
    page = watched.page
    await page.get_by_role("link", name=SITE_A).click()
    await page.wait_for_url(f"{world.url}/gov/sites/{world.site_a}")
    await page.get_by_role("heading", name=SITE_A).wait_for(timeout=15_000)
    await page.get_by_text(HAZARD_UNIT, exact=True).wait_for()
    text = await body_text(page)
    for sensor in SENSORS_A:
        assert sensor["code"] in text
    assert "30 %LEL" in text  # DJ-GT-102's latest reading
    assert "橙色报警" in text and "DJ-GT-102" in text
    assert "R = 32.0" in text and "III 级重大危险源" in text and "7782-50-5" in text
    # The unit's principal in charge, as filed: full name and mobile; no technical check yet.
    people = page.get_by_label(f"{HAZARD_UNIT}的包保责任人")
    assert f"主要负责人{RESPONSIBLE['name']} · {RESPONSIBLE['mobile']}" in (
        await people.inner_text()
    ).replace("\n", "")
    assert "技术负责人检查已逾期" in text and "技术负责人尚无检查记录" in text
    changes = await page.get_by_role("list", name="危险源登记变更").inner_text()
    assert f"{HAZARD_UNIT}的主要负责人指定为 {RESPONSIBLE['name']}" in changes
    assert f"登记 {HAZARD_UNIT}（III 级重大危险源）" in changes
    assert TENANT_A in text and "玄武区" in text
    assert await crumbs_of(page) == ["南京市", "玄武区", SITE_A]
    assert_nothing_foreign(text, world, "the site page")
    await screenshot(page, "gov-site-zh.png")
    await assert_accessible(page)

    # Suzhou's site is not found for a Nanjing regulator, by its address either.
    await open_page(watched, f"{world.url}/gov/sites/{world.site_s}")
    await page.get_by_text("该厂区不存在或不在您的辖区内").wait_for()
    assert_nothing_foreign(await body_text(page), world, "the refused site page")
    await watched.assert_clean(world.url)
    await close(watched)


async def test_the_provincial_director_sees_both_cities(world: GovWorld, chromium: Any) -> None:
    watched = await gov_sign_in(chromium, world, world.provincial, DESKTOP)
    page = watched.page
    await page.get_by_role("heading", name="一张图 · 江苏省").wait_for()
    await page.get_by_role("link", name=SITE_S).wait_for()
    text = await body_text(page)
    assert "南京市" in text and "苏州市" in text
    assert SITE_A in text and TENANT_A in text and TENANT_S in text
    # RED (Suzhou's) is listed before ORANGE (Nanjing's).
    assert text.index(SITE_S) < text.index(SITE_A)
    await page.get_by_role("link", name=re.compile(r"^苏州市\s+1 个厂区\s+重大风险（红）$")).click()
    await page.wait_for_url(f"{world.url}/gov/divisions/320500")
    await page.get_by_role("heading", name="一张图 · 苏州市").wait_for()
    await page.get_by_role("link", name=SITE_S).wait_for()
    assert SITE_A not in await body_text(page)
    assert await crumbs_of(page) == ["江苏省", "苏州市"]
    await page.get_by_role("link", name=re.compile(r"^姑苏区\s")).click()
    await page.get_by_role("heading", name="一张图 · 姑苏区").wait_for()
    assert await crumbs_of(page) == ["江苏省", "苏州市", "姑苏区"]
    await watched.assert_clean(world.url)
    await close(watched)


@pytest.mark.parametrize("screen", ["tablet", "phone"])
async def test_the_pages_fit_a_tablet_and_a_phone(
    world: GovWorld, chromium: Any, screen: str
) -> None:
    viewport = TABLET if screen == "tablet" else PHONE
    watched = await gov_sign_in(chromium, world, world.regulators["analyst"], viewport)
    page = watched.page
    await page.get_by_role("link", name=SITE_A).wait_for()
    await assert_no_horizontal_scroll(page)
    await screenshot(page, f"gov-overview-zh-{screen}.png")
    await page.get_by_role("link", name=SITE_A).click()
    await page.get_by_text(HAZARD_UNIT, exact=True).wait_for(timeout=15_000)
    await assert_no_horizontal_scroll(page)
    await screenshot(page, f"gov-site-zh-{screen}.png")
    await watched.assert_clean(world.url)
    await close(watched)


async def test_the_overview_in_english(world: GovWorld, chromium: Any) -> None:
    watched = await new_page(chromium, DESKTOP)
    page = watched.page
    await open_page(watched, f"{world.url}/gov/login?lang=en")
    await page.get_by_label("Email", exact=True).fill(world.regulators["analyst"])
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await page.wait_for_url(re.compile(rf"{re.escape(world.url)}/gov/(\?.*)?$"), timeout=15_000)
    await page.get_by_role("heading", name="Overview map · 南京市").wait_for(timeout=15_000)
    await page.get_by_role("link", name=SITE_A).wait_for()
    text = await body_text(page)
    for words in ("Enterprises", "Major hazard sources", "Online rate", "Sites by risk", "Analyst"):
        assert words in text
    assert "High risk (orange)" in text
    assert_nothing_foreign(text, world, "the English overview")
    await screenshot(page, "gov-overview-en.png")
    await assert_accessible(page)
    await watched.assert_clean(world.url)
    await close(watched)

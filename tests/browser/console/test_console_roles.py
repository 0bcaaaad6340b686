"""Every enterprise role signs in through the form and sees its own tenant, never the other.

Tenant A holds one site with four sensors and an ORANGE alarm; tenant B two sites, its own
sensors and a RED alarm. For each of A's roles the DOM text of the overview, the alarm console
and the sensor history is searched for B's name, site names, sensor codes, zone and owner.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.console.pages import (
    assert_nothing_foreign as nothing_foreign,
)
from tests.browser.console.pages import (
    body_text,
    close,
    graphql_async,
    new_page,
    open_page,
    screenshot,
    sign_in,
)
from tests.browser.console.world import (
    PASSWORD,
    ROLES,
    SENSORS_A,
    SENSORS_B,
    SITE_A,
    SITES_B,
    World,
)

CODES_A = [s["code"] for s in SENSORS_A]
ME = "query { me { email } }"


async def _overview_shows_own_sensors(page: Any) -> str:
    for code in CODES_A:
        await page.get_by_role("link", name=re.compile(re.escape(code))).wait_for(timeout=15_000)
    return await body_text(page)


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_sees_its_own_tenant_only(world: World, chromium: Any, role: str) -> None:
    watched = await sign_in(chromium, world, world.users[role])
    page = watched.page
    text = await _overview_shows_own_sensors(page)
    assert SITE_A in text
    assert world.users[role] in text  # who is signed in
    nothing_foreign(text, world, f"the overview of {role}")
    # The menu a role may use: everyone here reads sites, alarms and telemetry.
    menu = page.get_by_role("navigation", name="主菜单")
    for item in ("总览", "报警处置", "监测曲线"):
        assert await menu.get_by_role("link", name=item).count() == 1

    await menu.get_by_role("link", name="报警处置").click()
    await page.wait_for_url(re.compile(r"/app/alarms"))
    await page.get_by_role("link", name="查看 DJ-GT-102 的监测曲线").first.wait_for(timeout=15_000)
    text = await body_text(page)
    assert SITE_A in text and "橙色" in text
    nothing_foreign(text, world, f"the alarm console of {role}")
    # "All" alarms, closed ones included: still nothing of B's.
    await open_page(watched, f"{world.url}/app/alarms?status=ALL")
    await page.get_by_role("link", name="查看 DJ-GT-102 的监测曲线").first.wait_for(timeout=15_000)
    nothing_foreign(await body_text(page), world, f"all alarms of {role}")

    # B's sensor by its id, in the address: the page knows no such sensor.
    await open_page(watched, f"{world.url}/app/sensors/{world.sensors_b['XL-GT-901']}")
    await page.get_by_text("找不到这个传感器，或您无权查看。").wait_for(timeout=15_000)
    text = await body_text(page)
    nothing_foreign(text, world, f"the history page of {role}")
    await watched.assert_clean(world.url)
    await close(watched)


async def test_the_other_tenant_sees_its_own_and_not_ours(world: World, chromium: Any) -> None:
    watched = await sign_in(chromium, world, world.owner_b)
    page = watched.page
    # Two sites: a switcher, and the overview of one of them with B's sensors.
    switcher = page.get_by_label("厂区", exact=True)
    await switcher.wait_for(timeout=15_000)
    options = await switcher.locator("option").all_inner_texts()
    assert sorted(o.strip() for o in options) == sorted(SITES_B)
    await switcher.select_option(label=SITES_B[0])
    for sensor in SENSORS_B:
        await page.get_by_role("link", name=re.compile(sensor["code"])).wait_for(timeout=15_000)
    await page.get_by_role("navigation", name="主菜单").get_by_role("link", name="报警处置").click()
    await page.get_by_role("link", name="查看 XL-GT-901 的监测曲线").first.wait_for(timeout=15_000)
    text = await body_text(page)
    own = [SITE_A, *CODES_A, world.users["owner"], "东江"]
    assert [word for word in own if word in text] == []
    await watched.assert_clean(world.url)
    await close(watched)


async def test_the_sign_in_form_in_english(world: World, chromium: Any) -> None:
    watched = await new_page(chromium)
    page = watched.page
    await open_page(watched, f"{world.url}/app/login?lang=en")
    email = page.get_by_label("Email", exact=True)
    password = page.get_by_label("Password", exact=True)
    submit = page.get_by_role("button", name="Sign in", exact=True)
    for control in (email, password, submit):
        assert await control.count() == 1
    assert await page.get_by_label("邮箱", exact=True).count() == 0
    await screenshot(page, "console-sign-in-en.png")

    await email.fill(world.users["safety_manager"])
    await password.fill(PASSWORD)
    await submit.click()
    await page.wait_for_url(re.compile(r"/app/(\?.*)?$"), timeout=15_000)
    await page.get_by_role("heading", name=re.compile("^Overview")).wait_for(timeout=15_000)
    await page.get_by_role("link", name=re.compile("DJ-TT-201")).wait_for(timeout=15_000)
    text = await body_text(page)
    assert "Sign out" in text and "Alarms" in text
    nothing_foreign(text, world, "the English overview")
    await screenshot(page, "console-overview-en.png")
    await watched.assert_clean(world.url)
    await close(watched)


async def test_wrong_password_is_refused_with_a_plain_message(world: World, chromium: Any) -> None:
    watched = await new_page(chromium)
    page = watched.page
    await open_page(watched, f"{world.url}/app/login")
    await page.get_by_label("邮箱", exact=True).fill(world.users["viewer"])
    await page.get_by_label("密码", exact=True).fill("not-the-password")
    await page.get_by_role("button", name="登录", exact=True).click()
    await page.get_by_role("alert").get_by_text("邮箱或密码不正确。").wait_for(timeout=15_000)
    assert page.url == f"{world.url}/app/login"
    await screenshot(page, "console-sign-in-failed-zh.png")
    await close(watched)


async def test_sign_out_returns_to_sign_in_and_ends_the_session(
    world: World, chromium: Any
) -> None:
    watched = await sign_in(chromium, world, world.users["operator"])
    page = watched.page
    await page.get_by_role("link", name=re.compile("DJ-GT-101")).wait_for(timeout=15_000)
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["anjian_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert await page.evaluate("() => document.cookie") == ""  # no script reads it
    headers = {"Cookie": f"anjian_session={session['value']}", "X-Anjian-CSRF": "1"}
    before = await graphql_async(world.url, ME, headers)
    assert before["data"]["me"]["email"] == world.users["operator"]

    await page.get_by_role("button", name="退出登录").click()
    await page.get_by_role("button", name="登录", exact=True).wait_for(timeout=15_000)
    assert page.url.startswith(f"{world.url}/app/login")
    # The very cookie, replayed: the server has revoked the session, not just the browser
    # forgotten it.
    after = await graphql_async(world.url, ME, headers)
    assert [e["extensions"]["code"] for e in after["errors"]] == ["UNAUTHENTICATED"], after
    # And the console itself sends the browser back to sign in.
    await page.goto(f"{world.url}/app/alarms")
    await page.get_by_role("button", name="登录", exact=True).wait_for(timeout=15_000)
    assert "/app/login" in page.url
    await close(watched)

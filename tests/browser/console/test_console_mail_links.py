"""The mailed links in a real browser, on the package's server: a forgotten password is reset
from the link in the mail and the new password signs in (the old one no longer does, the link
works once); an address the owner invites from the people page opens its mail's link, sets a
password and signs in to the tenant's console with the invited role.

The server runs without ANJIAN_PUBLIC_URL, so its mails link to the address it serves on:
the links below are opened exactly as mailed.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.browser.console.pages import (
    assert_accessible,
    assert_nothing_foreign,
    body_text,
    close,
    fill_sign_in,
    mailed_link,
    new_page,
    open_page,
    screenshot,
    sign_in,
)
from tests.browser.console.world import PASSWORD, TENANT_A, World, graphql

WAIT = 15_000
NEW_PASSWORD = "copper-lantern-73"
INVITE = """mutation($d: String!, $e: String!, $r: String!) {
    inviteUser(domain: $d, email: $e, role: $r) { email }
}"""
ACCEPT = "mutation($t: String!, $p: String) { acceptInvitation(token: $t, password: $p) }"


def _address(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}@dongjiang.example.cn"


def _token(link: str) -> str:
    (token,) = parse_qs(urlsplit(link).query)["token"]
    return token


async def _new_viewer(world: World) -> str:
    """An account of tenant A of its own, made as a person would (invited, then accepted), so
    this test's mails and sign-in throttle are its alone."""
    email = _address("reset")
    sent = graphql(
        world.url,
        INVITE,
        {"d": f"tenant:{world.tenant_a}", "e": email, "r": "viewer"},
        token=world.owner_token,
    )
    assert not sent.get("errors"), sent
    link = await mailed_link(world, email, "accept-invitation")
    accepted = graphql(world.url, ACCEPT, {"t": _token(link), "p": PASSWORD})
    assert accepted.get("data") == {"acceptInvitation": True}, accepted
    return email


async def _set_new_password(page: Any, password: str, button: str) -> None:
    await page.get_by_label("新密码", exact=True).fill(password)
    await page.get_by_label("再次输入新密码", exact=True).fill(password)
    await page.get_by_role("button", name=button, exact=True).click()


async def _refused(page: Any) -> None:
    """The page says the link is spent, in words a person understands."""
    alert = page.get_by_role("alert").filter(has_text="链接无效、已使用或已过期")
    await alert.wait_for(timeout=WAIT)


async def test_a_forgotten_password_is_reset_from_the_mailed_link(
    world: World, chromium: Any
) -> None:
    email = await _new_viewer(world)
    watched = await new_page(chromium)
    page = watched.page
    await open_page(watched, f"{world.url}/app/login")
    await page.get_by_label("邮箱", exact=True).fill(email)
    await page.get_by_role("link", name="忘记密码？").click()
    await page.get_by_role("button", name="发送重设邮件").click()
    await page.get_by_role("status").filter(has_text="如果该邮箱有账号").wait_for(timeout=WAIT)

    link = await mailed_link(world, email, "reset-password")
    # Absolute, on the server's own address, to the enterprise portal's page.
    assert link.startswith(f"{world.url}/app/reset-password?token="), link
    await open_page(watched, link)
    await page.get_by_role("heading", name="重设密码").wait_for(timeout=WAIT)
    await _set_new_password(page, NEW_PASSWORD, "设置新密码")
    await page.get_by_text("密码已重设，所有登录已退出，请用新密码登录。").wait_for(timeout=WAIT)
    await assert_accessible(page)
    await screenshot(page, "reset-password-done.png")
    await page.get_by_role("link", name="返回登录").click()
    await page.wait_for_url(f"{world.url}/app/login", timeout=WAIT)

    # The old password no longer works...
    await fill_sign_in(page, email, PASSWORD)
    await page.get_by_role("alert").get_by_text("邮箱或密码不正确。").wait_for(timeout=WAIT)
    assert page.url.startswith(f"{world.url}/app/login")
    # ...the new one does, through the same form.
    await fill_sign_in(page, email, NEW_PASSWORD)
    await page.wait_for_url(f"{world.url}/app/", timeout=WAIT)
    await page.get_by_text(email).first.wait_for(timeout=WAIT)
    await watched.assert_clean(world.url)
    await close(watched)

    # The same link a second time: refused in words, and the password stays the new one.
    again = await new_page(chromium)
    await open_page(again, link)
    await _set_new_password(again.page, "another-harbour-88", "设置新密码")
    await _refused(again.page)
    await close(again)
    signed_in = await sign_in(chromium, world, email, password=NEW_PASSWORD)
    await close(signed_in)


async def test_an_invited_address_joins_from_the_mailed_link(world: World, chromium: Any) -> None:
    invitee = _address("invited")
    owner = await sign_in(chromium, world, world.users["owner"])
    page = owner.page
    await open_page(owner, f"{world.url}/app/people")
    form = page.get_by_role("form", name="邀请成员")
    await form.locator('input[name="invite-email"]').fill(invitee)
    await form.locator('select[name="invite-role"]').select_option("safety_manager")
    await form.get_by_role("button", name="发送邀请").click()
    await page.get_by_role("status").filter(has_text=invitee).wait_for(timeout=WAIT)
    await close(owner)

    link = await mailed_link(world, invitee, "accept-invitation")
    assert link.startswith(f"{world.url}/app/accept-invitation?token="), link
    watched = await new_page(chromium)
    page = watched.page
    await open_page(watched, link)
    await page.get_by_role("heading", name="接受邀请").wait_for(timeout=WAIT)
    await _set_new_password(page, NEW_PASSWORD, "创建账号并接受邀请")
    await page.get_by_text("账号已创建，邀请已接受，请登录。").wait_for(timeout=WAIT)
    await assert_accessible(page)
    await screenshot(page, "accept-invitation-done.png")
    await page.get_by_role("link", name="返回登录").click()
    await page.wait_for_url(f"{world.url}/app/login", timeout=WAIT)
    await fill_sign_in(page, invitee, NEW_PASSWORD)
    await page.wait_for_url(f"{world.url}/app/", timeout=WAIT)

    # Tenant A's console, as a safety manager: the audit trail is on the menu (a viewer's or
    # an operator's is not), and the people page lists the invitee with that role.
    menu = page.get_by_role("navigation", name="主菜单")
    await menu.get_by_role("link", name="审计").wait_for(timeout=WAIT)
    await open_page(watched, f"{world.url}/app/people")
    row = page.get_by_role("listitem").filter(has_text=invitee)
    await row.get_by_text("安全管理员").first.wait_for(timeout=WAIT)
    text = await body_text(page)
    assert TENANT_A in text or world.users["owner"] in text
    assert_nothing_foreign(text, world, "the invitee's people page")
    await watched.assert_clean(world.url)
    await close(watched)

    # The link a second time (someone else who saw the mail): refused in words.
    again = await new_page(chromium)
    await open_page(again, link)
    await _set_new_password(again.page, "another-harbour-88", "创建账号并接受邀请")
    await _refused(again.page)
    await close(again)

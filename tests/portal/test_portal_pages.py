"""The portal pages in a real browser: the landing page, and the sign-in pages of both portals
in Chinese and in English, served from the build under the contract's security headers.

The server here is the portal router with the app's security middleware, and a stand-in for
``/graphql`` that refuses as the real server does: ``me`` an anonymous caller
(UNAUTHENTICATED), ``signIn`` wrong credentials (UNAUTHENTICATED, one message whatever was
wrong), a throttled address (RATE_LIMITED with ``retryAfterSeconds``), and a request without
the CSRF header (FORBIDDEN). Signing in for real, against the real server, is
``tests/browser/console``. Every request the pages make is recorded and must stay on the
server's own origin.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar, Request, post

from backend.api.headers import CONTENT_SECURITY_POLICY, security_headers
from portal.assets import DIST_DIR, portal_router
from tests.conftest import service_unavailable
from tests.server import free_port

playwright = pytest.importorskip("playwright.async_api")

SCREENSHOT_DIR_ENV = "ANJIAN_TEST_SCREENSHOT_DIR"  # set to keep screenshots
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
AXE = DIST_DIR.parent / "node_modules" / "axe-core" / "axe.min.js"
THROTTLED = "throttled@example.cn"  # the stand-in's signIn answers RATE_LIMITED for it
SUSPENDED = "suspended@example.cn"  # and an error of another kind, in its own words, for it
SUSPENDED_MESSAGE = "the tenant is suspended"


def _error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    error = {"message": message, "extensions": {"code": code, **extensions}}
    return {"data": None, "errors": [error]}


@post("/graphql", status_code=200)
async def graphql_stand_in(request: Request[Any, Any, Any]) -> dict[str, Any]:
    body = await request.json()
    if request.headers.get("x-anjian-csrf") != "1":
        return _error("a request must carry the header X-Anjian-CSRF: 1", "FORBIDDEN")
    if "signIn" not in body.get("query", ""):
        return _error("sign in first", "UNAUTHENTICATED")
    email = (body.get("variables") or {}).get("email")
    if email == THROTTLED:
        return _error("too many attempts", "RATE_LIMITED", retryAfterSeconds=42)
    if email == SUSPENDED:
        return _error(SUSPENDED_MESSAGE, "BAD_USER_INPUT")
    return _error("wrong e-mail or password", "UNAUTHENTICATED")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    if not (DIST_DIR / "index.html").is_file():
        service_unavailable("the portal build", "portal/web/dist is missing (run make portal)")
    app = Litestar(
        route_handlers=[portal_router(), graphql_stand_in], middleware=[security_headers]
    )
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, name="portal-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the portal test server did not start")
        time.sleep(0.05)
    yield url
    running.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        service_unavailable("Chromium", "not installed (scripts/ensure-chromium installs it)")
    async with playwright.async_playwright() as p:
        instance = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        await instance.close()


class Watched:
    """A page with what it requested, what its console said, and its CSP violations."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.requested: list[str] = []
        self.console_errors: list[str] = []
        page.on("request", lambda request: self.requested.append(request.url))
        page.on(
            "console",
            lambda message: (
                self.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    def assert_clean(self, origin: str) -> None:
        foreign = [u for u in self.requested if not u.startswith((origin, "data:", "blob:"))]
        assert foreign == [], f"the page fetched from outside the server: {foreign}"
        assert self.console_errors == []


async def _open(browser: Any, url: str) -> Watched:
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    watched = Watched(page)
    await page.add_init_script(
        """window.__csp = [];
        document.addEventListener('securitypolicyviolation',
            (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"""
    )
    response = await page.goto(url)
    assert response is not None
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    await page.wait_for_load_state("networkidle")
    return watched


async def _screenshot(page: Any, name: str) -> None:
    shots = os.environ.get(SCREENSHOT_DIR_ENV)
    if shots:
        await page.screenshot(path=str(Path(shots) / name), full_page=True)


async def _no_csp_violation(page: Any) -> None:
    assert await page.evaluate("() => window.__csp") == []


async def _no_serious_accessibility_violation(page: Any) -> None:
    """axe-core from npm, evaluated through the browser's debugging protocol (an injected
    <script> would be, rightly, refused by the page's CSP)."""
    if not AXE.is_file():
        service_unavailable("axe-core", "portal/web/node_modules is missing (run make portal)")
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = await page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', '))"""
    )
    assert violations == []


async def test_the_landing_page_links_both_portals(server: str, browser: Any) -> None:
    watched = await _open(browser, f"{server}/")
    page = watched.page
    assert await page.title() == "安监 · 安全生产智能监控"
    assert await page.get_by_role("heading", level=1).inner_text() == "安监 · 安全生产智能监控"
    assert await page.get_by_role("link", name="企业端").get_attribute("href") == "/app/"
    assert await page.get_by_role("link", name="政府端").get_attribute("href") == "/gov/"
    await _screenshot(page, "portal-landing.png")
    await _no_serious_accessibility_violation(page)

    # Anonymous visitors load no console code: none of the files only the portals load.
    console_only = _page_assets("app/index.html") - _page_assets("index.html")
    loaded = {re.sub(r"^https?://[^/]+", "", u) for u in watched.requested}
    assert console_only and not (console_only & loaded), console_only & loaded

    await page.get_by_role("button", name=re.compile("切换语言")).click()
    await page.get_by_role("link", name="Enterprise console").wait_for()
    assert await page.title() == "Anjian · Intelligent safety-production monitoring"
    assert await page.evaluate("() => document.documentElement.lang") == "en"
    await _no_csp_violation(page)
    watched.assert_clean(server)
    await page.close()


def _page_assets(index: str) -> set[str]:
    html = (DIST_DIR / index).read_text(encoding="utf-8")
    return set(re.findall(r'(?:src|href)="(/assets/[^"]+)"', html))


@pytest.mark.parametrize("portal", ["app", "gov"])
async def test_a_portal_sends_an_anonymous_visitor_to_sign_in(
    server: str, browser: Any, portal: str
) -> None:
    watched = await _open(browser, f"{server}/{portal}/alarms/123")
    page = watched.page
    await page.get_by_role("button", name="登录", exact=True).wait_for()
    assert page.url == f"{server}/{portal}/login?next=/alarms/123"
    await _no_csp_violation(page)
    watched.assert_clean(server)
    await page.close()


async def test_the_sign_in_page_in_chinese(server: str, browser: Any) -> None:
    watched = await _open(browser, f"{server}/app/login")
    page = watched.page
    email = page.get_by_label("邮箱", exact=True)
    password = page.get_by_label("密码", exact=True)
    submit = page.get_by_role("button", name="登录", exact=True)
    for control in (email, password, submit):
        assert await control.count() == 1
    assert await page.locator("input").count() == 2
    assert await page.title() == "安监 · 企业端"
    await _screenshot(page, "portal-sign-in-zh.png")

    alert = page.get_by_role("alert")
    # Wrong credentials: one plain sentence, whatever was wrong; a throttled attempt says how
    # long to wait; any other refusal is shown in the server's own words.
    for address, shown in (
        ("operator@example.cn", "邮箱或密码不正确。"),
        (THROTTLED, "尝试次数过多，请 42 秒后再试。"),
        (SUSPENDED, f"登录失败：{SUSPENDED_MESSAGE}"),
    ):
        await email.fill(address)
        await password.fill("secret-pass")
        await submit.click()
        await alert.get_by_text(shown, exact=True).wait_for()
        assert await password.input_value() == ""
        if address == "operator@example.cn":
            await _screenshot(page, "portal-sign-in-failed-zh.png")
    stored = await page.evaluate("() => JSON.stringify(Object.assign({}, localStorage))")
    assert "secret-pass" not in stored
    await _no_serious_accessibility_violation(page)
    await _no_csp_violation(page)
    watched.assert_clean(server)
    await page.close()


async def test_the_sign_in_page_in_english(server: str, browser: Any) -> None:
    watched = await _open(browser, f"{server}/gov/login?lang=en")
    page = watched.page
    for control in (
        page.get_by_label("Email", exact=True),
        page.get_by_label("Password", exact=True),
        page.get_by_role("button", name="Sign in", exact=True),
    ):
        assert await control.count() == 1
    assert await page.get_by_label("邮箱", exact=True).count() == 0
    assert await page.title() == "Anjian · Government portal"
    await _screenshot(page, "portal-sign-in-en.png")
    await _no_serious_accessibility_violation(page)

    # The switch goes back to Chinese, and the address keeps saying which language is shown.
    await page.get_by_role("button", name=re.compile("Switch language")).click()
    await page.get_by_role("button", name="登录", exact=True).wait_for()
    assert page.url.endswith("/gov/login?lang=zh-CN")
    await _no_csp_violation(page)
    watched.assert_clean(server)
    await page.close()


async def test_the_portal_build_is_what_the_server_sends(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        page = await client.get("/app/overview")
    assert page.headers["cache-control"] == "no-cache"
    assert page.text == (DIST_DIR / "app" / "index.html").read_text(encoding="utf-8")

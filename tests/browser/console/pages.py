"""What the console tests do in the browser: sign in through the form, watch what a page
requests and logs, check it with axe-core, keep a screenshot; and what a device does (post
readings)."""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests import mailbox
from tests.browser.console.world import PASSWORD, World

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOT_DIR_ENV = "ANJIAN_TEST_SCREENSHOT_DIR"  # set to keep screenshots
AXE = Path(__file__).resolve().parents[3] / "portal" / "web" / "node_modules" / "axe-core"
# CONTRACT.md, web portals: written out here rather than imported, so a change on the server's
# side has to change the contract too.
CONTRACT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'"
)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
_CSP_LISTENER = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
    (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"""


Readings = Sequence[tuple[str, float, datetime]]


def _batch(readings: Readings) -> dict[str, Any]:
    return {
        "batch_id": str(uuid.uuid4()),
        "readings": [
            {"sensor": code, "value": value, "ts": ts.isoformat().replace("+00:00", "Z")}
            for code, value, ts in readings
        ],
    }


def post_readings(url: str, device_token: str, readings: Readings) -> None:
    """One batch through the device API (CONTRACT.md, device ingestion)."""
    response = httpx.post(
        f"{url}/api/v1/telemetry",
        json=_batch(readings),
        headers={"Authorization": f"Bearer {device_token}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text


async def post_readings_async(url: str, device_token: str, readings: Readings) -> float:
    """``post_readings`` from a test's event loop; the moment the batch was accepted
    (``time.perf_counter``)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post(
            "/api/v1/telemetry",
            json=_batch(readings),
            headers={"Authorization": f"Bearer {device_token}"},
        )
    accepted = time.perf_counter()
    assert response.status_code == 202, response.text
    return accepted


async def graphql_async(
    url: str, query: str, headers: dict[str, str], variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A request from outside any browser (an API client, or a replayed cookie)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
    return dict(response.json())


class Watched:
    """A page with every request it made, its console errors and uncaught exceptions."""

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

    async def assert_clean(self, origin: str) -> None:
        """Nothing fetched from another host, no CSP violation, nothing logged as an error."""
        foreign = [u for u in self.requested if not u.startswith((origin, "data:", "blob:"))]
        assert foreign == [], f"the page fetched from outside the server: {foreign}"
        assert await self.page.evaluate("() => window.__csp") == []
        assert self.console_errors == []


async def new_page(chromium: Any, viewport: dict[str, int] = DESKTOP) -> Watched:
    """A page in a fresh browser context (its own cookie jar), listening for CSP violations."""
    context = await chromium.new_context(viewport=viewport, locale="zh-CN")
    await context.add_init_script(_CSP_LISTENER)
    return Watched(await context.new_page())


async def sign_in(
    chromium: Any,
    world: World,
    email: str,
    viewport: dict[str, int] = DESKTOP,
    password: str = PASSWORD,
) -> Watched:
    """Through the form at /app/login, as a person would: the page is then on the overview."""
    watched = await new_page(chromium, viewport)
    page = watched.page
    response = await page.goto(f"{world.url}/app/login")
    assert response is not None and response.status == 200
    await fill_sign_in(page, email, password)
    await page.wait_for_url(f"{world.url}/app/", timeout=15_000)
    return watched


async def fill_sign_in(page: Any, email: str, password: str) -> None:
    """Type into the sign-in form the page shows and send it."""
    await page.get_by_label("邮箱", exact=True).fill(email)
    await page.get_by_label("密码", exact=True).fill(password)
    await page.get_by_role("button", name="登录", exact=True).click()


async def mailed_link(world: World, address: str, page_name: str, within: float = 20) -> str:
    """The link to ``page_name`` (``reset-password``, ``accept-invitation``) in the newest mail
    the server delivered to ``address``, read from the development mailbox (the .eml files
    under the data dir) as the recipient would, once it has arrived."""
    folder = world.data_dir / "mail"
    pattern = re.compile(rf"https?://\S+/{re.escape(page_name)}\?token=\S+")
    deadline = time.monotonic() + within
    while True:
        found: list[tuple[int, str]] = []
        for path in folder.glob("*.eml") if folder.exists() else []:
            message = mailbox.read(path)
            if str(message["To"]).lower() == address.lower():
                links = pattern.findall(mailbox.body_of(message))
                if links:
                    found.append((path.stat().st_mtime_ns, links[0]))
        if found:
            return max(found)[1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail to {address} with a {page_name} link")
        await asyncio.sleep(0.2)


async def close(watched: Watched) -> None:
    await watched.page.context.close()


async def open_page(watched: Watched, url: str) -> Any:
    """Navigate (a real document load, so the page's headers can be read) and wait for quiet."""
    response = await watched.page.goto(url)
    assert response is not None and response.status == 200, url
    await watched.page.wait_for_load_state("networkidle")
    return response


def assert_contract_headers(response: Any) -> None:
    headers = response.headers
    assert headers["content-security-policy"] == CONTRACT_CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


async def body_text(page: Any) -> str:
    return str(await page.inner_text("body"))


def assert_nothing_foreign(text: str, world: World, where: str) -> None:
    leaked = [word for word in world.foreign if word in text]
    assert leaked == [], f"{where} shows tenant B's {leaked}"


async def screenshot(page: Any, name: str) -> None:
    shots = os.environ.get(SCREENSHOT_DIR_ENV)
    if shots:
        # Playwright creates the directory.
        await page.screenshot(path=str(Path(shots) / name), full_page=True)


async def assert_accessible(page: Any) -> None:
    """No serious or critical axe-core violation. axe-core from npm is evaluated through the
    debugging protocol: an injected <script> would be, rightly, refused by the page's CSP."""
    source = AXE / "axe.min.js"
    assert source.is_file(), "portal/web/node_modules/axe-core is missing (run make portal)"
    await page.evaluate(source.read_text(encoding="utf-8"))
    violations = await page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', '))"""
    )
    assert violations == [], violations


async def assert_no_horizontal_scroll(page: Any) -> None:
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths[0]} px in {widths[1]}"


async def graphql_from_page(
    page: Any, query: str, variables: dict[str, Any] | None = None, csrf: bool = True
) -> dict[str, Any]:
    """A request the page's own script could make: same origin, the session cookie, and the
    CSRF header unless told otherwise. Its status and body."""
    return dict(
        await page.evaluate(
            """async ([query, variables, csrf]) => {
                const headers = { 'Content-Type': 'application/json' };
                if (csrf) headers['X-Anjian-CSRF'] = '1';
                const response = await fetch('/graphql', {
                    method: 'POST', credentials: 'same-origin', headers,
                    body: JSON.stringify({ query, variables }),
                });
                return { status: response.status, body: await response.json() };
            }""",
            [query, variables or {}, csrf],
        )
    )


def error_codes(answer: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in answer["body"].get("errors") or []]

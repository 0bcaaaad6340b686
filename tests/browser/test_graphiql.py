"""A newcomer's path in a real browser: open GraphiQL, sign in, list the tenant's sites.

GraphiQL must work with no network beyond the server itself (air-gapped government networks):
every request the page makes is recorded and must go to the server's own origin. It runs under
the server's Content-Security-Policy with no violation, keeps no token in localStorage, takes
nothing from the URL and cannot be framed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import service_unavailable
from tests.server import Served, anjian, anjian_json, served

playwright = pytest.importorskip("playwright.async_api")

SCREENSHOT_DIR_ENV = "ANJIAN_TEST_SCREENSHOT_DIR"  # set to keep a screenshot
OWNER, PASSWORD = "owner@browser.example.cn", "browser-pass-1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    data_dir: Path = tmp_path_factory.mktemp("browser")
    anjian(data_dir, "migrate")
    tenant = anjian_json(
        data_dir,
        "tenant",
        "create",
        "--name",
        "浏览器测试化工",
        "--division",
        "320100",
        "--industry",
        "chemical",
        "--owner-email",
        OWNER,
        "--owner-password",
        PASSWORD,
    )["tenant_id"]
    anjian_json(
        data_dir,
        "site",
        "create",
        "--tenant",
        tenant,
        "--name",
        "浏览器一厂",
        "--division",
        "320102",
    )
    with served(data_dir) as running:
        yield running, tenant


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[object]:
    executable = shutil.which("chromium")
    if executable is None:
        service_unavailable("Chromium", "not installed (scripts/ensure-chromium installs it)")
    async with playwright.async_playwright() as p:
        instance = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        await instance.close()


async def _set_editor(page: object, section: str, text: str) -> None:
    """Type into one of GraphiQL's CodeMirror editors (the query, or the Headers tool)."""
    await page.evaluate(
        """([section, text]) => {
            const editor = document.querySelector(section + ' .CodeMirror');
            editor.CodeMirror.setValue(text);
        }""",
        [section, text],
    )


_RESULT = "() => document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()"


async def _run(page: object, query: str) -> dict[str, object]:
    await _set_editor(page, ".graphiql-query-editor .graphiql-editor", query)
    for _ in range(5):
        await page.evaluate(
            "() => document.querySelector('.result-window .CodeMirror').CodeMirror.setValue('')"
        )
        await page.locator(".graphiql-execute-button").click()
        await page.wait_for_function(f"() => ({_RESULT})().trim() !== ''", timeout=15_000)
        answer = json.loads(await page.evaluate(_RESULT))
        # GraphiQL learns the edited document's operation names on a debounce: a click that
        # comes first sends the previous document's name, which the server refuses. Again.
        if "Unknown operation named" not in json.dumps(answer.get("errors", [])):
            return answer
        await page.wait_for_timeout(300)
    raise AssertionError(f"GraphiQL kept sending a stale operation name: {answer}")


async def _set_headers(page: object, headers: dict[str, str]) -> None:
    await page.get_by_role("button", name="Headers").click()
    # The tool pane holds the Variables and Headers editors; the chosen one is not hidden.
    await _set_editor(
        page, ".graphiql-editor-tool .graphiql-editor:not(.hidden)", json.dumps(headers)
    )


def _watch(page: object) -> tuple[list[str], list[str]]:
    """Requests made, and console messages about the content security policy."""
    requested: list[str] = []
    violations: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    return requested, violations


async def test_sign_in_and_list_sites_in_graphiql(
    server: tuple[Served, str], browser: object
) -> None:
    running, tenant = server
    page = await browser.new_page()
    requested, violations = _watch(page)
    # The DOM event catches violations the console might word differently.
    await page.add_init_script(
        """window.__csp = [];
        document.addEventListener('securitypolicyviolation',
            (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"""
    )
    await page.goto(f"{running.url}/graphql")
    await page.locator(".graphiql-execute-button").wait_for(timeout=15_000)

    login = await _run(
        page, f'mutation {{ login(email: "{OWNER}", password: "{PASSWORD}") {{ token }} }}'
    )
    assert login.get("data"), login
    token = login["data"]["login"]["token"]
    await _set_headers(page, {"Authorization": f"Bearer {token}"})
    sites = await _run(
        page, "{ me { email memberships { domain role } } sites { name divisionCode } }"
    )
    assert sites["data"]["me"]["memberships"] == [{"domain": f"tenant:{tenant}", "role": "owner"}]
    assert sites["data"]["sites"] == [{"name": "浏览器一厂", "divisionCode": "320102"}]

    shots = os.environ.get(SCREENSHOT_DIR_ENV)
    if shots:
        await page.screenshot(path=str(Path(shots) / "graphiql.png"))
    foreign = [u for u in requested if not u.startswith((running.url, "data:", "blob:"))]
    assert foreign == [], f"GraphiQL fetched from outside the server: {foreign}"
    assert violations == []
    assert await page.evaluate("() => window.__csp") == []
    stored = await page.evaluate("() => JSON.stringify(Object.assign({}, window.localStorage))")
    # The default document's help text names the header ("Bearer <token>"), and GraphiQL may
    # persist that text with its tab state; what must never be stored is the secret itself.
    assert token not in stored, stored
    await page.close()


async def test_graphiql_takes_nothing_from_the_url(
    server: tuple[Served, str], browser: object
) -> None:
    running, _ = server
    page = await browser.new_page()
    planted = "mutation { signOut }"
    headers = json.dumps({"Authorization": "Bearer planted"})
    await page.goto(
        f"{running.url}/graphql?q={quote(planted)}&variables={quote(json.dumps({'a': 1}))}"
        f"&headers={quote(headers)}"
    )
    await page.locator(".graphiql-execute-button").wait_for(timeout=15_000)
    editors = await page.evaluate(
        "() => [...document.querySelectorAll('.CodeMirror')].map(e => e.CodeMirror.getValue())"
    )
    planted_parts = ("signOut", "planted", '"a"')
    assert not any(part in text for text in editors for part in planted_parts), editors
    await page.close()


async def test_graphiql_cannot_be_framed(server: tuple[Served, str], browser: object) -> None:
    running, _ = server
    page = await browser.new_page()
    _, violations = _watch(page)
    await page.set_content(f'<iframe id="f" src="{running.url}/graphql"></iframe>')
    await page.wait_for_timeout(1500)
    frame = page.frame_locator("#f")
    assert await frame.locator(".graphiql-container").count() == 0
    assert any("frame-ancestors" in v for v in violations), violations
    await page.close()

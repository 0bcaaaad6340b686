"""A newcomer's path in a real browser: open GraphiQL, sign in, list the tenant's sites.

GraphiQL must work with no network beyond the server itself (air-gapped government networks):
every request the page makes is recorded and must go to the server's own origin.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import service_unavailable
from tests.server import Served, anjian, anjian_json, served

playwright = pytest.importorskip("playwright.async_api")

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


async def _run_in_graphiql(
    page: object, base: str, query: str, headers: dict[str, str]
) -> dict[str, object]:
    url = f"{base}/graphql?q={quote(query)}"
    if headers:
        url += f"&headers={quote(json.dumps(headers))}"
    await page.goto(url)
    await page.locator(".graphiql-execute-button").click()
    result = page.locator(".result-window")
    await result.locator("text=data").first.wait_for(timeout=15_000)
    text = await page.evaluate(
        "() => document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()"
    )
    return json.loads(text)


async def test_sign_in_and_list_sites_in_graphiql(
    server: tuple[Served, str], browser: object
) -> None:
    running, tenant = server
    page = await browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    login = await _run_in_graphiql(
        page,
        running.url,
        f'mutation {{ login(email: "{OWNER}", password: "{PASSWORD}") {{ token }} }}',
        {},
    )
    token = login["data"]["login"]["token"]
    sites = await _run_in_graphiql(
        page,
        running.url,
        "{ me { email memberships { domain role } } sites { name divisionCode } }",
        {"Authorization": f"Bearer {token}"},
    )
    assert sites["data"]["me"]["memberships"] == [{"domain": f"tenant:{tenant}", "role": "owner"}]
    assert sites["data"]["sites"] == [{"name": "浏览器一厂", "divisionCode": "320102"}]
    foreign = [u for u in requested if not u.startswith((running.url, "data:", "blob:"))]
    assert foreign == [], f"GraphiQL fetched from outside the server: {foreign}"
    await page.close()

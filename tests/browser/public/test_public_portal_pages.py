"""The public portal in Chromium on a 375 px phone viewport, served from the build under the
contract's security headers, against a stand-in for the public report routes of CONTRACT.md
(the real routes and their round trip with the government portal are tested with the server).

The stand-in checks what the pages send as the server would: every photo and the report carry
a proof of work that verifies with Python's own SHA-256 (so the bundled hash in the page's Web
Worker, loaded under ``script-src 'self'``, computes the same), the photos the report names are
the ones uploaded under its challenge, and tracking answers by the receipt code it issued.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvicorn
from litestar import Litestar, Request, Response, get, post

from backend.api.headers import CONTENT_SECURITY_POLICY, security_headers
from portal.assets import DIST_DIR, portal_router
from tests.conftest import service_unavailable
from tests.server import free_port

playwright = pytest.importorskip("playwright.async_api")

SCREENSHOT_DIR_ENV = "ANJIAN_TEST_SCREENSHOT_DIR"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
AXE = DIST_DIR.parent / "node_modules" / "axe-core" / "axe.min.js"
DIFFICULTY = 12
RECEIPT = "AJ-7K3M-Q9PX-2D4H-VW8T"
XUANWU = {"lat": 32.0487, "lon": 118.7975}


class StandIn:
    """What the stand-in issued and was sent."""

    def __init__(self) -> None:
        self.challenges: set[str] = set()
        self.photos: dict[str, str] = {}  # key -> challenge it was uploaded under
        self.photo_bodies: list[bytes] = []
        self.reports: list[dict[str, Any]] = []


STATE = StandIn()


def _proof_holds(challenge: str, nonce: str) -> bool:
    digest = hashlib.sha256((challenge + nonce).encode()).digest()
    solved = int.from_bytes(digest, "big") >> (256 - DIFFICULTY) == 0
    return solved and challenge in STATE.challenges


def _errors(*pairs: tuple[str, str]) -> Response[dict[str, Any]]:
    return Response({"errors": [{"field": f, "message": m} for f, m in pairs]}, status_code=400)


@get("/api/v1/reports/challenge")
async def challenge() -> dict[str, Any]:
    issued = f"{secrets.token_urlsafe(16)}.{int(time.time())}"
    STATE.challenges.add(issued)
    return {"challenge": issued, "difficulty": DIFFICULTY}


@get("/api/v1/reports/categories")
async def categories() -> list[dict[str, str]]:
    return [
        {"code": "MAJOR_HAZARD", "nameZh": "重大事故隐患", "nameEn": "Major accident hazard"},
        {"code": "OTHER", "nameZh": "其他", "nameEn": "Other"},
    ]


@get("/api/v1/reports/divisions")
async def divisions(parent: str | None = None) -> list[dict[str, str]]:
    tree = {
        None: [{"code": "320000", "name": "江苏省", "nameEn": "Jiangsu"}],
        "320000": [{"code": "320100", "name": "南京市", "nameEn": "Nanjing"}],
        "320100": [
            {"code": "320102", "name": "玄武区", "nameEn": "Xuanwu"},
            {"code": "320104", "name": "秦淮区", "nameEn": "Qinhuai"},
        ],
    }
    return tree.get(parent, [])


@post("/api/v1/reports/photos")
async def photo(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    challenge_text, _, nonce = (request.headers.get("x-anjian-pow") or "").rpartition(":")
    if not _proof_holds(challenge_text, nonce):
        return _errors(("pow", "a photo needs a solved challenge"))
    if request.headers.get("content-type") not in ("image/jpeg", "image/png"):
        return _errors(("photo", "JPEG or PNG only"))
    body = await request.body()
    key = f"reports/{secrets.token_hex(16)}"
    STATE.photos[key] = challenge_text
    STATE.photo_bodies.append(body)
    return Response({"photo": key}, status_code=201)


@post("/api/v1/reports")
async def report(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await request.json()
    pow_ = body.get("pow") or {}
    if not _proof_holds(pow_.get("challenge", ""), pow_.get("nonce", "")):
        return _errors(("pow", "no solved challenge"))
    if any(STATE.photos.get(key) != pow_["challenge"] for key in body.get("photos", [])):
        return _errors(("photos", "photos must be uploaded under the report's challenge"))
    STATE.challenges.discard(pow_["challenge"])
    STATE.reports.append(body)
    return Response({"receipt": RECEIPT}, status_code=201)


@get("/api/v1/reports/{receipt:str}")
async def track(receipt: str) -> Response[dict[str, Any]]:
    if receipt != RECEIPT or not STATE.reports:
        return Response({"error": "no such report"}, status_code=404)
    timeline = [
        {"at": "2026-12-03T02:00:00.000Z", "status": "RECEIVED", "note": None},
        {"at": "2026-12-03T03:00:00.000Z", "status": "ACCEPTED", "note": "玄武区应急管理局受理"},
    ]
    return Response(
        {"receipt": RECEIPT, "status": "ACCEPTED", "timeline": timeline, "outcome": None}
    )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    if not (DIST_DIR / "index.html").is_file():
        service_unavailable("the portal build", "portal/web/dist is missing (run make portal)")
    app = Litestar(
        route_handlers=[portal_router(), challenge, categories, divisions, photo, report, track],
        middleware=[security_headers],
    )
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, name="public-portal-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the public portal test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
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


class Phone:
    """A 375 px page, with what it requested, its console errors and CSP violations."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.requested: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requested.append(r.url))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    async def assert_clean(self, origin: str) -> None:
        foreign = [u for u in self.requested if not u.startswith((origin, "data:", "blob:"))]
        assert foreign == [], foreign
        assert self.errors == []
        assert await self.page.evaluate("() => window.__csp") == []
        # Nothing wider than the phone: no sideways scrolling.
        widths = await self.page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[1], widths


async def _phone(browser: Any, url: str, **context: Any) -> Phone:
    made = await browser.new_context(
        viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True, **context
    )
    page = await made.new_page()
    phone = Phone(page)
    await page.add_init_script(
        """window.__csp = [];
        document.addEventListener('securitypolicyviolation',
            (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"""
    )
    response = await page.goto(url)
    assert response is not None
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    await page.wait_for_load_state("networkidle")
    return phone


async def _screenshot(page: Any, name: str) -> None:
    shots = os.environ.get(SCREENSHOT_DIR_ENV)
    if shots:
        await page.screenshot(path=str(Path(shots) / name), full_page=True)


async def _no_serious_accessibility_violation(page: Any) -> None:
    if not AXE.is_file():
        service_unavailable("axe-core", "portal/web/node_modules is missing (run make portal)")
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = await page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', '))"""
    )
    assert violations == []


def _jpeg(path: Path) -> Path:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 80, 40)).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())
    return path


async def test_the_home_page_on_a_phone(server: str, browser: Any) -> None:
    phone = await _phone(browser, f"{server}/")
    page = phone.page
    assert await page.get_by_role("heading", level=1).inner_text() == "安监 · 安全生产智能监控"
    assert await page.get_by_role("link", name="企业端").get_attribute("href") == "/app/"
    assert await page.get_by_role("link", name="政府端").get_attribute("href") == "/gov/"
    await page.get_by_role("link", name=re.compile("^我要举报")).wait_for()
    await page.get_by_role("link", name=re.compile("^查询进度")).wait_for()
    await _screenshot(page, "public-home-375.png")
    await _no_serious_accessibility_violation(page)
    await phone.assert_clean(server)
    await page.context.close()


async def test_a_citizen_reports_with_a_photo_keeps_the_receipt_and_tracks_it(
    server: str, browser: Any, tmp_path: Path
) -> None:
    photo_file = _jpeg(tmp_path / "hazard.jpg")
    phone = await _phone(
        browser,
        f"{server}/",
        geolocation={"latitude": XUANWU["lat"], "longitude": XUANWU["lon"]},
        permissions=["geolocation"],
    )
    page = phone.page
    await page.get_by_role("link", name=re.compile("^我要举报")).click()
    await page.get_by_role("heading", name="举报安全生产隐患").wait_for()

    # Submitting empty says what is missing, beside the fields, and sends nothing.
    await page.get_by_role("button", name="提交举报").click()
    await page.get_by_text("请选择隐患类别").first.wait_for()
    assert STATE.reports == []

    await page.get_by_label("隐患类别").select_option("MAJOR_HAZARD")
    await page.get_by_label("隐患描述").fill("仓库消防通道被货物堵死，灭火器已过期。")
    await page.get_by_label("省").select_option("320000")
    await page.get_by_label("市", exact=True).select_option("320100")
    await page.get_by_label("区/县").select_option("320102")
    await page.get_by_label("从相册选择").set_input_files(str(photo_file))
    await page.locator(".photos__preview").wait_for()
    await page.get_by_role("button", name="使用我的位置").click()
    await page.get_by_text("已获取你的位置").wait_for()
    await page.get_by_label("实名举报").check()
    await page.get_by_label("姓名").fill("王五")
    await page.get_by_label("手机号码").fill("12345")
    await page.get_by_role("button", name="提交举报").click()
    await page.get_by_text("手机号码应为 1 开头的 11 位数字").first.wait_for()
    await page.get_by_label("手机号码").fill("13800138000")
    await _screenshot(page, "public-report-form-375.png")
    await _no_serious_accessibility_violation(page)
    await page.get_by_role("button", name="提交举报").click()

    await page.get_by_role("heading", name="举报已提交").wait_for(timeout=30_000)
    assert await page.get_by_test_id("receipt-code").inner_text() == RECEIPT
    [sent] = STATE.reports
    assert sent["divisionCode"] == "320102"
    assert sent["contact"] == {"name": "王五", "mobile": "13800138000"}
    assert sent["location"] == pytest.approx(XUANWU)
    assert len(sent["photos"]) == 1 and STATE.photo_bodies[0] == photo_file.read_bytes()
    await _screenshot(page, "public-receipt-375.png")
    await _no_serious_accessibility_violation(page)
    await phone.assert_clean(server)

    # The proof was solved in a same-origin module worker, not on the page.
    assert any(re.search(r"/assets/pow\.worker-[\w-]+\.js$", u) for u in phone.requested)

    async with page.expect_download() as download:
        await page.get_by_role("button", name="下载回执").click()
    saved = await (await download.value).path()
    assert RECEIPT in await anyio.Path(saved).read_text(encoding="utf-8-sig")

    await page.get_by_role("button", name="查询进度").click()
    await page.get_by_text("已受理", exact=True).first.wait_for()
    await page.get_by_text("玄武区应急管理局受理").wait_for()
    await _screenshot(page, "public-track-375.png")
    await phone.assert_clean(server)
    await page.context.close()


async def test_tracking_in_english_and_an_unknown_code(server: str, browser: Any) -> None:
    phone = await _phone(browser, f"{server}/?lang=en#/track")
    page = phone.page
    await page.get_by_role("heading", name="Track a report").wait_for()
    await page.get_by_label("Receipt code").fill("aj-0000-0000-0000-0000")
    await page.get_by_role("button", name="Track", exact=True).click()
    await page.get_by_text("There is no report with this code.").wait_for()
    # A 404 is an answer here, not a page error: only the browser's own network line is logged.
    phone.errors = [e for e in phone.errors if "404" not in e]
    await phone.assert_clean(server)

    # The form in English fits the phone as well.
    await page.get_by_role("link", name="Report", exact=True).click()
    await page.get_by_role("heading", name="Report a safety hazard").wait_for()
    await page.get_by_label("Kind of hazard").select_option("OTHER")
    await page.get_by_label("Province").select_option("320000")
    await page.get_by_label("City").select_option("320100")
    await page.get_by_label("County / district").wait_for()
    await page.get_by_label("With my name").check()
    await page.get_by_role("textbox", name="Mobile number").wait_for()
    await _screenshot(page, "public-report-form-en-375.png")
    await phone.assert_clean(server)
    await page.context.close()


async def test_the_bundled_worker_solves_a_challenge_under_the_pages_csp(
    server: str, browser: Any
) -> None:
    """The searcher itself, started as the page starts it (a same-origin module worker under
    ``script-src 'self'``), answers with a nonce that Python's SHA-256 accepts."""
    [worker] = [p.name for p in (DIST_DIR / "assets").glob("pow.worker-*.js")]
    phone = await _phone(browser, f"{server}/")
    challenge_text = "worker-check.汉字.1764756000"
    found = await phone.page.evaluate(
        """([url, challenge]) => new Promise((resolve, reject) => {
            const worker = new Worker(url, { type: 'module' })
            worker.onerror = (e) => reject(new Error('worker failed: ' + e.message))
            worker.onmessage = (e) => {
                if (e.data.kind === 'found') { worker.terminate(); resolve(e.data.nonce) }
            }
            worker.postMessage({ challenge, difficulty: 16, start: 0, step: 1 })
        })""",
        [f"/assets/{worker}", challenge_text],
    )
    digest = hashlib.sha256((challenge_text + found).encode()).digest()
    assert int.from_bytes(digest, "big") >> (256 - 16) == 0
    await phone.assert_clean(server)
    await phone.page.context.close()

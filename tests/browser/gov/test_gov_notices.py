"""A rectification notice from end to end, in the two portals: an inspector of Nanjing issues
it from a site's page with a photo of the first finding, the enterprise's safety manager sees
that photo, acknowledges receipt and answers every finding with a photo in the console (on a
phone), the director returns it with a comment, the
enterprise answers again and the director verifies it; the analyst follows without a button to
act; nobody's page shows a word of Suzhou.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pypdf
from PIL import Image, ImageDraw

from tests.browser.console.pages import (
    DESKTOP,
    PHONE,
    Watched,
    assert_accessible,
    assert_no_horizontal_scroll,
    body_text,
    close,
    fill_sign_in,
    new_page,
    open_page,
    screenshot,
)
from tests.browser.gov.test_gov_portal import assert_nothing_foreign, gov_sign_in
from tests.browser.gov.world import PASSWORD, SITE_A, TENANT_A, GovWorld, graphql

WAIT = 15_000
FINDINGS = [
    ("储罐区 2 台可燃气体探测器超过一年未标定", "GB/T 50493-2019 第 7.1.2 条"),
    ("液氯库应急预案本年度未组织演练", "《生产安全事故应急条例》第八条"),
]
NUMBER = re.compile(r"南京市应急整改〔\d{4}〕\d+号")


def _png() -> bytes:
    """A calibration sticker on a detector, as the safety manager photographs it."""
    image = Image.new("RGB", (160, 120), (200, 200, 190))
    draw = ImageDraw.Draw(image)
    draw.rectangle((50, 30, 110, 90), outline=(20, 120, 60), width=6)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def _photo_shown(page: Any, list_name: str) -> None:
    thumbnail = page.get_by_role("list", name=list_name).locator("img")
    await thumbnail.wait_for(timeout=WAIT)
    await page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=await thumbnail.element_handle()
    )


async def _enterprise_sign_in(
    chromium: Any, world: GovWorld, email: str, viewport: dict[str, int]
) -> Watched:
    watched = await new_page(chromium, viewport)
    await open_page(watched, f"{world.url}/app/login")
    await fill_sign_in(watched.page, email, PASSWORD)
    await watched.page.wait_for_url(f"{world.url}/app/", timeout=WAIT)
    return watched


async def _issue_from_the_site_page(chromium: Any, world: GovWorld) -> tuple[str, str]:
    """The inspector's part: the notice's id and its number (文号)."""
    watched = await gov_sign_in(chromium, world, world.regulators["inspector"], DESKTOP)
    page = watched.page
    await page.get_by_role("link", name=SITE_A).first.click()
    await page.get_by_role("heading", name=SITE_A).wait_for(timeout=WAIT)
    await page.get_by_role("button", name="下发整改通知").click()
    dialog = page.get_by_role("dialog")
    # Nothing written yet: the page says what is missing and sends nothing.
    await dialog.get_by_role("button", name="下发", exact=True).click()
    await dialog.get_by_role("alert").get_by_text("至少填写一项问题。").wait_for(timeout=WAIT)
    for n, (finding, basis) in enumerate(FINDINGS):
        if n:
            await dialog.get_by_role("button", name="添加一项").click()
        await dialog.locator(f'textarea[name="finding-{n}"]').fill(finding)
        await dialog.locator(f'input[name="basis-{n}"]').fill(basis)
    # The detector without its calibration label, photographed for the first finding.
    item = dialog.get_by_role("group", name="第 1 项的现场照片")
    await item.locator('input[name="photos"]').set_input_files(
        {"name": "探测器.png", "mimeType": "image/png", "buffer": _png()}
    )
    await item.get_by_text("已上传").wait_for(timeout=WAIT)
    await screenshot(page, "gov-notice-issue-zh.png")
    await dialog.get_by_role("button", name="下发", exact=True).click()
    await page.wait_for_url(re.compile(r"/gov/notices/[0-9a-f-]{36}$"), timeout=WAIT)
    heading = page.get_by_role("heading", name=re.compile("整改通知书"))
    await heading.wait_for(timeout=WAIT)
    number = NUMBER.search(await heading.inner_text())
    assert number is not None
    text = await body_text(page)
    assert "待整改" in text and "未签收" in text
    assert all(finding in text and basis in text for finding, basis in FINDINGS)
    assert "现场照片 1 张" in text
    await _photo_shown(page, "第 1 项的现场照片")
    notice_id = page.url.rsplit("/", 1)[1]
    await assert_accessible(page)
    await watched.assert_clean(world.url)
    await close(watched)
    return notice_id, number.group(0)


async def _answer_in_the_console(
    chromium: Any, world: GovWorld, number: str, *, again: bool = False
) -> None:
    """The safety manager's part, on a phone: find the notice, acknowledge it, answer it."""
    watched = await _enterprise_sign_in(chromium, world, world.safety_manager, PHONE)
    page = watched.page
    await open_page(watched, f"{world.url}/app/notices")
    table = page.get_by_role("table", name="整改通知列表")
    await table.get_by_role("link", name=number).click()
    await page.get_by_role("heading", name=f"整改通知书 {number}").wait_for(timeout=WAIT)
    form = page.get_by_role("form", name="填写整改情况")
    if again:
        await page.get_by_text("监管部门退回意见：请补充标定证书编号").wait_for(timeout=WAIT)
        # The last answer is there to be corrected.
        first = form.locator('textarea[name="answer-0"]')
        assert "已委托有资质单位重新标定" in await first.input_value()
        await first.fill("已委托有资质单位重新标定，证书编号 JS-2026-0815，见照片")
        # The photo of the last answer goes again with it.
        await form.get_by_text("上次提交的照片 1 张").wait_for(timeout=WAIT)
    else:
        # The inspector's photo of the finding is beside it while the enterprise answers.
        await _photo_shown(page, "第 1 项的现场照片")
        await page.get_by_role("button", name="签收").click()
        timeline = page.get_by_role("list", name="办理过程")
        await timeline.get_by_text("企业签收（送达）").wait_for(timeout=WAIT)
        # Not every item answered: refused before anything is sent.
        await form.locator('textarea[name="answer-0"]').fill("已委托有资质单位重新标定")
        await form.get_by_role("button", name="提交整改情况").click()
        await form.get_by_role("alert").get_by_text("第 2 项尚未填写整改情况。").wait_for()
        await form.locator('input[name="photos"]').first.set_input_files(
            {"name": "标定标签.png", "mimeType": "image/png", "buffer": _png()}
        )
        await form.get_by_text("已上传").wait_for(timeout=WAIT)
        await form.locator('textarea[name="answer-1"]').fill("已于 12 月 2 日组织液氯泄漏应急演练")
        await assert_no_horizontal_scroll(page)
        await assert_accessible(page)
        await screenshot(page, "console-notice-answer-phone-zh.png")
    await form.get_by_role("button", name="提交整改情况").click()
    await page.get_by_text("待验收").first.wait_for(timeout=WAIT)
    assert await page.get_by_role("form", name="填写整改情况").count() == 0
    await watched.assert_clean(world.url)
    await close(watched)


async def _open_as(chromium: Any, world: GovWorld, email: str, notice_id: str) -> Watched:
    watched = await gov_sign_in(chromium, world, email, DESKTOP)
    await open_page(watched, f"{world.url}/gov/notices/{notice_id}")
    await watched.page.get_by_role("heading", name=re.compile("整改通知书")).wait_for(timeout=WAIT)
    return watched


async def test_a_notice_is_issued_answered_returned_and_verified(
    world: GovWorld, chromium: Any
) -> None:
    notice_id, number = await _issue_from_the_site_page(chromium, world)
    await _answer_in_the_console(chromium, world, number)

    # The analyst sees the answer and its photo arrive, with nothing to act on.
    watched = await _open_as(chromium, world, world.regulators["analyst"], notice_id)
    page = watched.page
    await page.get_by_text("已委托有资质单位重新标定").wait_for(timeout=WAIT)
    thumbnail = page.get_by_role("list", name="评论照片").locator("img")
    await thumbnail.wait_for(timeout=WAIT)
    await page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=await thumbnail.element_handle()
    )
    assert await page.get_by_role("button", name="验收通过").count() == 0
    assert "等待监管部门验收" in await body_text(page)
    await close(watched)

    # The director returns it: a comment is required.
    watched = await _open_as(chromium, world, world.regulators["director"], notice_id)
    page = watched.page
    await page.get_by_role("button", name="退回整改").click()
    await page.get_by_role("alert").get_by_text("退回整改时请填写验收意见。").wait_for()
    await page.locator('textarea[name="comment"]').fill("请补充标定证书编号")
    await page.get_by_role("button", name="退回整改").click()
    await page.get_by_text("已退回").first.wait_for(timeout=WAIT)
    await close(watched)

    await _answer_in_the_console(chromium, world, number, again=True)

    watched = await _open_as(chromium, world, world.regulators["director"], notice_id)
    page = watched.page
    await page.get_by_text("证书编号 JS-2026-0815").wait_for(timeout=WAIT)
    await page.get_by_role("list", name="评论照片").locator("img").wait_for(timeout=WAIT)
    await page.get_by_role("button", name="验收通过").click()
    await page.get_by_text("已验收").first.wait_for(timeout=WAIT)
    timeline = page.get_by_role("list", name="办理过程")
    steps = [s.split("\n")[0] for s in await timeline.get_by_role("listitem").all_inner_texts()]
    assert steps == [
        "下发整改通知",
        "企业签收（送达）",
        "企业提交整改情况",
        "退回整改",
        "企业提交整改情况",
        "验收通过",
    ]
    text = await body_text(page)
    assert TENANT_A in text
    assert_nothing_foreign(text, world, "the notice page")
    await assert_accessible(page)
    await screenshot(page, "gov-notice-verified-zh.png")
    # The printable notice: the server's A4 PDF, saved as a download.
    async with page.expect_download() as info:
        await page.get_by_role("button", name="下载打印版（PDF）").click()
    pdf = await anyio.Path(await (await info.value).path()).read_bytes()
    printed = "".join(
        "".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(pdf)).pages
    )
    assert number in printed and "已验收" in printed and FINDINGS[0][0].replace(" ", "") in printed

    # The jurisdiction's list has it, verified; the file holds nothing of Suzhou either.
    await page.get_by_role("link", name="整改通知", exact=True).click()
    table = page.get_by_role("table", name="整改通知列表")
    await table.get_by_role("link", name=number).wait_for(timeout=WAIT)
    async with page.expect_download() as info:
        await page.get_by_role("button", name="导出 CSV").click()
    raw = await anyio.Path(await (await info.value).path()).read_bytes()
    exported = raw.decode("utf-8-sig")
    assert number in exported and "已验收" in exported
    assert_nothing_foreign(exported, world, "the exported notices")
    await watched.assert_clean(world.url)
    await close(watched)


async def test_suzhou_never_sees_a_nanjing_notice(world: GovWorld, chromium: Any) -> None:
    """The Suzhou enterprise's owner gets nothing of a Nanjing notice, in GraphQL or on the
    console's pages; the provincial director, whose province holds both cities, sees it."""
    issued = graphql(
        world.url,
        """mutation($s: ID!, $d: DateTime!) {
            issueRectificationNotice(siteId: $s, deadline: $d,
                items: [{ finding: "东江危化品仓库防爆灯具损坏" }]) { id number }
        }""",
        {"s": world.site_a, "d": (datetime.now(UTC) + timedelta(days=10)).isoformat()},
        token=world.bearer(world.regulators["director"]),
    )["data"]["issueRectificationNotice"]
    owner_s = "owner@gusu.example.cn"
    mine = graphql(world.url, "{ rectificationNotices { number } }", token=world.bearer(owner_s))
    assert issued["number"] not in repr(mine["data"])
    asked = graphql(
        world.url,
        "query($id: ID!) { rectificationNotice(id: $id) { number } }",
        {"id": issued["id"]},
        token=world.bearer(owner_s),
    )
    assert [e["extensions"]["code"] for e in asked["errors"]] == ["NOT_FOUND"]
    provincial = graphql(
        world.url, "{ rectificationNotices { number } }", token=world.bearer(world.provincial)
    )
    assert issued["number"] in [n["number"] for n in provincial["data"]["rectificationNotices"]]

    watched = await _enterprise_sign_in(chromium, world, owner_s, DESKTOP)
    page = watched.page
    await open_page(watched, f"{world.url}/app/notices")
    await page.get_by_text("本企业没有整改通知。").wait_for(timeout=WAIT)
    await open_page(watched, f"{world.url}/app/notices/{issued['id']}")
    refusal = page.locator("p.page__error[role=alert]")
    await refusal.wait_for(timeout=WAIT)
    assert "不存在" in await refusal.inner_text() or "not found" in await refusal.inner_text()
    text = await body_text(page)
    for word in (issued["number"], "防爆灯具", SITE_A, TENANT_A):
        assert word not in text, f"the Suzhou owner's page shows {word!r}"
    await close(watched)

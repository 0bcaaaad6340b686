"""A work order worked on in a real browser, on the package's server: a safety manager attaches
a photo to a comment and sees it load from the server (and tenant B's owner gets nothing for
its key), and a title edited in the console is the title after a reload."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
from PIL import Image, ImageDraw

from tests.browser.console.pages import (
    assert_accessible,
    close,
    open_page,
    screenshot,
    sign_in,
)
from tests.browser.console.world import World, graphql

WAIT = 15_000


def _work_order(world: World, title: str) -> str:
    answer = graphql(
        world.url,
        "mutation($s: ID!, $t: String!) { createWorkOrder(siteId: $s, title: $t) { id } }",
        {"s": world.site_a, "t": title},
        token=world.owner_token,
    )
    assert not answer.get("errors"), answer
    return str(answer["data"]["createWorkOrder"]["id"])


def _png() -> bytes:
    """A flange drawn as a person might photograph one: no face, nothing to pixelate."""
    image = Image.new("RGB", (160, 120), (90, 110, 130))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 20, 120, 100), outline=(230, 200, 40), width=8)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def test_a_comment_carries_a_photo_that_loads(world: World, chromium: Any) -> None:
    order = _work_order(world, f"东江罐区法兰渗漏 {uuid.uuid4().hex[:6]}")
    watched = await sign_in(chromium, world, world.users["safety_manager"])
    page = watched.page
    await open_page(watched, f"{world.url}/app/work-orders/{order}")
    await page.locator('textarea[name="comment"]').fill("法兰已紧固，见照片")
    await page.locator('input[name="photos"]').set_input_files(
        {"name": "法兰.png", "mimeType": "image/png", "buffer": _png()}
    )
    pending = page.get_by_role("list", name="待发送的照片")
    await pending.get_by_text("已上传").wait_for(timeout=WAIT)
    await assert_accessible(page)

    def photo_read(response: Any) -> bool:
        return "/api/v1/photos/photos/" in response.url and response.request.method == "GET"

    async with page.expect_response(photo_read, timeout=WAIT) as answered:
        await page.get_by_role("button", name="发表").click()
    response = await answered.value
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/")
    thumbnail = page.get_by_role("list", name="评论照片").locator("img")
    await thumbnail.wait_for(timeout=WAIT)
    await page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=await thumbnail.element_handle()
    )
    assert await pending.count() == 0  # sent: nothing is left waiting
    # It opens larger.
    await thumbnail.click()
    await page.locator(".el-image-viewer__canvas img").wait_for(timeout=WAIT)
    await page.keyboard.press("Escape")
    await assert_accessible(page)
    await screenshot(page, "console-work-order-zh.png")

    # The key the comment carries is nothing to another tenant, even to its owner.
    query = "query($id: ID!) { workOrder(id: $id) { comments { photos } } }"
    comments = graphql(world.url, query, {"id": order}, token=world.owner_token)
    (key,) = comments["data"]["workOrder"]["comments"][0]["photos"]
    assert response.url.endswith(key)
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as client:
        foreign = await client.get(
            f"/api/v1/photos/{key}",
            headers={"Authorization": f"Bearer {world.bearer(world.owner_b)}"},
        )
    assert foreign.status_code == 404
    assert not foreign.headers["content-type"].startswith("image/")
    await watched.assert_clean(world.url)
    await close(watched)


async def test_an_edited_title_is_the_title_after_a_reload(world: World, chromium: Any) -> None:
    order = _work_order(world, f"东江反应车间巡检 {uuid.uuid4().hex[:6]}")
    watched = await sign_in(chromium, world, world.users["safety_manager"])
    page = watched.page
    await open_page(watched, f"{world.url}/app/work-orders/{order}")
    await page.get_by_role("button", name="编辑", exact=True).click()
    dialog = page.get_by_role("dialog", name="编辑工单")
    title = f"东江反应车间温度计校准 {uuid.uuid4().hex[:6]}"
    await dialog.locator('input[name="title"]').fill(title)
    await dialog.get_by_role("button", name="保存").click()
    await page.get_by_role("heading", name=title).wait_for(timeout=WAIT)
    await open_page(watched, f"{world.url}/app/work-orders/{order}")
    await page.get_by_role("heading", name=title).wait_for(timeout=WAIT)
    await watched.assert_clean(world.url)
    await close(watched)


async def test_a_viewer_is_offered_no_edit(world: World, chromium: Any) -> None:
    order = _work_order(world, f"东江罐区例行检查 {uuid.uuid4().hex[:6]}")
    watched = await sign_in(chromium, world, world.users["viewer"])
    page = watched.page
    await open_page(watched, f"{world.url}/app/work-orders/{order}")
    await page.get_by_role("heading", name="东江罐区例行检查").wait_for(timeout=WAIT)
    assert await page.get_by_role("button", name="编辑", exact=True).count() == 0
    assert await page.locator('input[name="photos"]').count() == 0
    await close(watched)

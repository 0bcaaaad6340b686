"""The government portal's overview (一张图) measured in Chromium on the demo (issue 12,
"Measured": rendered ≤ 2 s).

``anjian demo`` runs in a scratch data dir (migrated, seeded, the simulator reporting), a
regulator signs in through the form at /gov/login, and the overview is loaded
``--navigations`` times for each of the provincial director (江苏省, the cities as tiles) and
the Nanjing director (南京市, its districts). Each load is timed from the start of the
navigation (``performance.timeOrigin``) to the first animation frame at which the figures, the
child-division tiles, the sites by risk and the drawn 30-day online-rate chart are all in the
DOM (a MutationObserver).

Prints one JSON object on stdout (the figures) and progress on stderr::

    .venv/bin/python loadtests/gov_portal_bench.py --navigations 10

Needs the built portal (``make portal``) and Debian's Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, async_playwright
from portal_bench import CHROMIUM_ARGS, WEB, log_progress, percentile

from backend.bench.harness import BenchmarkFailed, serving
from backend.demo.world import MAIL_ROOT, PASSWORD

# Level → the division its director regulates.
DIRECTORS = {"province": "320000", "city": "320100"}
TARGET_MS = 2000.0

# Stamped at the frame after the overview's last part arrives, in ms since the navigation began.
RENDERED_OBSERVER = """(() => {
  window.__renderedAt = null;
  const check = () => {
    if (window.__renderedAt !== null || window.__renderedPending) return;
    const ready = document.querySelector('.division dl.figures')
      && document.querySelector('li.tile')
      && document.querySelector('li.risk-row')
      && document.querySelector('.trend figure canvas');
    if (!ready) return;
    window.__renderedPending = true;
    requestAnimationFrame(() => { window.__renderedAt = performance.now(); });
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true });
})();"""


async def _level(browser: Browser, url: str, division: str, navigations: int) -> list[float]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await context.add_init_script(RENDERED_OBSERVER)
    page = await context.new_page()
    await page.goto(f"{url}/gov/login")
    await page.get_by_label("邮箱", exact=True).fill(f"director@{division}.gov.{MAIL_ROOT}")
    await page.get_by_label("密码", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="登录", exact=True).click()
    await page.wait_for_url(f"{url}/gov/", timeout=30_000)
    times = []
    for number in range(navigations):
        await page.goto(f"{url}/gov/")
        await page.wait_for_function("() => window.__renderedAt !== null", timeout=60_000)
        times.append(float(await page.evaluate("() => window.__renderedAt")))
        log_progress(f"{division} overview {number + 1}/{navigations}: {times[-1]:.0f} ms")
    await context.close()
    return times


async def _measure(url: str, navigations: int) -> dict[str, Any]:
    executable = shutil.which("chromium")
    if executable is None:
        raise BenchmarkFailed("Chromium is not installed (scripts/ensure-chromium installs it)")
    figures: dict[str, Any] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        for level, division in DIRECTORS.items():
            times = await _level(browser, url, division, navigations)
            p95 = percentile(times, 0.95) or 0.0
            figures[level] = {
                "division": division,
                "navigations": len(times),
                "median_ms": round(statistics.median(times), 1),
                "p95_ms": p95,
                "max_ms": round(max(times), 1),
                "target_ms": TARGET_MS,
                "meets_target": p95 <= TARGET_MS,
                "samples_ms": [round(v, 1) for v in times],
            }
        await browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--navigations", type=int, default=10, help="Overview loads per level.")
    args = parser.parse_args()
    if args.navigations < 1:
        raise SystemExit("--navigations is at least 1")
    if not (WEB / "dist" / "gov" / "index.html").is_file():
        raise SystemExit("portal/web/dist is missing: run make portal first")
    with tempfile.TemporaryDirectory(prefix="anjian-gov-portal-bench-") as scratch:
        log_progress("seeding and serving the demo …")
        with serving(Path(scratch), command="demo", start_up_s=300) as (url, _server):
            figures = asyncio.run(_measure(url, args.navigations))
    figures["settings"] = {"navigations": args.navigations}
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""The enterprise console measured in Chromium against a real ``anjian serve`` (issue 11,
"Measured"): how long the overview of a 500-sensor site takes to show every tile, how long a
leak reported through the device API takes to appear as a row in an open alarm console while
background ingest runs, and what the console ships before its first page.

The server runs in a scratch data dir with one enterprise-plan site of 500 temperature sensors
(10 devices of 50, one zone each) holding readings, and a second site with the gas sensors
that leak. A person signs in through the form at /app/login; then:

- overview: ``--navigations`` loads of ``/app/?site=…``, each timed from the start of the
  navigation (``performance.timeOrigin``) to the first animation frame after the 500th tile is
  in the DOM (a MutationObserver);
- leaks: ``--leaks`` gas sensors, one after another, report 55 %LEL (RED) while the 500
  sensors' devices post ``--rate`` readings/s; each is timed from the moment the device API
  answered 202 to the first frame after its row is in the open console's DOM (both clocks are
  this machine's wall clock);
- size: the console's initial JavaScript + CSS, gzip (``portal/web/scripts/size.mjs``).

Prints one JSON object on stdout (the figures) and progress on stderr::

    .venv/bin/python loadtests/portal_bench.py --navigations 10 --leaks 20 --rate 5000

Needs the built portal (``make portal``, or ``npm ci && npm run build`` in portal/web) and
Debian's Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, async_playwright

from backend.bench.harness import BenchmarkFailed, anjian_json, serving
from backend.bench.ingest import post_batches

OWNER = "portal-bench-owner@example.cn"
PASSWORD = "Portal-bench-pw-5120"
DEVICES, SENSORS_PER_DEVICE = 10, 50
TILES = DEVICES * SENSORS_PER_DEVICE
WEB = Path(__file__).resolve().parents[1] / "portal" / "web"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Stamped at the frame after the last tile arrives, in ms since the navigation began.
TILES_OBSERVER = """(() => {
  window.__tilesAt = null;
  const target = %d;
  const check = () => {
    if (window.__tilesAt !== null || window.__tilesPending) return;
    if (document.querySelectorAll('li.tile').length < target) return;
    window.__tilesPending = true;
    requestAnimationFrame(() => { window.__tilesAt = performance.now(); });
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true });
})();"""

# Each leak sensor's row: the wall-clock ms of the frame after it is first in the DOM.
ROWS_OBSERVER = """() => {
  window.__rows = {};
  const seen = new Set();
  const scan = () => {
    for (const link of document.querySelectorAll('a[aria-label]')) {
      const match = /^查看 (LK-\\d+) 的监测曲线$/.exec(link.getAttribute('aria-label'));
      if (!match || seen.has(match[1])) continue;
      seen.add(match[1]);
      requestAnimationFrame(() => {
        window.__rows[match[1]] = performance.timeOrigin + performance.now();
      });
    }
  };
  new MutationObserver(scan).observe(document.body, { subtree: true, childList: true });
  scan();
}"""


def log_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _provision(data_dir: Path, leaks: int) -> dict[str, Any]:
    anjian_json(data_dir, "migrate")
    tenant = anjian_json(
        data_dir,
        *("tenant", "create", "--name", "五百点位化工", "--division", "320100"),
        *("--industry", "chemical", "--owner-email", OWNER, "--owner-password", PASSWORD),
    )["tenant_id"]
    sites = [
        anjian_json(
            data_dir,
            *("site", "create", "--tenant", str(tenant), "--name", name, "--division", "320102"),
            *("--plan", "enterprise"),
        )["site_id"]
        for name in ("五百点位厂区", "泄漏演练厂区")
    ]
    fleet: list[tuple[str, list[str]]] = []
    for number in range(DEVICES):
        codes = [f"TT-{number:02d}-{i:03d}" for i in range(SENSORS_PER_DEVICE)]
        zone = f"区域{number + 1:02d}"
        spec = [{"code": c, "kind": "temperature", "unit": "°C", "zone": zone} for c in codes]
        file = data_dir / "sensors.json"
        file.write_text(json.dumps(spec, ensure_ascii=False))
        device = anjian_json(
            data_dir,
            *("device", "create", "--site", str(sites[0]), "--name", f"采集器{number:02d}"),
            *("--sensors", str(file)),
        )
        fleet.append((str(device["token"]), codes))
        log_progress(f"device {number + 1}/{DEVICES}")
    leak_codes = [f"LK-{i:03d}" for i in range(1, leaks + 1)]
    file = data_dir / "leak-sensors.json"
    file.write_text(
        json.dumps(
            [
                {"code": c, "kind": "combustible_gas", "unit": "%LEL", "zone": "罐区"}
                for c in leak_codes
            ],
            ensure_ascii=False,
        )
    )
    leak = anjian_json(
        data_dir,
        *("device", "create", "--site", str(sites[1]), "--name", "泄漏探头"),
        *("--sensors", str(file)),
    )
    return {
        "site": str(sites[0]),
        "fleet": fleet,
        "leak_token": str(leak["token"]),
        "leaks": leak_codes,
    }


async def _post(client: httpx.AsyncClient, token: str, readings: list[dict[str, Any]]) -> float:
    response = await client.post(
        "/api/v1/telemetry",
        json={"batch_id": str(uuid.uuid4()), "readings": readings},
        headers={"Authorization": f"Bearer {token}"},
    )
    accepted = time.time() * 1000
    if response.status_code != 202:
        raise BenchmarkFailed(f"readings refused ({response.status_code}): {response.text}")
    return accepted


async def _seed(url: str, fleet: list[tuple[str, list[str]]]) -> None:
    """A current reading for every one of the 500 sensors, so each tile shows a value."""
    now = datetime.now(UTC).isoformat()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for token, codes in fleet:
            await _post(client, token, [{"sensor": c, "ts": now, "value": 25.0} for c in codes])


async def _sign_in(page: Page, url: str) -> None:
    await page.goto(f"{url}/app/login")
    await page.get_by_label("邮箱", exact=True).fill(OWNER)
    await page.get_by_label("密码", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="登录", exact=True).click()
    await page.wait_for_url(f"{url}/app/", timeout=30_000)


async def _overview(page: Page, url: str, site: str, navigations: int) -> list[float]:
    times = []
    for number in range(navigations):
        await page.goto(f"{url}/app/?site={site}")
        await page.wait_for_function("() => window.__tilesAt !== null", timeout=60_000)
        times.append(float(await page.evaluate("() => window.__tilesAt")))
        log_progress(f"overview {number + 1}/{navigations}: {times[-1]:.0f} ms")
    return times


async def _leaks(
    page: Page, url: str, token: str, codes: list[str], timeout_s: float = 15.0
) -> dict[str, float]:
    """Each leak, once the previous one's row has shown: ms from 202 to its row."""
    latencies: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for code in codes:
            reading = {"sensor": code, "ts": datetime.now(UTC).isoformat(), "value": 55.0}
            accepted = await _post(client, token, [reading])
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                shown = await page.evaluate("(code) => window.__rows[code] ?? null", code)
                if shown is not None:
                    latencies[code] = float(shown) - accepted
                    log_progress(f"{code}: {latencies[code]:.0f} ms")
                    break
                await asyncio.sleep(0.02)
            else:
                log_progress(f"{code}: no row within {timeout_s:.0f} s")
            await asyncio.sleep(0.5)
    return latencies


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))], 1)


def _initial_size_kb() -> float:
    done = subprocess.run(
        ["node", str(WEB / "scripts" / "size.mjs")], capture_output=True, text=True, check=False
    )
    match = re.search(r"^/app/\s+([\d.]+) KB gzip", done.stdout, re.MULTILINE)
    if match is None:
        raise BenchmarkFailed(f"size.mjs printed no /app/ figure: {done.stdout}{done.stderr}")
    return float(match.group(1))


async def _measure(url: str, world: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    await _seed(url, world["fleet"])
    executable = shutil.which("chromium")
    if executable is None:
        raise BenchmarkFailed("Chromium is not installed (scripts/ensure-chromium installs it)")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        await context.add_init_script(TILES_OBSERVER % TILES)
        page = await context.new_page()
        await _sign_in(page, url)
        overview = await _overview(page, url, world["site"], args.navigations)

        console = await context.new_page()
        await console.goto(f"{url}/app/alarms")
        # Loaded: the (possibly still empty, so hidden) list is there and nothing is loading.
        await console.get_by_role("list", name="报警列表").wait_for(state="attached")
        await console.wait_for_function(
            "() => !document.body.innerText.includes('加载中')", timeout=30_000
        )
        await console.evaluate(ROWS_OBSERVER)
        live = await console.get_by_text("实时推送已连接").count() > 0
        duration = args.leaks * 2.0 + 15
        load = asyncio.create_task(
            post_batches(url, world["fleet"], 100, duration, rate=args.rate, progress_label="load")
        )
        await asyncio.sleep(3)  # the load is running before the first leak
        latencies = await _leaks(console, url, world["leak_token"], world["leaks"])
        _, refused, accepted, elapsed = await load
        await browser.close()
    values = list(latencies.values())
    return {
        "overview": {
            "sensors": TILES,
            "navigations": len(overview),
            "median_ms": round(statistics.median(overview), 1),
            "p95_ms": percentile(overview, 0.95),
            "max_ms": round(max(overview), 1),
            "samples_ms": [round(v, 1) for v in overview],
        },
        "leak_to_row": {
            "leaks": len(world["leaks"]),
            "shown": len(values),
            "missed": len(world["leaks"]) - len(values),
            "p50_ms": percentile(values, 0.5),
            "p95_ms": percentile(values, 0.95),
            "max_ms": round(max(values), 1) if values else None,
            "console_live_push": live,
            "background_readings_per_s": round(accepted / elapsed),
            "background_refused": refused,
        },
        "console_initial_js_css_gzip_kb": _initial_size_kb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--navigations", type=int, default=10, help="Overview loads timed.")
    parser.add_argument("--leaks", type=int, default=20, help="Leaks timed.")
    parser.add_argument("--rate", type=float, default=5000.0, help="Background readings/s.")
    args = parser.parse_args()
    if not (WEB / "dist" / "app" / "index.html").is_file():
        raise SystemExit("portal/web/dist is missing: run make portal first")
    with tempfile.TemporaryDirectory(prefix="anjian-portal-bench-") as scratch:
        data_dir = Path(scratch)
        world = _provision(data_dir, args.leaks)
        with serving(data_dir) as (url, _server):
            figures = asyncio.run(_measure(url, world, args))
    figures["settings"] = {"navigations": args.navigations, "leaks": args.leaks, "rate": args.rate}
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()

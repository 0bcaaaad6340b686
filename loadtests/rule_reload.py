"""How long the alarm engine's rule reload holds the event loop, on a platform of many sensors.

The rules watch reloads every tenant's rules whenever the registry moves (a device added
anywhere), in the server's one event loop, where ingest also evaluates readings inline. This
provisions ``--devices`` devices of ``--sensors`` sensors each through the command line in a
scratch data dir, gives them their default rules, then reloads ``--rounds`` times while a
ticker on the same loop records the longest stall. As the figure to compare against it also
times parsing every rule and installing it into a fresh engine in one piece (what a reload
did before it kept parsed rules by version and yielded between slices).

Prints one JSON object on stdout::

    .venv/bin/python loadtests/rule_reload.py --devices 40 --sensors 250
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
ANJIAN = str(Path(sys.executable).parent / "anjian")


def anjian(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [ANJIAN, *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"anjian {' '.join(args)}: {done.stderr.strip()}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def provision(data_dir: Path, devices: int, sensors: int) -> dict[str, str]:
    env = {**os.environ, "ANJIAN_DATA_DIR": str(data_dir)}
    subprocess.run([ANJIAN, "migrate"], env=env, check=True, capture_output=True)
    tenant = anjian(
        env,
        *("tenant", "create", "--name", "规则重载", "--division", "320100"),
        *("--industry", "chemical", "--owner-email", "owner@reload.example.cn"),
        *("--owner-password", "reload-bench-pass-1"),
    )["tenant_id"]
    site = anjian(
        env,
        *("site", "create", "--tenant", tenant, "--name", "一厂", "--division", "320100"),
        *("--plan", "enterprise"),
    )["site_id"]
    listing = data_dir / "sensors.json"
    for d in range(devices):
        print(f"\rprovisioning device {d + 1}/{devices} …", end="", file=sys.stderr)
        listing.write_text(
            json.dumps(
                [
                    {"code": f"TT-{d:03d}-{i:03d}", "kind": "temperature", "unit": "°C"}
                    for i in range(sensors)
                ]
            )
        )
        anjian(
            env, "device", "create", "--site", site, "--name", f"dev-{d}", "--sensors", str(listing)
        )
    print(file=sys.stderr)
    return env


async def longest_stall(work: Awaitable[T]) -> tuple[T, float, float]:
    """``work``'s result, how long it took and the longest the loop went without a turn."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = time.monotonic()
    result = await work
    took = time.monotonic() - started
    done.set()
    await ticking
    return result, took, max(gaps)


async def measure(rounds: int) -> dict[str, Any]:
    from backend.alarms.engine import RuleEngine
    from backend.alarms.pipeline import AlarmEvaluator
    from backend.alarms.rules import RuleSpec
    from backend.core.settings import load_settings
    from backend.runtime import Runtime

    runtime = Runtime(load_settings())
    evaluator = AlarmEvaluator(runtime.sessions, lambda *_: None)
    _, first, _ = await longest_stall(evaluator.reload(datetime.now(UTC)))
    reloads = []
    for _ in range(rounds):
        _, took, stall = await longest_stall(evaluator.reload(datetime.now(UTC)))
        reloads.append({"seconds": round(took, 3), "longest_stall_s": round(stall, 3)})

    rows = await _sensor_rules(runtime)
    started = time.monotonic()
    engine = RuleEngine()
    by_sensor: dict[Any, list[Any]] = {}
    for rule_id, sensor_id, definition in rows:
        by_sensor.setdefault(sensor_id, []).append((rule_id, RuleSpec.from_json(definition)))
    for sensor_id, rules in by_sensor.items():
        engine.set_rules(sensor_id, rules)
    in_one_piece = time.monotonic() - started
    await runtime.engine.dispose()
    return {
        "sensors": len(evaluator.loaded_sensors),
        "sensor_rules": len(rows),
        "first_reload_s": round(first, 3),
        "reloads": reloads,
        "parse_and_install_in_one_piece_s": round(in_one_piece, 3),
    }


async def _sensor_rules(runtime: Any) -> list[Any]:
    from sqlalchemy import select

    from backend.alarms.models import AlarmRule
    from tenants.scope import unscoped_session

    async with unscoped_session(runtime.sessions) as session:
        rows = await session.execute(
            select(AlarmRule.id, AlarmRule.sensor_id, AlarmRule.definition).where(
                AlarmRule.enabled.is_(True), AlarmRule.sensor_id.is_not(None)
            )
        )
        return list(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=40)
    parser.add_argument("--sensors", type=int, default=250, help="sensors per device")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="anjian-reload-") as scratch:
        env = provision(Path(scratch), args.devices, args.sensors)
        os.environ.update(env)
        figures = asyncio.run(measure(args.rounds))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""``anjian bench ingest``: devices posting 500-reading batches over real HTTP to a server.

The benchmark provisions an enterprise-plan site with N devices in a scratch data dir, starts
``anjian serve`` as a separate process, and drives it from this process with N concurrent
keep-alive clients for a fixed duration. It reports readings/s acknowledged, readings/s landed
in ClickHouse (counted through the server's GraphQL API once the flusher has drained), accept
latency percentiles, and the server's peak RSS. Then, in another process on a scratch chdb
directory (the server owns its own), it inserts the same number of rows with a direct
clickhouse-connect columnar insert, and reports the ratio of the two rates.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from backend.bench.harness import (
    BenchmarkFailed,
    anjian_json,
    login,
    peak_rss_mib,
    readings_landed,
    serving,
)

PASSWORD = "bench-password-1"


@dataclass
class IngestFigures:
    devices: int
    batch_size: int
    duration_s: float
    batches_accepted: int
    readings_accepted: int
    readings_landed: int
    accepted_per_s: float
    landed_per_s: float
    drain_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    refused: dict[str, int]
    server_peak_rss_mib: float
    raw_insert_rows_per_s: float
    ratio_to_raw: float


def provision_fleet(
    data_dir: Path, devices: int, sensors_per_device: int
) -> list[tuple[str, list[str]]]:
    """A migrated scratch store with an enterprise-plan site of ``devices`` devices, each with
    ``sensors_per_device`` temperature sensors: each device's (token, sensor codes). The site
    and its owner's e-mail are written to ``bench-site.json``."""
    anjian_json(data_dir, "migrate")
    owner = "bench-owner@example.cn"
    tenant = anjian_json(
        data_dir,
        "tenant",
        "create",
        "--name",
        "基准测试化工",
        "--division",
        "320100",
        "--industry",
        "chemical",
        "--owner-email",
        owner,
        "--owner-password",
        PASSWORD,
    )
    site = anjian_json(
        data_dir,
        "site",
        "create",
        "--tenant",
        str(tenant["tenant_id"]),
        "--name",
        "基准测试厂区",
        "--division",
        "320102",
        "--plan",
        "enterprise",
    )
    out = []
    for number in range(devices):
        # Sensor codes are unique on a site: each device gets its own.
        codes = [f"TT-{number:03d}-{i:03d}" for i in range(sensors_per_device)]
        sensors_file = data_dir / "bench-sensors.json"
        sensors_file.write_text(
            json.dumps([{"code": c, "kind": "temperature", "unit": "°C"} for c in codes])
        )
        device = anjian_json(
            data_dir,
            "device",
            "create",
            "--site",
            str(site["site_id"]),
            "--name",
            f"bench-{number}",
            "--sensors",
            str(sensors_file),
        )
        out.append((str(device["token"]), codes))
    (data_dir / "bench-site.json").write_text(json.dumps({"site": site["site_id"], "owner": owner}))
    return out


class _BodyFactory:
    """Pre-encoded JSON templates: the load generator must not be the bottleneck."""

    def __init__(self, codes: list[str], batch_size: int) -> None:
        per_ts = len(codes)
        self.timestamps = max(1, batch_size // per_ts)
        parts = []
        for t in range(self.timestamps):
            for i, code in enumerate(codes[:batch_size]):
                value = 20.0 + (i % 40) + t * 0.01
                parts.append(f'{{"sensor":"{code}","ts":%(t{t})d,"value":{value:.2f}}}')
        self.template = '{"batch_id":"%(batch)s","readings":[' + ",".join(parts) + "]}"
        self.count = len(parts)
        self.sequence = 0

    def next(self) -> bytes:
        # Every batch gets its own milliseconds, so readings never collide on (sensor, ts).
        base = int(time.time() * 1000) - 60_000 + (self.sequence % 50_000)
        self.sequence += 1
        stamps = {f"t{t}": base - t * 60_000 for t in range(self.timestamps)}
        return (self.template % {"batch": uuid.uuid4(), **stamps}).encode()


async def _device_loop(
    client: httpx.AsyncClient,
    token: str,
    factory: _BodyFactory,
    deadline: float,
    latencies: list[float],
    refused: dict[str, int],
    counter: list[int],
    interval: float = 0.0,
) -> None:
    """Post batches until the deadline; with ``interval``, one batch per interval (paced)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    next_at = time.monotonic()
    while time.monotonic() < deadline:
        if interval:
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        body = factory.next()
        started = time.perf_counter()
        response = await client.post("/api/v1/telemetry", content=body, headers=headers)
        elapsed = time.perf_counter() - started
        if response.status_code == 202:
            latencies.append(elapsed)
            counter[0] += response.json()["accepted"]
        else:
            refused[str(response.status_code)] = refused.get(str(response.status_code), 0) + 1
            retry = response.headers.get("Retry-After")
            await asyncio.sleep(float(retry) if retry else 0.5)


async def post_batches(
    url: str,
    devices: list[tuple[str, list[str]]],
    batch_size: int,
    duration: float,
    rate: float | None = None,
    progress_label: str = "ingest",
) -> tuple[list[float], dict[str, int], int, float]:
    """Closed-loop load (as fast as the server answers), or paced at ``rate`` readings/s."""
    interval = 0.0 if not rate else batch_size * len(devices) / rate
    latencies: list[float] = []
    refused: dict[str, int] = {}
    counter = [0]
    limits = httpx.Limits(max_connections=len(devices), max_keepalive_connections=len(devices))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        started = time.monotonic()
        deadline = started + duration
        tasks = [
            asyncio.create_task(
                _device_loop(
                    client,
                    token,
                    _BodyFactory(codes, batch_size),
                    deadline,
                    latencies,
                    refused,
                    counter,
                    interval,
                )
            )
            for token, codes in devices
        ]
        with Progress(
            TextColumn(f"[bold]{progress_label}[/] {{task.fields[rate]}}"),
            BarColumn(),
            TimeRemainingColumn(),
            transient=True,
            console=_stderr_console(),
        ) as progress:
            task = progress.add_task("load", total=duration, rate="")
            while not all(t.done() for t in tasks):
                await asyncio.sleep(0.5)
                elapsed = time.monotonic() - started
                progress.update(
                    task,
                    completed=min(elapsed, duration),
                    rate=f"{counter[0] / max(elapsed, 1e-9):,.0f} readings/s",
                )
        await asyncio.gather(*tasks)
        return latencies, refused, counter[0], time.monotonic() - started


def _stderr_console() -> object:
    from rich.console import Console

    return Console(stderr=True)


def _raw_insert_rate(rows: int, sensors: int) -> float:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "backend.telemetry.raw_insert",
            str(max(rows, 100_000)),
            str(sensors),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    if done.returncode != 0:
        raise BenchmarkFailed(f"raw insert benchmark failed: {done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def run(
    devices: int,
    duration: float,
    batch_size: int,
    sensors_per_device: int,
    data_dir: Path | None = None,
    keep: bool = False,
) -> IngestFigures:
    scratch = data_dir or Path(tempfile.mkdtemp(prefix="anjian-bench-"))
    try:
        print(f"provisioning {devices} devices in {scratch} …", file=sys.stderr)
        fleet = provision_fleet(scratch, devices, sensors_per_device)
        site = json.loads((scratch / "bench-site.json").read_text())
        with served(scratch) as (url, token, server):
            latencies, refused, accepted, elapsed = asyncio.run(
                post_batches(url, fleet, batch_size, duration)
            )
            drain_started = time.monotonic()
            landed = readings_landed(url, token, site["site"])
            while landed < accepted and time.monotonic() - drain_started < 120:
                time.sleep(0.5)
                landed = readings_landed(url, token, site["site"])
            drain = time.monotonic() - drain_started
            rss = peak_rss_mib(server.pid)
        print("measuring the raw engine insert in a separate process …", file=sys.stderr)
        raw = _raw_insert_rate(accepted, sensors_per_device * devices)
    finally:
        if data_dir is None and not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    latencies.sort()

    def pct(p: float) -> float:
        return (
            1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))]
            if latencies
            else float("nan")
        )

    accepted_rate = accepted / elapsed
    return IngestFigures(
        devices=devices,
        batch_size=batch_size,
        duration_s=round(elapsed, 1),
        batches_accepted=len(latencies),
        readings_accepted=accepted,
        readings_landed=landed,
        accepted_per_s=round(accepted_rate),
        landed_per_s=round(landed / (elapsed + drain)),
        drain_s=round(drain, 2),
        latency_p50_ms=round(pct(0.50), 1),
        latency_p99_ms=round(pct(0.99), 1),
        latency_max_ms=round(pct(1.0), 1),
        refused=refused,
        server_peak_rss_mib=round(rss, 1),
        raw_insert_rows_per_s=round(raw),
        ratio_to_raw=round(accepted_rate / raw, 3),
    )


@contextmanager
def served(scratch: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """``anjian serve`` on the scratch data dir, signed in as the bench owner: (url, token,
    process). The server is stopped with SIGTERM when the block ends."""
    site = json.loads((scratch / "bench-site.json").read_text())
    with serving(scratch) as (url, server):
        yield url, login(url, site["owner"], PASSWORD), server


def as_dict(figures: IngestFigures) -> dict[str, object]:
    return asdict(figures)

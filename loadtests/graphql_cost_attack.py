"""The resource-exhaustion probe of GraphQL, measured against a real ``anjian serve``.

One document of ``--aliases`` aliased ``telemetry`` fields, each over ``--days`` days at
``--bucket`` seconds (``bucketSeconds: 87`` misses the rollups and so reads the raw table),
first alone, then ``--parallel`` copies at once while ``/healthz`` and a cheap GraphQL query are
probed twice a second and the server's resident memory is sampled. The server runs in a
scratch data dir with one sensor holding a reading a minute over the whole range, so every
bucket has data.

Prints one JSON object on stdout (the figures) and a summary on stderr::

    .venv/bin/python loadtests/graphql_cost_attack.py --aliases 50 --parallel 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from backend.bench.harness import (
    BenchmarkFailed,
    anjian_json,
    login,
    peak_rss_mib,
    readings_landed,
    rss_mib,
    serving,
)

OWNER = "probe-owner@example.cn"
PASSWORD = "Probe-owner-pw-8431"
READINGS_PER_BATCH = 10_000  # the contract's most per batch
CHEAP = "query($s: ID!) { sites { id name } q: siteStatus(siteId: $s) { sensorsTotal } }"


def _provision(data_dir: Path) -> tuple[str, str, str]:
    """A tenant, a site and one temperature sensor: (site id, sensor id, device token)."""
    anjian_json(data_dir, "migrate")
    tenant = anjian_json(
        data_dir,
        *("tenant", "create", "--name", "压测化工", "--division", "320100"),
        *("--industry", "chemical", "--owner-email", OWNER, "--owner-password", PASSWORD),
    )
    site = anjian_json(
        data_dir,
        *("site", "create", "--tenant", str(tenant["tenant_id"]), "--name", "压测厂区"),
        *("--division", "320102"),
    )
    sensors = data_dir / "sensors.json"
    sensors.write_text(json.dumps([{"code": "TT-1", "kind": "temperature", "unit": "°C"}]))
    device = anjian_json(
        data_dir,
        *("device", "create", "--site", str(site["site_id"]), "--name", "probe"),
        *("--sensors", str(sensors)),
    )
    return str(site["site_id"]), str(device["sensors"]["TT-1"]), str(device["token"])


def attack_document(
    sensor_id: str, start: datetime, end: datetime, aliases: int, bucket: int
) -> str:
    fields = " ".join(
        f'a{n}: telemetry(sensorId: "{sensor_id}", from: "{start:%Y-%m-%dT%H:%M:%SZ}", '
        f'to: "{end:%Y-%m-%dT%H:%M:%SZ}", bucketSeconds: {bucket}) {{ ts min max avg count last }}'
        for n in range(aliases)
    )
    return "query { " + fields + " }"


@dataclass
class Answer:
    seconds: float
    status: int | None
    bytes: int
    codes: list[str]
    message: str | None = None


@dataclass
class Probe:
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    def summary(self) -> dict[str, Any]:
        values = sorted(self.latencies)
        return {
            "answered": len(values),
            "failed": self.failures,
            "p50_ms": round(statistics.median(values) * 1000, 1) if values else None,
            "max_ms": round(values[-1] * 1000, 1) if values else None,
        }


async def _post(client: httpx.AsyncClient, query: str, token: str, variables: Any = None) -> Answer:
    started = time.monotonic()
    try:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as exc:
        return Answer(time.monotonic() - started, None, 0, [], f"{type(exc).__name__}: {exc}")
    elapsed = time.monotonic() - started
    try:
        body = response.json()
    except ValueError:
        return Answer(elapsed, response.status_code, len(response.content), [], response.text[:200])
    errors = body.get("errors") or []
    return Answer(
        elapsed,
        response.status_code,
        len(response.content),
        sorted({str((e.get("extensions") or {}).get("code")) for e in errors}),
        errors[0]["message"] if errors else None,
    )


async def _probe(url: str, path: str, stop: asyncio.Event, probe: Probe, send: Any) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        while not stop.is_set():
            started = time.monotonic()
            try:
                response = await send(client, path)
                if response.status_code == 200:
                    probe.latencies.append(time.monotonic() - started)
                else:
                    probe.failures += 1
            except httpx.HTTPError:
                probe.failures += 1
            await asyncio.sleep(0.5)


async def _sample_rss(pid: int, stop: asyncio.Event, samples: list[float]) -> None:
    while not stop.is_set():
        samples.append(rss_mib(pid))
        await asyncio.sleep(0.2)


async def _ingest(url: str, token: str, start: datetime, end: datetime) -> int:
    """A reading a minute over [start, end), in the contract's largest batches."""
    stamps = []
    at = start
    while at < end:
        stamps.append(at)
        at += timedelta(minutes=1)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for offset in range(0, len(stamps), READINGS_PER_BATCH):
            chunk = stamps[offset : offset + READINGS_PER_BATCH]
            body = {
                "batch_id": str(uuid.uuid4()),
                "readings": [
                    {
                        "sensor": "TT-1",
                        "ts": ts.isoformat().replace("+00:00", "Z"),
                        "value": 20 + i % 7,
                    }
                    for i, ts in enumerate(chunk, start=offset)
                ],
            }
            response = await client.post("/api/v1/telemetry", json=body, headers=headers)
            if response.status_code != 202:
                raise BenchmarkFailed(
                    f"ingest refused: {response.status_code} {response.text[:300]}"
                )
    return len(stamps)


async def _wait_landed(url: str, token: str, site: str, expected: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if await asyncio.to_thread(readings_landed, url, token, site) == expected:
            return
        await asyncio.sleep(0.5)
    raise BenchmarkFailed("the readings did not land in ClickHouse within 2 minutes")


async def _run(
    args: argparse.Namespace, url: str, pid: int, site: str, sensor: str, token: str
) -> dict[str, Any]:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=args.days)
    readings = await _ingest(url, token, start, end)
    timeout = httpx.Timeout(args.request_timeout, connect=30)
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
        user = await asyncio.to_thread(login, url, OWNER, PASSWORD)
        await _wait_landed(url, user, site, readings)
        document = attack_document(sensor, start, end, args.aliases, args.bucket)
        print(f"document: {len(document)} bytes, {readings} readings stored", file=sys.stderr)

        rss_before = rss_mib(pid)
        single = await _post(client, document, user)
        rss_after_single = rss_mib(pid)
        print(
            f"one request: {single.seconds:.2f} s, {single.bytes} bytes, {single.codes}",
            file=sys.stderr,
        )

        stop = asyncio.Event()
        health, cheap = Probe(), Probe()
        samples: list[float] = []
        background = [
            asyncio.create_task(_probe(url, "/healthz", stop, health, lambda c, p: c.get(p))),
            asyncio.create_task(
                _probe(
                    url,
                    "/graphql",
                    stop,
                    cheap,
                    lambda c, p: c.post(
                        p,
                        json={"query": CHEAP, "variables": {"s": site}},
                        headers={"Authorization": f"Bearer {user}"},
                    ),
                )
            ),
            asyncio.create_task(_sample_rss(pid, stop, samples)),
        ]
        started = time.monotonic()
        answers = await asyncio.gather(
            *(_post(client, document, user) for _ in range(args.parallel))
        )
        wall = time.monotonic() - started
        await asyncio.sleep(1.0)  # one more round of probes after the attack
        stop.set()
        await asyncio.gather(*background)
    codes: dict[str, int] = {}
    for answer in answers:
        for code in answer.codes or [f"HTTP {answer.status}" if answer.status else "no answer"]:
            codes[code] = codes.get(code, 0) + 1
    return {
        "document_bytes": len(document),
        "aliases": args.aliases,
        "days": args.days,
        "bucket_seconds": args.bucket,
        "readings_stored": readings,
        "single": {
            **asdict(single),
            "rss_before_mib": round(rss_before, 1),
            "rss_after_mib": round(rss_after_single, 1),
        },
        "parallel": {
            "requests": args.parallel,
            "wall_s": round(wall, 2),
            "slowest_s": round(max(a.seconds for a in answers), 2),
            "codes": codes,
            "first_message": next((a.message for a in answers if a.message), None),
            "server_rss_peak_mib": round(max(samples), 1) if samples else None,
        },
        "server_peak_rss_mib": round(peak_rss_mib(pid), 1),
        "healthz": health.summary(),
        "cheap_query": cheap.summary(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aliases", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--bucket", type=int, default=87)
    parser.add_argument("--request-timeout", type=float, default=900.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="anjian-cost-") as scratch:
        data_dir = Path(scratch)
        site, sensor, token = _provision(data_dir)
        with serving(data_dir) as (url, server):
            figures = asyncio.run(_run(args, url, server.pid, site, sensor, token))
    print(json.dumps(figures, ensure_ascii=False))
    p = figures["parallel"]
    print(
        f"{p['requests']} in parallel: {p['wall_s']} s, codes {p['codes']}, server RSS peak "
        f"{figures['server_peak_rss_mib']} MiB; /healthz {figures['healthz']}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

"""The public's side of ``anjian bench reports``: proofs solved ahead of time, reporters
submitting through ``POST /api/v1/reports`` (with or without a photo), and reporters tracking
their reports by receipt code meanwhile.

* Proofs: the phase's challenges are fetched from the server (``GET /api/v1/reports/challenge``)
  and solved in worker processes with ``backend.reports.pow.solve`` (hashlib) before the phase
  starts, so the solving is not what is measured; the server still verifies every proof.
* Reporters: ``clients`` concurrent keep-alive connections, each submission behind a client
  address of its own network forwarded by a trusted proxy (the bench runs the server with
  ``ANJIAN_TRUSTED_PROXIES`` naming the loopback address, and sends ``X-Forwarded-For``):
  ``PER_ADDRESS`` submissions share one address, well inside the per-address allowance, so the
  rate limit is exercised on every request but never refuses one.
* Tracking: a process of its own (its latency is not the submitters' event loop's), at a steady
  rate, alternating between reports already in the store and those just submitted, each answer
  checked: the receipt asked for, the status expected, the contract's keys and nothing else.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import multiprocessing
import queue
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event as EventType
from typing import Any

import httpx
import numpy as np
from PIL import Image

from backend.bench.harness import BenchmarkFailed
from backend.reports import pow
from backend.reports.categories import CATEGORIES

CHALLENGE = "/api/v1/reports/challenge"
PHOTOS = "/api/v1/reports/photos"
REPORTS = "/api/v1/reports"
PER_ADDRESS = 10
FIRST_ADDRESS = int(ipaddress.IPv4Address("10.0.0.1"))
TRACKED_KEYS = {"receipt", "status", "timeline", "outcome"}
PHOTO_BYTES = 1_000_000
_SPAWN = multiprocessing.get_context("spawn")


# --- the photo -------------------------------------------------------------------------------


def bench_photo(target: int = PHOTO_BYTES, seed: int = 7) -> bytes:
    """A 1600×1200 JPEG of a noisy outdoor scene (sky, buildings, ground, sensor noise) whose
    size is the closest to ``target`` bytes the JPEG quality reaches: what a phone's photo
    costs to decode, scan for faces and re-encode, not a flat image that compresses to
    nothing."""
    rng = np.random.default_rng(seed)
    h, w = 1200, 1600
    y = np.linspace(0.0, 1.0, h)[:, None, None]
    scene = np.empty((h, w, 3))
    scene[:] = (1 - y) * np.array([150.0, 180.0, 220.0]) + y * np.array([90.0, 85.0, 70.0])
    for _ in range(40):  # buildings and tanks
        x0, width = int(rng.integers(0, w)), int(rng.integers(40, 220))
        top = int(rng.integers(h // 4, h // 2 + 200))
        scene[top : h * 3 // 4, x0 : x0 + width] = rng.uniform(60, 200, 3)
    scene += rng.normal(0.0, 14.0, scene.shape)
    image = Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8), "RGB")

    def encoded(quality: int) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        return buffer.getvalue()

    low, high = 20, 97
    best = encoded(high)
    while low <= high:
        quality = (low + high) // 2
        data = encoded(quality)
        if abs(len(data) - target) < abs(len(best) - target):
            best = data
        if len(data) < target:
            low = quality + 1
        else:
            high = quality - 1
    return best


# --- proofs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proofs:
    proofs: list[dict[str, str]]
    difficulty: int
    fetch_s: float
    solve_s: float
    solve_mean_ms: float


def _solve(challenge: tuple[str, int]) -> tuple[str, float]:
    started = time.perf_counter()
    nonce = pow.solve(*challenge)
    return nonce, 1000 * (time.perf_counter() - started)


def solved_proofs(url: str, count: int, workers: int) -> Proofs:
    """``count`` challenges of the server, solved in ``workers`` processes."""
    started = time.perf_counter()
    challenges: list[tuple[str, int]] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(count):
            answer = client.get(CHALLENGE)
            if answer.status_code != 200:
                raise BenchmarkFailed(f"challenge refused: {answer.status_code} {answer.text}")
            body = answer.json()
            challenges.append((body["challenge"], int(body["difficulty"])))
    fetched = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=_SPAWN) as pool:
        solved = list(pool.map(_solve, challenges, chunksize=max(1, count // (8 * workers))))
    done = time.perf_counter()
    difficulties = {d for _, d in challenges}
    if len(difficulties) > 1:
        raise BenchmarkFailed(f"the server issued several difficulties: {sorted(difficulties)}")
    return Proofs(
        proofs=[
            {"challenge": c, "nonce": n} for (c, _), (n, _) in zip(challenges, solved, strict=True)
        ],
        difficulty=difficulties.pop() if difficulties else 0,
        fetch_s=round(fetched - started, 2),
        solve_s=round(done - fetched, 2),
        solve_mean_ms=round(sum(ms for _, ms in solved) / max(1, len(solved)), 2),
    )


# --- submitting ------------------------------------------------------------------------------


def address_of(submission: int) -> str:
    """The client address a submission comes from: ``PER_ADDRESS`` submissions each."""
    return str(ipaddress.IPv4Address(FIRST_ADDRESS + submission // PER_ADDRESS))


def report_body(k: int, proof: dict[str, str], division: str, photos: list[str]) -> dict[str, Any]:
    observed = datetime.now(UTC) - timedelta(hours=1 + k % 24)
    named = k % 3 == 0
    return {
        "category": CATEGORIES[k % len(CATEGORIES)].code,
        "description": f"基准举报{k:06d}：厂区东侧储罐围堰破损，夜间有明显的油气味，已持续数日",
        "divisionCode": division,
        "location": {"lat": 32.0 + (k % 100) / 100, "lon": 118.7 + (k % 100) / 100},
        "address": f"某工业园区{k % 50 + 1}号",
        "observedAt": observed.isoformat(),
        "photos": photos,
        "contact": {"name": "李四", "mobile": f"139{k % 100_000_000:08d}"} if named else None,
        "subject": "某某化工有限公司" if k % 2 == 0 else None,
        "pow": proof,
    }


@dataclass
class Submitted:
    """What one phase of submissions did, on the client's clock."""

    receipts: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)  # the whole submission
    photo_ms: list[float] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)
    first_refusal: str | None = None
    wall_s: float = 0.0

    def refuse(self, what: str, status: int | str, text: str) -> None:
        key = f"{what} {status}"
        self.refused[key] = self.refused.get(key, 0) + 1
        self.first_refusal = self.first_refusal or f"{key}: {text[:300]}"


async def _submit_all(
    url: str,
    proofs: list[dict[str, str]],
    photo: bytes | None,
    clients: int,
    first: int,
    divisions: list[str],
    fresh: Any,
) -> Submitted:
    done = Submitted()
    pending: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(proofs)):
        pending.put_nowait(i)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def one(client: httpx.AsyncClient, i: int) -> None:
        k = first + i
        proof = proofs[i]
        forwarded = {"X-Forwarded-For": address_of(k)}
        started = time.perf_counter()
        keys: list[str] = []
        if photo is not None:
            answer = await client.post(
                PHOTOS,
                content=photo,
                headers={
                    **forwarded,
                    "Content-Type": "image/jpeg",
                    "X-Anjian-PoW": f"{proof['challenge']}:{proof['nonce']}",
                },
            )
            if answer.status_code != 201:
                done.refuse("photo", answer.status_code, answer.text)
                return
            keys.append(answer.json()["photo"])
            done.photo_ms.append(1000 * (time.perf_counter() - started))
        body = report_body(k, proof, divisions[k % len(divisions)], keys)
        answer = await client.post(REPORTS, json=body, headers=forwarded)
        if answer.status_code != 201:
            done.refuse("report", answer.status_code, answer.text)
            return
        done.latencies_ms.append(1000 * (time.perf_counter() - started))
        receipt = answer.json()["receipt"]
        done.receipts.append(receipt)
        fresh.put(receipt)

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                i = pending.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                await one(client, i)
            except httpx.HTTPError as exc:
                done.refuse("transport", type(exc).__name__, str(exc))

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        done.wall_s = time.perf_counter() - started
    return done


# --- tracking --------------------------------------------------------------------------------


@dataclass
class Tracked:
    latencies_ms: list[float] = field(default_factory=list)
    known: int = 0  # reports of the store tracked
    fresh: int = 0  # reports submitted during the phase tracked
    errors: int = 0
    first_error: str | None = None


def _track(
    url: str,
    known: list[tuple[str, str]],
    fresh: Any,
    stop: EventType,
    ready: EventType,
    rate: float,
    out: Any,
) -> None:
    """Track receipts at ``rate`` per second until ``stop`` (``ready`` once the first answer
    came); put a ``Tracked`` on ``out``."""
    rng = random.Random(11)
    recent: list[str] = []
    found = Tracked()

    def error(text: str) -> None:
        found.errors += 1
        found.first_error = found.first_error or text[:300]

    period = 1.0 / rate
    with httpx.Client(base_url=url, timeout=60) as client:
        due = time.perf_counter()
        turn = 0
        while not stop.is_set():
            while True:
                try:
                    recent.append(fresh.get_nowait())
                except queue.Empty:
                    break
            turn += 1
            if turn % 2 == 0 and recent:
                code, expected = recent[-1 - rng.randrange(min(len(recent), 200))], "RECEIVED"
                found.fresh += 1
            else:
                code, expected = rng.choice(known)
                found.known += 1
            started = time.perf_counter()
            try:
                answer = client.get(f"{REPORTS}/{code}")
            except httpx.HTTPError as exc:
                error(f"{type(exc).__name__}: {exc}")
                ready.set()
                continue
            found.latencies_ms.append(1000 * (time.perf_counter() - started))
            ready.set()
            if answer.status_code != 200:
                error(f"{code}: {answer.status_code} {answer.text}")
            else:
                body = answer.json()
                if set(body) != TRACKED_KEYS or body["receipt"] != code:
                    error(f"{code}: unexpected answer {answer.text}")
                elif body["status"] != expected or not body["timeline"]:
                    error(f"{code}: status {body['status']}, expected {expected}")
            due += period
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            else:
                due = time.perf_counter()
    out.put(found)


class Tracking:
    """``with Tracking(url, known, rate) as tracking:`` tracks in a child process while the
    block runs; ``tracking.fresh`` takes receipts as they are issued; ``tracking.result``
    afterwards."""

    def __init__(self, url: str, known: list[tuple[str, str]], rate: float) -> None:
        self.fresh = _SPAWN.Queue()
        self._stop = _SPAWN.Event()
        self._ready = _SPAWN.Event()
        self._out = _SPAWN.Queue()
        self._process = _SPAWN.Process(
            target=_track,
            args=(url, known, self.fresh, self._stop, self._ready, rate, self._out),
        )
        self.result = Tracked()

    def __enter__(self) -> Tracking:
        self._process.start()
        # The tracker imports and connects first: the phase starts once it is tracking.
        if not self._ready.wait(timeout=120):
            self._stop.set()
            self._process.kill()
            raise BenchmarkFailed("the tracking process did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        try:
            self.result = self._out.get(timeout=120)
        finally:
            self._process.join(timeout=30)
            if self._process.is_alive():
                self._process.kill()


def submit_phase(
    url: str,
    proofs: list[dict[str, str]],
    photo: bytes | None,
    clients: int,
    first: int,
    divisions: list[str],
    known: list[tuple[str, str]],
    track_rate: float,
) -> tuple[Submitted, Tracked]:
    """Every proof spent on one submission (with ``photo`` when given), ``clients`` at a time,
    submission ``first + i`` from ``address_of(first + i)``; tracked meanwhile."""
    with Tracking(url, known, track_rate) as tracking:
        submitted = asyncio.run(
            _submit_all(url, proofs, photo, clients, first, divisions, tracking.fresh)
        )
    return submitted, tracking.result

"""The world keeps reporting while the regulators query.

A province's devices do not fall silent because someone opens the overview: every healthy
device of the world posts its sensors' readings once a ``period_s`` over the device API
(``POST /api/v1/telemetry`` with ``device_token``), each at its own moment of the period, so
the server measures under the ingest a province makes (at scale 1, 10,000 batches a minute,
about 1,650 readings a second) and no device or sensor goes offline or stale while the
queries run. The world's unhealthy points stay as the build left them: the silent devices
and stale sensors post nothing, flat sensors repeat their value and saturated ones stay at
the top of their range.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

import httpx

from backend.bench.oversight.world import PlannedDevice, World, device_token, kind_range

FLAT_VALUE = 25.0


@dataclass
class FeedFigures:
    period_s: float
    devices: int
    batches: int
    readings: int
    refused: int  # answers other than 202, and requests that failed
    first_refusal: str | None
    # How late the latest post of a round was, at worst: above the period, devices would
    # have looked offline for a moment.
    worst_lag_s: float


class Feed:
    """``with Feed(url, world):`` the world's healthy devices report until the block ends;
    ``figures()`` afterwards."""

    def __init__(self, url: str, world: World, period_s: float = 60.0, workers: int = 4) -> None:
        self.url = url
        self.period_s = period_s
        self.devices = [d for _site, d in world.devices if not d.offline]
        self.high = kind_range()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._report, args=(self.devices[k::workers],), daemon=True)
            for k in range(workers)
        ]
        self._batches = self._readings = self._refused = 0
        self._first_refusal: str | None = None
        self._worst_lag = 0.0

    def __enter__(self) -> Feed:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def figures(self) -> FeedFigures:
        with self._lock:
            return FeedFigures(
                period_s=self.period_s,
                devices=len(self.devices),
                batches=self._batches,
                readings=self._readings,
                refused=self._refused,
                first_refusal=self._first_refusal,
                worst_lag_s=round(self._worst_lag, 2),
            )

    def _report(self, devices: list[PlannedDevice]) -> None:
        if not devices:
            return
        rng = random.Random(len(devices))
        step = self.period_s / len(devices)
        with httpx.Client(base_url=self.url, timeout=30) as client:
            round_start = time.monotonic()
            while not self._stop.is_set():
                for i, device in enumerate(devices):
                    due = round_start + i * step
                    if self._stop.wait(max(0.0, due - time.monotonic())):
                        return
                    self._post(client, device, rng)
                    lag = time.monotonic() - due
                    if lag > self._worst_lag:
                        self._worst_lag = lag
                round_start += self.period_s

    def _post(self, client: httpx.Client, device: PlannedDevice, rng: random.Random) -> None:
        ts = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        readings = [
            {"sensor": s.code, "ts": ts, "value": self._value(s.flat, s.out_of_range, rng)}
            for s in device.sensors
            if not s.stale
        ]
        try:
            response = client.post(
                "/api/v1/telemetry",
                json={"batch_id": str(uuid.uuid4()), "readings": readings},
                headers={"Authorization": f"Bearer {device_token(device)}"},
            )
            refusal = None
            if response.status_code != 202:
                refusal = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            refusal = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._batches += 1
            if refusal is None:
                self._readings += len(readings)
            else:
                self._refused += 1
                self._first_refusal = self._first_refusal or refusal

    def _value(self, flat: bool, saturated: bool, rng: random.Random) -> float:
        if flat:
            return FLAT_VALUE
        if saturated:
            return self.high
        return round(20.0 + rng.gauss(0.0, 1.5), 2)

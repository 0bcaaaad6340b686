"""Per-site ingest quotas: a token bucket of readings refilled at the plan's rate per minute."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[uuid.UUID, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, site_id: uuid.UUID, count: int, per_minute: int) -> float:
        """Take ``count`` readings from the site's bucket; 0 when allowed, else the seconds to
        wait before the same request would fit (for ``Retry-After``)."""
        rate = per_minute / 60.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(site_id)
            if bucket is None:
                bucket = self._buckets[site_id] = _Bucket(float(per_minute), now)
            bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if count <= bucket.tokens:
                bucket.tokens -= count
                return 0.0
            if count > per_minute:
                return 60.0  # never fits: the client must send smaller batches
            return max(1.0, math.ceil((count - bucket.tokens) / rate))

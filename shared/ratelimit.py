"""Token buckets, one per key, in this process: how the HTTP API bounds what one tenant makes it do.

Who calls it: shared.api's dispatch, for the routes marked `limited` (pull, sync, plan) and tenant
callers only, keyed by tenant id (every identity of a tenant shares its bucket). A bucket holds at most
`burst` tokens and gains `per_minute` tokens a minute; each request takes one, or is refused with the
seconds until one is there. Per instance: the Function App may run several instances, each with its own
buckets, so a tenant's ceiling is the limit times the instance count (docs/security.md). Pure apart
from the clock; thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 10_000  # buckets kept; beyond it, full (idle) buckets are forgotten: a full bucket is no bucket


@dataclass(frozen=True)
class Bucket:
    tokens: float
    stamp: float  # the clock when `tokens` was counted


class RateLimiter:
    def __init__(self, *, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0  # tokens per second; 0: no limit
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token for `key`: 0.0 if there was one, else the seconds until there will be one."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            tokens = self._tokens(key, now)
            if tokens >= 1.0:
                self._buckets[key] = Bucket(tokens - 1.0, now)
                self._forget_idle(now)
                return 0.0
            self._buckets[key] = Bucket(tokens, now)
            return (1.0 - tokens) / self.rate

    def _tokens(self, key: str, now: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            return self.burst
        return min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) <= MAX_KEYS:
            return
        for key in [key for key in self._buckets if self._tokens(key, now) >= self.burst]:
            del self._buckets[key]

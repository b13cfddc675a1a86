"""The token buckets of shared.ratelimit, on a fake clock."""

from __future__ import annotations

import pytest

from shared import ratelimit
from shared.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_token_per_interval_per_key() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=6, burst=3, clock=clock)  # one token every 10 s

    assert [limiter.take("contoso") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("contoso") == pytest.approx(10.0)
    assert limiter.take("northwind") == 0.0  # a bucket of its own
    clock.now = 4.0
    assert limiter.take("contoso") == pytest.approx(6.0)  # refused requests take nothing
    clock.now = 10.0
    assert limiter.take("contoso") == 0.0
    assert limiter.take("contoso") == pytest.approx(10.0)
    clock.now = 1000.0  # a long quiet spell refills to the burst, not beyond
    assert [limiter.take("contoso") for _ in range(4)][-1] == pytest.approx(10.0)


def test_zero_per_minute_switches_the_limit_off() -> None:
    limiter = RateLimiter(per_minute=0, burst=1, clock=Clock())
    assert {limiter.take("contoso") for _ in range(100)} == {0.0}


def test_idle_buckets_are_forgotten_beyond_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 10)
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=1, clock=clock)
    for index in range(10):
        limiter.take(f"t{index}")
    clock.now = 5.0  # all full again
    limiter.take("busy")
    assert len(limiter._buckets) == 1  # only the bucket just used is kept

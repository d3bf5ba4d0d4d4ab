from __future__ import annotations

import threading
import time

import pytest

from channels.ratelimit import RateLimiter


class FakeClock:
    """A clock that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_a_full_bucket_gives_its_burst_at_once_then_one_token_per_interval():
    clock = FakeClock()
    limiter = RateLimiter(10, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
    assert clock.sleeps == []
    limiter.acquire()
    limiter.acquire()
    assert clock.sleeps == [0.1, 0.1]


def test_tokens_come_back_with_time_up_to_the_burst():
    clock = FakeClock()
    limiter = RateLimiter(2, burst=2, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.acquire()
    clock.now += 60  # a long idle time refills only the burst
    for _ in range(2):
        limiter.acquire()
    limiter.acquire()
    assert clock.sleeps == [0.5]


def test_an_acquire_that_would_wait_past_its_timeout_takes_nothing():
    clock = FakeClock()
    limiter = RateLimiter(1, burst=1, clock=clock, sleep=clock.sleep)
    assert limiter.acquire()
    assert limiter.acquire(timeout=0.5) is False
    assert limiter.acquire(timeout=1.0) is True
    assert clock.sleeps == [1.0]


def test_a_pause_holds_every_token_back_for_the_given_time():
    clock = FakeClock()
    limiter = RateLimiter(10, burst=10, clock=clock, sleep=clock.sleep)
    limiter.pause(3.0)
    limiter.acquire()
    assert clock.sleeps == [3.0]


def test_nonsense_settings_are_refused():
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(5, burst=0)


def test_threads_sharing_a_limiter_stay_within_its_rate():
    limiter = RateLimiter(50, burst=5)
    started = time.monotonic()
    stamps: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic() - started)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 20 tokens, 5 at once, then 15 at 50 per second: at least 0.3 s.
    assert len(stamps) == 20
    assert max(stamps) >= 0.3 * 0.95

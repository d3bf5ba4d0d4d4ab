"""A thread-safe token bucket shared by the worker threads of one adapter.

Callers reserve their token under the lock and sleep outside it, so waiting threads are served in
the order they asked and the lock is never held while sleeping. The bucket may go below zero:
that debt is the queue of callers already promised a slot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(
        self,
        rate_per_second: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = float(rate_per_second)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def acquire(self, tokens: int = 1, *, timeout: float | None = None) -> bool:
        """Wait for `tokens`; False (nothing taken) when the wait would exceed `timeout`."""
        if tokens > self.burst:
            raise ValueError("cannot take more tokens than the burst size at once")
        with self._lock:
            self._refill(self._clock())
            wait = max(0.0, (tokens - self._tokens) / self.rate)
            if timeout is not None and wait > timeout:
                return False
            self._tokens -= tokens
        if wait > 0:
            self._sleep(wait)
        return True

    def pause(self, seconds: float) -> None:
        """Hand out no token for `seconds` (a provider said 429: every thread backs off, not one).

        The next token is then available exactly `seconds` from now.
        """
        if seconds <= 0:
            return
        with self._lock:
            self._refill(self._clock())
            self._tokens = min(self._tokens, 1.0 - seconds * self.rate)

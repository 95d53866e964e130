"""A client-side rolling-window rate limiter, so a run stays under an API's limits by itself.

Waiting before a call is cheaper than being told "429" after it: the API counts refused
calls against nobody, but the connector loses a round trip and a back-off each time.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most `max_calls` calls start in any rolling window of `period` seconds.

    Thread-safe: each `acquire()` reserves the earliest start time that keeps the window
    under the limit, then sleeps (outside the lock) until that time. Reservations are
    handed out in call order, so waiting callers are served first come, first served.
    """

    def __init__(
        self,
        max_calls: int,
        period: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if max_calls < 1:
            raise ValueError(f"max_calls must be at least 1, got {max_calls}")
        if period <= 0:
            raise ValueError(f"period must be positive, got {period}")
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # Start times of the last `max_calls` calls (some may lie in the near future).
        self._starts: deque[float] = deque(maxlen=max_calls)

    def acquire(self) -> float:
        """Block until a call may start; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            start = now
            if len(self._starts) == self.max_calls:
                # The call `max_calls` back must have left the window before this one starts.
                start = max(now, self._starts[0] + self.period)
            if self._starts:
                start = max(start, self._starts[-1])
            self._starts.append(start)
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return max(wait, 0.0)

    def __enter__(self) -> RateLimiter:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        return None

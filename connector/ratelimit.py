"""Client-side rate limits, so a run stays under an API's limits by itself.

Waiting before a call is cheaper than being told "429" after it: the API counts refused
calls against nobody, but the connector loses a round trip and a back-off each time.

* `RateLimiter`: at most N calls in any rolling window (HubSpot's 100 per 10 s; an even
  spacing with N = 1);
* `TokenBucket`: bursts up to a capacity, then a steady rate (Saber's published limits);
* `QuotaFollower`: follows what the API's answers say is left of its quota, for the calls
  the client cannot see (another replica with the same key, a lower limit than configured).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from connector.http_policy import parse_retry_after

# A reset header above these is a Unix time (in seconds, or milliseconds), not seconds from now.
EPOCH_FLOOR = 1_000_000_000
EPOCH_MS_FLOOR = 1_000_000_000_000


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


class TokenBucket:
    """Up to `burst` calls at once, then `per_minute` a minute: a token bucket, as APIs publish limits.

    The bucket holds `burst` tokens and gains `per_minute / 60` a second; each call takes one.
    Thread-safe, in the style of `RateLimiter`: `acquire()` takes its token under the lock,
    going into debt when the bucket is empty, and sleeps (outside the lock) until the debt
    is paid off, so waiting callers are served first come, first served, one refill apart.
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not per_minute > 0:
            raise ValueError(f"per_minute must be positive, got {per_minute}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.per_minute = per_minute
        self.burst = burst
        self.rate = per_minute / 60.0  # tokens a second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)  # negative: calls already promised a start in the future
        self._at = clock()

    def available(self) -> float:
        """Tokens in the bucket now (negative while callers wait for theirs)."""
        with self._lock:
            self._refill(self._clock())
            return self._tokens

    def acquire(self) -> float:
        """Block until a call may start; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def _refill(self, now: float) -> None:
        self._tokens = min(float(self.burst), self._tokens + max(0.0, now - self._at) * self.rate)
        self._at = max(self._at, now)

    def __enter__(self) -> TokenBucket:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class QuotaFollower:
    """Slows calls down when the API says its quota is nearly used up, instead of meeting its 429s.

    An API's answers say how many calls it still allows (`remaining`) and in how many seconds
    the quota is back (`reset_in`); `update()` is told both after every answer. The follower
    reads them as "`remaining` more calls before `reset_in` seconds from now; after that,
    more": true whether the API counts a fixed window, or refills a bucket and means by reset
    the time it is full again (then it is merely cautious). While more than `low_water` calls
    remain it does nothing. At or below it, the remaining calls are spread evenly until the
    reset, and at none left the next call waits for the reset, so the quota runs out exactly
    when it comes back. Calls sent but not yet answered are counted against what an answer
    reports (the API may not have seen them when it counted). No single wait exceeds
    `max_wait`: a reset far away (or nonsense) cannot hold a caller longer than that.

    Thread-safe. Each waiting caller holds a slot; when a newer answer arrives its slot is
    recomputed from that answer (a caller sleeps at most `recheck` seconds at a time), so an
    answer that says the quota is back releases the waiters without their sleeping out the
    old plan. Every `acquire()` must be followed by one `update()` (an answer, with or
    without the headers) or `release()` (no answer).
    """

    def __init__(
        self,
        *,
        low_water: int = 5,
        max_wait: float = 60.0,
        recheck: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if low_water < 0:
            raise ValueError(f"low_water must not be negative, got {low_water}")
        if not max_wait > 0 or not recheck > 0:
            raise ValueError("max_wait and recheck must be positive")
        self.low_water = low_water
        self.max_wait = max_wait
        self.recheck = recheck
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._remaining: int | None = None  # calls the API still allows before _reset_at (None: unknown)
        self._reset_at = 0.0
        self._next = 0.0  # the latest slot handed out while pacing
        self._generation = 0  # bumped by every answer that carried the headers
        self._in_flight = 0  # calls started and not yet answered
        self.slowed = 0  # calls that waited because of what the API said
        self.waited = 0.0  # seconds those calls waited, in all

    def acquire(self) -> float:
        """Block until the API's last word allows a call; returns the seconds waited."""
        self._lock.acquire()
        try:
            started = now = self._clock()
            slot = self._slot(now)
            generation = self._generation
            while slot > now and now - started < self.max_wait:
                pause = min(slot - now, self.recheck, self.max_wait - (now - started))
                self._lock.release()
                try:
                    self._sleep(pause)
                finally:
                    self._lock.acquire()
                now = self._clock()
                if self._generation != generation:  # a newer answer: plan again from it
                    slot = self._slot(now)
                    generation = self._generation
            self._in_flight += 1
            waited = max(0.0, now - started)
            if waited > 0:
                self.slowed += 1
                self.waited += waited
            return waited
        finally:
            self._lock.release()

    def _slot(self, now: float) -> float:
        """When this call may start; reserves it (one call fewer remaining). Caller holds the lock."""
        if self._remaining is None or now >= self._reset_at:
            self._remaining = None  # the quota is back (or was never reported): no constraint
            return now
        left = self._remaining
        self._remaining = left - 1
        if left > self.low_water:
            return now
        base = max(now, self._next)
        if left <= 0 or base >= self._reset_at:
            start = self._reset_at
        else:
            start = base + (self._reset_at - base) / (left + 1)
        self._next = start
        return start

    def update(self, remaining: int | None, reset_in: float | None) -> None:
        """An answer arrived: what its headers say is left (None: they said nothing) and when it is back."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if remaining is None:
                return
            now = self._clock()
            wait = self.max_wait if reset_in is None else reset_in
            if not math.isfinite(wait):
                wait = self.max_wait
            self._remaining = remaining - self._in_flight
            self._reset_at = now + min(max(0.0, wait), self.max_wait)
            self._next = now
            self._generation += 1

    def release(self) -> None:
        """A call ended with no answer (nothing was learned)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    @property
    def remaining(self) -> int | None:
        """Calls the API still allows before its reset, as last reported less what was sent since."""
        with self._lock:
            if self._remaining is None or self._clock() >= self._reset_at:
                return None
            return self._remaining


def parse_count(value: str | None) -> int | None:
    """A rate-limit header's count (`"42"`, `"42.0"`), or None when absent or not a number."""
    if value is None or not value.strip():
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return max(0, int(number)) if math.isfinite(number) else None


def parse_reset(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds until a quota is back, from a reset header in any of the spellings APIs use.

    Seconds from now (`"30"`, `"0.25"`), a Unix time in seconds (above 10^9, i.e. after 2001)
    or milliseconds (above 10^12), or an HTTP date; never negative. None when absent or
    unreadable. `now` is the current Unix time (default: the system clock).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        return parse_retry_after(text)
    if not math.isfinite(number):
        return None
    if number > EPOCH_MS_FLOOR:
        number = number / 1000.0 - (time.time() if now is None else now)
    elif number > EPOCH_FLOOR:
        number -= time.time() if now is None else now
    return max(0.0, number)

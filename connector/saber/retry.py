"""When a Saber call is tried again, and how long to wait first.

Two separate pieces, as in the Airbyte CDK's error handlers: `action_for` is the status →
action table (a pure lookup), and `Backoff` turns an action into a wait. `retrying` wires
both into a tenacity `Retrying` so no call site writes its own loop.

On server-asked waits: a 429's `retryAfter` (body) or `Retry-After` (header) is obeyed as
given, plus up to 10% jitter so a pool of workers throttled together does not return
together. The wait is capped at `max_backoff`, the operator's bound on how long one call
may hold a worker: when the server asks for more than that we still wait the full
`max_backoff` (never less, since an early retry is sure to be throttled again) and let the
attempt budget decide; the server's next 429 then asks for the remainder.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from connector.saber.errors import SaberError, SaberUnavailable

Action = Literal["retry_after", "backoff", "fail"]

# Statuses that a retry may cure; everything else in 4xx is the caller's problem.
_BACKOFF_STATUSES = frozenset({408, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})


def action_for(status: int | None) -> Action:
    """The table: 429 → wait as told; 5xx, 408 and no answer at all → back off; else fail."""
    if status is None:
        return "backoff"
    if status == 429:
        return "retry_after"
    if status in _BACKOFF_STATUSES or (500 <= status < 600 and status not in (501, 505)):
        return "backoff"
    return "fail"


def action_for_error(exc: BaseException) -> Action:
    """The action for a raised error; transport failures carry no status (SaberUnavailable)."""
    if not isinstance(exc, SaberError):
        return "fail"
    if exc.status is None and not isinstance(exc, SaberUnavailable):
        return "fail"  # a request that could not even be built (bad URL, ...)
    return action_for(exc.status)


@dataclass
class Backoff:
    """Waits: capped exponential with jitter, or the server's own hint (capped, see module doc)."""

    base: float = 0.5
    cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def exponential(self, attempt: int) -> float:
        """Equal jitter: half the capped exponential step, plus up to the other half at random."""
        ceiling = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def wait_for(self, exc: BaseException | None, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based) ended with `exc`."""
        hint = exc.retry_after if isinstance(exc, SaberError) else None
        action = action_for_error(exc) if exc is not None else "backoff"
        if action == "retry_after" and hint is not None:
            return min(hint * (1 + 0.1 * self.rng.random()), self.cap)
        wait = self.exponential(attempt)
        if hint is not None:  # a 503 with Retry-After: never come back sooner than asked
            wait = max(wait, min(hint, self.cap))
        return wait


def retrying(
    max_attempts: int,
    backoff: Backoff,
    *,
    sleep: Callable[[float], None] = time.sleep,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> Retrying:
    """A tenacity `Retrying` that re-raises the last parsed error once attempts run out."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return backoff.wait_for(exc, state.attempt_number)

    return Retrying(
        stop=stop_after_attempt(max(1, max_attempts)),
        wait=wait,
        retry=retry_if_exception(lambda exc: action_for_error(exc) != "fail"),
        reraise=True,
        sleep=sleep,
        before_sleep=before_sleep,
    )

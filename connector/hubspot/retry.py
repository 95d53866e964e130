"""When to retry a HubSpot call, and how long to wait: a small table and a separate back-off.

`classify` is the whole policy (status/condition -> action), kept apart from the waiting
so that it can be read and tested on its own, as in Airbyte's CDK error handlers.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from connector.hubspot.errors import DailyLimitReached, HubSpotError

# How long a rate-limit window lasts when HubSpot does not say (no Retry-After, no header).
POLICY_WINDOWS = {"SECONDLY": 1.0, "TEN_SECONDLY_ROLLING": 10.0}
DEFAULT_WINDOW = 10.0
RETRY_STATUSES = frozenset({408, 423, 425})  # timeouts and HubSpot's "record locked, try again"


class Action(enum.Enum):
    RETRY = "retry"  # transient failure: exponential back-off with jitter
    WAIT_WINDOW = "wait_window"  # rate limited: wait for the window to pass, then retry
    FAIL = "fail"  # retrying cannot help


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str
    wait: float | None = None  # for WAIT_WINDOW: seconds until the window has passed


def classify(exc: BaseException) -> Verdict:
    """The table: what a failed call's error means for the next attempt."""
    if not isinstance(exc, HubSpotError):
        return Verdict(Action.FAIL, f"unexpected {type(exc).__name__}")
    if isinstance(exc, DailyLimitReached):
        return Verdict(Action.FAIL, "daily limit used up")
    if exc.transport:
        return Verdict(Action.RETRY, "transport error")
    status = exc.status or 0
    if status == 429:
        return Verdict(
            Action.WAIT_WINDOW, f"rate limited ({exc.policy_name or 'unknown policy'})", _window(exc)
        )
    if status >= 500 or status in RETRY_STATUSES:
        return Verdict(Action.RETRY, f"HubSpot answered {status}")
    return Verdict(Action.FAIL, f"HubSpot answered {status}")


def _window(exc: HubSpotError) -> float:
    """Seconds to wait out a rate limit: Retry-After, else the window HubSpot reports, else its policy's."""
    if exc.retry_after is not None:
        return exc.retry_after
    if exc.interval_ms:
        return exc.interval_ms / 1000
    return POLICY_WINDOWS.get(exc.policy_name or "", DEFAULT_WINDOW)


def retrying(
    *,
    max_attempts: int,
    min_backoff: float,
    max_backoff: float,
    before_sleep: Callable[[RetryCallState], Any] | None = None,
) -> Retrying:
    """A tenacity `Retrying` that follows `classify`, waiting at most `max_backoff` each time."""
    backoff = wait_random_exponential(multiplier=min_backoff, max=max_backoff)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        verdict = classify(exc) if exc else Verdict(Action.RETRY, "")
        if verdict.action is Action.WAIT_WINDOW and verdict.wait is not None:
            return min(verdict.wait, max_backoff)
        return backoff(state)

    return Retrying(
        retry=retry_if_exception(lambda exc: classify(exc).action is not Action.FAIL),
        stop=stop_after_attempt(max_attempts),
        wait=wait,
        before_sleep=before_sleep,
        reraise=True,
    )

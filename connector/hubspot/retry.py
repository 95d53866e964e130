"""Which HubSpot failures are worth another attempt: the classification table, and nothing else.

The waiting, the attempt budget, the counters and the logs are the shared call policy's
(`connector.http_policy`); this module only says what each HubSpot answer means, and what
its errors are called in the shared log lines.
"""

from __future__ import annotations

from connector.http_policy import Action, ErrorFacts, Verdict
from connector.hubspot.errors import DailyLimitReached, HubSpotError
from connector.hubspot.limits import DEFAULT_WINDOW, POLICY_WINDOWS

RETRY_STATUSES = frozenset({408, 423, 425})  # timeouts and HubSpot's "record locked, try again"


def classify(exc: BaseException) -> Verdict:
    """The table: what a failed call's error means for the next attempt."""
    if not isinstance(exc, HubSpotError):
        return Verdict(Action.FAIL, f"unexpected {type(exc).__name__}")
    if isinstance(exc, DailyLimitReached):
        return Verdict(Action.FAIL, "daily limit used up")
    if exc.transport:
        return Verdict(Action.BACKOFF, "transport error")
    status = exc.status or 0
    if status == 429:
        return Verdict(
            Action.RETRY_AFTER, f"rate limited ({exc.policy_name or 'unknown policy'})", _window(exc)
        )
    if status >= 500 or status in RETRY_STATUSES:
        return Verdict(Action.BACKOFF, f"HubSpot answered {status}", exc.retry_after)
    return Verdict(Action.FAIL, f"HubSpot answered {status}")


def _window(exc: HubSpotError) -> float:
    """Seconds to wait out a rate limit: Retry-After, else the window HubSpot reports, else its policy's."""
    if exc.retry_after is not None:
        return exc.retry_after
    if exc.interval_ms:
        return exc.interval_ms / 1000
    return POLICY_WINDOWS.get(exc.policy_name or "", DEFAULT_WINDOW)


def facts(exc: BaseException) -> ErrorFacts:
    """HubSpot's category and correlation id, under the shared log fields' names (code, request_id)."""
    if not isinstance(exc, HubSpotError):
        return ErrorFacts(None, None, None, str(exc))
    return ErrorFacts(exc.status, exc.category, exc.correlation_id, exc.message)

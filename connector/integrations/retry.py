"""Which account-group API failures are worth another attempt: the classification table, and nothing else.

The waiting, the attempt budget, the counters and the logs are the shared call policy's
(`connector.http_policy`); this module only says what each answer means. A start (a job, a
scan) is retried like any call: it carries the caller's `Idempotency-Key`, and the API answers
a repeat with the job or scan it already started (`200`, replayed) instead of starting another.
"""

from __future__ import annotations

from connector.http_policy import TLS_FAILED, Action, Verdict
from connector.integrations.errors import IntegrationsError, IntegrationsUnavailable


def action_for(status: int | None) -> Action:
    """The table: 429 -> wait as told (Retry-After, else a default); 5xx, 408, no answer -> back off."""
    if status is None:
        return Action.BACKOFF
    if status == 429:
        return Action.RETRY_AFTER
    if status == 408 or (500 <= status < 600 and status not in (501, 505)):
        return Action.BACKOFF
    return Action.FAIL


def classify(exc: BaseException) -> Verdict:
    """The verdict for a raised error; transport failures carry no status (IntegrationsUnavailable)."""
    if not isinstance(exc, IntegrationsError):
        return Verdict(Action.FAIL, f"unexpected {type(exc).__name__}")
    if exc.status is None and not isinstance(exc, IntegrationsUnavailable):
        return Verdict(Action.FAIL, "the request could not be sent")
    if (exc.transport_reason or "").startswith(TLS_FAILED):  # a certificate stays wrong
        return Verdict(Action.FAIL, "TLS failed")
    reason = "transport error" if exc.status is None else f"the integrations API answered {exc.status}"
    return Verdict(action_for(exc.status), reason, exc.retry_after)

"""Which Saber failures are worth another attempt: the classification table, and nothing else.

The waiting, the attempt budget, the counters and the logs are the shared call policy's
(`connector.http_policy`); this module only says what each Saber answer means.
"""

from __future__ import annotations

from connector.http_policy import TLS_FAILED, Action, Verdict
from connector.saber.errors import SaberError, SaberUnavailable

# Statuses that a retry may cure; everything else in 4xx is the caller's problem.
_BACKOFF_STATUSES = frozenset({408, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})


def action_for(status: int | None) -> Action:
    """The table: 429 → wait as told; 5xx, 408 and no answer at all → back off; else fail."""
    if status is None:
        return Action.BACKOFF
    if status == 429:
        return Action.RETRY_AFTER
    if status in _BACKOFF_STATUSES or (500 <= status < 600 and status not in (501, 505)):
        return Action.BACKOFF
    return Action.FAIL


def classify(exc: BaseException) -> Verdict:
    """The verdict for a raised error; transport failures carry no status (SaberUnavailable)."""
    if not isinstance(exc, SaberError):
        return Verdict(Action.FAIL, f"unexpected {type(exc).__name__}")
    if exc.status is None and not isinstance(exc, SaberUnavailable):
        return Verdict(Action.FAIL, "the request could not be sent")  # a bad URL, ...
    if (exc.transport_reason or "").startswith(TLS_FAILED):  # as for HubSpot: a certificate stays wrong
        return Verdict(Action.FAIL, "TLS failed")
    reason = "transport error" if exc.status is None else f"Saber answered {exc.status}"
    return Verdict(action_for(exc.status), reason, exc.retry_after)

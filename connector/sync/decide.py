"""What a contact needs this run, from its state and its current inputs: a pure function."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from connector.mapping import InputsResult
from connector.state import ContactState

Action = Literal["skip", "launch", "wait", "write"]

# Saber failures that another try cannot fix (until the inputs change). Configurable.
PERMANENT_FAILURES = frozenset(
    {"CONTACT_NOT_FOUND", "NOT_FOUND", "VALIDATION_ERROR", "BAD_REQUEST", "INVALID_INPUT", "REJECTED"}
)


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed research is tried again: transient failures only, backing off."""

    max_failures: int = 3
    first_delay: timedelta = timedelta(hours=1)
    permanent: frozenset[str] = PERMANENT_FAILURES

    def retry_at(self, state: ContactState) -> datetime | None:
        """When the failed research may be launched again, or None for never."""
        if (state.research_error_code or "") in self.permanent:
            return None
        if state.failure_count >= self.max_failures:
            return None
        failed_at = state.completed_at or state.checked_at or state.launched_at
        if failed_at is None:
            return None
        return failed_at + self.first_delay * (2 ** max(0, state.failure_count - 1))


@dataclass(frozen=True)
class Decision:
    """The action for one contact and a short machine-readable reason."""

    action: Action
    reason: str
    detail: str = ""


def decide(
    state: ContactState | None,
    inputs: InputsResult,
    *,
    now: datetime,
    refresh_after_days: int | None,
    retry: RetryPolicy,
) -> Decision:
    """Decide whether a contact is skipped, researched, waited for, or just written."""
    if inputs.inputs is None:
        return Decision("skip", "invalid_inputs", inputs.skip_reason or "required inputs missing")
    if state is None or not state.research_status or state.research_status == "none":
        return Decision("launch", "new")
    if state.research_status == "processing":
        if state.fingerprint != inputs.fingerprint:
            # A research for older inputs is still running; launch for the new ones.
            return Decision("launch", "inputs_changed")
        return Decision("wait", "pending")
    if state.fingerprint != inputs.fingerprint:
        return Decision("launch", "inputs_changed")
    if state.research_status == "failed":
        when = retry.retry_at(state)
        if when is not None and now >= when:
            return Decision("launch", "retry_failed", state.research_error_code or "")
        return Decision("write", "failed", state.research_error_code or "")
    if (
        refresh_after_days is not None
        and state.completed_at is not None
        and now - state.completed_at >= timedelta(days=refresh_after_days)
    ):
        return Decision("launch", "stale")
    return Decision("write", "current")

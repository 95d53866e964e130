"""The Saber sandbox's signals as Saber publishes them: created at once, processed over time.

A signal the sandbox creates (through the sync or asynchronous create, or a batch) is
`processing` until its due time, then `completed` (or `failed` with an `errorCode`), its
status derived from the clock whenever it is read, as the sandbox's research is. A signal
stored whole (`add`, a fixture or a subscription execution) is shown as stored. This
module keeps the records and their views; `connector.sandbox.saber` answers HTTP with them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# Fields a processing signal shows (the docs' example of a processing signal: id, status,
# domain, question, createdAt); the answer and its evidence appear once it is done.
PROCESSING_FIELDS = (
    "id",
    "question",
    "answerType",
    "signalType",
    "domain",
    "contactProfileUrl",
    "createdAt",
    "verificationMode",
    "signalTemplateId",
    "weight",
)

# Signal failures, as the signal objects in the pages spell them (one permanent, one transient).
SIGNAL_FAILURES: dict[str, tuple[str, str | None]] = {
    "LINKEDIN_RATE_LIMIT_EXCEEDED": (
        "LinkedIn data is currently unavailable due to rate limits. Please try again later.",
        "Try again in 24 hours when rate limits reset.",
    ),
    "INSUFFICIENT_DATA": ("Not enough public information was found to answer the question.", None),
}


@dataclass
class SignalRecord:
    """One signal: the object it is once done (`data`), and when that is (`due`; None: as stored)."""

    data: dict[str, Any]
    scope: str  # "company" | "contact"
    subscription_id: str | None
    seq: int
    due: float | None = None
    failure: str | None = None  # an errorCode when it ends failed
    webhook_url: str | None = None
    webhook_sent: bool = False

    @property
    def id(self) -> str:
        return str(self.data["id"])

    def done(self, now: float) -> bool:
        return self.due is None or now >= self.due

    def view(self, now: float, iso: Callable[[float], str]) -> dict[str, Any]:
        """The signal as a GET shows it at `now`."""
        if self.due is None:
            return dict(self.data)
        if now < self.due:
            shown = {k: self.data[k] for k in PROCESSING_FIELDS if k in self.data}
            return {**shown, "status": "processing"}
        if self.failure is None:
            return {**self.data, "status": "completed", "completedAt": iso(self.due)}
        message, action = SIGNAL_FAILURES.get(self.failure, (f"Signal failed ({self.failure})", None))
        failed = {k: self.data[k] for k in PROCESSING_FIELDS if k in self.data}
        failed.update(
            status="failed",
            completedAt=iso(self.due),
            answer=None,
            error=message,
            errorCode=self.failure,
        )
        if action:
            failed["errorAction"] = action
        return failed


class SignalBook:
    """Every signal of the sandbox, oldest first; the caller holds the sandbox's lock."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._records: list[SignalRecord] = []
        self._by_id: dict[str, SignalRecord] = {}

    def __iter__(self) -> Iterator[SignalRecord]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def add(
        self,
        data: dict[str, Any],
        scope: str,
        *,
        subscription_id: str | None = None,
        due: float | None = None,
        failure: str | None = None,
        webhook_url: str | None = None,
    ) -> SignalRecord:
        record = SignalRecord(
            data=data,
            scope=scope,
            subscription_id=subscription_id,
            seq=len(self._records) + 1,
            due=due,
            failure=failure,
            webhook_url=webhook_url,
        )
        self._records.append(record)
        self._by_id[record.id] = record
        return record

    def get(self, signal_id: str) -> SignalRecord | None:
        return self._by_id.get(signal_id)

    def views(
        self, scope: str, wanted: Callable[[SignalRecord, dict[str, Any]], bool], iso: Callable[[float], str]
    ) -> list[dict[str, Any]]:
        """The views of `scope`'s signals that `wanted` keeps, latest first (createdAt, then arrival)."""
        now = self._clock()
        kept = [(r, v) for r in self._records if r.scope == scope and wanted(r, v := r.view(now, iso))]
        kept.sort(key=lambda rv: (str(rv[1].get("createdAt") or ""), rv[0].seq), reverse=True)
        return [v for _, v in kept]

    def make_due_now(self) -> list[SignalRecord]:
        """Every signal still processing becomes done now; returns those changed."""
        now = self._clock()
        changed = [r for r in self._records if r.due is not None and r.due > now]
        for record in changed:
            record.due = now
        return changed

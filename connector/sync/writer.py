"""Batched HubSpot writes whose landed values are remembered, property by property."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from connector.hubspot import HubSpotAdapter
from connector.hubspot.limits import MAX_BATCH
from connector.mapping import value_hash
from connector.state import StateStore
from connector.sync.failures import Failure, from_results
from connector.sync.summary import RunSummary


class BatchWriter:
    """Collects per-contact changes and sends them in batches of at most 100 contacts.

    After each batch, the hash of every value that landed is stored, so the next run can
    tell the connector's own values from a person's edits; what failed is recorded per
    contact and property (through `fail`, the run's one sink), and the rest of the batch
    still counts as written.
    """

    def __init__(
        self, hubspot: HubSpotAdapter, store: StateStore, summary: RunSummary, fail: Callable[[Failure], None]
    ):
        self._hubspot = hubspot
        self._store = store
        self._summary = summary
        self._fail = fail
        self._pending: dict[str, dict[str, str]] = {}
        self._since: float | None = None  # monotonic time the oldest queued change was added
        self._unsettled: dict[str, str] = {}  # contact -> why its result stays pending once written

    def add(self, contact_id: str, changes: Mapping[str, str], *, pending: str | None = None) -> None:
        """Queue the changes for one contact; sends a batch once 100 contacts are queued.

        `pending`: a reason the result is not done even when these values land (a signal
        still unanswered), kept as the contact's `write_pending` so a later run comes back.
        """
        if not changes:
            return
        if not self._pending:
            self._since = time.monotonic()
        self._pending.setdefault(contact_id, {}).update(changes)
        if pending is not None:
            self._unsettled[contact_id] = pending
        else:
            self._unsettled.pop(contact_id, None)
        if len(self._pending) >= MAX_BATCH:
            self.flush()

    def flush_older_than(self, seconds: float) -> None:
        """Send what is queued only if the oldest change has waited `seconds` (a partial batch)."""
        if self._pending and self._since is not None and time.monotonic() - self._since >= seconds:
            self.flush()

    def flush(self) -> None:
        """Send what is queued."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        result = self._hubspot.update_contacts(batch)
        failed: dict[str, set[str | None]] = {}
        codes: dict[str, str] = {}
        for f in result.failures:
            failed.setdefault(f.contact_id, set()).add(f.property)
            codes.setdefault(f.contact_id, f.code)
        for failure in from_results("contact", result.failures):
            self._fail(failure)
        written = set(result.written)
        for contact_id, changes in batch.items():
            bad = failed.get(contact_id, set())
            unsettled = self._unsettled.pop(contact_id, None)
            landed = {} if None in bad else {p: value_hash(v) for p, v in changes.items() if p not in bad}
            if contact_id in written and landed:
                # Settled only when nothing else waits: a crash before the next line leaves it pending.
                self._store.record_written(contact_id, landed, settle=unsettled is None)
                self._summary.count("contacts_written")
                self._summary.count("properties_written", len(landed))
            if contact_id in codes:  # what did not land stays pending work for the next runs
                self._store.set_write_pending(contact_id, codes[contact_id])
            elif unsettled is not None:
                self._store.set_write_pending(contact_id, unsettled)

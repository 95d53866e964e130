"""Pulling: the contacts a run looks at, and the cursor that moves only after writes landed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from connector.errors import ConfigError
from connector.hubspot import Contact, HubSpotAdapter, HubSpotError, SearchFilter
from connector.hubspot.limits import MAX_BATCH
from connector.logs import get_logger
from connector.mapping import FilterSpec, Mapping
from connector.state import StateStore
from connector.sync.context import UNWRITABLE, EngineConfig
from connector.sync.options import SyncOptions
from connector.sync.summary import RunSummary

log = get_logger("sync")

CURSOR = "contacts.lastmodifieddate"
MAPPING_CURSOR = "mapping.fingerprint"


def search_filter(f: FilterSpec) -> SearchFilter:
    """One of the mapping's `select.filters` as a HubSpot search filter."""
    return SearchFilter(
        f.property,
        f.operator,
        value=None if f.value is None else str(f.value),
        values=None if f.values is None else tuple(str(v) for v in f.values),
        high_value=None if f.high_value is None else str(f.high_value),
    )


def describe_filter(f: FilterSpec) -> str:
    """A select filter in words: `lifecyclestage IN lead, marketingqualifiedlead`."""
    if f.values is not None:
        operand = ", ".join(str(v) for v in f.values)
    elif f.high_value is not None:
        operand = f"{f.value} and {f.high_value}"
    else:
        operand = "" if f.value is None else str(f.value)
    return f"{f.property} {f.operator} {operand}".strip()


def chunks(items: Iterable[Any], size: int = MAX_BATCH) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Puller:
    """Contacts modified in the window (or the `--contact` ids), then those due without a change.

    Due without a change: results whose values have not all landed in HubSpot, launches
    put off by an earlier run, stale results and failures whose retry time has come.
    """

    def __init__(
        self,
        hubspot: HubSpotAdapter,
        store: StateStore,
        mapping: Mapping,
        options: SyncOptions,
        config: EngineConfig,
        summary: RunSummary,
        properties: Sequence[str],  # the HubSpot properties a run reads
    ) -> None:
        self.hubspot = hubspot
        self.store = store
        self.mapping = mapping
        self.options = options
        self.config = config
        self.summary = summary
        self.properties = properties
        self.filters = self._search_filters()
        self.fingerprint = self._mapping_fingerprint()

    def batches(self, upper: datetime) -> Iterator[list[Contact]]:
        """Batches of at most 100 contacts: the modified ones page by page, then the due ones."""
        # Taken before the pull, so what this run defers waits for the next run.
        due = [] if self.options.contact_ids else list(self._due_ids(upper))
        yield from chunks(self._contacts(upper))
        for ids in chunks(due):
            # Contacts not modified in HubSpot but due for a refresh or a retry.
            yield list(self.search(ids))

    def search(self, ids: Sequence[str]) -> Iterator[Contact]:
        """These contacts, if they still match the mapping's filters."""
        filters = [*self.filters, SearchFilter("hs_object_id", "IN", values=tuple(ids))]
        return self.hubspot.search_contacts(properties=self.properties, filters=filters)

    def advance(self, upper: datetime) -> None:
        """Move the cursor to `upper` (call only once the cycle's writes have landed)."""
        if self.options.contact_ids or self.options.collect_only:
            return
        self.store.set_cursor(CURSOR, upper.isoformat())
        self.store.set_cursor(MAPPING_CURSOR, self.fingerprint)

    def _contacts(self, upper: datetime) -> Iterator[Contact]:
        try:
            yield from self._window(upper)
        except HubSpotError as exc:
            if exc.status == 400:  # HubSpot refuses the mapping's filters: a configuration error
                where = self.mapping.source_path or "the mapping"
                raise ConfigError(
                    f"{where}: select.filters: HubSpot refused the search: {exc.message}"
                ) from None
            raise

    def _window(self, upper: datetime) -> Iterator[Contact]:
        options = self.options
        if options.contact_ids:
            for ids in chunks(options.contact_ids):
                found = set()
                for contact in self.search(ids):
                    found.add(contact.id)
                    yield contact
                self._report_unselected([cid for cid in ids if cid not in found])
            return
        since = None if options.full else self._cursor_start()
        log.debug(
            "pull", modified_after=since.isoformat() if since else None, modified_before=upper.isoformat()
        )
        yield from self.hubspot.search_contacts(
            properties=self.properties,
            filters=self.filters,
            modified_after=since,
            modified_before=upper,
        )

    def _report_unselected(self, ids: Sequence[str]) -> None:
        """Say why a `--contact` the search did not return is left out: not selected, or not there."""
        if not ids:
            return
        existing = {c.id for c in self.hubspot.read_contacts(ids, ["hs_object_id"])}
        filters = "; ".join(describe_filter(f) for f in self.mapping.select.filters)
        for cid in ids:
            if cid in existing:
                detail = f"select.filters leave it out ({filters})"
                self.summary.skip("not_selected", cid, detail)
                self.summary.notes.append(f"contact {cid}: {detail}")
            else:
                self.summary.skip("not_found", cid, "HubSpot has no contact with this id")
                self.summary.notes.append(f"contact {cid}: HubSpot has no contact with this id")

    def _cursor_start(self) -> datetime | None:
        """Where the incremental pull starts: the saved cursor less the overlap window.

        A changed mapping (new properties, other filters) starts from the beginning, so
        every contact gets the new mapping applied.
        """
        store = self.store
        if store.get_cursor(MAPPING_CURSOR) != self.fingerprint:
            return None
        saved = store.get_cursor(CURSOR)
        if not saved:
            return None
        return datetime.fromisoformat(saved) - self.config.cursor_overlap

    def _due_ids(self, now: datetime) -> Iterator[str]:
        days = self.mapping.select.refresh_after_days
        stale_before = now - timedelta(days=days) if days is not None else None
        yield from self.store.due_for_refresh(
            completed_before=stale_before, retry=self.config.retry, now=now, unwritable=UNWRITABLE
        )

    def _search_filters(self) -> list[SearchFilter]:
        """The mapping's `select.filters` as HubSpot search filters."""
        return [search_filter(f) for f in self.mapping.select.filters]

    def _mapping_fingerprint(self) -> str:
        data = self.mapping.cycle_dump()
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

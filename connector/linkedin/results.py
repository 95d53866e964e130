"""Scan results onto HubSpot contacts: from-paths to values, the write policies, change detection, batches.

A prospect's results (`ProspectSignals`) become one value per mapped property (`scan_value`:
the scan property's `from` path and type; lists joined as contact properties are). `evaluated`
with no items is a real "nothing found": `status` and `items.count` are written, the other paths
are empty, and an empty path clears a value only where HubSpot still holds what the connector
last wrote there (never a person's value, never under `if_empty`).

What is written is decided per property against HubSpot's current value and the hash of what
the connector last wrote there (the write ledger, as the sync's own properties), with the
property's write policy; only changed values go out, in batch updates of at most 100 contacts.
A result whose values all landed (or needed nothing) is settled: its hash is stored and it is
not looked at again until it changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connector.errors import RUN_GOES_ON
from connector.hubspot import HubSpotAdapter
from connector.hubspot.limits import MAX_BATCH
from connector.integrations.models import ProspectSignals
from connector.linkedin.summary import LinkedInSummary
from connector.logs import get_logger
from connector.mapping import canonical, scan_value, value_hash, write_decision
from connector.mapping.linkedin import LinkedInScan
from connector.state import StateStore
from connector.state.linkedin import ResultRow

log = get_logger("linkedin")

CLEARED = ""  # what HubSpot is sent to empty a property


@dataclass(frozen=True)
class ScanValues:
    """One prospect's property values (None: nothing to write) and the paths that could not be converted."""

    values: Mapping[str, str | None]
    errors: Mapping[str, str]

    @property
    def hash(self) -> str:
        """The hash stored with the result: equal values, equal hash (what 'written' is compared to)."""
        return values_hash(self.values)


def values_hash(values: Mapping[str, Any]) -> str:
    """sha256 of the values as sorted JSON: what tells a changed result from one already written."""
    return hashlib.sha256(json.dumps(dict(values), sort_keys=True, default=str).encode()).hexdigest()


def scan_values(scan: LinkedInScan, signals: ProspectSignals) -> ScanValues:
    """Every scan property's value for one evaluated prospect; a conversion problem is per property."""
    values: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for prop, spec in scan.properties.items():
        try:
            raw = signals.value(spec.from_)
            values[prop] = scan_value(spec, raw)
        except Exception as err:  # noqa: BLE001 - one odd value must not stop the others
            errors[prop] = f"{prop} ({spec.type}, from {spec.from_}): {err}"
    return ScanValues(values, errors)


@dataclass(frozen=True)
class Planned:
    """One result to write: its contact's updates (possibly none) and the hash settled once they land."""

    row: ResultRow
    updates: Mapping[str, str]


class ResultWriter:
    """Writes a scan's evaluated results onto their contacts (see the module); one per scan and run."""

    def __init__(
        self,
        name: str,
        scan: LinkedInScan,
        hubspot: HubSpotAdapter,
        store: StateStore,
        summary: LinkedInSummary,
    ) -> None:
        self.name = name
        self.scan = scan
        self.hubspot = hubspot
        self.store = store
        self.summary = summary

    def write(self, rows: Sequence[ResultRow]) -> dict[str, str]:
        """Write these evaluated results; prospect id -> values hash of those settled (landed, unchanged)."""
        settled: dict[str, str] = {}
        rows = [r for r in rows if r.status == "evaluated" and r.contact_id]
        for start in range(0, len(rows), MAX_BATCH):
            settled.update(self._batch(rows[start : start + MAX_BATCH]))
        return settled

    def _batch(self, rows: Sequence[ResultRow]) -> dict[str, str]:
        props = list(self.scan.properties)
        ids = [r.contact_id for r in rows if r.contact_id]
        try:
            current = {c.id: c.properties for c in self.hubspot.read_contacts(ids, props)}
        except RUN_GOES_ON as exc:  # HubSpot failed past its retries: the results wait for the next run
            for r in rows:
                self.summary.fail(f"prospect:{r.prospect_id}", "READ_FAILED", str(exc))
            return {}
        states = self.store.get_many(ids)
        settled: dict[str, str] = {}
        planned: list[Planned] = []
        for row in rows:
            cid = row.contact_id or ""
            done = row.values_hash or values_hash(row.values)
            if cid not in current:
                message = f"HubSpot has no contact {cid} any more (deleted or merged); its result is dropped"
                self.summary.fail(f"prospect:{row.prospect_id}", "CONTACT_NOT_FOUND", message)
                settled[row.prospect_id] = done
                continue
            state = states.get(cid)
            updates = self.updates(row.values, current[cid], state.written if state else {})
            if updates:
                planned.append(Planned(row, updates))
            else:
                self.summary.results_unchanged += 1
                settled[row.prospect_id] = done
        return settled | self._send(planned)

    def updates(
        self, values: Mapping[str, Any], current: Mapping[str, str | None], written: Mapping[str, str]
    ) -> dict[str, str]:
        """What one contact gets: each property's value where its write policy lets it replace HubSpot's."""
        out: dict[str, str] = {}
        for prop, spec in self.scan.properties.items():
            new = values.get(prop)
            now = current.get(prop)
            held = canonical(spec.type, now)
            last = written.get(prop)
            if new is None:
                # Nothing found there: clear what the connector itself last wrote, and only that.
                if held is not None and spec.write != "if_empty" and last == value_hash(now or ""):
                    out[prop] = CLEARED
                continue
            if write_decision(spec.write, str(new), held, last) == "write":
                out[prop] = str(new)
        return out

    def _send(self, planned: Sequence[Planned]) -> dict[str, str]:
        """One batch update (<= 100 contacts); the results whose values all landed."""
        if not planned:
            return {}
        batch: dict[str, dict[str, str]] = {}
        for p in planned:
            batch.setdefault(p.row.contact_id or "", {}).update(p.updates)
        try:
            result = self.hubspot.update_contacts(batch)
        except RUN_GOES_ON as exc:
            for p in planned:
                self.summary.fail(f"prospect:{p.row.prospect_id}", "WRITE_FAILED", str(exc))
            return {}
        bad: dict[str, set[str | None]] = {}
        for f in result.failures:
            bad.setdefault(f.contact_id, set()).add(f.property)
        written = set(result.written)
        settled: dict[str, str] = {}
        for p in planned:
            cid = p.row.contact_id or ""
            failed = bad.get(cid, set())
            for f in result.failures:
                if f.contact_id == cid:
                    what = f"{f.property}: {f.message}" if f.property else f.message
                    self.summary.fail(f"prospect:{p.row.prospect_id}", f.code, what)
            landed = {} if None in failed else {k: v for k, v in p.updates.items() if k not in failed}
            if cid in written and landed:
                self.store.record_written(cid, {k: value_hash(v) for k, v in landed.items()}, settle=False)
                self.summary.results_written += 1
            if not failed:
                settled[p.row.prospect_id] = p.row.values_hash or values_hash(p.row.values)
        log.info("scan results written", scan=self.name, contacts=len(batch), settled=len(settled))
        return settled

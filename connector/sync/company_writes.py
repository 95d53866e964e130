"""Sending company changes to HubSpot (a live run only) and remembering what landed, value by value."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from connector.errors import RUN_GOES_ON
from connector.hubspot import HubSpotAdapter
from connector.logs import get_logger
from connector.mapping import value_hash
from connector.state import StateStore
from connector.sync.changes import ChangeSet
from connector.sync.failures import Failure, Subject, from_results
from connector.sync.summary import RunSummary

log = get_logger("sync")


class CompanySender:
    """One batch update of the changed companies; the hash of every value that landed is stored."""

    def __init__(
        self,
        hubspot: HubSpotAdapter,
        store: StateStore,
        summary: RunSummary,
        fail: Callable[[Failure], None],
    ) -> None:
        self.hubspot = hubspot
        self.store = store
        self.summary = summary
        self.fail = fail

    def send(
        self,
        changesets: Mapping[str, ChangeSet],
        domains: Mapping[str, str | None],
        held: Mapping[str, str | None],
    ) -> set[str]:
        """Send the changes; the ids whose values all landed (the others stay pending, failures said).

        `domains`: the domain each company's answers were asked for; `held`: the domain HubSpot
        holds for it, kept with what was written when the answers name none.
        """
        if not changesets:
            return set()
        try:
            result = self.hubspot.companies.update({cid: ch.updates for cid, ch in changesets.items()})
        except RUN_GOES_ON as exc:
            for cid in changesets:
                log.warning("company not written", company_id=cid, error=str(exc))
                self.fail(Failure(Subject("company", cid), "WRITE_FAILED", str(exc)))
                self.store.set_company_pending(cid, domains[cid], "WRITE_FAILED", str(exc))
            return set()
        bad: dict[str, set[str | None]] = {}
        for f in result.failures:
            bad.setdefault(f.contact_id, set()).add(f.property)
        for failure in from_results("company", result.failures):
            self.fail(failure)
        landed: set[str] = set()
        for cid, changes in changesets.items():
            failed = bad.get(cid, set())
            values = {p: v for p, v in changes.updates.items() if None not in failed and p not in failed}
            if values:
                self.store.record_company_written(
                    cid, domains[cid] or held[cid], {p: value_hash(v) for p, v in values.items()}
                )
                self.summary.count("companies_written")
                self.summary.count("company_properties_written", len(values))
            if failed:
                self.store.set_company_pending(cid, domains[cid], "WRITE_FAILED", "some values were refused")
            else:
                landed.add(cid)
        return landed

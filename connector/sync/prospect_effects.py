"""The one seam between a live `prospect` run and a dry one: every effect prospecting has.

The stage (`connector.sync.prospecting`) decides; a `ProspectEffects` does. `LiveProspectEffects`
claims each person in the state before the create is sent, creates through HubSpot's batch
create and records what HubSpot answered; `DryProspectEffects` lists the people in the summary
and touches nothing (no state write, no HubSpot write). This module and `effects_for` are the
only places that know which kind of run it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from connector.hubspot.adapter import HubSpotAdapter
from connector.hubspot.errors import CreateMaybeApplied
from connector.hubspot.records import NewContact
from connector.state import StateStore
from connector.sync.prospect_summary import AccountReport, PersonLine, ProspectSummary

# A create HubSpot may have made although it said otherwise: kept claimed, looked up next run.
UNCERTAIN = ("UNATTRIBUTED",)


@dataclass(frozen=True, slots=True)
class NewPerson:
    """One person to create at an account: the state's key, how they are known again, their values."""

    key: str
    name: str
    url: str | None
    first: str | None
    last: str | None
    properties: Mapping[str, str]


class ProspectEffects(Protocol):
    """What a prospecting run does to the state and to HubSpot."""

    def settle_claims(self, found: Mapping[str, str], lost: Sequence[str]) -> None: ...
    def record_account(
        self, company_id: str, *, finished: bool, skip_reason: str | None = None, detail: str | None = None
    ) -> None: ...
    def record_run(self, error: str | None) -> None: ...
    def create(
        self, report: AccountReport, people: Sequence[NewPerson], search: Mapping[str, Any]
    ) -> int: ...


class LiveProspectEffects:
    """Claims, creates and records (see the module)."""

    def __init__(self, store: StateStore, hubspot: HubSpotAdapter, summary: ProspectSummary) -> None:
        self.store = store
        self.hubspot = hubspot
        self.summary = summary

    def settle_claims(self, found: Mapping[str, str], lost: Sequence[str]) -> None:
        """Earlier claims: those found in HubSpot are created; the others were never made, forgotten."""
        self.store.prospects.record_created(found)
        self.store.prospects.release(lost)
        self.summary.recovered += len(found)

    def record_account(
        self, company_id: str, *, finished: bool, skip_reason: str | None = None, detail: str | None = None
    ) -> None:
        self.store.prospects.record_account(
            company_id, finished=finished, skip_reason=skip_reason, detail=detail
        )

    def create(self, report: AccountReport, people: Sequence[NewPerson], search: Mapping[str, Any]) -> int:
        """Claim, then create these people with the account's company as their primary one; how many."""
        if not people:
            return 0
        claims = [{"key": p.key, "url": p.url, "first": p.first, "last": p.last} for p in people]
        self.store.prospects.claim(report.company_id, claims, search)
        inputs = [NewContact(p.key, dict(p.properties), report.company_id) for p in people]
        names = {p.key: p.name for p in people}
        try:
            result = self.hubspot.contacts.create(inputs)
        except CreateMaybeApplied as exc:
            # What landed is kept; what was never sent is released; the rest stays claimed and is
            # looked up in HubSpot by the next run before anything is sent again.
            self._record(report, exc.result.created, names)
            self._refused(report, exc.result.failures, names)
            self.store.prospects.release([k for k in exc.unsent if k not in exc.result.created])
            raise
        self._record(report, result.created, names)
        self._refused(report, result.failures, names)
        return len(result.created)

    def record_run(self, error: str | None) -> None:
        """The finished run, kept in the runs table `status` lists (kind: prospect)."""
        s = self.summary
        self.store.runs.record_finished_run(s.started_at, outcome=s.outcome, counts=s.counts(), error=error)

    def _record(self, report: AccountReport, created: Mapping[str, str], names: Mapping[str, str]) -> None:
        self.store.prospects.record_created(created)
        self.summary.created += len(created)
        report.people.extend(PersonLine(names.get(k, k), "created") for k in created)

    def _refused(self, report: AccountReport, failures: Sequence[Any], names: Mapping[str, str]) -> None:
        self.store.prospects.release([f.key for f in failures if f.code not in UNCERTAIN])
        for f in failures:
            self.summary.fail(report.company_id, names.get(f.key, f.key), f.code, f.message)


class DryProspectEffects:
    """Lists what a live run would do; changes nothing anywhere."""

    def __init__(self, summary: ProspectSummary) -> None:
        self.summary = summary

    def settle_claims(self, found: Mapping[str, str], lost: Sequence[str]) -> None:
        return None

    def record_account(
        self, company_id: str, *, finished: bool, skip_reason: str | None = None, detail: str | None = None
    ) -> None:
        return None

    def record_run(self, error: str | None) -> None:
        return None

    def create(self, report: AccountReport, people: Sequence[NewPerson], search: Mapping[str, Any]) -> int:
        report.people.extend(PersonLine(p.name, "create") for p in people)
        self.summary.would_create += len(people)
        return len(people)


def effects_for(summary: ProspectSummary, store: StateStore, hubspot: HubSpotAdapter) -> ProspectEffects:
    """The run's effects: live, or a dry run's list (the one place the summary's `dry_run` is read)."""
    if summary.dry_run:
        return DryProspectEffects(summary)
    return LiveProspectEffects(store, hubspot, summary)

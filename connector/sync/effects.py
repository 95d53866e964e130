"""The one seam between a live run and a dry run: every effect a cycle has on the world.

The engine and its stages decide; an `Effects` object does. `LiveEffects` launches, asks,
records and writes; `DryRunEffects` records the plan in the summary and touches nothing:
no state write, no paid call, no HubSpot write, no cursor move. This module is the only
one that reads `dry_run` (`failure_log` and `effects_for`).

It is also the one sink of failures: every record-level failure of a run goes through
`Effects.fail` (stages are handed the same `FailureLog.fail`), into the summary and, when
live, into the errors table that `status` reads.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from connector.mapping import Mapping as MappingSpec
from connector.mapping import signals_to_ask
from connector.saber.models import Research, Signal
from connector.state import ContactState, StateStore, StoredSignal
from connector.state.signal_asks import SignalAskState
from connector.sync.changes import ChangeSet
from connector.sync.credits import CreditBudget
from connector.sync.failures import Failure
from connector.sync.jobs import ContactJob, LaunchOutcome, WriteJob
from connector.sync.options import SyncOptions
from connector.sync.resolution import Resolution
from connector.sync.stages import Stages
from connector.sync.summary import PlannedChange, RunSummary

CompanyMatches = Mapping[str, tuple[str | None, str | None]]  # contact -> (company id, why unmatched)


class Effects(Protocol):
    """What a cycle does to the state, Saber and HubSpot."""

    waits: bool  # whether collecting may wait for research (`--wait`) between rounds
    run_id: int | None

    def start_run(self) -> None: ...
    def finish_run(self, error: str | None) -> None: ...
    def skip(self, job: ContactJob) -> None: ...
    def clear_skips(self, contact_ids: Sequence[str]) -> None: ...
    def wait(self, contact_id: str) -> None: ...
    def launch(self, job: ContactJob) -> LaunchOutcome: ...
    def defer_all(self, jobs: Sequence[ContactJob]) -> list[LaunchOutcome]: ...
    def collect(self, state: ContactState) -> Research | None: ...
    def ask_signals(self, jobs: Sequence[WriteJob]) -> dict[str, Resolution]: ...
    def collect_signal(self, ask: SignalAskState) -> bool: ...
    def set_waits(self, waits: Mapping[str, Collection[str]]) -> None: ...
    def reschedule_research(self, moves: Mapping[str, datetime]) -> None: ...
    def reschedule_signal_asks(self, moves: Mapping[str, datetime]) -> None: ...
    def fail(self, failure: Failure) -> None: ...
    def write(self, changes: ChangeSet, pending: str | None = None) -> None: ...
    def adopt_written(self, contact_id: str, hashes: Mapping[str, str]) -> None: ...
    def settle(self, contact_id: str, reason: str | None) -> None: ...
    def flush(self) -> None: ...
    def flush_older_than(self, seconds: float) -> None: ...
    def complete(self, upper: datetime) -> None: ...
    def set_cursor(self, name: str, value: str) -> None: ...
    def mark_company_pending(self, contact_ids: Sequence[str]) -> None: ...
    def company_pending_contacts(self) -> list[str]: ...
    def record_company_matches(self, matches: CompanyMatches, *, settled: bool) -> None: ...
    def put_off_company(self, failure: Failure, domain: str | None) -> None: ...
    def write_companies(
        self,
        changesets: Mapping[str, ChangeSet],
        domains: Mapping[str, str | None],
        held: Mapping[str, str | None],
    ) -> set[str]: ...


class FailureLog:
    """The run's failures: in the summary always, in the errors table `status` reads when live."""

    def __init__(self, summary: RunSummary, store: StateStore | None) -> None:
        self.summary = summary
        self.store = store  # None: a dry run records nothing
        self.run_id: int | None = None  # set once the run is recorded: errors are filed under it

    def fail(self, failure: Failure) -> None:
        """Record one failure (any thread)."""
        self.summary.fail(failure.as_record())
        if self.store is not None:
            self.store.record_error(
                self.run_id,
                failure.subject.key,
                failure.code,
                failure.message,
                property=failure.prop,
                of_contact=failure.subject.kind == "contact",
            )


def failure_log(options: SyncOptions, summary: RunSummary, store: StateStore) -> FailureLog:
    """The run's failure sink: a dry run keeps its failures to the summary."""
    return FailureLog(summary, None if options.dry_run else store)


def effects_for(
    options: SyncOptions,
    *,
    store: StateStore,
    summary: RunSummary,
    mapping: MappingSpec,
    budget: CreditBudget,
    failures: FailureLog,
    stages: Stages,
) -> Effects:
    """Live effects, or the dry run's plan."""
    if options.dry_run:
        return DryRunEffects(mapping, summary, budget, failures)
    return LiveEffects(store, summary, failures, stages)


class LiveEffects:
    """A real run: state, Saber and HubSpot are changed; the cursor moves after the writes."""

    waits = True

    def __init__(self, store: StateStore, summary: RunSummary, failures: FailureLog, stages: Stages) -> None:
        self.store = store
        self.summary = summary
        self.failures = failures
        self.stages = stages
        self.run_id: int | None = None

    def start_run(self) -> None:
        self.run_id = self.failures.run_id = self.store.start_run()

    def finish_run(self, error: str | None) -> None:
        s = self.summary
        if self.run_id is not None:
            self.store.finish_run(self.run_id, outcome=s.outcome, counts=s.counts(), error=error)

    def skip(self, job: ContactJob) -> None:
        if job.state is None or job.state.skip_reason != job.decision.detail:
            self.store.record_skip(job.contact_id, job.decision.detail)

    def clear_skips(self, contact_ids: Sequence[str]) -> None:
        self.store.clear_skips(contact_ids)

    def wait(self, contact_id: str) -> None:
        return None  # the collect step looks it up when it is due

    def launch(self, job: ContactJob) -> LaunchOutcome:
        return self.stages.launcher.launch(job)

    def defer_all(self, jobs: Sequence[ContactJob]) -> list[LaunchOutcome]:
        return self.stages.launcher.defer_all(jobs)

    def collect(self, state: ContactState) -> Research | None:
        return self.stages.collector.poll(state)

    def ask_signals(self, jobs: Sequence[WriteJob]) -> dict[str, Resolution]:
        """Answer the jobs' signals; what nothing at hand answers is paid for (`SignalStage.ask`)."""
        return self.stages.signals.ask(jobs)

    def collect_signal(self, ask: SignalAskState) -> bool:
        return self.stages.signal_collector.look(ask)

    def set_waits(self, waits: Mapping[str, Collection[str]]) -> None:
        self.store.set_signal_waits(waits)

    def reschedule_research(self, moves: Mapping[str, datetime]) -> None:
        self.store.reschedule_research(dict(moves))

    def reschedule_signal_asks(self, moves: Mapping[str, datetime]) -> None:
        self.store.reschedule_signal_asks(dict(moves))

    def fail(self, failure: Failure) -> None:
        self.failures.fail(failure)

    def write(self, changes: ChangeSet, pending: str | None = None) -> None:
        """Queue the changes; with `pending` (a reason), the result stays pending work once they land."""
        self.stages.writer.add(changes.contact_id, changes.updates, pending=pending)

    def adopt_written(self, contact_id: str, hashes: Mapping[str, str]) -> None:
        """Keep the hashes of values HubSpot already holds, leaving what waits to be written alone."""
        self.store.record_written(contact_id, hashes, settle=False)

    def settle(self, contact_id: str, reason: str | None) -> None:
        """Nothing more waits to be written for this contact (None), or why it cannot be (a code)."""
        self.store.set_write_pending(contact_id, reason)

    def flush(self) -> None:
        self.stages.writer.flush()

    def flush_older_than(self, seconds: float) -> None:
        self.stages.writer.flush_older_than(seconds)

    def complete(self, upper: datetime) -> None:
        self.stages.writer.flush()
        self.stages.puller.advance(upper)

    def set_cursor(self, name: str, value: str) -> None:
        self.store.set_cursor(name, value)

    def mark_company_pending(self, contact_ids: Sequence[str]) -> None:
        self.store.mark_company_pending(contact_ids)

    def company_pending_contacts(self) -> list[str]:
        return self.store.company_pending_contacts()

    def record_company_matches(self, matches: CompanyMatches, *, settled: bool) -> None:
        self.store.record_company_matches(dict(matches), settled=settled)

    def put_off_company(self, failure: Failure, domain: str | None) -> None:
        """The company's values could not be read or written: said, and left pending for the next cycle."""
        self.fail(failure)
        self.store.set_company_pending(failure.subject.id, domain, failure.code, failure.message)

    def write_companies(
        self,
        changesets: Mapping[str, ChangeSet],
        domains: Mapping[str, str | None],
        held: Mapping[str, str | None],
    ) -> set[str]:
        return self.stages.companies.send(changesets, domains, held)


class DryRunEffects:
    """`--dry-run`: the plan goes into the summary; nothing is launched, asked, stored or written."""

    waits = False
    run_id: int | None = None

    def __init__(
        self, mapping: MappingSpec, summary: RunSummary, budget: CreditBudget, failures: FailureLog
    ) -> None:
        self.mapping = mapping
        self.summary = summary
        self.budget = budget
        self.failures = failures

    def _plan(self, item: PlannedChange) -> None:
        self.summary.add_plan(item)

    def start_run(self) -> None:
        return None

    def finish_run(self, error: str | None) -> None:
        return None

    def skip(self, job: ContactJob) -> None:
        self._plan(PlannedChange(job.contact_id, "skip", job.decision.detail))

    def clear_skips(self, contact_ids: Sequence[str]) -> None:
        return None

    def wait(self, contact_id: str) -> None:
        self._plan(PlannedChange(contact_id, "wait", "research pending"))

    def defer_all(self, jobs: Sequence[ContactJob]) -> list[LaunchOutcome]:
        return [self.launch(job) for job in jobs]  # a dry run writes nothing: one at a time is cheap

    def launch(self, job: ContactJob) -> LaunchOutcome:
        if not self.budget.plan_launch():  # honours the cap; asks Saber for nothing
            self.summary.skip("launch_cap", job.contact_id)
            return LaunchOutcome("deferred", job.contact_id)
        self._plan(PlannedChange(job.contact_id, "launch", job.decision.reason))
        self.summary.research_event("would_launch")
        return LaunchOutcome("launched", job.contact_id)

    def collect(self, state: ContactState) -> Research | None:
        self.wait(state.contact_id)
        return None

    def ask_signals(self, jobs: Sequence[WriteJob]) -> dict[str, Resolution]:
        """What each contact already holds for these inputs; every other ask is counted, not made."""
        out = {job.contact_id: Resolution() for job in jobs}
        for job in jobs:
            if job.research.status != "completed" or job.inputs.inputs is None:
                continue
            for item in signals_to_ask(self.mapping, job.research, job.inputs.inputs)[0]:
                stored = StoredSignal.decode(job.signals.get(item.key))
                if stored and stored.fingerprint == job.inputs.fingerprint:
                    out[job.contact_id].answers[item.key] = Signal.model_validate(stored.signal)
                else:
                    self.summary.count("would_ask")  # paid, were the run real
                    out[job.contact_id].unanswered.append(item.key)
        return out

    def collect_signal(self, ask: SignalAskState) -> bool:
        return False

    def set_waits(self, waits: Mapping[str, Collection[str]]) -> None:
        return None

    def reschedule_research(self, moves: Mapping[str, datetime]) -> None:
        return None

    def reschedule_signal_asks(self, moves: Mapping[str, datetime]) -> None:
        return None

    def fail(self, failure: Failure) -> None:
        self.failures.fail(failure)

    def write(self, changes: ChangeSet, pending: str | None = None) -> None:
        if changes.shown:
            self._plan(PlannedChange(changes.contact_id, "write", "", changes.shown))

    def adopt_written(self, contact_id: str, hashes: Mapping[str, str]) -> None:
        return None

    def settle(self, contact_id: str, reason: str | None) -> None:
        return None

    def flush(self) -> None:
        return None

    def flush_older_than(self, seconds: float) -> None:
        return None

    def complete(self, upper: datetime) -> None:
        return None

    def set_cursor(self, name: str, value: str) -> None:
        return None

    def mark_company_pending(self, contact_ids: Sequence[str]) -> None:
        return None

    def company_pending_contacts(self) -> list[str]:
        return []  # only this run's contacts are planned

    def record_company_matches(self, matches: CompanyMatches, *, settled: bool) -> None:
        return None

    def put_off_company(self, failure: Failure, domain: str | None) -> None:
        self.fail(failure)

    def write_companies(
        self,
        changesets: Mapping[str, ChangeSet],
        domains: Mapping[str, str | None],
        held: Mapping[str, str | None],
    ) -> set[str]:
        """Each company's changes in the plan, as the dry run's contacts show theirs."""
        for company_id, changes in changesets.items():
            if changes.shown:
                self._plan(PlannedChange(f"company {company_id}", "write", "", changes.shown))
        return set(changesets)

"""The one seam between a live run and a dry run: every effect a cycle has on the world.

The engine and its stages decide; an `Effects` object does. `LiveEffects` launches, asks,
records and writes; `DryRunEffects` records the plan in the summary and touches nothing:
no state write, no paid call, no HubSpot write, no cursor move.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from connector.errors import RecordFailure
from connector.mapping import signals_to_ask
from connector.saber.models import Research, Signal
from connector.state import ContactState
from connector.state.signal_asks import SignalAskState
from connector.sync.changes import ChangeSet
from connector.sync.collect import Collector
from connector.sync.context import Cycle
from connector.sync.jobs import ContactJob, LaunchOutcome, WriteJob
from connector.sync.launch import Launcher
from connector.sync.polling import Schedule
from connector.sync.pull import Puller
from connector.sync.signal_collect import SignalCollector
from connector.sync.signals import Resolution, RunAll, SignalStage
from connector.sync.summary import PlannedChange
from connector.sync.writer import BatchWriter


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
    def resolve_signals(self, jobs: Sequence[WriteJob]) -> dict[str, Resolution]: ...
    def collect_signal(self, ask: SignalAskState) -> bool: ...
    def set_waits(self, waits: Mapping[str, Collection[str]]) -> None: ...
    def fail(self, failure: RecordFailure) -> None: ...
    def write(self, changes: ChangeSet, pending: str | None = None) -> None: ...
    def adopt_written(self, contact_id: str, hashes: Mapping[str, str]) -> None: ...
    def settle(self, contact_id: str, reason: str | None) -> None: ...
    def flush(self) -> None: ...
    def flush_older_than(self, seconds: float) -> None: ...
    def complete(self, upper: datetime) -> None: ...


class LiveEffects:
    """A real run: state, Saber and HubSpot are changed; the cursor moves after the writes."""

    waits = True

    def __init__(self, cycle: Cycle, puller: Puller, schedule: Schedule, run_all: RunAll) -> None:
        self.cycle = cycle
        self.puller = puller
        self.run_id: int | None = None
        self.launcher = Launcher(cycle, schedule, self.fail)
        self.collector = Collector(cycle, schedule, self.fail)
        self.signals = SignalStage(cycle, schedule, self.fail, run_all)
        self.signal_collector = SignalCollector(cycle, schedule, self.signals.lists, self.fail)
        self.writer = BatchWriter(cycle.hubspot, cycle.store, cycle.summary, None)

    def start_run(self) -> None:
        self.run_id = self.writer.run_id = self.cycle.store.start_run()

    def finish_run(self, error: str | None) -> None:
        s = self.cycle.summary
        if self.run_id is not None:
            self.cycle.store.finish_run(self.run_id, outcome=s.outcome, counts=s.counts(), error=error)

    def skip(self, job: ContactJob) -> None:
        if job.state is None or job.state.skip_reason != job.decision.detail:
            self.cycle.store.record_skip(job.contact_id, job.decision.detail)

    def clear_skips(self, contact_ids: Sequence[str]) -> None:
        self.cycle.store.clear_skips(contact_ids)

    def wait(self, contact_id: str) -> None:
        return None  # the collect step looks it up when it is due

    def launch(self, job: ContactJob) -> LaunchOutcome:
        return self.launcher.launch(job)

    def defer_all(self, jobs: Sequence[ContactJob]) -> list[LaunchOutcome]:
        return self.launcher.defer_all(jobs)

    def collect(self, state: ContactState) -> Research | None:
        return self.collector.poll(state)

    def resolve_signals(self, jobs: Sequence[WriteJob]) -> dict[str, Resolution]:
        return self.signals.resolve(jobs)

    def collect_signal(self, ask: SignalAskState) -> bool:
        return self.signal_collector.look(ask)

    def set_waits(self, waits: Mapping[str, Collection[str]]) -> None:
        self.cycle.store.set_signal_waits(waits)

    def fail(self, failure: RecordFailure) -> None:
        self.cycle.summary.fail(failure)
        self.cycle.store.record_error(
            self.run_id, failure.contact_id, failure.code, failure.message, property=failure.property
        )

    def write(self, changes: ChangeSet, pending: str | None = None) -> None:
        """Queue the changes; with `pending` (a reason), the result stays pending work once they land."""
        self.writer.add(changes.contact_id, changes.updates, pending=pending)

    def adopt_written(self, contact_id: str, hashes: Mapping[str, str]) -> None:
        """Keep the hashes of values HubSpot already holds, leaving what waits to be written alone."""
        self.cycle.store.record_written(contact_id, hashes, settle=False)

    def settle(self, contact_id: str, reason: str | None) -> None:
        """Nothing more waits to be written for this contact (None), or why it cannot be (a code)."""
        self.cycle.store.set_write_pending(contact_id, reason)

    def flush(self) -> None:
        self.writer.flush()

    def flush_older_than(self, seconds: float) -> None:
        self.writer.flush_older_than(seconds)

    def complete(self, upper: datetime) -> None:
        self.writer.flush()
        self.puller.advance(upper)


class DryRunEffects:
    """`--dry-run`: the plan goes into the summary; nothing is launched, asked, stored or written."""

    waits = False
    run_id: int | None = None

    def __init__(self, cycle: Cycle) -> None:
        self.cycle = cycle

    def _plan(self, item: PlannedChange) -> None:
        self.cycle.summary.add_plan(item)

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
        if not self.cycle.budget.plan_launch():  # honours the cap; asks Saber for nothing
            self.cycle.summary.skip("launch_cap", job.contact_id)
            return LaunchOutcome("deferred", job.contact_id)
        self._plan(PlannedChange(job.contact_id, "launch", job.decision.reason))
        self.cycle.summary.research_event("would_launch")
        return LaunchOutcome("launched", job.contact_id)

    def collect(self, state: ContactState) -> Research | None:
        self.wait(state.contact_id)
        return None

    def resolve_signals(self, jobs: Sequence[WriteJob]) -> dict[str, Resolution]:
        """What each contact already holds for these inputs; every other ask is counted, not made."""
        out = {job.contact_id: Resolution() for job in jobs}
        for job in jobs:
            if job.research.status != "completed" or job.inputs.inputs is None:
                continue
            for item in signals_to_ask(self.cycle.mapping, job.research, job.inputs.inputs)[0]:
                stored = job.signals.get(item.key)
                if stored and stored.get("fingerprint") == job.inputs.fingerprint:
                    out[job.contact_id].answers[item.key] = Signal.model_validate(stored["signal"])
                else:
                    self.cycle.summary.count("would_ask")  # paid, were the run real
                    out[job.contact_id].unanswered.append(item.key)
        return out

    def collect_signal(self, ask: SignalAskState) -> bool:
        return False

    def set_waits(self, waits: Mapping[str, Collection[str]]) -> None:
        return None

    def fail(self, failure: RecordFailure) -> None:
        self.cycle.summary.fail(failure)

    def write(self, changes: ChangeSet, pending: str | None = None) -> None:
        shown = {
            c.property: {"from": c.current, "to": c.value} for c in changes.changes if c.decision == "write"
        }
        if shown:
            self._plan(PlannedChange(changes.contact_id, "write", "", shown))

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

"""Landing finished results: their signals answered, held back while answers are in flight, written.

A batch of write jobs (finished research, and stored results to map again) passes here in
one direction: the signal stage answers what it can and pays for the rest (`ask_signals`);
with `--wait`, a result whose answers are still in flight is held back (parked) so that it
lands once, answers and all; each remaining job's changes are computed (a pure step that
returns the changes, the answers held back and the company note as a value), and only then
counted, noted for the company stage and handed to the effects to write.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from connector.mapping import Mapping, held_back, map_values, value_hash
from connector.sync.changes import compute_changes
from connector.sync.companies import CompanyStage
from connector.sync.effects import Effects
from connector.sync.failures import contact_failure
from connector.sync.jobs import Computed, WriteJob
from connector.sync.resolution import Resolution
from connector.sync.signals import RunAll
from connector.sync.stopping import StopRequest
from connector.sync.summary import RunSummary


class Landing:
    """Writes batches of jobs; remembers the results it holds back (`parked`) until their answers are in."""

    def __init__(
        self,
        mapping: Mapping,
        summary: RunSummary,
        effects: Effects,
        companies: CompanyStage,
        stop: StopRequest,
        run_all: RunAll,
        *,
        may_wait: bool,  # `--wait` in a live run: results may be held back for their answers
    ) -> None:
        self.mapping = mapping
        self.summary = summary
        self.effects = effects
        self.companies = companies
        self.stop = stop
        self.run_all = run_all
        self.may_wait = may_wait
        self.parked: dict[str, float] = {}  # contact -> monotonic time it was first held back
        self.final = False  # the wait is over: what is held back is written with what is known

    def ask(self, jobs: Sequence[WriteJob]) -> dict[str, Resolution]:
        """The jobs' signals answered (or asked, paid for); what each now waits on is recorded."""
        resolved = self.effects.ask_signals(jobs)
        self.effects.set_waits({job.contact_id: resolved[job.contact_id].wait_keys for job in jobs})
        return resolved

    def write(self, jobs: Sequence[WriteJob]) -> None:
        """Answer signals, compute each contact's changes, and hand them to the writer."""
        if not jobs:
            return
        resolved = self.ask(jobs)
        jobs = self.park(jobs, resolved)
        computed = self.run_all(lambda job: self.changes(job, resolved[job.contact_id]), jobs)
        self.companies.add([x.note for x in computed if x.note is not None])  # pending until they land
        for job, result in zip(jobs, computed, strict=True):
            changes = result.changes
            for prop in result.held_back:
                self.summary.held_back(prop)
            for err in changes.errors:
                self.effects.fail(
                    contact_failure(changes.contact_id, "CONVERSION_ERROR", err.error or "", err.property)
                )
            for kept in changes.of("kept_edit"):
                self.summary.kept_edit(kept.property)
            # Values HubSpot holds already but whose hash is not kept (a lost state database, a
            # value typed as Saber gives it): adopted, so later refreshes still update them.
            held = {p: value_hash(v) for p, v in changes.held.items() if job.written.get(p) != value_hash(v)}
            if held:
                self.effects.adopt_written(job.contact_id, held)
            # A signal not in yet (in flight, failed, unpaid): what is known lands, the result stays pending.
            pending = resolved[job.contact_id].pending
            if changes.updates:
                self.effects.write(changes, pending=pending)
            elif job.write_pending or pending:
                self.effects.settle(job.contact_id, pending)  # HubSpot holds every value already

    def park(
        self, jobs: Sequence[WriteJob], resolved: dict[str, Resolution], *, write_pending: bool = True
    ) -> list[WriteJob]:
        """With --wait, hold back results whose signals are in flight: they land once, answers and all
        (one HubSpot write, not two). Returns the jobs to write now."""
        may_park = self.may_wait and not self.final
        now: list[WriteJob] = []
        for job in jobs:
            r = resolved[job.contact_id]
            if may_park and not self.stop.requested and r.waiting and not r.unanswered:
                self.parked.setdefault(job.contact_id, time.monotonic())
                if write_pending and not job.write_pending:  # pending until it lands, whatever happens
                    self.effects.settle(job.contact_id, r.pending)
            else:
                self.parked.pop(job.contact_id, None)
                now.append(job)
        return now

    def changes(self, job: WriteJob, resolution: Resolution) -> Computed:
        """What one job's answers come to (computed only: `write` counts, notes and writes)."""
        answers = resolution.answers
        values = map_values(self.mapping, job.research, answers)
        note = None
        if job.research.status == "completed" and job.inputs.inputs is not None:
            note = self.companies.note(job.contact_id, job.inputs.inputs.get("companyDomain"), answers)
        changes = compute_changes(self.mapping, job.contact_id, values, job.properties, job.written)
        return Computed(changes, tuple(held_back(values)), note)

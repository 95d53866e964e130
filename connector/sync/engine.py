"""One sync cycle, from HubSpot contacts to Saber research and back, exactly once.

The cycle reads top to bottom: pull → plan → launch → collect → write. Each step is a call
into its stage (`pull`, `plan`, `launch`, `collect`, `changes`, `signals`, `writer`); what
passes between them are the value objects of `jobs`; every effect on the world goes
through one `Effects` object, live or dry run.

The order of durable steps is what makes it safe to kill at any point: the research id
is stored as soon as Saber answers the POST; a contact with no local record is first
looked up by external ID; a POST carries an idempotency key derived from the contact, its
inputs and the research it replaces; the cursor moves only after the cycle's writes landed.
"""

from __future__ import annotations

import contextvars
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

import structlog

from connector.errors import ApiOutage, RecordFailure
from connector.hubspot import Contact, HubSpotAdapter
from connector.mapping import Mapping, build_inputs, held_back, map_values, value_hash
from connector.saber import SaberClient
from connector.saber.models import Research
from connector.state import UNWRITTEN, ContactState, StateStore
from connector.sync.changes import ChangeSet, compute_changes
from connector.sync.collect import pending_rounds
from connector.sync.companies import CompanyStage, CompanyWriter
from connector.sync.config import Cycle, EngineConfig, utcnow
from connector.sync.credits import CreditBudget
from connector.sync.effects import DryRunEffects, Effects, LiveEffects
from connector.sync.jobs import WriteJob
from connector.sync.launch import MERGED_IDS
from connector.sync.options import SyncOptions
from connector.sync.outage import OutageBreaker
from connector.sync.plan import plan_contacts
from connector.sync.progress import Progress
from connector.sync.pull import Puller, chunks
from connector.sync.signals import SIGNAL_UNANSWERED, signal_answers
from connector.sync.stopping import StopRequest
from connector.sync.summary import RunSummary
from connector.sync.writer import BATCH_SIZE

__all__ = ["EngineConfig", "SyncEngine"]

T = TypeVar("T")
R = TypeVar("R")


class SyncEngine:
    """Runs one cycle; construct one per run."""

    def __init__(
        self,
        *,
        mapping: Mapping,
        hubspot: HubSpotAdapter,
        saber: SaberClient,
        store: StateStore,
        options: SyncOptions = SyncOptions(),
        config: EngineConfig = EngineConfig(),
        progress: Progress | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] | None = None,
        stop: StopRequest | None = None,
    ):
        cap = mapping.select.max_new_per_run
        if options.max_new is not None:
            cap = options.max_new if cap is None else min(cap, options.max_new)
        self.summary = RunSummary(
            started_at=clock(),
            dry_run=options.dry_run,
            research_cost=config.research_cost,
            signal_cost=config.signal_cost,
            signals_per_research=len(mapping.used_signals()),
        )
        self.stop = stop or StopRequest()
        self.budget = CreditBudget(saber.credits, cap)
        self.cycle = Cycle(
            mapping=mapping,
            hubspot=hubspot,
            saber=saber,
            store=store,
            options=options,
            config=config,
            summary=self.summary,
            budget=self.budget,
            saber_health=OutageBreaker("Saber", config.outage_threshold),
            clock=clock,
            properties=tuple(sorted({*mapping.hubspot_properties(), MERGED_IDS})),
            stop=self.stop,
        )
        self.puller = Puller(self.cycle)
        self.effects: Effects = (
            DryRunEffects(self.cycle) if options.dry_run else LiveEffects(self.cycle, self.puller)
        )
        self.progress = progress or Progress(enabled=False)
        self._sleep = sleep or self.stop.sleep  # a stop cuts a --wait pause short
        self._finished: list[tuple[ContactState, Research]] = []  # collected, waiting for a full batch
        self._finished_since: float | None = None  # monotonic time the oldest of them finished
        self._unanswered: dict[str, list[str]] = {}  # contact -> signals asked without an answer
        self._pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="sync")
        self.companies = CompanyStage(self.cycle, CompanyWriter(self.cycle, self.effects.fail))
        self.summary.companies_mapped = mapping.companies is not None

    # ------------------------------------------------------------------ the cycle
    def run(self) -> RunSummary:
        """Run the cycle and return its summary; API-level failures propagate after recording."""
        c = self.cycle
        with c.store.run_lock() as acquired:
            if not acquired:
                self.summary.outcome = "skipped"
                self.summary.notes.append("another sync holds the lock; nothing done")
                return self._finish()
            self.effects.start_run()
            with structlog.contextvars.bound_contextvars(run_id=self.effects.run_id):
                upper = c.clock()
                try:
                    batches = iter(()) if c.options.collect_only else self.puller.batches(upper)
                    for contacts in batches:  # 1. pull
                        if self.stop.requested:
                            break
                        self._handle(contacts)  # 2-4. plan, launch, write
                    if not self.stop.requested:
                        self._collect()  # 5. collect what finished, and write it
                    if not self.stop.requested:
                        self.effects.flush()  # the contacts land first, then their companies
                        self.companies.run(subscriptions=not c.options.collect_only)  # 6. companies
                    if self.stop.requested:
                        self._interrupted()
                    else:
                        self.effects.complete(upper)  # the last writes land, then the cursor moves
                        self.summary.outcome = "partial" if self.summary.failures else "ok"
                except BaseException as exc:
                    self._stopped(exc)
                    raise
                return self._finish()

    def _handle(self, contacts: list[Contact]) -> None:
        """Plan one batch of pulled contacts, launch what needs launching, write what is known."""
        if not contacts:
            return
        c = self.cycle
        states = c.store.get_many([contact.id for contact in contacts])
        plan = plan_contacts(c.mapping, contacts, states, now=c.clock(), retry=c.config.retry)
        self.summary.count("contacts_seen", plan.size)
        for job in plan.skips:
            self.summary.skip(job.decision.reason, job.contact_id, job.decision.detail)
            self.effects.skip(job)
        self.effects.clear_skips(plan.cleared)
        for job in plan.waits:
            self.effects.wait(job.contact_id)
        launches, put_off = list(plan.launches), []
        if c.budget.cap_reached and not self.stop.requested:  # nothing can launch: put off in bulk
            put_off = [j for j in launches if not j.contact.properties.get(MERGED_IDS)]  # merges adopt free
            launches = [j for j in launches if j.contact.properties.get(MERGED_IDS)]
        outcomes = [*self.effects.defer_all(put_off), *self._map(self.effects.launch, launches)]
        self._write([*plan.writes, *(o.write for o in outcomes if o.write is not None)])
        self.progress.update(self.summary)

    def _collect(self) -> None:
        """Look pending research up; with --wait, keep at it until done or the deadline."""
        c = self.cycle
        rounds = pending_rounds(
            c.store,
            contact_ids=c.options.contact_ids or None,
            clock=c.clock,
            sleep=self._sleep,
            wait_seconds=c.options.wait_seconds if self.effects.waits else 0.0,
            between=self._between_rounds,
            stopped=lambda: self.stop.requested,
            look_now=c.options.look_now,
        )
        for due in rounds:
            for states in chunks(due):
                self._collect_batch(states)
        self._drain(force=True)

    def _collect_batch(self, states: list[ContactState]) -> None:
        """Look these up; what finished waits in `_finished` for a full batch of reads and writes."""
        finished = [
            (s, r)
            for s, r in zip(states, self._map(self.effects.collect, states), strict=True)
            if r is not None
        ]
        if finished:
            if not self._finished:
                self._finished_since = time.monotonic()
            self._finished.extend(finished)
        self._drain(force=False)

    def _between_rounds(self) -> None:
        """While results trickle in (`--wait`), send only full batches, or what waited too long."""
        self._drain(force=False)
        self.effects.flush_older_than(self.cycle.config.write_delay)

    def _drain(self, *, force: bool) -> None:
        """Read and write finished results 100 at a time: when full, when forced, or when overdue."""
        while self._finished and (
            force
            or len(self._finished) >= BATCH_SIZE
            or time.monotonic() - (self._finished_since or 0.0) >= self.cycle.config.write_delay
        ):
            batch, self._finished = self._finished[:BATCH_SIZE], self._finished[BATCH_SIZE:]
            self._finished_since = time.monotonic() if self._finished else None
            self._write_finished(batch)

    def _write_finished(self, finished: list[tuple[ContactState, Research]]) -> None:
        c = self.cycle
        current = {
            x.id: x for x in c.hubspot.read_contacts([s.contact_id for s, _ in finished], c.properties)
        }
        jobs = []
        for state, research in finished:
            contact = current.get(state.contact_id)
            if contact is None:  # deleted in HubSpot meanwhile: nothing can be written
                self.effects.settle(state.contact_id, "OBJECT_NOT_FOUND")
                continue
            inputs = build_inputs(c.mapping, contact.properties)
            jobs.append(WriteJob.of(state, contact.properties, inputs, research, write_pending=UNWRITTEN))
        self._write(jobs)
        self.progress.update(self.summary)

    def _write(self, jobs: Sequence[WriteJob]) -> None:
        """Answer signals, compute each contact's changes, and hand them to the writer."""
        computed = self._map(self._changes, jobs)
        self.companies.mark_pending([job.contact_id for job in jobs])  # until their company has them
        for job, changes in zip(jobs, computed, strict=True):
            for err in changes.errors:
                self.effects.fail(
                    RecordFailure(changes.contact_id, err.property, "CONVERSION_ERROR", err.error or "")
                )
            for kept in changes.of("kept_edit"):
                self.summary.kept_edit(kept.property)
            # Values HubSpot holds already but whose hash is not kept (a lost state database, a
            # value typed as Saber gives it): adopted, so later refreshes still update them.
            held = {p: value_hash(v) for p, v in changes.held.items() if job.written.get(p) != value_hash(v)}
            if held:
                self.effects.adopt_written(job.contact_id, held)
            # A signal not answered yet (failed, no credits): what is known lands, the result stays pending.
            unanswered = SIGNAL_UNANSWERED if self._unanswered.pop(job.contact_id, None) else None
            if changes.updates:
                self.effects.write(changes, pending=unanswered)
            elif job.write_pending or unanswered:
                self.effects.settle(job.contact_id, unanswered)  # HubSpot holds every value already

    def _changes(self, job: WriteJob) -> ChangeSet:
        c = self.cycle
        unanswered: list[str] = []
        answers = signal_answers(c, job, self.effects.ask, unanswered)
        if unanswered:
            self._unanswered[job.contact_id] = unanswered
        values = map_values(c.mapping, job.research, answers)
        for prop in held_back(values):
            self.summary.held_back(prop)
        if job.research.status == "completed" and job.inputs.inputs is not None:
            self.companies.note(job.contact_id, job.inputs.inputs.get("companyDomain"), answers)
        return compute_changes(c.mapping, job.contact_id, values, job.properties, job.written)

    # ------------------------------------------------------------------ plumbing
    def _map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`fn` over `items` on the pool, each call in a copy of this thread's context (the run id)."""
        futures = [self._pool.submit(contextvars.copy_context().run, fn, item) for item in items]
        return [f.result() for f in futures]

    def _interrupted(self) -> None:
        """A stop was asked for: land the writes in hand, keep the cursor, say so."""
        self._drain(force=True)
        self.effects.flush()
        s = self.summary
        s.outcome, s.stopped_by = "interrupted", self.stop.signum
        name = signal.Signals(self.stop.signum).name if self.stop.signum else "a stop request"
        s.notes.append(f"interrupted by {name}: nothing new was started; the next run carries on")

    def _stopped(self, exc: BaseException) -> None:
        """Record why the run stopped; an outage of Saber still lets the writes in hand land."""
        s = self.summary
        s.outcome = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        s.notes.append(f"run stopped: {exc}")
        if isinstance(exc, ApiOutage):
            try:
                self._drain(force=True)
                self.effects.flush()
            except Exception as flush_error:  # noqa: BLE001 - the outage is what the run reports
                s.notes.append(f"writes in hand could not be sent: {flush_error}")
        self._finish(error=str(exc))

    def _finish(self, error: str | None = None) -> RunSummary:
        if error is None and self.summary.outcome == "interrupted":
            error = self.summary.notes[-1]
        s = self.summary
        s.finished_at = self.cycle.clock()
        s.api_calls = {"hubspot": dict(self.cycle.hubspot.calls), "saber": dict(self.cycle.saber.calls)}
        s.credits_used = self.budget.spent
        s.credits_left = self.budget.left
        s.credits_exhausted = self.budget.exhausted
        ids = self.cycle.options.contact_ids or None
        s.pending = self.cycle.store.count_pending(contact_ids=ids)
        s.writes_pending = sum(self.cycle.store.count_write_pending(contact_ids=ids).values())
        self.effects.finish_run(error)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.progress.close()
        return s

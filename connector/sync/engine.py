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

from connector.clock import utcnow
from connector.errors import ApiOutage
from connector.hubspot import Contact, HubSpotAdapter
from connector.hubspot.limits import MAX_BATCH, MERGED_IDS
from connector.mapping import InputsResult, Mapping, build_inputs
from connector.mapping.inputs import echoed_inputs
from connector.saber import SaberClient
from connector.saber.models import Research
from connector.state import UNWRITTEN, ContactState, StateStore
from connector.sync.collect import Round, pending_rounds
from connector.sync.companies import CompanyStage
from connector.sync.context import Cycle, EngineConfig
from connector.sync.credits import CreditBudget
from connector.sync.effects import Effects, effects_for, failure_log
from connector.sync.jobs import WriteJob, stored_research
from connector.sync.landing import Landing
from connector.sync.options import SyncOptions
from connector.sync.outage import OutageBreaker
from connector.sync.plan import plan_contacts
from connector.sync.polling import KINDS, Schedule
from connector.sync.progress import Progress
from connector.sync.pull import Puller, chunks
from connector.sync.rescheduling import reschedule, sample_pending
from connector.sync.stages import live_stages
from connector.sync.stopping import StopRequest
from connector.sync.summary import RunSummary

__all__ = ["EngineConfig", "SyncEngine"]

T = TypeVar("T")
R = TypeVar("R")
MAX_REWRITES = 3  # times one contact is written again in a run as its awaited answers come in
RESEARCH_MODE = "saber.research_mode"  # shared value: research launched with external IDs or not, and why


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
        self.summary = RunSummary.of(
            clock(),
            options,
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
        c = self.cycle
        self.puller = Puller(c.hubspot, store, mapping, options, config, self.summary, c.properties)
        self.schedule = Schedule(
            config.poll_min_seconds, config.poll_max_seconds, early_looks=config.webhook_url is None
        )
        self.failures = failure_log(options, self.summary, store)  # the run's one sink of failures
        self.effects: Effects = effects_for(
            options,
            store=store,
            summary=self.summary,
            mapping=mapping,
            budget=self.budget,
            failures=self.failures,
            stages=live_stages(self.cycle, self.puller, self.schedule, self.failures.fail, self._map),
        )
        self.companies = CompanyStage(
            mapping, hubspot, saber, store, self.summary, self.effects, contact_ids=options.contact_ids
        )
        may_wait = self.effects.waits and options.wait_seconds > 0
        self.landing = Landing(
            mapping, self.summary, self.effects, self.companies, self.stop, self._map, may_wait=may_wait
        )
        self.progress = progress or Progress(enabled=False)
        self._sleep = sleep or self.stop.sleep  # a stop cuts a --wait pause short
        self._finished: list[tuple[ContactState, Research]] = []  # collected, waiting for a full batch
        self._finished_since: float | None = None  # monotonic time the oldest of them finished
        self._rewritten: dict[str, int] = {}  # contact -> times written again this run (answers came in)
        self._sampled = False  # pending work of earlier runs sampled, to learn its kind's times
        self._pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="sync")
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
            self.schedule.load(c.store.recent_timings)
            with structlog.contextvars.bound_contextvars(run_id=self.effects.run_id):
                upper = c.clock()
                try:
                    batches = iter(()) if c.options.collect_only else self.puller.batches(upper)
                    for contacts in batches:  # 1. pull
                        if self.stop.requested:
                            break
                        self._handle(contacts)  # 2-4. plan, launch, write
                        self._collect_due()  # research done meanwhile lands while launches go on
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
        self.landing.write([*plan.writes, *(o.write for o in outcomes if o.write is not None)])
        self.progress.update(self.summary)

    def _collect(self) -> None:
        """Look pending research and signals up; with --wait, keep at it until done or the deadline."""
        c = self.cycle
        ids = c.options.contact_ids or None
        self._reschedule(set(k for k in KINDS if self.schedule.known(k)))
        self._sample_pending()
        rounds = pending_rounds(
            c.store,
            contact_ids=ids,
            clock=c.clock,
            sleep=self._sleep,
            wait_seconds=c.options.wait_seconds if self.effects.waits else 0.0,
            between=self._between_rounds,
            idle=self._idle,
            stopped=lambda: self.stop.requested,
            look_now=c.options.look_now,
        )
        for due in rounds:
            self._collect_round(due)
        self.landing.final = True
        self._rewrite(sorted(self.landing.parked), force=True)  # still waiting: written with what is known
        self._drain(force=True)

    def _collect_due(self) -> None:
        """Between pulled pages, one round of what is due now: a first sync's results (and their
        signals) land while its launches are still paced by Saber's write limit."""
        c = self.cycle
        if not self.effects.waits or self.stop.requested:
            return
        self._sample_pending()
        ids = c.options.contact_ids or None
        now = c.clock()
        due = Round(
            c.store.pending(due_before=now, contact_ids=ids),
            c.store.signal_asks_due(due_before=now, contact_ids=ids),
        )
        if due.research or due.signals:
            self._collect_round(due)
        self._between_rounds()

    def _collect_round(self, due: Round) -> None:
        """Look this round's research and signals up; write what finished and what its answers freed."""
        for states in chunks(due.research):
            self._collect_batch(states)
        if due.signals:
            self._map(self.effects.collect_signal, due.signals)
        self._rewrite_answered()
        self.schedule.flush(self.cycle.store.record_timings)
        self._reschedule(self.schedule.learned())

    def _rewrite_answered(self) -> None:
        """Contacts whose awaited answers came in (or failed): their results are written (again)."""
        c = self.cycle
        self._rewrite(c.store.contacts_to_rewrite(contact_ids=c.options.contact_ids or None))

    def _rewrite(self, contact_ids: Sequence[str], *, force: bool = False) -> None:
        """Write these contacts' stored results again, through the full batches of `_finished`."""
        c = self.cycle
        ids = [cid for cid in contact_ids if force or self._rewritten.get(cid, 0) < MAX_REWRITES]
        if not ids:
            return
        states = c.store.get_many(ids)
        finished, nothing = [], {}
        for cid in ids:
            self._rewritten[cid] = self._rewritten.get(cid, 0) + 1
            state = states.get(cid)
            research = stored_research(state) if state is not None else None
            if state is None or research is None or state.merged_into is not None:
                nothing[cid] = ()  # its research moved on: nothing waits any more
            else:
                finished.append((state, research))
        self.effects.set_waits(nothing)
        if finished:
            # A result held back has waited for its batch already: it does not wait a second time.
            parked = self.landing.parked
            since = min(
                [
                    time.monotonic(),
                    *(parked[s.contact_id] for s, _ in finished if s.contact_id in parked),
                ]
            )
            self._finished_since = since if not self._finished else min(self._finished_since or since, since)
            self._finished.extend(finished)
        self._drain(force=False)

    def _sample_pending(self) -> None:
        """Once a run: a few of the work earlier runs left is looked at now, to learn its times from."""
        if not self._sampled:
            self._sampled = True
            c = self.cycle
            sample_pending(c.store, self.schedule, self.effects, c.clock(), c.config.poll_min_seconds)

    def _reschedule(self, kinds: set[str]) -> None:
        if kinds:
            reschedule(self.cycle.store, self.schedule, self.effects, kinds)

    def _collect_batch(self, states: list[ContactState]) -> None:
        """Look these up; what finished waits in `_finished` for a full batch of reads and writes."""
        finished = [
            (s, r)
            for s, r in zip(states, self._map(self.effects.collect, states), strict=True)
            if r is not None
        ]
        finished = self._ask_early(finished)
        if finished:
            if not self._finished:
                self._finished_since = time.monotonic()
            self._finished.extend(finished)
        self._drain(force=False)

    def _ask_early(
        self, finished: list[tuple[ContactState, Research]]
    ) -> list[tuple[ContactState, Research]]:
        """Ask the signals a finished research needs now, from the inputs it echoes (before HubSpot is
        read): with --wait, results whose signals are in flight are held back until they are in, then
        read and written once. Returns what is to be written now."""
        jobs = []
        for state, research in finished:
            echoed = echoed_inputs(research)
            if research.status == "completed" and echoed is not None:
                inputs = InputsResult(echoed, None, fingerprint=state.fingerprint)
                jobs.append(WriteJob.of(state, {}, inputs, research))
        if not jobs:
            return finished
        resolved = self.landing.ask(jobs)
        now = {job.contact_id for job in self.landing.park(jobs, resolved, write_pending=False)}
        held = {job.contact_id for job in jobs} - now
        return [(state, research) for state, research in finished if state.contact_id not in held]

    def _idle(self) -> None:
        """Nothing to look up: write what finished (its signals are asked now) and what they freed."""
        self._drain(force=True)
        self._rewrite_answered()
        self._drain(force=True)

    def _between_rounds(self) -> None:
        """While results trickle in (`--wait`), send only full batches, or what waited too long."""
        self._drain(force=False)
        self.effects.flush_older_than(self.cycle.config.write_delay)

    def _drain(self, *, force: bool) -> None:
        """Read and write finished results 100 at a time: when full, when forced, or when overdue."""
        while self._finished and (
            force
            or len(self._finished) >= MAX_BATCH
            or time.monotonic() - (self._finished_since or 0.0) >= self.cycle.config.write_delay
        ):
            batch, self._finished = self._finished[:MAX_BATCH], self._finished[MAX_BATCH:]
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
                self.effects.set_waits({state.contact_id: ()})
                continue
            inputs = build_inputs(c.mapping, contact.properties)
            jobs.append(WriteJob.of(state, contact.properties, inputs, research, write_pending=UNWRITTEN))
        self.landing.write(jobs)
        self.progress.update(self.summary)

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
        s.signals_pending = sum(
            n for status, n in self.cycle.store.count_signal_asks().items() if status != "failed"
        )
        saber = self.cycle.saber
        if s.research.get("launched") or not saber.external_ids.sent:
            self.effects.set_cursor(RESEARCH_MODE, saber.external_ids.mode)  # for `status`, `check`
        self.effects.finish_run(error)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.progress.close()
        return s

"""One sync cycle, from HubSpot contacts to Saber research and back, exactly once.

The order of durable steps is what makes it safe to kill at any point:
the research id is stored as soon as Saber answers the POST; a contact with no local
record is first looked up by external ID; a POST carries an idempotency key derived from
the contact, its inputs and the research it replaces; the cursor moves only after the
cycle's writes landed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from connector.errors import ConfigError
from connector.hubspot import Contact, HubSpotAdapter, HubSpotError, RecordFailure, SearchFilter
from connector.logs import get_logger
from connector.mapping import (
    InputsResult,
    Mapping,
    SignalAsk,
    build_inputs,
    canonical_value,
    map_values,
    should_write,
    signals_to_ask,
)
from connector.saber import (
    InsufficientCredits,
    ResearchRequest,
    SaberClient,
    SaberError,
    SaberValidationError,
    idempotency_key,
)
from connector.saber.errors import SaberAuthError
from connector.saber.models import Research, Signal
from connector.state import DEFERRED, ContactState, StateStore
from connector.sync.credits import CreditBudget
from connector.sync.decide import Decision, RetryPolicy, decide
from connector.sync.options import SyncOptions
from connector.sync.polling import next_check_at
from connector.sync.progress import Progress
from connector.sync.summary import PlannedChange, RunSummary
from connector.sync.writer import BATCH_SIZE, BatchWriter

log = get_logger("sync")

CURSOR = "contacts.lastmodifieddate"
MAPPING_CURSOR = "mapping.fingerprint"
RESEARCH_PATH = "/v1/contacts/research"


@dataclass(frozen=True)
class EngineConfig:
    """Tuning of the cycle (from settings); the defaults suit a real portal."""

    concurrency: int = 8
    research_cost: int = 1  # credits one research is assumed to cost (assumption A5)
    signal_cost: int = 1
    cursor_overlap: timedelta = timedelta(minutes=10)
    poll_min_seconds: float = 15.0
    poll_max_seconds: float = 3600.0
    research_timeout: timedelta = timedelta(hours=24)
    retry: RetryPolicy = RetryPolicy()


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    ):
        self.mapping = mapping
        self.hubspot = hubspot
        self.saber = saber
        self.store = store
        self.options = options
        self.config = config
        self.progress = progress or Progress(enabled=False)
        self.clock = clock
        self.summary = RunSummary(started_at=clock(), dry_run=options.dry_run)
        cap = mapping.select.max_new_per_run
        if options.max_new is not None:
            cap = options.max_new if cap is None else min(cap, options.max_new)
        self.budget = CreditBudget(saber.credits, cap)
        self._properties = sorted(set(mapping.hubspot_properties()))
        self._filters = self._search_filters()
        self._policies = {name: spec.write for name, spec in mapping.properties.items()}
        self._run_id: int | None = None
        self._writer: BatchWriter | None = None
        self._pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="sync")

    # ------------------------------------------------------------------ the cycle
    def run(self) -> RunSummary:
        """Run the cycle and return its summary; API-level failures propagate after recording."""
        with self.store.run_lock() as acquired:
            if not acquired:
                self.summary.outcome = "skipped"
                self.summary.notes.append("another sync holds the lock; nothing done")
                return self._finish()
            if not self.options.dry_run:
                self._run_id = self.store.start_run()
            self._writer = BatchWriter(self.hubspot, self.store, self.summary, self._run_id)
            upper = self.clock()
            try:
                self._pull(upper)
                self._collect()
                if not self.options.dry_run:
                    self._writer.flush()
                    self._advance_cursor(upper)
                self.summary.outcome = "partial" if self.summary.failures else "ok"
            except BaseException as exc:
                self.summary.outcome = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                self.summary.notes.append(f"run stopped: {exc}")
                self._finish(error=str(exc))
                raise
            return self._finish()

    def _finish(self, error: str | None = None) -> RunSummary:
        s = self.summary
        s.finished_at = self.clock()
        s.api_calls = {"hubspot": dict(self.hubspot.calls), "saber": dict(self.saber.calls)}
        s.credits_used = self.budget.spent
        s.credits_left = self.budget.left
        s.credits_exhausted = self.budget.exhausted
        s.pending = self.store.count_pending(contact_ids=self.options.contact_ids or None)
        if self._run_id is not None:
            self.store.finish_run(self._run_id, outcome=s.outcome, counts=s.counts(), error=error)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.progress.close()
        return s

    # ------------------------------------------------------------------ 1. pull
    def _pull(self, upper: datetime) -> None:
        """Stream matching contacts page by page and process them in batches of 100."""
        # Taken before the pull, so what this run defers waits for the next run.
        due = [] if self.options.contact_ids else list(self._due_ids(upper))
        for chunk in _chunks(self._contacts(upper), BATCH_SIZE):
            self._process(chunk)
        if due:
            for ids in _chunks(due, BATCH_SIZE):
                # Contacts not modified in HubSpot but due for a refresh or a retry.
                self._process(list(self._search(ids=ids)))

    def _contacts(self, upper: datetime) -> Iterator[Contact]:
        try:
            yield from self._search_window(upper)
        except HubSpotError as exc:
            if exc.status == 400:  # HubSpot refuses the mapping's filters: a configuration error
                where = self.mapping.source_path or "the mapping"
                raise ConfigError(
                    f"{where}: select.filters: HubSpot refused the search: {exc.message}"
                ) from None
            raise

    def _search_window(self, upper: datetime) -> Iterator[Contact]:
        if self.options.contact_ids:
            for ids in _chunks(iter(self.options.contact_ids), BATCH_SIZE):
                yield from self._search(ids=ids)
            return
        since = None if self.options.full else self._cursor_start()
        log.info(
            "pull", modified_after=since.isoformat() if since else None, modified_before=upper.isoformat()
        )
        yield from self.hubspot.search_contacts(
            properties=self._properties,
            filters=self._filters,
            modified_after=since,
            modified_before=upper,
        )

    def _search(self, ids: Sequence[str]) -> Iterator[Contact]:
        filters = [*self._filters, SearchFilter("hs_object_id", "IN", values=tuple(ids))]
        return self.hubspot.search_contacts(properties=self._properties, filters=filters)

    def _search_filters(self) -> list[SearchFilter]:
        """The mapping's `select.filters` as HubSpot search filters."""
        return [
            SearchFilter(
                f.property,
                f.operator,
                value=None if f.value is None else str(f.value),
                values=None if f.values is None else tuple(str(v) for v in f.values),
                high_value=None if f.high_value is None else str(f.high_value),
            )
            for f in self.mapping.select.filters
        ]

    def _cursor_start(self) -> datetime | None:
        """Where the incremental pull starts: the saved cursor less the overlap window.

        A changed mapping (new properties, other filters) starts from the beginning, so
        every contact gets the new mapping applied.
        """
        if self.store.get_cursor(MAPPING_CURSOR) != self._mapping_fingerprint():
            return None
        saved = self.store.get_cursor(CURSOR)
        if not saved:
            return None
        return datetime.fromisoformat(saved) - self.config.cursor_overlap

    def _advance_cursor(self, upper: datetime) -> None:
        if self.options.contact_ids:
            return
        self.store.set_cursor(CURSOR, upper.isoformat())
        self.store.set_cursor(MAPPING_CURSOR, self._mapping_fingerprint())

    def _mapping_fingerprint(self) -> str:
        data = self.mapping.model_dump(mode="json", exclude={"source_path"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def _due_ids(self, now: datetime) -> Iterator[str]:
        days = self.mapping.select.refresh_after_days
        stale_before = now - timedelta(days=days) if days is not None else None
        yield from self.store.due_for_refresh(completed_before=stale_before, retry=self.config.retry, now=now)

    # ------------------------------------------------------------------ 2. decide
    def _process(self, contacts: list[Contact]) -> None:
        if not contacts:
            return
        now = self.clock()
        states = self.store.get_many([c.id for c in contacts])
        launches: list[tuple[Contact, InputsResult, ContactState | None, Decision]] = []
        writes: list[tuple[str, dict[str, str | None], ContactState, InputsResult]] = []
        for contact in contacts:
            self.summary.count("contacts_seen")
            inputs = build_inputs(self.mapping, contact.properties)
            state = states.get(contact.id)
            decision = decide(
                state,
                inputs,
                now=now,
                refresh_after_days=self.mapping.select.refresh_after_days,
                retry=self.config.retry,
            )
            if decision.action == "skip":
                self._skip(contact.id, state, decision)
                continue
            if state is not None and state.skip_reason and not self.options.dry_run:
                self.store.record_skip(contact.id, None)
            if decision.action == "launch":
                launches.append((contact, inputs, state, decision))
            elif decision.action == "write" and state is not None:
                writes.append((contact.id, contact.properties, state, inputs))
            elif self.options.dry_run:
                self.summary.add_plan(PlannedChange(contact.id, "wait", "research pending"))
        done = [r for r in self._pool.map(self._launch, launches) if r is not None]
        writes.extend(done)
        self._write_all(writes)
        self.progress.update(self.summary)

    def _skip(self, contact_id: str, state: ContactState | None, decision: Decision) -> None:
        self.summary.skip(decision.reason)
        if self.options.dry_run:
            self.summary.add_plan(PlannedChange(contact_id, "skip", decision.detail))
            return
        if state is None or state.skip_reason != decision.detail:
            self.store.record_skip(contact_id, decision.detail)

    # ------------------------------------------------------------------ 3. launch
    def _launch(
        self, item: tuple[Contact, InputsResult, ContactState | None, Decision]
    ) -> tuple[str, dict[str, str | None], ContactState, InputsResult] | None:
        """Launch (or adopt) one research; returns a write job when the result is already there."""
        contact, inputs, state, decision = item
        assert inputs.inputs is not None and inputs.fingerprint is not None
        if self.options.dry_run:
            if not self.budget.plan_launch():  # honours the cap; asks Saber for nothing
                self.summary.skip("launch_cap")
                return None
            self.summary.add_plan(PlannedChange(contact.id, "launch", decision.reason))
            self.summary.research_event("would_launch")
            return None
        source = self.mapping.external_source
        if state is None:
            existing = self._find_existing(contact.id, inputs)
            if existing is not None:
                return self._adopt(contact, inputs, existing)
        if not self.budget.reserve_launch(self.config.research_cost):
            self._defer(contact.id)
            return None
        body = {**inputs.inputs, "externalId": contact.id, "externalSource": source}
        request = ResearchRequest.from_body(body)
        replaces = state.research_id if state is not None else None
        key = idempotency_key(
            "POST", RESEARCH_PATH, {"contact": contact.id, "inputs": inputs.fingerprint, "replaces": replaces}
        )
        try:
            started = self.saber.create_research(request, idempotency_key=key)
        except InsufficientCredits:
            self.budget.refund(self.config.research_cost, launch=True)
            self.budget.mark_exhausted()
            self._defer(contact.id)
            return None
        except SaberValidationError as exc:
            # Saber rejected the inputs: record it against these inputs, never resend them.
            self.budget.refund(self.config.research_cost, launch=True)
            self._record_rejected(contact.id, inputs, exc)
            return None
        except SaberAuthError:
            raise
        except SaberError as exc:
            # Saber kept failing after retries: try again next run (the cursor moves on).
            self.budget.refund(self.config.research_cost, launch=True)
            self._fail(contact.id, exc.code or "SABER_ERROR", str(exc))
            self.store.record_skip(contact.id, DEFERRED + "launch failed")
            return None
        now = self.clock()
        self.store.record_launch(
            contact.id,
            external_id=contact.id,
            fingerprint=inputs.fingerprint,
            research_id=started.id,
            next_check_at=next_check_at(now, now, self.config.poll_min_seconds, self.config.poll_max_seconds),
        )
        self.summary.research_event("launched")
        log.debug("research launched", contact_id=contact.id, research_id=started.id, reason=decision.reason)
        return None

    def _defer(self, contact_id: str) -> None:
        """Put a launch off to a later run (cap reached or credits out), which picks it up again."""
        reason = "no_credits" if self.budget.exhausted and not self.budget.cap_reached else "launch_cap"
        self.summary.skip(reason)
        self.store.record_skip(contact_id, DEFERRED + reason.replace("_", " "))

    def _find_existing(self, contact_id: str, inputs: InputsResult) -> Research | None:
        """A research Saber already holds for this contact and these inputs (a crash's orphan)."""
        try:
            found = self.saber.find_research(contact_id, self.mapping.external_source)
        except SaberAuthError:
            raise
        except SaberError as exc:
            log.warning("lookup by external id failed", contact_id=contact_id, error=str(exc))
            return None
        if found is None or found.status == "failed":
            return None
        raw = found.raw
        assert inputs.inputs is not None
        for field, value in inputs.inputs.items():
            if field in raw and raw[field] is not None and str(raw[field]) != value:
                return None
        days = self.mapping.select.refresh_after_days
        if (
            found.completed_at
            and days is not None
            and self.clock() - found.completed_at >= timedelta(days=days)
        ):
            return None
        return found

    def _adopt(
        self, contact: Contact, inputs: InputsResult, research: Research
    ) -> tuple[str, dict[str, str | None], ContactState, InputsResult] | None:
        assert inputs.fingerprint is not None
        now = self.clock()
        self.store.record_launch(
            contact.id,
            external_id=contact.id,
            fingerprint=inputs.fingerprint,
            research_id=research.id,
            next_check_at=now,
        )
        self.summary.research_event("adopted")
        if not research.is_done:
            return None
        state = self._record_done(contact.id, research)
        return (contact.id, contact.properties, state, inputs)

    def _record_rejected(self, contact_id: str, inputs: InputsResult, exc: SaberValidationError) -> None:
        assert inputs.fingerprint is not None
        now = self.clock()
        self.store.record_launch(
            contact_id,
            external_id=contact_id,
            fingerprint=inputs.fingerprint,
            research_id="",
            status="failed",
            next_check_at=now,
        )
        self.store.record_result(
            contact_id,
            research_id="",
            status="failed",
            result=None,
            completed_at=now,
            error_code="REJECTED",
            error=str(exc),
        )
        self.summary.skip("rejected_by_saber")
        self._fail(contact_id, "REJECTED", str(exc))

    def _fail(self, contact_id: str, code: str, message: str, prop: str | None = None) -> None:
        self.summary.fail(RecordFailure(contact_id, prop, code, message))
        if not self.options.dry_run:
            self.store.record_error(self._run_id, contact_id, code, message, property=prop)

    # ------------------------------------------------------------------ 4. collect
    def _collect(self) -> None:
        """Look pending research up; with --wait, keep at it until done or the deadline."""
        deadline = time.monotonic() + max(0.0, self.options.wait_seconds)
        ids = self.options.contact_ids or None
        while True:
            now = self.clock()
            due = self.store.pending(due_before=now, contact_ids=ids)
            for chunk in _chunks(iter(due), BATCH_SIZE):
                self._collect_chunk(chunk)
            if self.options.dry_run:
                return
            soonest = self.store.pending(contact_ids=ids, limit=1)
            if not soonest or time.monotonic() >= deadline:
                return
            if self._writer is not None:
                self._writer.flush()  # what landed so far is safe while we wait
            earliest = soonest[0].next_check_at or now
            pause = min((earliest - self.clock()).total_seconds(), deadline - time.monotonic())
            if pause > 0:
                time.sleep(min(pause, 5.0))

    def _collect_chunk(self, states: list[ContactState]) -> None:
        if self.options.dry_run:
            for s in states:
                self.summary.add_plan(PlannedChange(s.contact_id, "wait", "research pending"))
            return
        done = [r for r in self._pool.map(self._poll, states) if r is not None]
        if not done:
            return
        contacts = {
            c.id: c for c in self.hubspot.read_contacts([s.contact_id for s in done], self._properties)
        }
        writes = []
        for state in done:
            contact = contacts.get(state.contact_id)
            if contact is None:
                continue  # deleted in HubSpot meanwhile: nothing to write
            writes.append(
                (state.contact_id, contact.properties, state, build_inputs(self.mapping, contact.properties))
            )
        self._write_all(writes)
        self.progress.update(self.summary)

    def _poll(self, state: ContactState) -> ContactState | None:
        """Look one pending research up; returns the new state when it is done."""
        research = self._lookup(state)
        now = self.clock()
        if research is None or not research.is_done:
            launched = state.launched_at or now
            if research is None or now - launched < self.config.research_timeout:
                self.store.record_poll(
                    state.contact_id,
                    next_check_at=next_check_at(
                        launched, now, self.config.poll_min_seconds, self.config.poll_max_seconds
                    ),
                )
                return None
            research = Research.model_validate(
                {
                    "id": state.research_id,
                    "status": "failed",
                    "errorCode": "RESEARCH_TIMEOUT",
                    "error": f"still processing after {self.config.research_timeout}",
                }
            )
        return self._record_done(state.contact_id, research)

    def _lookup(self, state: ContactState) -> Research | None:
        """By external ID first; by the stored research id when that finds another or none."""
        try:
            found = self.saber.find_research(
                state.external_id or state.contact_id, self.mapping.external_source
            )
            if found is not None and (not state.research_id or found.id == state.research_id):
                return found
            if state.research_id:
                return self.saber.get_research(state.research_id)
            return found
        except SaberAuthError:
            raise
        except SaberError as exc:
            log.warning("research lookup failed", contact_id=state.contact_id, error=str(exc))
            return None

    def _record_done(self, contact_id: str, research: Research) -> ContactState:
        self.store.record_result(
            contact_id,
            research_id=research.id,
            status=research.status,
            result=research.raw if research.status == "completed" else None,
            completed_at=research.completed_at or self.clock(),
            error_code=research.error_code,
            error=None if research.error is None else str(research.error),
        )
        self.summary.research_event(research.status)
        if research.status == "failed":
            log.info("research failed", contact_id=contact_id, error_code=research.error_code)
        state = self.store.get(contact_id)
        assert state is not None
        return state

    # ------------------------------------------------------------------ 5-6. signals and write
    def _write_all(self, jobs: list[tuple[str, dict[str, str | None], ContactState, InputsResult]]) -> None:
        for contact_id, changes in self._pool.map(self._prepare_write, jobs):
            if not changes:
                continue
            if self.options.dry_run:
                continue
            assert self._writer is not None
            self._writer.add(contact_id, changes)

    def _prepare_write(
        self, job: tuple[str, dict[str, str | None], ContactState, InputsResult]
    ) -> tuple[str, dict[str, str]]:
        """Answer the mapping's signals and work out which properties change for one contact."""
        contact_id, props, state, inputs = job
        research = self._research_of(state)
        if research is None:
            return contact_id, {}
        answers = (
            self._signal_answers(contact_id, state, research, inputs)
            if research.status == "completed"
            else {}
        )
        values = map_values(self.mapping, research, answers)
        changes: dict[str, str] = {}
        shown: dict[str, dict[str, str | None]] = {}
        for prop, pv in values.items():
            if pv.error:
                self._fail(contact_id, "CONVERSION_ERROR", pv.error, prop)
                continue
            if pv.value is None:
                continue
            current = canonical_value(self.mapping, prop, props.get(prop))
            if should_write(self._policies[prop], pv.value, current, state.written.get(prop)):
                changes[prop] = pv.value
                shown[prop] = {"from": props.get(prop), "to": pv.value}
        if self.options.dry_run and shown:
            self.summary.add_plan(PlannedChange(contact_id, "write", "", shown))
        return contact_id, changes

    def _research_of(self, state: ContactState) -> Research | None:
        if state.research_status == "completed" and state.result:
            return Research.model_validate(state.result)
        if state.research_status == "failed" and state.research_id:
            return Research.model_validate(
                {
                    "id": state.research_id,
                    "status": "failed",
                    "errorCode": state.research_error_code,
                    "error": state.research_error,
                    "completedAt": state.completed_at,
                }
            )
        return None

    def _signal_answers(
        self, contact_id: str, state: ContactState, research: Research, inputs: InputsResult
    ) -> dict[str, Signal]:
        """Signals answered through the sync endpoints: stored ones reused, missing ones asked."""
        if inputs.inputs is None:
            return {}
        asks, unaskable = signals_to_ask(self.mapping, research, inputs.inputs)
        answers: dict[str, Signal] = {}
        for ask in asks:
            stored = state.signals.get(ask.key)
            if (
                stored
                and stored.get("fingerprint") == inputs.fingerprint
                and stored.get("target") == ask.target
            ):
                answers[ask.key] = Signal.model_validate(stored["signal"])
                continue
            signal = self._ask(contact_id, ask, inputs)
            if signal is not None:
                answers[ask.key] = signal
        for key, why in unaskable.items():
            log.debug("signal not asked", contact_id=contact_id, signal=key, reason=why)
        return answers

    def _ask(self, contact_id: str, ask: SignalAsk, inputs: InputsResult) -> Signal | None:
        if self.options.dry_run:
            return None
        if not self.budget.reserve(self.config.signal_cost):
            return None
        try:
            if ask.scope == "company":
                signal = self.saber.company_signal(ask.target, ask.question, ask.answer_type)
            else:
                signal = self.saber.contact_signal(ask.target, ask.question, ask.answer_type)
        except InsufficientCredits:
            self.budget.refund(self.config.signal_cost)
            self.budget.mark_exhausted()
            return None
        except SaberAuthError:
            raise
        except SaberError as exc:
            self.budget.refund(self.config.signal_cost)
            self._fail(contact_id, exc.code or "SIGNAL_FAILED", f"signal {ask.key}: {exc}")
            return None
        self.summary.count("signals_asked")
        self.store.record_signal(
            contact_id, ask.key, {"signal": signal.raw, "target": ask.target}, inputs.fingerprint or ""
        )
        return signal


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk

"""Launching: start (or adopt) research for one contact, paying at most once for it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from connector.errors import RUN_GOES_ON, RetriableApiError, SkippableError
from connector.hubspot.limits import MERGED_IDS
from connector.logs import get_logger
from connector.mapping import Mapping
from connector.mapping.model import INPUT_FIELDS
from connector.saber import InsufficientCredits, SaberClient, SaberValidationError
from connector.saber.models import Research, ResearchStarted
from connector.saber.research import start_contact_research
from connector.state import UNWRITTEN, StateStore
from connector.sync.context import EngineConfig
from connector.sync.credits import CreditBudget
from connector.sync.failures import Failure, contact_failure
from connector.sync.jobs import ContactJob, LaunchOutcome, WriteJob, stored_research
from connector.sync.outage import OutageBreaker
from connector.sync.polling import Schedule
from connector.sync.results import record_done
from connector.sync.stopping import StopRequest
from connector.sync.summary import RunSummary

log = get_logger("sync")


class Launcher:
    """One contact at a time, from any thread: look for an orphan, reserve credits, POST, record.

    The research id is stored as soon as Saber answers; a contact with no local record is
    first looked up by external ID (a crash between a POST and its record leaves one); the
    POST's idempotency key is derived from the contact, its inputs and what it replaces.
    """

    def __init__(
        self,
        *,
        mapping: Mapping,
        saber: SaberClient,
        saber_health: OutageBreaker,
        store: StateStore,
        summary: RunSummary,
        budget: CreditBudget,
        config: EngineConfig,
        clock: Callable[[], datetime],
        stop: StopRequest,
        schedule: Schedule,
        fail: Callable[[Failure], None],
    ) -> None:
        self.mapping = mapping
        self.saber = saber
        self.saber_health = saber_health
        self.store = store
        self.summary = summary
        self.budget = budget
        self.config = config
        self.clock = clock
        self.stop = stop
        self.schedule = schedule
        self.fail = fail
        self._guard = threading.Lock()
        self._inputs_locks: dict[str, threading.Lock] = {}  # one launch at a time per set of inputs

    def launch(self, job: ContactJob) -> LaunchOutcome:
        """Launch (or adopt) research for one contact; contacts with the same inputs one at a time,
        so the second of a person entered twice finds the first's research instead of paying."""
        assert job.inputs.fingerprint is not None
        with self._guard:
            lock = self._inputs_locks.setdefault(job.inputs.fingerprint, threading.Lock())
        with lock:
            return self._launch(job)

    def _launch(self, job: ContactJob) -> LaunchOutcome:
        cid, inputs = job.contact_id, job.inputs
        assert inputs.inputs is not None and inputs.fingerprint is not None
        if self.stop.requested:  # Ctrl-C / SIGTERM: start nothing new; the next run launches it
            self.summary.skip("interrupted", cid)
            return LaunchOutcome("deferred", cid)
        if job.state is None:
            merged = self._merged_research(job)
            if merged is not None:
                return merged
            twin = self._twin_research(job)
            if twin is not None:
                return twin
            if self.budget.cap_reached:  # nothing can launch: no look-up either (`--max-new 0` only plans)
                return self._defer(job)
            existing = self._find_existing(job)
            if existing is not None:
                return self._adopt(job, existing)
        elif job.state.research_id is not None and not self.budget.cap_reached:
            orphan = self._unrecorded_replacement(job)
            if orphan is not None:
                return self._adopt_replacement(job, orphan)
        cost = self.config.research_cost
        if not self.budget.reserve_launch(cost):
            return self._defer(job)
        started: ResearchStarted | None = None
        rejected: str | None = None
        failed: SkippableError | RetriableApiError | None = None
        try:
            started = self.saber_health.call(
                "create_research",
                lambda: start_contact_research(
                    self.saber,
                    inputs.inputs or {},
                    contact_id=cid,
                    external_source=self.mapping.external_source,
                    fingerprint=inputs.fingerprint or "",
                    replaces=job.state.research_id if job.state is not None else None,
                    webhook_url=self.config.webhook_url,
                ),
            )
        except InsufficientCredits:
            self.budget.mark_exhausted()
        except SaberValidationError as exc:
            rejected = str(exc)
        except RUN_GOES_ON as exc:
            failed = exc
        finally:
            if started is None:  # nothing was spent: give the reservation back (fatal errors too)
                self.budget.refund(cost, launch=True)
        if rejected is not None:
            # Saber rejected the inputs: record it against these inputs, never resend them.
            self._record_rejected(job, rejected)
            return LaunchOutcome("rejected", cid)
        if failed is not None:
            # Saber kept failing after retries: try again next run (the cursor moves on).
            self.fail(contact_failure(cid, failed.code or "SABER_ERROR", str(failed)))
            self.store.record_deferred(cid, "launch_failed")
            return LaunchOutcome("failed", cid)
        if started is None:  # 402: out of credits
            return self._defer(job)
        now = self.clock()
        self.store.record_launch(
            cid,
            external_id=cid,
            fingerprint=inputs.fingerprint,
            research_id=started.id,
            next_check_at=self._first_look(now),
        )
        self.summary.research_event("launched")
        self.summary.spend("research", cost)
        log.debug("research launched", contact_id=cid, research_id=started.id, reason=job.decision.reason)
        return LaunchOutcome("launched", cid)

    def _merged_research(self, job: ContactJob) -> LaunchOutcome | None:
        """A merged contact's research, adopted by the surviving contact when its inputs are the same.

        HubSpot gives the survivor of a merge a new id and lists the old ones in
        `hs_merged_object_ids`; research the connector (or Saber, by external id) holds for
        one of them is taken over instead of paid again. Other inputs: research as any change.
        """
        old_ids = [
            i for i in (job.contact.properties.get(MERGED_IDS) or "").split(";") if i and i != job.contact_id
        ]
        if not old_ids:
            return None
        states = self.store.get_many(old_ids)
        for old in old_ids:
            state = states.get(old)
            if state is None or state.merged_into is not None or state.fingerprint != job.inputs.fingerprint:
                continue
            if state.research_status not in ("processing", "completed"):
                continue
            adopted = self.store.adopt_merged(job.contact_id, old)
            self.summary.research_event("adopted")
            self.summary.save("research_adopted", self.config.research_cost)
            log.info("research adopted from a merged contact", contact_id=job.contact_id, merged_id=old)
            research = stored_research(adopted)
            if adopted.research_status != "completed" or research is None:
                return LaunchOutcome("adopted", job.contact_id)
            write = WriteJob.of(adopted, job.contact.properties, job.inputs, research)
            return LaunchOutcome("adopted", job.contact_id, write)
        for old in old_ids:  # unknown here: Saber may still hold research under the old external id
            if old in states:
                continue
            found = self._find_existing(job, external_id=old)
            if found is not None:
                return self._adopt(job, found, external_id=old)
        return None

    def _twin_research(self, job: ContactJob) -> LaunchOutcome | None:
        """The research of another contact with exactly these inputs (the same person entered
        twice), shared instead of paid again; the link shows in the contact's external id."""
        assert job.inputs.fingerprint is not None
        twin = self.store.same_inputs(job.inputs.fingerprint, other_than=job.contact_id)
        if twin is None:
            return None
        adopted = self.store.adopt_twin(job.contact_id, twin.contact_id)
        self.summary.research_event("adopted")
        self.summary.save("same_inputs", self.config.research_cost)
        log.info(
            "research shared with a contact of the same inputs",
            contact_id=job.contact_id,
            twin=twin.contact_id,
        )
        research = stored_research(adopted)
        if adopted.research_status != "completed" or research is None:
            return LaunchOutcome("adopted", job.contact_id)
        write = WriteJob.of(adopted, job.contact.properties, job.inputs, research, write_pending=UNWRITTEN)
        return LaunchOutcome("adopted", job.contact_id, write)

    def _first_look(self, now: datetime) -> datetime:
        """The first look-up: when research here is usually done; with webhooks, a late safety poll."""
        config = self.config
        if config.webhook_url is not None:
            return now + timedelta(seconds=max(config.poll_min_seconds, config.webhook_poll_seconds))
        return self.schedule.first("research", now)

    def defer_all(self, jobs: Sequence[ContactJob]) -> list[LaunchOutcome]:
        """The launch cap is reached: put these off in one transaction, with no look-up or twin check
        (both are redone, before any payment, by the run that launches them)."""
        reason = "launch_cap"
        for job in jobs:
            self.summary.skip(reason, job.contact_id)
        changed = [
            j.contact_id
            for j in jobs
            if j.state is None or j.state.deferred != reason or j.state.skip_reason is not None
        ]
        if changed:
            self.store.record_deferred_many(changed, reason)
        return [LaunchOutcome("deferred", j.contact_id) for j in jobs]

    def _defer(self, job: ContactJob) -> LaunchOutcome:
        """Put a launch off to a later run (cap reached or credits out), which picks it up again."""
        budget, contact_id, state = self.budget, job.contact_id, job.state
        reason = "no_credits" if budget.exhausted and not budget.cap_reached else "launch_cap"
        self.summary.skip(reason, contact_id)
        if state is None or state.deferred != reason or state.skip_reason is not None:
            self.store.record_deferred(contact_id, reason)  # already put off so: no write
        return LaunchOutcome("deferred", contact_id)

    def _find_existing(self, job: ContactJob, external_id: str | None = None) -> Research | None:
        """A research Saber already holds for this contact (or `external_id`) and these inputs.

        Not looked for once Saber refused external IDs: research launched since carries none.
        """
        if not self.saber.external_ids.sent:
            return None
        wanted = external_id or job.contact_id
        try:
            found = self.saber_health.call(
                "find_research", lambda: self.saber.find_research(wanted, self.mapping.external_source)
            )
        except RUN_GOES_ON as exc:
            log.warning("lookup by external id failed", contact_id=job.contact_id, error=str(exc))
            if isinstance(exc, SkippableError):  # a garbled answer: on the contact's record
                code = exc.code or "LOOKUP_FAILED"
                self.fail(contact_failure(job.contact_id, code, f"look-up by external id: {exc}"))
            return None  # the launch's Idempotency-Key still keeps a retry from paying twice
        if found is None or found.status == "failed":
            return None
        assert job.inputs.inputs is not None
        for field, value in job.inputs.inputs.items():
            if field in found.raw and found.raw[field] is not None and str(found.raw[field]) != value:
                return None
        days = self.mapping.select.refresh_after_days
        age = self.clock() - found.completed_at if found.completed_at else None
        if age is not None and days is not None and age >= timedelta(days=days):
            return None
        return found

    def _unrecorded_replacement(self, job: ContactJob) -> Research | None:
        """Research that replaces this contact's but was never recorded (a crash after the POST).

        The POST's Idempotency-Key makes Saber replay it only while Saber remembers the key,
        and that window is not published: a restart after it would pay again. So, as for a
        contact with no record, the newest research Saber holds under the contact's external
        ID is adopted when it is not the one being replaced and was asked with exactly these
        inputs (a research that echoes no inputs is never taken for these).
        """
        assert job.state is not None and job.inputs.inputs is not None
        found = self._find_existing(job)
        if found is None or found.id == job.state.research_id:
            return None
        inputs = job.inputs.inputs
        if any(found.raw.get(name) != inputs.get(name) for name in INPUT_FIELDS):
            return None
        return found

    def _adopt_replacement(self, job: ContactJob, research: Research) -> LaunchOutcome:
        """Record the found research as this contact's; the collect stage reads and writes it.

        Not written from here: the collect stage writes it with the hashes of what the
        contact's earlier research wrote, so those values are still the connector's own.
        """
        assert job.inputs.fingerprint is not None
        self.store.record_launch(
            job.contact_id,
            external_id=job.contact_id,
            fingerprint=job.inputs.fingerprint,
            research_id=research.id,
            next_check_at=self.clock(),
        )
        self.summary.research_event("adopted")
        self.summary.save("research_adopted", self.config.research_cost)  # Saber had it: not paid again
        log.info("unrecorded research adopted", contact_id=job.contact_id, research_id=research.id)
        return LaunchOutcome("adopted", job.contact_id)

    def _adopt(self, job: ContactJob, research: Research, external_id: str | None = None) -> LaunchOutcome:
        assert job.inputs.fingerprint is not None
        self.store.record_launch(
            job.contact_id,
            external_id=external_id or job.contact_id,
            fingerprint=job.inputs.fingerprint,
            research_id=research.id,
            next_check_at=self.clock(),
        )
        self.summary.research_event("adopted")
        self.summary.save("research_adopted", self.config.research_cost)  # Saber had it: not paid again
        if not research.is_done:
            return LaunchOutcome("adopted", job.contact_id)
        record_done(self.store, self.summary, self.clock, job.contact_id, research, self.schedule)
        write = WriteJob(
            job.contact_id,
            job.contact.properties,
            job.inputs,
            research,
            written={},
            signals={},
            write_pending=UNWRITTEN,
        )
        return LaunchOutcome("adopted", job.contact_id, write)

    def _record_rejected(self, job: ContactJob, message: str) -> None:
        assert job.inputs.fingerprint is not None
        now = self.clock()
        self.store.record_launch(
            job.contact_id,
            external_id=job.contact_id,
            fingerprint=job.inputs.fingerprint,
            research_id="",
            status="failed",
            next_check_at=now,
        )
        self.store.record_result(
            job.contact_id,
            research_id="",
            status="failed",
            result=None,
            completed_at=now,
            error_code="REJECTED",
            error=message,
        )
        self.summary.skip("rejected_by_saber", job.contact_id, message)
        self.fail(contact_failure(job.contact_id, "REJECTED", message))

"""Launching: start (or adopt) research for one contact, paying at most once for it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from connector.errors import RUN_GOES_ON, RecordFailure, RetriableApiError, SkippableError
from connector.logs import get_logger
from connector.mapping.model import INPUT_FIELDS
from connector.saber import InsufficientCredits, SaberValidationError
from connector.saber.models import Research, ResearchStarted
from connector.saber.research import start_contact_research
from connector.state import UNWRITTEN
from connector.sync.collect import record_done
from connector.sync.config import Cycle
from connector.sync.jobs import ContactJob, LaunchOutcome, WriteJob, stored_research
from connector.sync.polling import Schedule

log = get_logger("sync")

MERGED_IDS = "hs_merged_object_ids"  # HubSpot's list of the ids merged into a contact


class Launcher:
    """One contact at a time, from any thread: look for an orphan, reserve credits, POST, record.

    The research id is stored as soon as Saber answers; a contact with no local record is
    first looked up by external ID (a crash between a POST and its record leaves one); the
    POST's idempotency key is derived from the contact, its inputs and what it replaces.
    """

    def __init__(self, cycle: Cycle, schedule: Schedule, fail: Callable[[RecordFailure], None]) -> None:
        self.cycle = cycle
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
        c, cid, inputs = self.cycle, job.contact_id, job.inputs
        assert inputs.inputs is not None and inputs.fingerprint is not None
        if c.stop.requested:  # Ctrl-C / SIGTERM: start nothing new; the next run launches it
            c.summary.skip("interrupted", cid)
            return LaunchOutcome("deferred", cid)
        if job.state is None:
            merged = self._merged_research(job)
            if merged is not None:
                return merged
            twin = self._twin_research(job)
            if twin is not None:
                return twin
            if c.budget.cap_reached:  # nothing can launch: no look-up either (`--max-new 0` only plans)
                return self._defer(job)
            existing = self._find_existing(job)
            if existing is not None:
                return self._adopt(job, existing)
        elif job.state.research_id is not None and not c.budget.cap_reached:
            orphan = self._unrecorded_replacement(job)
            if orphan is not None:
                return self._adopt_replacement(job, orphan)
        cost = c.config.research_cost
        if not c.budget.reserve_launch(cost):
            return self._defer(job)
        started: ResearchStarted | None = None
        rejected: str | None = None
        failed: SkippableError | RetriableApiError | None = None
        try:
            started = c.saber_health.call(
                "create_research",
                lambda: start_contact_research(
                    c.saber,
                    inputs.inputs or {},
                    contact_id=cid,
                    external_source=c.mapping.external_source,
                    fingerprint=inputs.fingerprint or "",
                    replaces=job.state.research_id if job.state is not None else None,
                    webhook_url=c.config.webhook_url,
                ),
            )
        except InsufficientCredits:
            c.budget.mark_exhausted()
        except SaberValidationError as exc:
            rejected = str(exc)
        except RUN_GOES_ON as exc:
            failed = exc
        finally:
            if started is None:  # nothing was spent: give the reservation back (fatal errors too)
                c.budget.refund(cost, launch=True)
        if rejected is not None:
            # Saber rejected the inputs: record it against these inputs, never resend them.
            self._record_rejected(job, rejected)
            return LaunchOutcome("rejected", cid)
        if failed is not None:
            # Saber kept failing after retries: try again next run (the cursor moves on).
            self.fail(RecordFailure(cid, None, failed.code or "SABER_ERROR", str(failed)))
            c.store.record_deferred(cid, "launch_failed")
            return LaunchOutcome("failed", cid)
        if started is None:  # 402: out of credits
            return self._defer(job)
        now = c.clock()
        c.store.record_launch(
            cid,
            external_id=cid,
            fingerprint=inputs.fingerprint,
            research_id=started.id,
            next_check_at=self._first_look(now),
        )
        c.summary.research_event("launched")
        c.summary.spend("research", cost)
        log.debug("research launched", contact_id=cid, research_id=started.id, reason=job.decision.reason)
        return LaunchOutcome("launched", cid)

    def _merged_research(self, job: ContactJob) -> LaunchOutcome | None:
        """A merged contact's research, adopted by the surviving contact when its inputs are the same.

        HubSpot gives the survivor of a merge a new id and lists the old ones in
        `hs_merged_object_ids`; research the connector (or Saber, by external id) holds for
        one of them is taken over instead of paid again. Other inputs: research as any change.
        """
        c = self.cycle
        old_ids = [
            i for i in (job.contact.properties.get(MERGED_IDS) or "").split(";") if i and i != job.contact_id
        ]
        if not old_ids:
            return None
        states = c.store.get_many(old_ids)
        for old in old_ids:
            state = states.get(old)
            if state is None or state.merged_into is not None or state.fingerprint != job.inputs.fingerprint:
                continue
            if state.research_status not in ("processing", "completed"):
                continue
            adopted = c.store.adopt_merged(job.contact_id, old)
            c.summary.research_event("adopted")
            c.summary.save("research_adopted", c.config.research_cost)
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
        c = self.cycle
        assert job.inputs.fingerprint is not None
        twin = c.store.same_inputs(job.inputs.fingerprint, other_than=job.contact_id)
        if twin is None:
            return None
        adopted = c.store.adopt_twin(job.contact_id, twin.contact_id)
        c.summary.research_event("adopted")
        c.summary.save("same_inputs", c.config.research_cost)
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
        config = self.cycle.config
        if config.webhook_url is not None:
            return now + timedelta(seconds=max(config.poll_min_seconds, config.webhook_poll_seconds))
        return self.schedule.first("research", now)

    def defer_all(self, jobs: Sequence[ContactJob]) -> list[LaunchOutcome]:
        """The launch cap is reached: put these off in one transaction, with no look-up or twin check
        (both are redone, before any payment, by the run that launches them)."""
        reason = "launch_cap"
        for job in jobs:
            self.cycle.summary.skip(reason, job.contact_id)
        changed = [
            j.contact_id
            for j in jobs
            if j.state is None or j.state.deferred != reason or j.state.skip_reason is not None
        ]
        if changed:
            self.cycle.store.record_deferred_many(changed, reason)
        return [LaunchOutcome("deferred", j.contact_id) for j in jobs]

    def _defer(self, job: ContactJob) -> LaunchOutcome:
        """Put a launch off to a later run (cap reached or credits out), which picks it up again."""
        budget, contact_id, state = self.cycle.budget, job.contact_id, job.state
        reason = "no_credits" if budget.exhausted and not budget.cap_reached else "launch_cap"
        self.cycle.summary.skip(reason, contact_id)
        if state is None or state.deferred != reason or state.skip_reason is not None:
            self.cycle.store.record_deferred(contact_id, reason)  # already put off so: no write
        return LaunchOutcome("deferred", contact_id)

    def _find_existing(self, job: ContactJob, external_id: str | None = None) -> Research | None:
        """A research Saber already holds for this contact (or `external_id`) and these inputs.

        Not looked for once Saber refused external IDs: research launched since carries none.
        """
        c = self.cycle
        if not c.saber.external_ids.sent:
            return None
        wanted = external_id or job.contact_id
        try:
            found = c.saber_health.call(
                "find_research", lambda: c.saber.find_research(wanted, c.mapping.external_source)
            )
        except RUN_GOES_ON as exc:
            log.warning("lookup by external id failed", contact_id=job.contact_id, error=str(exc))
            if isinstance(exc, SkippableError):  # a garbled answer: on the contact's record
                code = exc.code or "LOOKUP_FAILED"
                self.fail(RecordFailure(job.contact_id, None, code, f"look-up by external id: {exc}"))
            return None  # the launch's Idempotency-Key still keeps a retry from paying twice
        if found is None or found.status == "failed":
            return None
        assert job.inputs.inputs is not None
        for field, value in job.inputs.inputs.items():
            if field in found.raw and found.raw[field] is not None and str(found.raw[field]) != value:
                return None
        days = c.mapping.select.refresh_after_days
        if found.completed_at and days is not None and c.clock() - found.completed_at >= timedelta(days=days):
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
        c = self.cycle
        assert job.inputs.fingerprint is not None
        c.store.record_launch(
            job.contact_id,
            external_id=job.contact_id,
            fingerprint=job.inputs.fingerprint,
            research_id=research.id,
            next_check_at=c.clock(),
        )
        c.summary.research_event("adopted")
        c.summary.save("research_adopted", c.config.research_cost)  # Saber had it: not paid again
        log.info("unrecorded research adopted", contact_id=job.contact_id, research_id=research.id)
        return LaunchOutcome("adopted", job.contact_id)

    def _adopt(self, job: ContactJob, research: Research, external_id: str | None = None) -> LaunchOutcome:
        c = self.cycle
        assert job.inputs.fingerprint is not None
        c.store.record_launch(
            job.contact_id,
            external_id=external_id or job.contact_id,
            fingerprint=job.inputs.fingerprint,
            research_id=research.id,
            next_check_at=c.clock(),
        )
        c.summary.research_event("adopted")
        c.summary.save("research_adopted", c.config.research_cost)  # Saber had it: not paid again
        if not research.is_done:
            return LaunchOutcome("adopted", job.contact_id)
        record_done(c, job.contact_id, research, self.schedule)
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
        c = self.cycle
        assert job.inputs.fingerprint is not None
        now = c.clock()
        c.store.record_launch(
            job.contact_id,
            external_id=job.contact_id,
            fingerprint=job.inputs.fingerprint,
            research_id="",
            status="failed",
            next_check_at=now,
        )
        c.store.record_result(
            job.contact_id,
            research_id="",
            status="failed",
            result=None,
            completed_at=now,
            error_code="REJECTED",
            error=message,
        )
        c.summary.skip("rejected_by_saber", job.contact_id, message)
        self.fail(RecordFailure(job.contact_id, None, "REJECTED", message))

"""The mapping's prospecting jobs: started when due, within the run's credits, and followed.

Never started twice, whatever stops a run: a job is planned in the state (its row keyed by its
`Idempotency-Key`) before its audience is created, and the audience's id is recorded before the
job is started. A rerun after a crash anywhere finds the row still open and starts it again with
the same key and the same body, which the API answers `200` (replayed): no second job, no second
charge. The key is derived from what is started and when (the account group, the job's name and
request, the time it fell due), so a job due again later is a new one.

What the API says: a 402 stops starting (this job stays planned and is started by a later run
with its key); a 400/422, or a 409 such as IDEMPOTENCY_CONFLICT, is recorded against the job
(refused); an answer of the wrong shape too, the row kept planned so that the same key asks again;
a 403 is recorded against the job and stops the run (exit 3, naming the permission), the job kept
planned for the same key once the key has it; an API down stops the run (exit 3). A dry run
starts and writes nothing: it lists what would start and its credit estimate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.integrations.client import IntegrationsClient
from connector.integrations.errors import (
    AudienceNotReady,
    IntegrationsAnswerError,
    IntegrationsConflict,
    IntegrationsCreditsError,
    IntegrationsError,
    IntegrationsNotFound,
    IntegrationsPermissionError,
    IntegrationsRejected,
)
from connector.integrations.models import Job, JobRequest
from connector.linkedin.budget import CreditBudget
from connector.linkedin.summary import LinkedInSummary
from connector.logs import get_logger
from connector.mapping.linkedin import LinkedIn, LinkedInJob
from connector.state import StateStore
from connector.state.linkedin import JobRow

log = get_logger("linkedin")

KIND = "job"  # the state's kind of a mapping job (the scan stage's uploads are "upload")
KEY_PREFIX = "sc-li-"
PLANNED = "planned"
STARTED = ("queued", "running")
FINISHED = ("completed", "failed", "cancelled")
NO_CREDITS = "no credits left (the Saber integrations API answered 402): no more jobs started this run"


@dataclass(frozen=True)
class Due:
    """A mapping job due now: its name, what it asks for, and when it fell due (part of its key)."""

    name: str
    job: LinkedInJob
    due_at: datetime


def job_key(group: str, name: str, request: Mapping[str, Any], due_at: datetime) -> str:
    """The Idempotency-Key of one start: the same group, job, request and due time give the same key."""
    material = json.dumps(
        {"group": group, "name": name, "request": request, "due": due_at.astimezone(UTC).isoformat()},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return KEY_PREFIX + hashlib.sha256(material.encode()).hexdigest()


def canonical_request(job: LinkedInJob) -> dict[str, Any]:
    """What a job asks for, in the API's canonical names (the audience is not known yet)."""
    return {
        "source": job.source,
        "inputs": job.inputs(),
        "maxResults": job.max_results,
        "searchEmails": job.search_emails,
    }


def request_of(row: JobRow, audience_id: str) -> JobRequest:
    """The client's request for a planned row: what was planned, into its recorded audience."""
    r = row.request
    return JobRequest(
        source=str(r["source"]),
        inputs=dict(r.get("inputs") or {}),
        max_results=r.get("maxResults"),
        search_emails=bool(r.get("searchEmails")),
        audience_id=audience_id,
    )


class JobStage:
    """Follows the jobs started earlier and starts the due ones (see the module); one thread."""

    def __init__(
        self,
        section: LinkedIn,
        client: IntegrationsClient,
        store: StateStore,
        summary: LinkedInSummary,
        budget: CreditBudget,
        now: datetime,
    ) -> None:
        self.section = section
        self.client = client
        self.store = store
        self.summary = summary
        self.budget = budget
        self.now = now

    # ---------------------------------------------------------------- follow
    def follow(self) -> list[JobRow]:
        """Ask the API how each started job is doing; the completed ones, to import."""
        completed: list[JobRow] = []
        for row in self.store.linkedin.open_jobs(KIND):
            if row.job_id is None:
                continue  # planned, not started: `start_due` starts it with its key
            if row.status == "completed":
                completed.append(row)  # an import a crash or a busy audience cut short
                continue
            try:
                job = self.client.job(row.job_id)
            except IntegrationsError as exc:
                if not isinstance(exc, IntegrationsAnswerError | IntegrationsRejected):
                    raise
                if isinstance(exc, IntegrationsNotFound):  # gone: never asked again
                    self.store.linkedin.job_status(row.key, "failed", str(exc))
                    self.summary.jobs_failed += 1
                self.summary.fail(f"job:{row.name}", exc.code or type(exc).__name__, str(exc))
                continue
            if self._followed(row, job):
                completed.append(row)
        return completed

    def _followed(self, row: JobRow, job: Job) -> bool:
        """Record what the API says of one job; whether it completed."""
        if job.status == "completed":
            self.store.linkedin.job_status(row.key, "completed")
            self.summary.jobs_completed += 1
            return True
        if job.status in ("failed", "cancelled"):
            error = job.error_message or job.error_code or job.status
            self.store.linkedin.job_status(row.key, job.status, error)
            self.summary.jobs_failed += 1
            self.summary.fail(f"job:{row.name}", job.error_code or job.status.upper(), error)
            return False
        if job.status != row.status:
            self.store.linkedin.job_status(row.key, job.status)
        self.summary.jobs_running += 1
        return False

    # ---------------------------------------------------------------- start
    def start_due(self) -> None:
        """Start the planned jobs a run left, then the mapping's jobs that are due, budget allowing."""
        dry = self.summary.dry_run
        for row in self.store.linkedin.open_jobs(KIND):
            if row.job_id is None and row.status == PLANNED:
                if dry:
                    self._would_start(row.name, row.credits, resumed=True)
                elif not self._start(row):
                    return
        for due in self.due():
            credits = due.job.credits()
            if dry:
                self._would_start(due.name, credits)
                continue
            if self.budget.stopped is not None:
                return
            if credits > self.budget.limit:
                self.summary.fail(
                    f"job:{due.name}",
                    "OVER_BUDGET",
                    f"estimated at {credits} credits, more than linkedin.max_credits_per_run"
                    f" ({self.budget.limit}): lower max_results or raise the budget",
                )
                continue
            if not self.budget.fits(credits):
                self.summary.credits_estimated += credits
                self.summary.jobs_deferred += 1  # due still: the next run starts it
                continue
            request = canonical_request(due.job)
            key = job_key(self.client.group(), due.name, request, due.due_at)
            row = self.store.linkedin.plan_job(key, KIND, due.name, request, credits)
            if not self._start(row):
                return

    def due(self) -> list[Due]:
        """The mapping's jobs with no open row whose last start is `every_days` old (or never started)."""
        open_names = {r.name for r in self.store.linkedin.open_jobs(KIND)}
        out: list[Due] = []
        for name, job in self.section.jobs.items():
            if name in open_names:
                continue
            last = self.store.linkedin.last_job(KIND, name)
            if last is None:
                # First start: due since the day began, so that a crash before anything was
                # recorded and its rerun the same day derive the same key.
                out.append(Due(name, job, self.now.replace(hour=0, minute=0, second=0, microsecond=0)))
                continue
            if last.status == "refused" and dict(last.request) != canonical_request(job):
                out.append(Due(name, job, self.now))  # refused, then corrected: at once
                continue
            due_at = last.planned_at + timedelta(days=job.every_days)
            if self.now >= due_at:
                out.append(Due(name, job, due_at))
        return out

    def _would_start(self, name: str, credits: int, *, resumed: bool = False) -> None:
        self.summary.credits_estimated += credits
        fits = self.budget.hold(credits)
        self.summary.would_start.append(
            {"kind": KIND, "name": name, "credits": credits, "resumed": resumed, "within_budget": fits}
        )
        if not fits:
            self.summary.jobs_deferred += 1

    def _start(self, row: JobRow) -> bool:
        """Create the audience (once) and start the job with its key; False when starting must stop."""
        self.summary.credits_estimated += row.credits
        if not self.budget.hold(row.credits):
            if self.budget.stopped is not None:
                return False
            self.summary.jobs_deferred += 1  # stays planned: the next run starts it, same key
            return True
        try:
            audience_id = row.audience_id or self._audience(row)
            started = self.client.start_job(request_of(row, audience_id), idempotency_key=row.key)
        except IntegrationsCreditsError as exc:
            self.budget.release(row.credits)
            self.budget.stop(NO_CREDITS)
            log.warning("linkedin job not started: no credits", job=row.name, error=str(exc))
            return False
        except IntegrationsPermissionError as exc:  # recorded against the job, then the run stops (exit 3)
            self.budget.release(row.credits)
            self.summary.fail(f"job:{row.name}", exc.code or "FORBIDDEN", str(exc))
            raise
        except (IntegrationsRejected, IntegrationsConflict) as exc:
            self.budget.release(row.credits)
            self.store.linkedin.job_status(row.key, "refused", str(exc))
            self.summary.fail(f"job:{row.name}", exc.code or type(exc).__name__, str(exc))
            return True
        except AudienceNotReady:  # its audience is being filled (a start made elsewhere): next run
            self.budget.release(row.credits)
            log.info("linkedin job not started: its audience is being filled", job=row.name)
            return True
        except IntegrationsAnswerError as exc:  # may have started: the same key asks again next run
            self.summary.fail(f"job:{row.name}", exc.code or "BAD_ANSWER", str(exc))
            return True
        self.store.linkedin.job_started(row.key, started.id, started.status)
        self.summary.jobs_started += 1
        self.summary.jobs_replayed += int(started.replayed)
        log.info("linkedin job started", job=row.name, job_id=started.id, replayed=started.replayed)
        return True

    def _audience(self, row: JobRow) -> str:
        """The audience the job fills: created, and its id recorded before the job is started."""
        audience = self.client.create_audience(
            f"saber-connector {row.name} {row.key[len(KEY_PREFIX) : len(KEY_PREFIX) + 8]}",
            description=f"prospects of the saber-connector job {row.name}",
        )
        self.store.linkedin.set_audience(row.key, audience.id)
        return audience.id

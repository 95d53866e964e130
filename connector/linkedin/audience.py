"""The `hubspot` audience: the selected HubSpot contacts that have a LinkedIn URL, kept as one audience.

Nothing in the account-group API adds an existing prospect to an audience or looks one up by
URL, so the connector keeps one audience of its own (created once; its id a shared value in the
state's cursors) and fills it with `url_upload` jobs. Importing a URL is charged every time
(assumption I2), so each LinkedIn URL is uploaded once and never again: the URLs of a job are
recorded (`record_uploads`) before the job is started, under the job's Idempotency-Key, so a
crash between the two restarts the same job (a replay) instead of paying twice. Each job takes
at most 1,000 URLs and holds its credits against the run's budget first; a 402 stops uploading
(the planned upload is sent again, same key, by a later run). A refused upload's URLs are sent
again later (never paid); a failed one's are not (the API may have charged for some).

When an upload job completes, the audience's prospects are mapped to the contacts whose URL
they came from, by LinkedIn key (`record_uploaded`); the scans then find them by prospect id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.hubspot import HubSpotAdapter, SearchFilter
from connector.integrations.client import IntegrationsClient
from connector.integrations.errors import (
    AudienceNotReady,
    IntegrationsAuthError,
    IntegrationsCreditsError,
    IntegrationsError,
    IntegrationsPermissionError,
)
from connector.integrations.models import Job, JobRequest, linkedin_key
from connector.linkedin.budget import CreditBudget
from connector.linkedin.summary import LinkedInSummary
from connector.logs import get_logger
from connector.mapping import FilterSpec
from connector.state import StateStore
from connector.state.linkedin import JobRow, ProspectRow
from connector.sync.pull import search_filter

log = get_logger("linkedin")

AUDIENCE_CURSOR = "linkedin.audience.hubspot"  # the kept audience's id, shared by every hubspot scan
MAX_UPLOAD = 1000  # URLs one url_upload job takes, at most
UPLOAD = "upload"  # the job rows' kind
UPLOAD_SOURCE = "url_upload"


def upload_key(group: str, body: Mapping[str, Any]) -> str:
    """The Idempotency-Key of an upload: derived from the group and exactly what is uploaded."""
    text = json.dumps({"group": group, "kind": UPLOAD, "body": dict(body)}, sort_keys=True)
    return "sc-li-" + hashlib.sha256(text.encode()).hexdigest()


def request_of(row: JobRow) -> JobRequest:
    """An upload job's request from its stored body (canonical field names)."""
    body = row.request
    urls = list(body.get("profileUrls") or ())
    return JobRequest(
        source=UPLOAD_SOURCE,
        inputs={"profileUrls": urls},
        max_results=None,
        search_emails=bool(body.get("searchEmails", False)),
        audience_id=str(body.get("audienceId") or row.audience_id or ""),
    )


@dataclass(frozen=True)
class Person:
    """A selected HubSpot contact's LinkedIn profile: its key, its URL as HubSpot holds it, the contact."""

    key: str
    url: str
    contact_id: str


class HubSpotAudience:
    """Keeps the `hubspot` audience filled (see the module); one per scan and run."""

    def __init__(
        self,
        scan: str,
        url_property: str,
        filters: Sequence[FilterSpec],
        client: IntegrationsClient,
        hubspot: HubSpotAdapter,
        store: StateStore,
        summary: LinkedInSummary,
        budget: CreditBudget,
        now: datetime,
        *,
        dry_run: bool = False,
    ) -> None:
        self.now = now
        self.scan = scan
        self.url_property = url_property
        self.filters = filters
        self.client = client
        self.hubspot = hubspot
        self.store = store
        self.summary = summary
        self.budget = budget
        self.dry_run = dry_run

    # ---------------------------------------------------------------- the audience
    def audience_id(self, *, create: bool) -> str | None:
        """The kept audience's id; created (once, whoever is first) when `create` and there is none."""
        found = self.store.get_cursor(AUDIENCE_CURSOR)
        if found or not create or self.dry_run:
            return found
        made = self.client.create_audience(
            "saber-connector hubspot contacts",
            description="HubSpot contacts with a LinkedIn URL, uploaded by saber-connector for signal scans",
        )
        return self.store.shared_value(AUDIENCE_CURSOR, lambda: made.id)

    # ---------------------------------------------------------------- following uploads
    def follow(self) -> bool:
        """Follow this scan's open uploads (restarting planned ones); True when none is still open."""
        if self.dry_run:
            return not self._open()
        for row in self._open():
            if row.job_id is None:
                if self._start(row) is False:
                    break  # a 402 or a refusal: no other upload starts this run
            else:
                self._follow(row)
        return not self._open()

    def _open(self) -> list[JobRow]:
        return [r for r in self.store.linkedin.open_jobs(UPLOAD) if r.name == self.scan]

    def _follow(self, row: JobRow) -> bool:
        """Read one started upload; import its prospects once it completed. True when it is settled."""
        assert row.job_id is not None
        try:
            job = self.client.job(row.job_id)
        except IntegrationsError as exc:
            if isinstance(exc, AudienceNotReady):
                return False
            self.summary.fail(f"scan:{self.scan}", exc.code or "UPLOAD_UNREADABLE", str(exc))
            return False
        if job.status != row.status and job.status != "completed":
            self.store.linkedin.job_status(row.key, job.status, _error(job))
        if job.status in ("failed", "cancelled"):
            self.summary.fail(f"scan:{self.scan}", job.error_code or job.status.upper(), _error(job) or "")
            return True
        if job.status != "completed":
            return False
        self.store.linkedin.job_status(row.key, "completed")
        return self._import(row)

    def _import(self, row: JobRow) -> bool:
        """Map the completed upload's prospects to the contacts whose URLs they came from."""
        uploads = self.store.linkedin.uploads_of(row.key)
        if row.audience_id is None:
            return True
        try:
            prospects = [p for p in self.client.audience_prospects(row.audience_id) if p.key in uploads]
        except AudienceNotReady:  # another upload fills it now: read it next run
            return False
        except IntegrationsError as exc:
            self.summary.fail(f"scan:{self.scan}", exc.code or "AUDIENCE_UNREADABLE", str(exc))
            return False
        rows = [
            ProspectRow(
                prospect_id=p.id,
                key=p.key,
                contact_id=uploads[p.key][1],
                status="uploaded",
                first_name=p.first_name,
                last_name=p.last_name,
                company=_company(p.field("company.name")),
                job=None,
                seen_at=self.now,
            )
            for p in prospects
        ]
        self.store.linkedin.record_uploaded(rows)
        self.store.linkedin.job_imported(row.key)
        missing = len(uploads) - len(rows)
        log.info("upload imported", scan=self.scan, prospects=len(rows), not_found=missing)
        return True

    # ---------------------------------------------------------------- new uploads
    def upload(self) -> int:
        """Upload the selected contacts' URLs not uploaded yet, within the budget; how many URLs went up."""
        audience = self.audience_id(create=not self.dry_run)
        people = self.new_people()
        sent = 0
        for chunk in _chunks(people, MAX_UPLOAD):
            per_url = 1  # url_upload never searches emails
            room = len(chunk) if self.dry_run else min(len(chunk), self.budget.left // per_url)
            self.summary.credits_estimated += len(chunk) * per_url
            if self.dry_run:
                self.summary.would_start.append(
                    {"kind": UPLOAD, "name": self.scan, "urls": len(chunk), "credits": len(chunk) * per_url}
                )
                continue
            if room <= 0 or self.budget.stopped:
                log.info("uploads wait for the next run's budget", scan=self.scan, urls=len(chunk))
                break
            chunk = chunk[:room]
            assert audience is not None
            if not self._plan_and_start(audience, chunk):
                break
            sent += len(chunk)
        return sent

    def new_people(self) -> list[Person]:
        """The selected contacts' LinkedIn profiles whose URL was never uploaded (one per profile)."""
        found: dict[str, Person] = {}
        for person in self._selected():
            found.setdefault(person.key, person)
        done = self.store.linkedin.uploaded(list(found))
        return [p for k, p in found.items() if k not in done]

    def _selected(self) -> Iterator[Person]:
        prop = self.url_property
        filters = [search_filter(f) for f in self.filters]
        filters.append(SearchFilter(prop, "HAS_PROPERTY"))
        for contact in self.hubspot.search_contacts(properties=[prop], filters=filters):
            url = (contact.properties.get(prop) or "").strip()
            key = linkedin_key(url)
            if key:
                yield Person(key, url, contact.id)

    def _plan_and_start(self, audience: str, chunk: Sequence[Person]) -> bool:
        """Record the URLs under the job's key, then start it; False when uploading must stop."""
        request = JobRequest(
            source=UPLOAD_SOURCE,
            inputs={"profileUrls": [p.url for p in chunk]},
            max_results=None,
            search_emails=False,
            audience_id=audience,
        )
        body = request.body()
        key = upload_key(self.client.group(), body)
        row = self.store.linkedin.plan_job(key, UPLOAD, self.scan, body, request.credits(), audience)
        self.store.linkedin.record_uploads(key, {p.key: (p.url, p.contact_id) for p in chunk})
        return self._start(row) is not False

    def _start(self, row: JobRow) -> bool | None:
        """Start (or restart with the same key) a planned upload: True started, None waits, False stop."""
        request = request_of(row)
        if not self.budget.hold(row.credits):
            return None  # no room left this run: the planned row is started by a later run
        try:
            started = self.client.start_job(request, idempotency_key=row.key)
        except IntegrationsCreditsError as exc:
            self.budget.release(row.credits)
            self.budget.stop(f"no credits left: no more uploads or jobs started ({exc})")
            return False
        except AudienceNotReady:
            self.budget.release(row.credits)
            return None  # another upload still fills the audience: started by a later run
        except IntegrationsPermissionError as exc:  # the key lacks prospecting:write: kept for a later run
            self.budget.release(row.credits)
            self.summary.fail(f"scan:{self.scan}", exc.code or "FORBIDDEN", str(exc))
            return False
        except IntegrationsError as exc:
            if exc.maybe_applied:  # the API may have started it: its credits stay held
                raise  # the planned row is restarted (same key: a replay) by the next run
            self.budget.release(row.credits)
            if isinstance(exc, IntegrationsAuthError) or exc.status is None or exc.status >= 500:
                raise
            self.store.linkedin.job_status(row.key, "refused", str(exc))
            self.summary.fail(f"scan:{self.scan}", exc.code or f"HTTP_{exc.status}", str(exc))
            return False
        self.store.linkedin.job_started(row.key, started.id, started.status)
        if started.replayed:
            self.summary.jobs_replayed += 1
        self.summary.uploads_started += 1
        self.summary.urls_uploaded += len(request.inputs.get("profileUrls") or ())
        log.info("upload started", scan=self.scan, job_id=started.id, urls=len(request.inputs["profileUrls"]))
        return True


def _chunks(items: Sequence[Person], size: int) -> Iterator[list[Person]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _error(job: Job) -> str | None:
    if job.error_code or job.error_message:
        return f"{job.error_code or ''}: {job.error_message or ''}".strip(": ")
    return None


def _company(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None

"""One `linkedin run`: collect what finished, then start what is due (jobs, then scans).

Collect first, so that a job a crash left planned, or one that completed since the last run, is
settled before anything new is started: earlier claims are looked up in HubSpot, the started
jobs followed, the completed ones imported. Then the due jobs start within the run's credits,
and the scan stage runs (its uploads hold credits from the same budget).

Under the `linkedin` run lock (two runs would plan, claim and create the same people), recorded
in the runs table (kind: linkedin) unless a dry run. The CLI and the service share this class;
the API calls counted are this run's own, however many runs the clients served before.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from connector.clock import utcnow
from connector.errors import ConfigError
from connector.hubspot.adapter import HubSpotAdapter
from connector.integrations.client import IntegrationsClient
from connector.linkedin.budget import CreditBudget
from connector.linkedin.imports import Importer
from connector.linkedin.jobs import JobStage
from connector.linkedin.scans import ScanStage
from connector.linkedin.summary import LinkedInSummary
from connector.logs import get_logger
from connector.mapping import Mapping
from connector.portal import preflight_linkedin
from connector.state import StateStore

log = get_logger("linkedin")

LOCK = "linkedin"
LOCKED = "another linkedin run holds the lock on this state database"


class LinkedInRun:
    """Collect, then start (see the module); `run()` once."""

    def __init__(
        self,
        mapping: Mapping,
        client: IntegrationsClient,
        hubspot: HubSpotAdapter,
        store: StateStore,
        summary: LinkedInSummary,
        now: datetime,
    ) -> None:
        if mapping.linkedin is None:
            raise ConfigError("the mapping has no `linkedin` section")
        self.mapping = mapping
        self.section = mapping.linkedin
        self.client = client
        self.hubspot = hubspot
        self.store = store
        self.summary = summary
        self.now = now

    def run(self) -> LinkedInSummary:
        """The run under its lock, its figures and outcome in the summary (recorded unless dry)."""
        summary = self.summary
        before = {"hubspot": Counter(self.hubspot.calls), "integrations": Counter(self.client.calls)}
        with self.store.run_lock(LOCK) as locked:
            if not locked:
                summary.outcome = "skipped"
                summary.stopped = LOCKED
                return summary
            error: str | None = None
            try:
                self._stages()
            except Exception as exc:
                error = str(exc) or type(exc).__name__
                raise
            finally:
                summary.finished_at = utcnow()
                summary.api_calls = {
                    "hubspot": dict(Counter(self.hubspot.calls) - before["hubspot"]),
                    "integrations": dict(Counter(self.client.calls) - before["integrations"]),
                }
                summary.outcome = "failed" if error else "partial" if summary.failures else "ok"
                if not summary.dry_run:
                    self.store.runs.record_finished_run(
                        summary.started_at, outcome=summary.outcome, counts=summary.counts(), error=error
                    )
        return summary

    def _stages(self) -> None:
        preflight_linkedin(self.mapping, self.hubspot)  # exit 2 naming the fix, before any start
        budget = CreditBudget(self.section.max_credits_per_run, self.summary)
        jobs = JobStage(self.section, self.client, self.store, self.summary, budget, self.now)
        if not self.summary.dry_run:
            importer = Importer(self.section, self.client, self.hubspot, self.store, self.summary, self.now)
            importer.settle_claims()
            for row in jobs.follow():
                importer.run(row)
        jobs.start_due()
        scans = ScanStage(
            self.section,
            self.client,
            self.hubspot,
            self.store,
            self.summary,
            budget,
            self.now,
            self.summary.dry_run,
            filters=self.mapping.select.filters,
        )
        scans.run()
        figures = self.summary.as_dict()
        log.info("linkedin run", **figures["jobs"], **figures["contacts"])  # the service's cycle line too

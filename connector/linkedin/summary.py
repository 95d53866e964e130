"""The end-of-run summary of `linkedin run`: jobs and scans started and followed, contacts, credits.

Kept apart from the sync's and prospecting's summaries because the run counts different things;
the exit codes are the same contract (0 ok, 1 failures recorded against a job, scan or prospect;
2 and 3 come from the errors that stop a run). The job stage and the scan stage both count into
one summary, so its fields are fixed here and each stage only adds to its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

EXIT_OK = 0
EXIT_FAILURES = 1
SHOWN_FAILURES = 5  # failures `render` lists (the JSON has them all)


@dataclass
class LinkedInSummary:
    """Counters of one `linkedin run` (one thread: the stages are sequential)."""

    started_at: datetime
    dry_run: bool = False
    finished_at: datetime | None = None
    outcome: str = "running"
    credits_budget: int = 0
    credits_estimated: int = 0  # what the jobs and uploads due would cost (started or not)
    credits_held: int = 0  # held = started this run
    jobs_started: int = 0
    jobs_replayed: int = 0
    jobs_running: int = 0
    jobs_completed: int = 0
    jobs_failed: int = 0
    jobs_deferred: int = 0  # due, but the run's budget had no room left: next run
    prospects_imported: int = 0
    contacts_created: int = 0
    contacts_matched: int = 0
    recovered: int = 0  # claims an earlier run left, found created in HubSpot
    claims_waiting: int = 0  # claims too recent to be searchable in HubSpot: looked for next run
    uploads_started: int = 0
    urls_uploaded: int = 0
    scans_started: int = 0
    scans_running: int = 0
    scans_completed: int = 0
    scans_failed: int = 0
    results_pending: int = 0
    results_evaluated: int = 0
    results_written: int = 0
    results_unchanged: int = 0
    would_start: list[dict[str, Any]] = field(default_factory=list)  # dry run: what, and its credits
    failures: list[dict[str, str]] = field(default_factory=list)
    stopped: str | None = None  # e.g. a 402: "no credits left: no more jobs started"
    api_calls: dict[str, dict[str, int]] = field(default_factory=dict)

    def fail(self, subject: str, code: str, message: str) -> None:
        """Record a failure against `job:<name>`, `scan:<name>` or `prospect:<id>` (the run goes on)."""
        self.failures.append({"subject": subject, "code": code, "message": message})

    def exit_code(self) -> int:
        """0 when nothing failed, 1 when a failure was recorded against a job, scan or prospect."""
        return EXIT_FAILURES if self.failures else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        """Everything, as `--output json` prints it."""
        return {
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "credits": {
                "budget": self.credits_budget,
                "estimated": self.credits_estimated,
                "held": self.credits_held,
            },
            "jobs": {
                "started": self.jobs_started,
                "replayed": self.jobs_replayed,
                "running": self.jobs_running,
                "completed": self.jobs_completed,
                "failed": self.jobs_failed,
                "deferred": self.jobs_deferred,
            },
            "contacts": {
                "prospects_imported": self.prospects_imported,
                "created": self.contacts_created,
                "matched": self.contacts_matched,
                "recovered": self.recovered,
                "claims_waiting": self.claims_waiting,
            },
            "uploads": {"started": self.uploads_started, "urls": self.urls_uploaded},
            "scans": {
                "started": self.scans_started,
                "running": self.scans_running,
                "completed": self.scans_completed,
                "failed": self.scans_failed,
            },
            "results": {
                "pending": self.results_pending,
                "evaluated": self.results_evaluated,
                "written": self.results_written,
                "unchanged": self.results_unchanged,
            },
            "would_start": self.would_start,
            "failures": self.failures,
            "stopped": self.stopped,
            "api_calls": self.api_calls,
            "exit_code": self.exit_code(),
        }

    def counts(self) -> dict[str, Any]:
        """What the runs table keeps of this run (kind: linkedin, which `status` tells apart)."""
        return {"kind": "linkedin", **self.as_dict()}

    def render(self) -> str:
        """The summary as text for a terminal."""
        head = "linkedin run (dry run: nothing started or written)" if self.dry_run else "linkedin run"
        lines = [f"{head}: {self.outcome}"]
        lines.append(
            f"  credits: budget {self.credits_budget}, estimated {self.credits_estimated},"
            f" held {self.credits_held}"
        )
        lines.append(
            f"  jobs: {self.jobs_started} started ({self.jobs_replayed} replayed),"
            f" {self.jobs_running} running, {self.jobs_completed} completed, {self.jobs_failed} failed"
            + (f", {self.jobs_deferred} deferred (budget)" if self.jobs_deferred else "")
        )
        lines.append(
            f"  contacts: {self.prospects_imported} prospects imported, {self.contacts_created} created,"
            f" {self.contacts_matched} already in HubSpot"
            + (f", {self.recovered} found created by an earlier run" if self.recovered else "")
            + (f", {self.claims_waiting} claims looked for again next run" if self.claims_waiting else "")
        )
        if self.uploads_started or self.urls_uploaded:
            lines.append(f"  uploads: {self.uploads_started} started, {self.urls_uploaded} URLs")
        if self.scans_started or self.scans_running or self.scans_completed or self.scans_failed:
            lines.append(
                f"  scans: {self.scans_started} started, {self.scans_running} running,"
                f" {self.scans_completed} completed, {self.scans_failed} failed"
            )
        if self.results_pending or self.results_evaluated or self.results_written or self.results_unchanged:
            lines.append(
                f"  results: {self.results_evaluated} evaluated, {self.results_pending} pending,"
                f" {self.results_written} written, {self.results_unchanged} unchanged"
            )
        if self.dry_run:
            for item in self.would_start:
                lines.append(
                    f"  would start {item.get('kind', 'job')} {item.get('name')}:"
                    f" {item.get('credits')} credits"
                )
            lines.append(
                f"  would spend at most {sum(int(i.get('credits') or 0) for i in self.would_start)} credits"
            )
        for failure in self.failures[:SHOWN_FAILURES]:
            lines.append(f"  failed {failure['subject']}: {failure['code']} {failure['message']}")
        if len(self.failures) > SHOWN_FAILURES:
            lines.append(f"  ... and {len(self.failures) - SHOWN_FAILURES} more failures (--output json)")
        if self.stopped:
            lines.append(f"  stopped: {self.stopped}")
        calls = ", ".join(f"{api} {sum(ops.values())}" for api, ops in sorted(self.api_calls.items()))
        if calls:
            lines.append(f"  api calls: {calls}")
        return "\n".join(lines)

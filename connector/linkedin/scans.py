"""The scan stage: signal scans started on the mapping's schedule, followed, and their results written.

Per mapped scan, each run: follows the scan started earlier (`GET /signals/scans/{id}`); once it
completed, its audience's prospects that map to HubSpot contacts get a result row each
(`pending`), and the scan is collected. Every pending result is then read
(`GET /prospects/{id}/signals`): `pending` is kept and read again by later runs, `evaluated`
becomes property values (`results`) and is written with the write policies. A scan is due
`every_days` after the last one was planned; it is planned under its Idempotency-Key (derived
from the group, the scan, its specification, its audience and the due time) before the start
is sent, so a crash or a lost answer is answered by a replay, never a second scan.

The audience: a job's (the audience of the newest imported job of that name), an audience id
as given, or `hubspot` (`audience.HubSpotAudience`: the selected contacts' LinkedIn URLs,
uploaded once each). An audience still being filled answers `409 AUDIENCE_NOT_READY`: the scan
stays planned and the next run starts it. Results name no scan, and a prospect scanned before
may show its earlier evaluation until the new one is done, so a re-scanned prospect's results
are taken only once read `RESCAN_SETTLE` (10 minutes) after the scan was collected.

A refusal (422, a conflicting key) is recorded against the scan, which waits for its next due
time; a 403 too, but the scan stays planned and starts once the key may; an answer of the wrong
shape or an outage is recorded against its scan or prospect, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from connector.errors import RUN_GOES_ON
from connector.hubspot import HubSpotAdapter
from connector.integrations.client import IntegrationsClient
from connector.integrations.errors import (
    AudienceNotReady,
    IntegrationsAuthError,
    IntegrationsCreditsError,
    IntegrationsError,
    IntegrationsPermissionError,
    IntegrationsUnavailable,
)
from connector.integrations.models import ProspectSignals, Scan
from connector.linkedin.audience import HubSpotAudience
from connector.linkedin.budget import CreditBudget
from connector.linkedin.results import ResultWriter, scan_values
from connector.linkedin.summary import LinkedInSummary
from connector.logs import get_logger
from connector.mapping import FilterSpec
from connector.mapping.linkedin import LinkedIn, LinkedInScan
from connector.state import StateStore
from connector.state.linkedin import ResultRow, ScanRow

log = get_logger("linkedin")

CLOSED = ("collected", "failed", "cancelled", "refused")  # a scan row that needs nothing more
# Results do not say which scan made them: right after a scan completes, a prospect evaluated
# by an earlier scan may still show that earlier evaluation. A re-scanned prospect's results
# are taken as the new scan's only once read this long after the scan was collected.
RESCAN_SETTLE = timedelta(minutes=10)
READ_WORKERS = 8  # prospects' results read at once (one GET each; the API has no batch read)
READ_CHUNK = 200  # results read, then saved and written, at a time
IMPORTED = "imported"


def scan_key(group: str, name: str, specification: str, audience: str, due: datetime) -> str:
    """The Idempotency-Key of one scan start: the same scan, audience and due time, the same key."""
    text = json.dumps([group, name, specification, audience, due.isoformat()])
    return "sc-ls-" + hashlib.sha256(text.encode()).hexdigest()


class ScanStage:
    """Starts, follows and collects the mapping's scans (see the module); one per run, one thread.

    `filters`: the mapping's `select.filters` (which HubSpot contacts the `hubspot` audience takes);
    `settle`: how long after a scan was collected a re-scanned prospect's results are taken as its.
    """

    def __init__(
        self,
        section: LinkedIn,
        client: IntegrationsClient,
        hubspot: HubSpotAdapter,
        store: StateStore,
        summary: LinkedInSummary,
        budget: CreditBudget,
        now: datetime,
        dry_run: bool = False,
        *,
        filters: Sequence[FilterSpec] = (),
        settle: timedelta = RESCAN_SETTLE,
    ) -> None:
        self.section = section
        self.client = client
        self.hubspot = hubspot
        self.store = store
        self.summary = summary
        self.budget = budget
        self.now = now
        self.dry_run = dry_run
        self.filters = filters
        self.settle = settle

    def run(self) -> None:
        """Every mapped scan in turn; what fails for one is recorded against it and the others go on."""
        for name, scan in self.section.scans.items():
            try:
                self.scan(name, scan)
            except IntegrationsAuthError as exc:
                if not isinstance(exc, IntegrationsPermissionError):
                    raise  # a refused key: the run stops (exit 3)
                self._failed(name, exc)
            except (IntegrationsError, *RUN_GOES_ON) as exc:
                self._failed(name, exc)

    def _failed(self, name: str, exc: Exception) -> None:
        """What stopped one scan this run (a 403, an outage past its retries, a wrong shape): recorded."""
        code = getattr(exc, "code", None) or type(exc).__name__
        log.warning("scan not done", scan=name, error=str(exc))
        self.summary.fail(f"scan:{name}", str(code), str(exc))

    def scan(self, name: str, scan: LinkedInScan) -> None:
        """One scan: follow what is open, start it when due, then read and write its pending results."""
        audience = self._hubspot_audience(name, scan)
        uploads_done = audience.follow() if audience is not None else True
        open_rows = [r for r in self.store.linkedin.open_scans() if r.name == name]
        if not self.dry_run:
            for row in open_rows:
                if row.scan_id is None:
                    if uploads_done:
                        self.start(name, row)
                else:
                    self.follow(name, row)
        if not open_rows:
            last = self.store.linkedin.last_scan(name)
            if self.due(scan, last):
                self.begin(name, scan, audience, last)
        if not self.dry_run:
            self.results(name, scan)

    # ---------------------------------------------------------------- starting
    def due(self, scan: LinkedInScan, last: ScanRow | None) -> bool:
        """Never planned, or planned `every_days` ago or longer."""
        return last is None or self.now >= last.planned_at + timedelta(days=scan.every_days)

    def begin(
        self, name: str, scan: LinkedInScan, audience: HubSpotAudience | None, last: ScanRow | None
    ) -> None:
        """Plan the due scan on its audience (uploading new URLs first for `hubspot`), then start it."""
        if audience is not None:
            audience.upload()
            audience_id = audience.audience_id(create=False)
        else:
            audience_id = self.audience_of(name, scan)
        if self.dry_run:
            self.summary.would_start.append(
                {"kind": "scan", "name": name, "audience": audience_id or scan.audience, "credits": 0}
            )
            return
        if audience_id is None:
            return
        due = last.planned_at + timedelta(days=scan.every_days) if last is not None else self.now
        key = scan_key(self.client.group(), name, scan.signal_specification, audience_id, due)
        row = self.store.linkedin.plan_scan(key, name, scan.signal_specification, audience_id)
        if audience is not None and not audience.follow():
            log.info("scan waits for its uploads", scan=name)  # started by the next run
            return
        self.start(name, row)

    def audience_of(self, name: str, scan: LinkedInScan) -> str | None:
        """A job's audience (its newest imported job's), or the audience id as given."""
        if scan.audience_kind(self.section.jobs) == "id":
            return scan.audience
        last = self.store.linkedin.last_job("job", scan.audience)
        if last is None or last.status != IMPORTED:
            older = [
                r for r in self.store.linkedin.jobs(limit=500) if r.kind == "job" and r.name == scan.audience
            ]
            last = next((r for r in older if r.status == IMPORTED), None)
        if last is None or last.audience_id is None:
            log.info("scan waits for its job's first import", scan=name, job=scan.audience)
            return None
        return last.audience_id

    def start(self, name: str, row: ScanRow) -> None:
        """Send the planned start with its key: a replay (200) or a new scan (202) are alike."""
        try:
            started = self.client.start_scan(row.specification_id, row.audience_id, idempotency_key=row.key)
        except AudienceNotReady:
            log.info("audience not ready: the scan starts next run", scan=name, audience=row.audience_id)
            return
        except IntegrationsCreditsError as exc:
            self.budget.stop(f"no credits left: no more scans started ({exc})")
            return
        except IntegrationsPermissionError as exc:  # kept planned: started once the key may
            self.summary.fail(f"scan:{name}", exc.code or "FORBIDDEN", str(exc))
            return
        except IntegrationsError as exc:
            if (
                isinstance(exc, IntegrationsAuthError)
                or exc.maybe_applied
                or exc.status is None
                or exc.status >= 500
            ):
                raise
            self.store.linkedin.scan_status(row.key, "refused", str(exc))
            self.summary.scans_failed += 1
            self.summary.fail(f"scan:{name}", exc.code or f"HTTP_{exc.status}", str(exc))
            return
        self.store.linkedin.scan_started(row.key, started.id, started.status)
        self.summary.scans_started += 1
        log.info("scan started", scan=name, scan_id=started.id, replayed=started.replayed)

    # ---------------------------------------------------------------- following
    def follow(self, name: str, row: ScanRow) -> None:
        """Read a started scan; once completed, its mapped prospects get pending results; it is collected."""
        assert row.scan_id is not None
        found = self.client.scan(row.scan_id)
        if found.status in ("failed", "cancelled"):
            self.store.linkedin.scan_status(row.key, found.status, _error(found))
            self.summary.scans_failed += 1
            self.summary.fail(f"scan:{name}", found.error_code or found.status.upper(), _error(found) or "")
            return
        if found.status != "completed":
            if found.status != row.status:
                self.store.linkedin.scan_status(row.key, found.status)
            self.summary.scans_running += 1
            return
        if row.status != "completed":
            self.store.linkedin.scan_status(row.key, "completed")
        try:
            mapped = self.mapped(row.audience_id)
        except AudienceNotReady:  # an upload fills it again: collected next run
            self.summary.scans_running += 1
            return
        self.store.linkedin.save_results(
            [ResultRow(name, pid, cid, "pending", read_at=self.now) for pid, cid in mapped.items()]
        )
        self.store.linkedin.scan_collected(row.key)
        self.summary.scans_completed += 1
        log.info("scan collected", scan=name, scan_id=row.scan_id, prospects=len(mapped))

    def mapped(self, audience_id: str) -> dict[str, str]:
        """The audience's prospects that map to a HubSpot contact: prospect id -> contact id."""
        prospects = list(self.client.audience_prospects(audience_id))
        linked = self.store.linkedin.contacts_of([p.id for p in prospects])
        rest = [p for p in prospects if p.id not in linked and p.key]
        by_key = self.store.linkedin.prospects_by_key([p.key for p in rest]) if rest else {}
        for p in rest:
            known = by_key.get(p.key)
            if known is not None and known.contact_id:
                linked[p.id] = known.contact_id
        return linked

    # ---------------------------------------------------------------- results
    def results(self, name: str, scan: LinkedInScan) -> None:
        """Read the pending results again; write the evaluated ones not written as they are.

        One read per prospect (the API has no batch read), `READ_WORKERS` at a time, saved and
        written `READ_CHUNK` prospects at a time, so a run cut short keeps what it read. An API
        unavailable after its retries stops the reading (recorded once, against the scan): the
        rest is read next run.
        """
        rows = self.store.linkedin.pending_results(name)
        evaluated = [r for r in rows if r.status == "evaluated"]
        pending = [r for r in rows if r.status == "pending"]
        writer = ResultWriter(name, scan, self.hubspot, self.store, self.summary)
        self.store.linkedin.results_written(name, writer.write(evaluated))
        with ThreadPoolExecutor(READ_WORKERS, thread_name_prefix="scan-read") as pool:
            for start in range(0, len(pending), READ_CHUNK):
                chunk = pending[start : start + READ_CHUNK]
                answers = list(pool.map(lambda r: self._read(r, scan), chunk))
                read, down = self._evaluated(name, scan, chunk, answers)
                self.store.linkedin.save_results(read)
                self.store.linkedin.results_written(name, writer.write(read))
                if down is not None:
                    self.summary.fail(f"scan:{name}", down.code or "UNAVAILABLE", str(down))
                    return

    def _read(self, row: ResultRow, scan: LinkedInScan) -> ProspectSignals | Exception:
        """One prospect's results, or the error that ends this read alone (a pool worker's answer)."""
        try:
            return self.client.prospect_signals(row.prospect_id, min_score=scan.min_score)
        except RUN_GOES_ON as exc:
            return exc

    def _evaluated(
        self, name: str, scan: LinkedInScan, rows: Sequence[ResultRow], answers: Sequence[Any]
    ) -> tuple[list[ResultRow], IntegrationsUnavailable | None]:
        """The evaluated results among these answers, and the outage that stopped the reading, if any."""
        read: list[ResultRow] = []
        for row, signals in zip(rows, answers, strict=True):
            if isinstance(signals, IntegrationsUnavailable):
                return read, signals
            if isinstance(signals, Exception):  # a wrong shape, a refusal: read again next run
                code = getattr(signals, "code", None) or "UNREADABLE"
                self.summary.fail(f"prospect:{row.prospect_id}", code, str(signals))
                continue
            if signals.status != "evaluated" or self.unsettled(row):
                self.summary.results_pending += 1
                continue
            values = scan_values(scan, signals)
            for error in values.errors.values():
                self.summary.fail(f"prospect:{row.prospect_id}", "CONVERSION_ERROR", error)
            self.summary.results_evaluated += 1
            read.append(
                ResultRow(
                    name,
                    row.prospect_id,
                    row.contact_id,
                    "evaluated",
                    values=dict(values.values),
                    values_hash=values.hash,
                    read_at=self.now,
                )
            )
        return read, None

    def unsettled(self, row: ResultRow) -> bool:
        """A re-scanned prospect (written before) read too soon: its answer may be the earlier scan's."""
        return (
            row.written_hash is not None and row.read_at is not None and self.now < row.read_at + self.settle
        )

    def _hubspot_audience(self, name: str, scan: LinkedInScan) -> HubSpotAudience | None:
        if scan.audience_kind(self.section.jobs) != "hubspot":
            return None
        return HubSpotAudience(
            name,
            scan.linkedin_url or "linkedin_url",
            self.filters,
            self.client,
            self.hubspot,
            self.store,
            self.summary,
            self.budget,
            self.now,
            dry_run=self.dry_run,
        )


def _error(scan: Scan) -> str | None:
    if scan.error_code or scan.error_message:
        return f"{scan.error_code or ''}: {scan.error_message or ''}".strip(": ")
    return None

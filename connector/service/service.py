"""`saber-connector run`: the connector as a long-running service.

APScheduler 3's `BackgroundScheduler` runs the cycles in its worker threads while the main
thread waits for SIGTERM/SIGINT: Python delivers signals to the main thread only, so the
main thread is the one place a graceful stop can be handled (a `BlockingScheduler` would
keep the main thread inside APScheduler). The HTTP server has threads of its own.

- A full sync on `CONNECTOR_SCHEDULE` (the first one at once) and a collect cycle on
  `CONNECTOR_COLLECT_INTERVAL` (pending research only, no pull). Never two cycles at once
  in a process (a lock; an overrunning cycle makes the next one skip and log) nor across
  replicas (the state store's run lock: a PostgreSQL session advisory lock, released by the
  server when a replica dies).
- With `CONNECTOR_PROSPECT_SCHEDULE` set and a `prospecting` section in the mapping, a prospect
  cycle on that schedule runs the prospecting stage (what `prospect` runs); it takes its turn
  under the same lock as the other cycles (so never two at once, nor with itself) and the
  state's prospect run lock across replicas. The setting without the section: one warning
  at start and no job; the section without the setting: no job (`prospect` runs it by hand).
  A problem only prospecting has (Sales Navigator not connected, a filter Saber refuses, a
  company property missing) fails that cycle alone; an API down pauses every cycle, as always.
- With a `linkedin` section in the mapping and `INTEGRATIONS_API_KEY` set, a linkedin cycle
  (what `linkedin run` runs: collect what finished, start what is due) on
  `CONNECTOR_LINKEDIN_SCHEDULE`, else on the collect interval. It takes its turn under the same
  lock and the state's linkedin run lock; anything only the account-group API says (a refused
  key or permission, the API down, no account group) fails that cycle alone: HubSpot's and
  Saber's cycles go on.
- A reconcile cycle on `CONNECTOR_RECONCILE_SCHEDULE` (what `reconcile` runs: forget the people
  HubSpot archived or deleted, apply retention; HubSpot reads only, no Saber call), under the
  same lock and the state's reconcile run lock.
- A webhook from Saber is a hint: its contact is collected at once, in a cycle of its own.
- A refused key, HubSpot's DAILY limit, an API down past its retries or a portal that lacks
  the mapped properties pause the cycles (exponential, capped back-off) and make `/readyz`
  say why; once the pause is over, one single-attempt call to the API that failed must
  answer before a cycle runs again, so an API that is down sees one call per pause.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connector.clients import hubspot_from, integrations_from, policy_from, saber_from, store_from
from connector.clock import utcnow
from connector.commands.linkedin import NO_SECTION
from connector.commands.privacy import LOCKED, reconcile_with
from connector.commands.prospect import prospect_with
from connector.commands.setup import setup_properties
from connector.errors import API_LABELS, ApiName, ApiUnavailableError, ConfigError, ConnectorError
from connector.integrations.client import IntegrationsClient
from connector.integrations.errors import IntegrationsError
from connector.linkedin.run import LinkedInRun
from connector.linkedin.summary import LinkedInSummary
from connector.logs import get_logger, register_secret
from connector.mapping import load_mapping
from connector.portal import preflight
from connector.service.health import CycleRecord, ServiceStatus
from connector.service.http import ServiceHTTP
from connector.service.metrics import Metrics
from connector.service.schedule import parse_interval, parse_schedule
from connector.service.status_page import PAGE_RUNS, render_page
from connector.service.status_report import status_report
from connector.settings import Settings
from connector.sync.options import SyncOptions
from connector.sync.stopping import StopRequest, stop_on_signals
from connector.sync.summary import RunSummary
from connector.sync.wiring import build_engine, engine_config_from

log = get_logger("service")

SECRET_NAME = "webhook.secret"  # in the state database, shared by every replica
MISFIRE_GRACE = 3600  # seconds a cycle may start late (a busy or suspended host) and still run
BUSY = "busy"  # a cycle could not start: another one holds the lock
WEBHOOK_RETRY = 1.0  # seconds before webhook contacts are tried again when a cycle holds the lock


class Service:
    """Everything `run` starts, built once from settings; `serve()` runs until a signal."""

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self.mapping = load_mapping(settings.connector_mapping)
        self.full_trigger = parse_schedule(settings.connector_schedule)
        self.reconcile_trigger = parse_schedule(settings.connector_reconcile_schedule)
        self.collect_seconds = parse_interval(settings.connector_collect_interval)
        prospect_schedule = settings.connector_prospect_schedule
        self.prospect_trigger = (
            parse_schedule(prospect_schedule)
            if prospect_schedule and self.mapping.prospecting is not None
            else None
        )
        policy = policy_from(settings)
        self.hubspot = hubspot_from(settings, policy)
        self.saber = saber_from(settings, policy)
        self.linkedin_trigger = self._linkedin_trigger()
        self.integrations: IntegrationsClient | None = (
            integrations_from(settings, policy) if self.linkedin_trigger is not None else None
        )
        # One-attempt clients: once a pause is over, one call asks whether the API that failed
        # is back before a whole cycle (every call with all its retries) is spent finding out.
        probe = replace(policy, max_attempts=1)
        self._probes = (hubspot_from(settings, probe), saber_from(settings, probe))
        self._down: ApiName | None = None  # the API the pause waits for
        self.store = store_from(settings)
        self.stop = StopRequest()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(3)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
        )
        self.status = ServiceStatus(self.store, lambda: bool(self.scheduler.running))
        self.metrics = Metrics()
        self.metrics.watch_readiness(lambda: self.status.readiness()[0])
        public = settings.connector_public_url
        self.secret = self._webhook_secret() if public else None  # no public URL: webhooks off (404)
        webhook_url = f"{public}/webhooks/saber/{self.secret}" if public else None
        self.config = engine_config_from(settings)
        if webhook_url is not None:
            self.config = replace(self.config, webhook_url=webhook_url)
        self.http = ServiceHTTP(
            settings.connector_http_host,
            settings.connector_http_port,
            status=self.status,
            metrics=self.metrics,
            webhook_secret=lambda: self.secret,
            on_webhook=self._on_webhook,
            status_page=self.status_page if settings.connector_status_page else None,
        )
        self._cycle_lock = threading.Lock()
        self._hints: set[tuple[str | None, str | None]] = set()
        self._hinted: set[str] = set()  # contacts a webhook named, to collect when no cycle holds the lock
        self._hints_lock = threading.Lock()
        self._setup_done = not settings.connector_setup_on_start
        self._failures = 0  # consecutive fatal failures, for the back-off
        self._paused_until: datetime | None = None

    # ------------------------------------------------------------------ life cycle
    def serve(self) -> int:
        """Start the endpoints and the schedule, wait for a signal, stop gracefully; the exit code."""
        self.metrics.install()
        self.metrics.privacy_totals(self.store.privacy.counts())
        self.http.start()
        now = self.clock()
        self.scheduler.add_job(self.full_cycle, self.full_trigger, id="full", next_run_time=now)
        self.scheduler.add_job(
            self.collect_cycle, IntervalTrigger(seconds=self.collect_seconds), id="collect"
        )
        self.scheduler.add_job(self.reconcile_cycle, self.reconcile_trigger, id="reconcile")
        if self.prospect_trigger is not None:
            self.scheduler.add_job(self.prospect_cycle, self.prospect_trigger, id="prospect")
        if self.linkedin_trigger is not None:
            self.scheduler.add_job(self.linkedin_cycle, self.linkedin_trigger, id="linkedin")
        elif self.settings.connector_linkedin_schedule:
            log.warning(
                "CONNECTOR_LINKEDIN_SCHEDULE is set but the mapping has no linkedin section or"
                " INTEGRATIONS_API_KEY is unset: the linkedin cycle does not run",
                mapping=str(self.settings.connector_mapping),
            )
        elif self.settings.connector_prospect_schedule:
            log.warning(
                "CONNECTOR_PROSPECT_SCHEDULE is set but the mapping has no prospecting section:"
                " prospecting does not run",
                mapping=str(self.settings.connector_mapping),
            )
        self.scheduler.start()
        log.info(
            "service started",
            http=f"{self.settings.connector_http_host}:{self.http.port}",
            schedule=self.settings.connector_schedule,
            collect_interval=self.settings.connector_collect_interval,
            webhooks=self.config.webhook_url is not None,
            prospect_schedule=self.settings.connector_prospect_schedule if self.prospect_trigger else None,
            linkedin=self.linkedin_trigger is not None,
        )
        with stop_on_signals(self.stop):
            while not self.stop.event.wait(0.5):
                pass
            return self.shutdown()

    def shutdown(self) -> int:
        """Stop scheduling; let the cycle in flight land within the timeout; close everything."""
        self.stop.event.set()
        log.info("service stopping", signal=self.stop.signum)
        self.scheduler.shutdown(wait=False)
        landed = self._cycle_lock.acquire(timeout=self.settings.connector_shutdown_timeout)
        if landed:
            self._cycle_lock.release()
        else:
            log.error(
                "the cycle in flight did not finish in time", timeout=self.settings.connector_shutdown_timeout
            )
        self.http.stop()
        self.metrics.uninstall()
        self.saber.close()
        self.hubspot.close()
        if self.integrations is not None:
            self.integrations.close()
        for client in self._probes:
            client.close()
        self.store.close()
        log.info("service stopped", clean=landed)
        return 0 if landed else 1

    def status_page(self) -> str:
        """`GET /status`: the page of the report `status` prints, with the readiness `/readyz` says."""
        now = self.clock()
        ready, readiness = self.status.readiness()
        return render_page(status_report(self.store, runs=PAGE_RUNS, now=now), ready, readiness, now=now)

    # ------------------------------------------------------------------ cycles
    def full_cycle(self) -> None:
        """Pull, plan, launch, collect and write: the one-shot sync, on the schedule."""
        self._cycle("full", SyncOptions(), prepare=self._prepare_portal)

    def collect_cycle(self) -> None:
        """Look due pending research up and write what finished; no pull, no launch."""
        self._cycle("collect", SyncOptions(collect_only=True))

    def prospect_cycle(self) -> None:
        """Find the people missing at the target accounts and create them (the prospecting stage)."""
        self._cycle("prospect", SyncOptions(), work=self._prospect)

    def _prospect(self) -> str:
        """One prospecting run with the service's clients; its outcome, its figures counted."""
        try:
            summary = prospect_with(self.mapping, self.hubspot, self.saber, self.store)
        except ConfigError as exc:  # prospecting's own problem: this cycle fails, the others go on
            raise ConnectorError(str(exc)) from exc
        self.metrics.prospect_finished(summary)
        log.info("prospecting", **summary.to_json()["people"], accounts_searched=summary.accounts_searched)
        if summary.stopped:
            log.warning("prospecting stopped", reason=summary.stopped)
        return summary.outcome

    def reconcile_cycle(self) -> None:
        """Forget the people HubSpot archived or deleted, then apply retention (`reconcile`)."""
        self._cycle("reconcile", SyncOptions(), work=self._reconcile)

    def _reconcile(self) -> str:
        """One reconciliation with the service's HubSpot client; the state's privacy totals shown."""
        report = reconcile_with(self.settings, self.store, self.hubspot)
        if report is None:
            log.info("cycle skipped", kind="reconcile", reason=LOCKED)
            return "skipped"
        self.metrics.privacy_totals(self.store.privacy.counts())
        return "ok"

    def linkedin_cycle(self) -> None:
        """Collect the LinkedIn jobs and scans that finished, start what is due (`linkedin run`)."""
        self._cycle("linkedin", SyncOptions(), work=self._linkedin)

    def _linkedin(self) -> str:
        """One LinkedIn run with the service's clients; its outcome, its figures counted."""
        if self.integrations is None or self.mapping.linkedin is None:
            raise ConnectorError(NO_SECTION)
        summary = LinkedInSummary(started_at=self.clock())
        try:
            LinkedInRun(
                self.mapping, self.integrations, self.hubspot, self.store, summary, summary.started_at
            ).run()
        except (IntegrationsError, ConfigError) as exc:  # the account-group API's own: this cycle alone
            raise ConnectorError(str(exc)) from exc
        self.metrics.linkedin_finished(summary, self.store.linkedin.totals())
        if summary.stopped:
            log.warning("linkedin stopped", reason=summary.stopped)
        return summary.outcome

    def _linkedin_trigger(self) -> BaseTrigger | None:
        """The linkedin cycle's schedule: its setting, else the collect interval; None when it cannot run."""
        s = self.settings
        if self.mapping.linkedin is None or s.integrations_api_key is None:
            return None
        if s.connector_linkedin_schedule:
            return parse_schedule(s.connector_linkedin_schedule)
        return IntervalTrigger(seconds=self.collect_seconds)

    def webhook_cycle(self) -> None:
        """Collect, at once, the contacts Saber's webhooks named (a research, or a signal they wait on)."""
        while not self.stop.requested:
            with self._hints_lock:
                hints, self._hints = self._hints, set()
                ids, self._hinted = set(self._hinted), set()
            if not hints and not ids:
                return
            for research_id, external_id in hints:
                cid = self.store.pending_contact(research_id=research_id, external_id=external_id)
                # Not a research: a signal (its id), whose waiting contacts are collected at once.
                waiting = [cid] if cid else self.store.contacts_waiting_on_signal(research_id or "")
                ids.update(waiting)
                if not waiting:
                    self.metrics.webhook("unknown")
            if not ids:
                continue
            options = SyncOptions(collect_only=True, look_now=True, contact_ids=tuple(sorted(ids)))
            if self._cycle("webhook", options) == BUSY:
                with self._hints_lock:  # a cycle held the lock: try again shortly
                    self._hinted.update(ids)
                self._schedule_webhooks(delay=WEBHOOK_RETRY)
                return

    def _cycle(
        self,
        kind: str,
        options: SyncOptions,
        prepare: Callable[[], None] | None = None,
        work: Callable[[], str] | None = None,
    ) -> str:
        """Run one cycle unless another runs (BUSY) or the service is paused; its outcome.

        `work`: what the cycle runs instead of a sync (prospecting), returning its outcome.
        """
        if self.stop.requested:
            return "stopping"
        if not self._cycle_lock.acquire(blocking=False):
            log.info("cycle skipped", kind=kind, reason="another cycle is still running")
            self.metrics.cycle_finished(kind, "skipped", 0.0, None)
            return BUSY
        started = time.monotonic()
        summary: RunSummary | None = None
        error: str | None = None
        try:
            if self._paused_until is not None and self.clock() < self._paused_until:
                log.info("cycle skipped", kind=kind, reason=self.status.blocked)
                self.metrics.cycle_finished(kind, "skipped", 0.0, None)
                return "paused"
            if self._down is not None and not self._probe():
                self.metrics.cycle_finished(kind, "skipped", 0.0, None)
                return "paused"
            try:
                if prepare is not None:
                    prepare()
                if work is not None:
                    outcome = work()
                else:
                    engine = build_engine(
                        self.mapping,
                        self.hubspot,
                        self.saber,
                        self.store,
                        options=options,
                        config=self.config,
                        stop=self.stop,
                    )
                    summary = engine.run()
                    outcome = summary.outcome
                self._resume()
            except (ApiUnavailableError, ConfigError) as exc:  # a refused key, a daily limit, an API down
                outcome, error = "failed", str(exc)
                self._pause(error, exc.api if isinstance(exc, ApiUnavailableError) else None)
            except ConnectorError as exc:
                outcome, error = "failed", str(exc)
            except Exception as exc:  # noqa: BLE001 - a bug must not stop the schedule
                outcome, error = "failed", f"{type(exc).__name__}: {exc}"
                log.exception("cycle crashed", kind=kind)
            duration = time.monotonic() - started
            self.metrics.cycle_finished(kind, outcome, duration, summary)
            self.status.cycle_done(CycleRecord(kind, outcome, self.clock(), error))
            log_line = log.warning if outcome == "failed" else log.info
            log_line(
                "cycle finished",
                kind=kind,
                outcome=outcome,
                seconds=round(duration, 3),
                error=error,
                **_counts(summary),
            )
            return outcome
        finally:
            self._cycle_lock.release()

    def _prepare_portal(self) -> None:
        """Make the mapped properties exist (once, as `setup` does), or check that they do."""
        if not self._setup_done:
            report = setup_properties(self.mapping, self.hubspot)
            if report.created or report.options_added:
                log.info("mapped properties set up", created=report.created, options=report.options_added)
            if report.conflicts:
                raise ConfigError("setup: " + "; ".join(report.conflicts))
            self._setup_done = True
        preflight(self.mapping, self.hubspot)

    def _probe(self) -> bool:
        """After a pause for an API: one single-attempt call to it. Back: True; else paused again."""
        hubspot, saber = self._probes
        down = self._down or "hubspot"
        try:
            if down == "saber":
                saber.credits()
            else:
                hubspot.get_properties()
        except ConnectorError as exc:
            self._pause(f"{API_LABELS[down]} is still unavailable: {exc}", self._down)
            return False
        return True

    def _pause(self, reason: str, api: ApiName | None = None) -> None:
        """An API down, a refused key, a bad portal: no cycle for a while (doubling, capped).

        `/readyz` says why. `api` ("saber", "hubspot"): the one a single call probes before the next cycle.
        """
        self._down = api
        self._failures += 1
        s = self.settings
        delay = min(
            s.connector_backoff_max_seconds, s.connector_backoff_initial_seconds * 2 ** (self._failures - 1)
        )
        self._paused_until = self.clock() + timedelta(seconds=delay)
        self.status.block(f"{reason} (cycles paused for {delay:g} s, try {self._failures})")
        log.warning("cycles paused", reason=reason, seconds=delay)

    def _resume(self) -> None:
        self._down = None
        self._failures = 0
        self._paused_until = None
        self.status.unblock()

    # ------------------------------------------------------------------ webhooks
    def _on_webhook(self, research_id: str | None, external_id: str | None) -> None:
        """Called by the HTTP server: only remember the hint and wake the webhook cycle."""
        with self._hints_lock:
            self._hints.add((research_id, external_id))
        self._schedule_webhooks()

    def _schedule_webhooks(self, delay: float = 0.0) -> None:
        if self.stop.requested or not self.scheduler.running:
            return
        self.scheduler.add_job(
            self.webhook_cycle,
            "date",
            run_date=self.clock() + timedelta(seconds=delay),
            id="webhook",
            replace_existing=True,  # a burst of notifications is one cycle
            max_instances=2,  # one may start while one finishes: a hint that came late is never lost
        )

    def _webhook_secret(self) -> str:
        configured = self.settings.connector_webhook_secret
        secret = (
            configured.get_secret_value()
            if configured is not None and configured.get_secret_value()
            else self.store.shared_value(SECRET_NAME, lambda: secrets.token_urlsafe(32))
        )
        register_secret(secret)
        return secret


def _counts(summary: RunSummary | None) -> dict[str, Any]:
    if summary is None:
        return {}
    return {
        "contacts_seen": summary.contacts_seen,
        "launched": summary.research.get("launched", 0),
        "completed": summary.research.get("completed", 0),
        "written": summary.contacts_written,
        "record_failures": len(summary.failures),
    }

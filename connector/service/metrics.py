"""The service's Prometheus metrics: cycles, contacts, research, credits, API calls and webhooks.

`Metrics` owns its own `CollectorRegistry` (never the process-wide default), so a test can
build as many as it likes and `/metrics` shows exactly these series. Every name is
prefixed `saber_connector_`:

- `cycles_total{kind, outcome}`: cycles run; kind `full`, `collect` or `webhook`, outcome
  `ok`, `partial`, `failed`, `interrupted` or `skipped`
- `cycle_duration_seconds{kind}`: histogram of how long cycles took
- `contacts_written_total`, `contacts_skipped_total{reason}` (the summary's skip reason
  codes), `record_failures_total` (a contact, or one of its properties, that failed)
- `research_total{event}`: `launched`, `adopted`, `completed`, `failed`
- `research_pending`: gauge, research launched and not finished after the last cycle
- `signals_pending`: gauge, signals asked and not answered yet after the last cycle
- `signals_asked_total`, `credits_used_total`; `credits_left`: gauge, as last read (NaN
  until a cycle has read the balance, so a low-credit alert does not fire at start)
- `api_requests_total{service, operation, status}`: every attempt, retries included;
  status is the HTTP status, or `none` when no answer came
- `api_retries_total{service}`: attempts that were retried
- `webhooks_total{outcome}`: `accepted`, `bad_secret` (or webhooks off), `too_large`,
  `malformed` (not JSON, or no id), `error` (the callback raised: 503); and `unknown`,
  counted by the runner, for accepted ones naming research it does not know
- `prospect_accounts_searched_total`, `prospect_people_found_total`,
  `prospect_already_in_hubspot_total`, `prospect_created_total`,
  `prospect_skipped_total{reason}` (people skipped, by the prospect summary's reason),
  `prospect_saber_searches_total` (Saber contact search calls): what prospect cycles did
  (kind `prospect`, with `CONNECTOR_PROSPECT_SCHEDULE` and a `prospecting` section)
- `linkedin_jobs{status}`, `linkedin_scans{status}`: gauges, the state's jobs and scans by
  state; `linkedin_prospects_imported`, `linkedin_contacts_created`, `linkedin_contacts_matched`,
  `linkedin_urls_uploaded`, `linkedin_results_written`, `linkedin_credits_spent`: gauges, the
  state's totals over every run (so a restart or another replica changes nothing); and
  `linkedin_contacts_updated_total` (contacts whose scan results a linkedin cycle wrote),
  `linkedin_credits_held_total` (credits held by the jobs and uploads cycles started): what
  linkedin cycles did (kind `linkedin`, with a `linkedin` section and `INTEGRATIONS_API_KEY`)
- `people_forgotten`, `deletions_followed`, `results_expired`: gauges, the state's totals of
  people forgotten on request (`forget`), people forgotten because HubSpot archived or deleted
  them, and results emptied by retention (kind `reconcile` cycles refresh them; so does start)
- `last_success_timestamp_seconds`: gauge, unix time of the last sync cycle (full, collect,
  webhook) that ended `ok` or `partial` (0 before the first)
- `ready`: gauge, 1 when `/readyz` would answer 200, else 0, read at each scrape (so an
  alert can say "not ready for 15 minutes"; 0 until the service hands its readiness over)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from connector import http_policy

if TYPE_CHECKING:
    from connector.linkedin.summary import LinkedInSummary
    from connector.sync.prospect_summary import ProspectSummary
    from connector.sync.summary import RunSummary

NAMESPACE = "saber_connector"
CYCLE_KINDS = ("full", "collect", "webhook", "prospect", "linkedin", "reconcile")
# The state's privacy `counts()` keys, and the gauge each is shown as.
PRIVACY_TOTALS = {
    "forgotten": "people_forgotten",
    "deletions_followed": "deletions_followed",
    "results_expired": "results_expired",
}
# The state's `totals()` figures shown as gauges (`linkedin_<name>`).
LINKEDIN_TOTALS = (
    "prospects_imported",
    "contacts_created",
    "contacts_matched",
    "urls_uploaded",
    "results_written",
    "credits_spent",
)
CYCLE_OUTCOMES = ("ok", "partial", "failed", "interrupted", "skipped")
SUCCESS_OUTCOMES = frozenset({"ok", "partial"})
SYNC_KINDS = ("full", "collect", "webhook")  # the cycles `last_success_timestamp_seconds` follows
RESEARCH_EVENTS = ("launched", "adopted", "completed", "failed")
WEBHOOK_OUTCOMES = ("accepted", "bad_secret", "too_large", "malformed", "error", "unknown")
# From a collect that finds nothing due (well under a second) to a first full sync of a big portal.
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, float("inf"))


class Metrics:
    """The connector's metrics in a registry of their own; every method is safe from any thread."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r, ns = self.registry, NAMESPACE
        # Every series in this registry and under the connector's prefix.
        counter = partial(Counter, namespace=ns, registry=r)
        gauge = partial(Gauge, namespace=ns, registry=r)
        self.cycles = counter("cycles", "Cycles run, by kind and outcome.", ["kind", "outcome"])
        self.cycle_duration = Histogram(
            "cycle_duration_seconds",
            "How long cycles took, by kind.",
            ["kind"],
            namespace=ns,
            registry=r,
            buckets=DURATION_BUCKETS,
        )
        self.contacts_written = counter("contacts_written", "Contacts whose values were written to HubSpot.")
        self.contacts_skipped = counter("contacts_skipped", "Contacts skipped, by reason.", ["reason"])
        self.record_failures = counter(
            "record_failures", "Record-level failures (a contact or one of its properties)."
        )
        self.research = counter(
            "research", "Research requests by event (launched, adopted, completed, failed).", ["event"]
        )
        self.research_pending = gauge(
            "research_pending", "Research launched and not finished, after the last cycle."
        )
        self.signals_pending = gauge(
            "signals_pending", "Signals asked and not answered yet (in flight at Saber), after a cycle."
        )
        self.signals_asked = counter("signals_asked", "Signals asked (paid) through Saber's endpoints.")
        self.credits_used = counter("credits_used", "Saber credits spent.")
        self.credits_left = gauge("credits_left", "Saber credits left, as last read.")
        self.api_requests = counter(
            "api_requests",
            "API requests sent (retries included), by service, operation and HTTP status.",
            ["service", "operation", "status"],
        )
        self.api_retries = counter("api_retries", "API requests retried, by service.", ["service"])
        self.webhooks = counter("webhooks", "Saber webhooks received, by outcome.", ["outcome"])
        self.companies = counter(
            "companies",
            "HubSpot companies by event: matched, written, and contacts unmatched_<reason>.",
            ["event"],
        )
        self.subscription_entries = counter(
            "subscription_entries_read", "Saber signal subscription log entries read (no credits)."
        )
        self.held_back = counter(
            "answers_held_back",
            "Signal answers not written because their confidence was below min_confidence, by property.",
            ["property"],
        )
        self.prospect_accounts = counter(
            "prospect_accounts_searched", "Target accounts prospecting searched."
        )
        self.prospect_found = counter("prospect_people_found", "People Saber's contact search found.")
        self.prospect_known = counter(
            "prospect_already_in_hubspot", "People found that HubSpot already had (not created)."
        )
        self.prospect_created = counter("prospect_created", "Contacts prospecting created in HubSpot.")
        self.prospect_skipped = counter(
            "prospect_skipped", "People found and not created, by reason.", ["reason"]
        )
        self.prospect_searches = counter("prospect_saber_searches", "Saber contact search calls.")
        self.linkedin_jobs = gauge(
            "linkedin_jobs", "LinkedIn prospecting jobs in the state, by status.", ["status"]
        )
        self.linkedin_scans = gauge(
            "linkedin_scans", "LinkedIn signal scans in the state, by status.", ["status"]
        )
        self.linkedin_totals = {
            name: gauge(
                f"linkedin_{name}", f"LinkedIn {name.replace('_', ' ')}, over every run (the state's)."
            )
            for name in LINKEDIN_TOTALS
        }
        self._linkedin_statuses: dict[str, set[str]] = {}
        self.linkedin_updated = counter(
            "linkedin_contacts_updated", "Contacts whose LinkedIn scan results linkedin cycles wrote."
        )
        self.linkedin_held = counter(
            "linkedin_credits_held", "Credits held by the jobs and uploads linkedin cycles started."
        )
        self.privacy = {
            key: gauge(name, f"The state's total of {name.replace('_', ' ')} (privacy), over every run.")
            for key, name in PRIVACY_TOTALS.items()
        }
        self.last_success = gauge(
            "last_success_timestamp_seconds",
            "Unix time of the last sync cycle (full, collect or webhook) that ended ok or partial.",
        )
        self.ready = gauge("ready", "1 when /readyz answers 200 (ready), else 0; read at each scrape.")
        self.credits_left.set(float("nan"))  # unknown until a cycle reads the balance
        # Series that exist at zero from the start, so rates and alerts work before the first event.
        for kind in CYCLE_KINDS:
            self.cycle_duration.labels(kind)
            for outcome in CYCLE_OUTCOMES:
                self.cycles.labels(kind, outcome)
        for event in RESEARCH_EVENTS:
            self.research.labels(event)
        for event in ("matched", "written"):
            self.companies.labels(event)
        for outcome in WEBHOOK_OUTCOMES:
            self.webhooks.labels(outcome)
        for service in ("saber", "hubspot"):
            self.api_retries.labels(service)

    # ------------------------------------------------------------------ updates
    def cycle_finished(self, kind: str, outcome: str, duration: float, summary: RunSummary | None) -> None:
        """Count one finished cycle and, from its summary (when it has one), what it did.

        A dry-run summary counts only as a cycle: it wrote, launched and spent nothing. A
        `skipped` cycle (another was running, or the service is paused) did not run, so it
        stays out of the duration histogram.
        """
        self.cycles.labels(kind, outcome).inc()
        if outcome != "skipped":
            self.cycle_duration.labels(kind).observe(max(0.0, duration))
        if summary is not None and not summary.dry_run:
            self._count_summary(summary)
        if outcome in SUCCESS_OUTCOMES and kind in SYNC_KINDS:  # a LinkedIn or reconcile cycle is no sync
            self.last_success.set(time.time())

    def _count_summary(self, s: RunSummary) -> None:
        self.contacts_written.inc(max(0, s.contacts_written))
        _count_each(self.contacts_skipped, s.skipped)
        self.record_failures.inc(len(s.failures))
        for event in RESEARCH_EVENTS:
            if s.research.get(event, 0) > 0:
                self.research.labels(event).inc(s.research[event])
        self.research_pending.set(s.pending)
        self.signals_pending.set(s.signals_pending)
        self.signals_asked.inc(max(0, s.signals_asked))
        self.credits_used.inc(max(0, s.credits_used))
        if s.credits_left is not None:
            self.credits_left.set(s.credits_left)
        self.companies.labels("matched").inc(max(0, s.companies_matched))
        self.companies.labels("written").inc(max(0, s.companies_written))
        _count_each(self.companies, s.company_events)
        self.subscription_entries.inc(max(0, s.subscription_entries_read))
        _count_each(self.held_back, s.low_confidence)

    def prospect_finished(self, summary: ProspectSummary) -> None:
        """Count what one prospect cycle did (a dry run created nothing and is not counted)."""
        if summary.dry_run:
            return
        self.prospect_accounts.inc(max(0, summary.accounts_searched))
        self.prospect_found.inc(max(0, summary.people_found))
        self.prospect_known.inc(max(0, summary.already_in_hubspot))
        self.prospect_created.inc(max(0, summary.created))
        _count_each(self.prospect_skipped, summary.skipped)
        self.prospect_searches.inc(max(0, summary.search_calls))

    def linkedin_finished(self, summary: LinkedInSummary, totals: Mapping[str, Any]) -> None:
        """Count what one linkedin cycle did, and show the state's totals (a dry run counts nothing)."""
        if summary.dry_run:
            return
        self.linkedin_updated.inc(max(0, summary.results_written))
        self.linkedin_held.inc(max(0, summary.credits_held))
        for gauge, key in ((self.linkedin_jobs, "jobs"), (self.linkedin_scans, "scans")):
            now = dict(totals.get(key) or {})
            seen = self._linkedin_statuses.setdefault(key, set())
            seen.update(now)
            for status in seen:  # a status no job holds any more shows 0, not its last count
                gauge.labels(status).set(now.get(status, 0))
        for name, gauge in self.linkedin_totals.items():
            value = totals.get(name)
            if isinstance(value, int | float):
                gauge.set(value)

    def privacy_totals(self, counts: Mapping[str, int]) -> None:
        """Show the state's privacy totals (so a restart or another replica changes nothing)."""
        for key, gauge in self.privacy.items():
            gauge.set(counts.get(key, 0))

    def webhook(self, outcome: str) -> None:
        """Count one webhook by outcome (`WEBHOOK_OUTCOMES`, or any other word a caller uses)."""
        self.webhooks.labels(outcome).inc()

    def observe_api(self, api: str, operation: str, status: int | None, retried: bool) -> None:
        """An `http_policy` observer: counts each attempt by status, and the retries by service."""
        self.api_requests.labels(api, operation, "none" if status is None else str(status)).inc()
        if retried:
            self.api_retries.labels(api).inc()

    def watch_readiness(self, ready: Callable[[], bool]) -> None:
        """Read `ready()` at each scrape into the `ready` gauge: one source for it and `/readyz`.

        A readiness check that raises counts as not ready, as `/readyz` answers 503 then.
        """

        def read() -> float:
            try:
                return 1.0 if ready() else 0.0
            except Exception:  # noqa: BLE001 - any failure means: not ready
                return 0.0

        self.ready.set_function(read)

    # ------------------------------------------------------------------ life cycle
    def install(self) -> None:
        """Count every API attempt of every client in the process (idempotent)."""
        http_policy.add_observer(self.observe_api)

    def uninstall(self) -> None:
        """Stop counting API attempts (idempotent)."""
        http_policy.remove_observer(self.observe_api)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format (what `/metrics` serves)."""
        return generate_latest(self.registry)


def _count_each(counter: Counter, counts: Mapping[str, int]) -> None:
    """Add each label's count to its series; a label counted zero times adds no series."""
    for label, n in counts.items():
        if n > 0:
            counter.labels(label).inc(n)

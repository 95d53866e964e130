"""The one source of the figures `saber-connector status` prints and the status page shows.

Both call `status_report` on the state store, so the page and the command can never
disagree: counts by research status, what waits (research at Saber and since when, results
waiting to be written and why, companies), credits (the last run's, and per day over the
last 30 days), personal data removed (people forgotten, deletions followed, results expired:
the state's totals), the last runs with their kind, duration, contacts written and credits, and
the most common errors (of all time, and of the last day with example record ids: HubSpot
ids, never a contact's fields). Plain data, JSON-ready but for datetimes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from connector.clock import utcnow
from connector.state import StateStore
from connector.state.run_stats import RunStats
from connector.state.runs import RunRecord
from connector.sync.engine import RESEARCH_MODE

PROSPECT_RUNS_LOOKED_AT = 50  # the last prospect run is looked for among this many recent runs
CREDIT_DAYS = 30  # the days of credits per day, today included
ERROR_WINDOW = timedelta(days=1)  # "the most common errors of the last day"
ERROR_EXAMPLES = 3  # record ids shown per error code


def status_report(
    store: StateStore, runs: int = 5, errors: int = 5, *, now: datetime | None = None
) -> dict[str, Any]:
    """Research by status, what waits, credits, the last runs and the most common errors, as plain data."""
    now = now or utcnow()
    stats = RunStats(store.db)
    research = stats.research_waiting()
    waiting = stats.writes_waiting()
    return {
        "generated_at": now,
        "research": store.status_counts(),
        "research_pending": {"count": research.count, "oldest_launched_at": research.oldest},
        "skip_reasons": _last_skips(store),
        "economy": _last_economy(store),
        "skipped_examples": [{"contact_id": cid, "reason": why} for cid, why in store.skipped_examples()],
        "writes_pending": {reason: w.count for reason, w in sorted(waiting.items())},
        "writes_pending_since": {reason: w.oldest for reason, w in sorted(waiting.items())},
        "signals": store.count_signal_asks(),
        "research_mode": store.get_cursor(RESEARCH_MODE),
        "companies": _last_companies(store),
        "prospecting": _prospecting(store),
        "linkedin": _linkedin(store),
        "privacy": store.privacy.counts(),
        "credits_by_day": _credits_by_day(stats, now),
        "last_runs": [run_entry(r) for r in store.last_runs(runs)],
        "common_errors": [
            {"code": code, "count": count, "latest": message}
            for code, count, message in store.common_errors(errors)
        ],
        "errors_last_day": _errors_since(store, stats, now - ERROR_WINDOW, errors),
    }


def run_entry(run: RunRecord) -> dict[str, Any]:
    """One run as the report lists it: its kind, outcome, duration, contacts written and credits spent."""
    c = run.counts.raw
    kind = str(c.get("kind") or "full")  # a run of a version that kept no kind was a sync
    if kind == "linkedin":
        contacts = c.get("contacts") or {}
        written = int(contacts.get("created", 0)) + int((c.get("results") or {}).get("written", 0))
        credits = int((c.get("credits") or {}).get("held", 0) or 0)
    elif kind == "prospect":
        written, credits = int((c.get("people") or {}).get("created", 0)), 0
    else:
        written, credits = int(c.get("contacts_written", 0) or 0), int(c.get("credits_used", 0) or 0)
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return {
        "id": run.id,
        "kind": kind,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "seconds": seconds,
        "outcome": run.outcome,
        "written": written,
        "credits": credits,
        "counts": c,
        "error": run.error,
    }


def _credits_by_day(stats: RunStats, now: datetime) -> list[dict[str, Any]]:
    """Credits spent on each of the last `CREDIT_DAYS` UTC days, oldest first, days with none as 0."""
    today = now.date()
    first = today - timedelta(days=CREDIT_DAYS - 1)
    spent = stats.credits_by_day(datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo))
    days: list[date] = [first + timedelta(days=i) for i in range(CREDIT_DAYS)]
    return [{"day": day.isoformat(), "credits": spent.get(day, 0)} for day in days]


def _errors_since(store: StateStore, stats: RunStats, since: datetime, n: int) -> list[dict[str, Any]]:
    """The `n` most common error codes since `since`, each with its count, latest message and example ids."""
    common = store.common_errors(n, since=since)
    examples = stats.error_examples([code for code, _, _ in common], since, ERROR_EXAMPLES)
    return [
        {"code": code, "count": count, "latest": message, "examples": examples.get(code, [])}
        for code, count, message in common
    ]


def _last_skips(store: StateStore) -> dict[str, int]:
    """Skip reasons of the latest finished run, most common first."""
    for run in store.last_runs(5):
        skipped = run.counts.skipped
        if run.outcome != "running" and skipped is not None and not _is_prospect(run):
            return dict(sorted(skipped.items(), key=lambda item: (-item[1], item[0])))
    return {}


def _last_economy(store: StateStore) -> dict[str, Any]:
    """Credits the latest finished run spent by kind and saved by reason, and its calls per service."""
    for run in store.last_runs(5):
        counts = run.counts
        if run.outcome != "running" and counts.credits_used is not None and not _is_prospect(run):
            return {
                "credits_used": counts.credits_used,
                "credits_by_kind": counts.credits_by_kind,
                "credits_saved": counts.credits_saved,
                "api_calls": {svc: sum(calls.values()) for svc, calls in counts.api_calls.items()},
            }
    return {}


def _last_companies(store: StateStore) -> dict[str, Any]:
    """The latest finished run's company figures, and contacts with no company by reason (all runs)."""
    unmatched = store.company_unmatched_counts()
    waiting = len(store.companies_pending())  # a write HubSpot refused or failed: retried next cycle
    for run in store.last_runs(5):
        companies = run.counts.companies
        if run.outcome != "running" and companies is not None and not _is_prospect(run):
            return {**companies, "unmatched_contacts": unmatched, "waiting": waiting}
    return {"unmatched_contacts": unmatched, "waiting": waiting} if unmatched or waiting else {}


def _is_prospect(run: RunRecord) -> bool:
    """A `prospect` or `linkedin` run (the CLI's or the service's): its counts are not a sync's."""
    return run.counts.raw.get("kind") in ("prospect", "linkedin")


def _linkedin(store: StateStore) -> dict[str, Any]:
    """The last linkedin run's counts and the LinkedIn totals; empty when no linkedin run ever ran."""
    last = next(
        (r for r in store.last_runs(PROSPECT_RUNS_LOOKED_AT) if r.counts.raw.get("kind") == "linkedin"), None
    )
    totals = store.linkedin.totals()
    if last is None and not totals.get("jobs") and not totals.get("scans"):
        return {}
    run = None
    if last is not None:
        c = last.counts.raw
        run = {
            "id": last.id,
            "started_at": last.started_at,
            "outcome": last.outcome,
            "jobs": c.get("jobs") or {},
            "contacts": c.get("contacts") or {},
            "scans": c.get("scans") or {},
            "results": c.get("results") or {},
            "credits": c.get("credits") or {},
            "failures": len(c.get("failures") or []),
            "stopped": c.get("stopped"),
        }
    return {"last_run": run, "totals": totals}


def _prospecting(store: StateStore) -> dict[str, Any]:
    """The last prospect run's counts and prospecting's totals; empty when prospecting never ran."""
    totals = store.prospects.totals()
    last = next(
        (r for r in store.last_runs(PROSPECT_RUNS_LOOKED_AT) if r.counts.raw.get("kind") == "prospect"), None
    )
    if last is None and not any(totals.values()):
        return {}
    return {"last_run": None if last is None else _prospect_run(last), "totals": totals}


def _prospect_run(run: RunRecord) -> dict[str, Any]:
    counts = run.counts.raw
    accounts, people = counts.get("accounts") or {}, counts.get("people") or {}
    return {
        "id": run.id,
        "started_at": run.started_at,
        "outcome": run.outcome,
        "accounts_searched": accounts.get("searched", 0),
        "accounts_skipped": accounts.get("skipped") or {},
        "people_found": people.get("found", 0),
        "already_in_hubspot": people.get("already_in_hubspot", 0),
        "created": people.get("created", 0),
        "skipped": people.get("skipped") or {},
        "saber_search_calls": counts.get("saber_search_calls", 0),
        "stopped": counts.get("stopped"),
    }

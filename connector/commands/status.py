"""`saber-connector status`: what the state store says about research, runs and errors."""

from __future__ import annotations

from typing import Any

from connector.clients import store_from
from connector.settings import Settings
from connector.state import StateStore
from connector.state.runs import RunRecord
from connector.sync.engine import RESEARCH_MODE

PROSPECT_RUNS_LOOKED_AT = 50  # the last prospect run is looked for among this many recent runs


def status_report(store: StateStore, runs: int = 5, errors: int = 5) -> dict[str, Any]:
    """Counts by research status, the last runs and the most common errors, as plain data."""
    return {
        "research": store.status_counts(),
        "skip_reasons": _last_skips(store),
        "economy": _last_economy(store),
        "skipped_examples": [{"contact_id": cid, "reason": why} for cid, why in store.skipped_examples()],
        "writes_pending": store.count_write_pending(),
        "signals": store.count_signal_asks(),
        "research_mode": store.get_cursor(RESEARCH_MODE),
        "companies": _last_companies(store),
        "prospecting": _prospecting(store),
        "linkedin": _linkedin(store),
        "last_runs": [
            {
                "id": r.id,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "outcome": r.outcome,
                "counts": r.counts.raw,
                "error": r.error,
            }
            for r in store.last_runs(runs)
        ],
        "common_errors": [
            {"code": code, "count": count, "latest": message}
            for code, count, message in store.common_errors(errors)
        ],
    }


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


def _render_linkedin(linkedin: dict[str, Any]) -> list[str]:
    last, t = linkedin.get("last_run"), linkedin["totals"]
    lines = []
    if last is not None:
        jobs, contacts, scans, results = last["jobs"], last["contacts"], last["scans"], last["results"]
        lines.append(
            f"linkedin (last run #{last['id']}, {last['outcome']}): jobs started {jobs.get('started', 0)},"
            f" completed {jobs.get('completed', 0)}, failed {jobs.get('failed', 0)}; prospects imported"
            f" {contacts.get('prospects_imported', 0)}, contacts created {contacts.get('created', 0)},"
            f" matched {contacts.get('matched', 0)}; scans started {scans.get('started', 0)};"
            f" results written {results.get('written', 0)}; credits held {last['credits'].get('held', 0)}"
        )
        if last["stopped"]:
            lines.append(f"  stopped: {last['stopped']}")
    jobs = ", ".join(f"{s} {n}" for s, n in (t.get("jobs") or {}).items()) or "none"
    scans = ", ".join(f"{s} {n}" for s, n in (t.get("scans") or {}).items()) or "none"
    lines.append(
        f"linkedin (all runs): jobs {jobs}; scans {scans};"
        f" prospects imported {t.get('prospects_imported', 0)},"
        f" contacts created {t.get('contacts_created', 0)}, matched {t.get('contacts_matched', 0)},"
        f" URLs uploaded {t.get('urls_uploaded', 0)}, results written {t.get('results_written', 0)},"
        f" credits spent {t.get('credits_spent', 0)}"
        + (
            f", create answer lost, looked for next run {t['prospects_claimed']}"
            if t.get("prospects_claimed")
            else ""
        )
    )
    return lines


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


def _render_prospecting(prospecting: dict[str, Any]) -> list[str]:
    last, totals = prospecting.get("last_run"), prospecting["totals"]
    lines = []
    if last is not None:
        lines.append(
            f"prospecting (last run #{last['id']}, {last['outcome']}): accounts searched"
            f" {last['accounts_searched']}, people found {last['people_found']}, already in HubSpot"
            f" {last['already_in_hubspot']}, created {last['created']},"
            f" Saber contact searches {last['saber_search_calls']}"
        )
        lines += [f"  accounts skipped {r}: {n}" for r, n in sorted(last["accounts_skipped"].items())]
        lines += [f"  people skipped {r}: {n}" for r, n in sorted(last["skipped"].items())]
        if last["stopped"]:
            lines.append(f"  stopped: {last['stopped']}")
    skipped = ", ".join(f"{r} {n}" for r, n in totals["accounts_skipped"].items())
    lines.append(
        f"prospecting (all runs): accounts searched {totals['accounts_searched']}"
        + (f" (skipped: {skipped})" if skipped else "")
        + f", people created {totals['people_created']}"
        + (
            f", create answer lost, looked for next run {totals['people_claimed']}"
            if totals["people_claimed"]
            else ""
        )
    )
    return lines


def _run_line(run: dict[str, Any]) -> str:
    c = run["counts"] or {}
    head = f"  #{run['id']} {run['started_at']:%Y-%m-%d %H:%M:%S} {run['outcome']:<11}"
    tail = f" ({run['error']})" if run["error"] else ""
    if c.get("kind") == "linkedin":
        jobs, contacts = c.get("jobs") or {}, c.get("contacts") or {}
        return (
            f"{head} linkedin: jobs started {jobs.get('started', 0)}, contacts created"
            f" {contacts.get('created', 0)}, results written {(c.get('results') or {}).get('written', 0)},"
            f" failures {len(c.get('failures') or [])}{tail}"
        )
    if c.get("kind") == "prospect":
        accounts, people = c.get("accounts") or {}, c.get("people") or {}
        return (
            f"{head} prospect: accounts searched {accounts.get('searched', 0)},"
            f" people found {people.get('found', 0)}, created {people.get('created', 0)},"
            f" failures {len(c.get('failures') or [])}{tail}"
        )
    research = c.get("research", {})
    return (
        f"{head} seen {c.get('contacts_seen', 0)}, launched {research.get('launched', 0)},"
        f" written {c.get('contacts_written', 0)}, failures {c.get('record_failures', 0)}{tail}"
    )


def render_status(report: dict[str, Any]) -> str:
    lines = ["research by status:"]
    counts = report["research"] or {}
    lines += [f"  {name:<12}{n}" for name, n in sorted(counts.items())] or ["  (none yet)"]
    skips = report.get("skip_reasons") or {}
    if skips:
        lines.append("most common skip reasons (last run):")
        lines += [f"  {reason:<24}{n}" for reason, n in skips.items()]
        lines += [f"  e.g. {e['contact_id']}: {e['reason']}" for e in report.get("skipped_examples") or []][
            :3
        ]
    economy = report.get("economy") or {}
    if economy:
        kinds = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in economy["credits_by_kind"].items() if n)
        saved = economy["credits_saved"]
        lines.append(f"credits (last run): used {economy['credits_used']}" + (f" ({kinds})" if kinds else ""))
        if saved:
            why = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in saved.items() if n)
            lines.append(f"  saved {sum(saved.values())} ({why})")
        calls = ", ".join(f"{svc} {n}" for svc, n in sorted(economy["api_calls"].items()))
        lines.append(f"  api calls: {calls}")
    companies = report.get("companies") or {}
    if companies:
        got = {k: companies.get(k, 0) for k in ("matched", "written", "subscription_entries_read")}
        lines.append(
            f"companies (last run): matched {got['matched']}, written {got['written']},"
            f" subscription entries read {got['subscription_entries_read']} (no credits),"
            f" waiting to be written {companies.get('waiting', 0)}"
        )
        for reason, n in sorted((companies.get("unmatched_contacts") or {}).items()):
            lines.append(f"  contacts with no company: {reason} {n}")
    waiting = report.get("writes_pending") or {}
    lines.append(f"results waiting to be written: {sum(waiting.values())}")
    lines += [f"  {reason:<24}{n}" for reason, n in sorted(waiting.items())]
    signals = report.get("signals") or {}
    in_flight = signals.get("asking", 0) + signals.get("processing", 0)
    lines.append(
        f"signals in flight at Saber: {in_flight}"
        + (f" (failed, asked again later: {signals['failed']})" if signals.get("failed") else "")
    )
    if report.get("prospecting"):
        lines += _render_prospecting(report["prospecting"])
    if report.get("linkedin"):
        lines += _render_linkedin(report["linkedin"])
    if report.get("research_mode"):
        lines.append(f"research launched {report['research_mode']}")
    lines.append("last runs:")
    lines += [_run_line(run) for run in report["last_runs"] or []]
    if not report["last_runs"]:
        lines.append("  (no runs yet)")
    lines.append("most common errors:")
    for err in report["common_errors"] or []:
        lines.append(f"  {err['code']:<24}{err['count']:>6}  latest: {err['latest']}")
    if not report["common_errors"]:
        lines.append("  (none)")
    return "\n".join(lines)


def read_status(settings: Settings) -> dict[str, Any]:
    """`status_report` of the state database the settings name (opened and closed here)."""
    with store_from(settings) as store:
        return status_report(store)

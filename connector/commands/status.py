"""`saber-connector status`: what the state store says about research, runs and errors."""

from __future__ import annotations

from typing import Any

from connector.clients import store_from
from connector.service.status_report import status_report
from connector.settings import Settings

__all__ = ["read_status", "render_status", "status_report"]  # the report: connector.service.status_report


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
    took = f" in {run['seconds']:.1f} s" if run.get("seconds") is not None else ""
    return (
        f"{head} {run.get('kind', 'full')}{took}: seen {c.get('contacts_seen', 0)},"
        f" launched {research.get('launched', 0)}, written {c.get('contacts_written', 0)},"
        f" credits {run.get('credits', 0)}, failures {c.get('record_failures', 0)}{tail}"
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
    days = report.get("credits_by_day") or []
    if days:
        lines.append(
            f"credits spent, last {len(days)} days: {sum(d['credits'] for d in days)}"
            f" (today {days[-1]['credits']})"
        )
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
    pending = report.get("research_pending") or {}
    if pending.get("count"):
        oldest = pending.get("oldest_launched_at")
        since = f" (oldest launched {oldest:%Y-%m-%d %H:%M:%S} UTC)" if oldest else ""
        lines.append(f"research pending at Saber: {pending['count']}{since}")
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
    privacy = report.get("privacy") or {}
    if privacy:
        lines.append(
            f"personal data removed (all runs): people forgotten {privacy.get('forgotten', 0)},"
            f" deletions followed {privacy.get('deletions_followed', 0)},"
            f" results expired {privacy.get('results_expired', 0)}"
        )
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
    day = report.get("errors_last_day") or []
    if day:
        lines.append("errors of the last day:")
        for err in day:
            examples = ", ".join(err["examples"])
            lines.append(f"  {err['code']:<24}{err['count']:>6}" + (f"  e.g. {examples}" if examples else ""))
    return "\n".join(lines)


def read_status(settings: Settings) -> dict[str, Any]:
    """`status_report` of the state database the settings name (opened and closed here)."""
    with store_from(settings) as store:
        return status_report(store)

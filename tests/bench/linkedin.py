"""The benchmark's linkedin section: calls and credits per imported prospect and per scanned contact.

Issue 19's closing note asks for the calls and credits of `saber-connector linkedin run` per
prospect a job imports and per HubSpot contact a scan covers. This runs the CLI in a subprocess
(as cron would) against the sandbox started here (HubSpot 150 ms latency and its limits, the
account-group API 300 ms, as the prospecting section has Saber), over a copy of
mappings/linkedin.yaml whose job asks `max_results` M from a pool of M people. In three phases,
so that each figure counts only its own calls: the job alone (the mapping without `scans`), run
until the job's prospects are imported; then the whole mapping (the job is not due again), run
until the scan over the portal's own contacts is collected and its results written; then one
rerun that must start nothing and pay nothing. Calls are counted from the sandboxes' request
logs (retries count too), credits from the account-group sandbox's `credits_used`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.clients import store_from
from connector.integrations.models import linkedin_key
from connector.sandbox.integrations import IntegrationsSandbox
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.server import Knobs, RecordedRequest
from connector.settings import Settings
from tests.bench.prospecting import Outcome, per
from tests.support import wait_or_raise
from tests.sync_harness import prepare, sandbox_env, settings_for

ROOT = Path(__file__).resolve().parents[2]
LINKEDIN_MAPPING = ROOT / "mappings" / "linkedin.yaml"
SCAN = "hiring_signals"  # the scan of mappings/linkedin.yaml (audience: hubspot)
SELECTED_STAGES = ("lead", "marketingqualifiedlead")  # mappings/linkedin.yaml's select.filters

# The figure names: tests/bench/test_quick.py checks that the quick table shows each.
INT_PER_PROSPECT = "integrations API calls per imported prospect, job"
HS_PER_PROSPECT = "HubSpot calls per imported prospect, job"
CREDITS_PER_PROSPECT = "credits per imported prospect, job"
IMPORTED = "prospects imported (contacts created + matched), job"
JOB_RUNS = "`linkedin run`s until the job is imported"
JOB_WALL = "job wall time, start to imported"
INT_PER_SCANNED = "integrations API calls per scanned contact, scan"
HS_PER_SCANNED = "HubSpot calls per scanned contact, scan"
CREDITS_PER_SCANNED = "credits per scanned contact, scan"
SCANNED = "contacts scanned (results written), scan"
SCAN_RUNS = "`linkedin run`s until the scan's results are written"
SCAN_WALL = "scan wall time, start to results written"
RERUN_CHARGES = "second charges on the rerun (credits; URLs imported twice)"
RERUN_STARTS = "jobs, uploads and scans started by the rerun"
RERUN_CALLS = "calls of the rerun (integrations, HubSpot)"
LINKEDIN_FIGURES = (
    INT_PER_PROSPECT,
    HS_PER_PROSPECT,
    CREDITS_PER_PROSPECT,
    IMPORTED,
    JOB_RUNS,
    JOB_WALL,
    INT_PER_SCANNED,
    HS_PER_SCANNED,
    CREDITS_PER_SCANNED,
    SCANNED,
    SCAN_RUNS,
    SCAN_WALL,
    RERUN_CHARGES,
    RERUN_STARTS,
    RERUN_CALLS,
)
# The account-group sandbox's clock: a job and a scan take seconds, results a few more.
TIMES = {"job_seconds": 3.0, "scan_seconds": 3.0, "evaluate_seconds": 2.0}
QUICK_TIMES = {"job_seconds": 1.0, "scan_seconds": 1.0, "evaluate_seconds": 0.5}  # CI's smoke test
BETWEEN_RUNS = 1.0  # the wait between two `linkedin run`s while something is in flight
DEADLINE = 900.0  # per phase


@dataclass(frozen=True)
class Run:
    """One `linkedin run --output json` subprocess: its summary and how long it took."""

    wall: float
    summary: dict[str, Any]


@dataclass(frozen=True)
class Phase:
    """What the runs of one phase did, as the sandboxes and the state saw it."""

    runs: list[Run]
    wall: float
    integrations: int
    hubspot: int
    credits: int
    calls: dict[str, int]  # integrations endpoint -> calls
    hubspot_calls: dict[str, int]  # HubSpot endpoint -> calls
    totals: dict[str, Any]  # store.linkedin.totals() at the end


def bench_mapping(directory: Path, max_results: int, *, scans: bool) -> Path:
    """mappings/linkedin.yaml: the job asks `max_results`, the budget never binds, `scans` kept or not."""
    text = LINKEDIN_MAPPING.read_text(encoding="utf-8")
    text, jobs = re.subn(r"(\n      max_results:\s*)\d+", rf"\g<1>{max_results}", text)
    text, budgets = re.subn(r"(\n  max_credits_per_run:\s*)\d+", r"\g<1>1000000", text)
    if (jobs, budgets) != (1, 1):
        raise RuntimeError(
            "mappings/linkedin.yaml has no single job max_results and max_credits_per_run lines"
        )
    if not scans:
        text, cut = re.subn(r"\n  scans:\n(?:    .*\n|\s*\n)*", "\n", text)
        if cut != 1:
            raise RuntimeError("mappings/linkedin.yaml has no `scans:` block to leave out")
    path = directory / ("linkedin.yaml" if scans else "linkedin-jobs.yaml")
    path.write_text(text, encoding="utf-8")
    return path


def api_of(box: RunningSandbox) -> IntegrationsSandbox:
    if box.integrations is None:
        raise RuntimeError("the sandbox was started without the account-group API")
    return box.integrations


def linkedin_run(env: dict[str, str], cwd: Path) -> Run:
    """`saber-connector linkedin run --output json` once, timed."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "connector.cli", "linkedin", "run", "--output", "json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=1800,
        stdin=subprocess.DEVNULL,
    )
    wall = time.monotonic() - started
    if done.returncode not in (0, 1) or "{" not in done.stdout:
        raise RuntimeError(f"saber-connector linkedin run exited {done.returncode}: {done.stderr[-2000:]}")
    out = done.stdout
    return Run(wall=wall, summary=json.loads(out[out.index("{") :]))


def phase(
    box: RunningSandbox,
    env: dict[str, str],
    cwd: Path,
    state: Settings,
    done: Callable[[dict[str, Any]], bool],
    what: str,
) -> Phase:
    """`linkedin run` again and again (a short wait between) until `done(totals)` holds; its calls."""
    api = api_of(box)
    api.clear_log()
    box.hubspot.clear_log()
    credits = api.credits_used
    runs: list[Run] = []
    started = time.monotonic()

    def once() -> bool:
        runs.append(linkedin_run(env, cwd))
        return bool(done(totals_of(state)))

    wait_or_raise(once, DEADLINE, what, interval=BETWEEN_RUNS)
    return Phase(
        runs=runs,
        wall=time.monotonic() - started,
        integrations=api.count(),
        hubspot=box.hubspot.count(),
        credits=api.credits_used - credits,
        calls=by_endpoint(api.requests),
        hubspot_calls=by_endpoint(box.hubspot.requests),
        totals=totals_of(state),
    )


def by_endpoint(requests: list[RecordedRequest]) -> dict[str, int]:
    return dict(sorted(Counter(r.endpoint for r in requests).items()))


def walls(runs: list[Run]) -> str:
    return ", ".join(f"{r.wall:.1f}" for r in runs) + " s"


def totals_of(settings: Settings) -> dict[str, Any]:
    """The connector's own totals over all runs (what `status` shows), read from its state database."""
    with store_from(settings) as store:
        return store.linkedin.totals()


def job_imported(totals: dict[str, Any]) -> bool:
    return totals["jobs_by_kind"].get("job") == {"imported": 1}


def scan_written(totals: dict[str, Any]) -> bool:
    results = totals["results"]
    evaluated = int(results.get("evaluated", 0))
    return (
        totals["scans"].get("collected", 0) >= 1
        and not results.get("pending")
        and evaluated > 0
        and int(totals["results_written"]) == evaluated
    )


def with_url(box: RunningSandbox) -> int:
    """The portal's contacts the scan's audience should hold: selected, with a LinkedIn profile URL."""
    hub = box.hubspot
    rows = (hub.contact(c) for c in hub.contact_ids())
    return sum(
        1 for r in rows if r.get("lifecyclestage") in SELECTED_STAGES and linkedin_key(r.get("linkedin_url"))
    )


def broken(runs: list[Run]) -> list[dict[str, str]]:
    return [f for r in runs for f in r.summary.get("failures") or []]


def measure(quick: bool, workdir: Path, say: Any) -> Outcome:
    """A job of 200 prospects (20 with `quick`), a scan over a portal of 400 contacts (40), a rerun."""
    m, contacts = (20, 40) if quick else (200, 400)
    outcome = Outcome(
        f"linkedin: a job of {m} prospects and a scan over a portal of {contacts} contacts, HubSpot 150 ms / "
        "account-group API 300 ms latency, `saber-connector linkedin run` in a subprocess"
    )
    times = QUICK_TIMES if quick else TIMES
    options = {**times, "pool_size": m, "plan_cap": 2000, "credits": 1_000_000}
    with start_sandbox(
        contacts=contacts,
        hubspot_knobs=Knobs(latency=0.15, seed=1),
        integrations_knobs=Knobs(latency=0.3, seed=3),
        integrations=True,
        integrations_options=options,
    ) as box:
        api = api_of(box)
        jobs_only = bench_mapping(workdir, m, scans=False)
        mapping = bench_mapping(workdir, m, scans=True)
        settings = settings_for(box, workdir, mapping)
        prepare(settings)
        audience = with_url(box)
        env = {
            k: v for k, v in sandbox_env(box, workdir, jobs_only).items() if k != "INTEGRATIONS_ACCOUNT_GROUP"
        }
        env.update({"CONNECTOR_LOG_LEVEL": "WARNING", "HTTP_MAX_BACKOFF": "60"})
        say(f"linkedin: the job ({m} prospects), {audience} selected contacts with a LinkedIn URL")
        job = phase(box, env, workdir, settings, job_imported, "the job imported")
        imported = int(job.totals["prospects_imported"])
        say(f"linkedin: job imported {imported} after {len(job.runs)} runs, {job.wall:.1f}s")
        env["CONNECTOR_MAPPING"] = str(mapping)
        scan = phase(box, env, workdir, settings, scan_written, "the scan's results written")
        scanned = int(scan.totals["results_written"])
        say(f"linkedin: scan wrote {scanned} contacts' results after {len(scan.runs)} runs, {scan.wall:.1f}s")
        started = (api.jobs_started, api.scans_started)
        rerun = phase(box, env, workdir, settings, lambda _: True, "the rerun")
        again = (api.jobs_started - started[0], api.scans_started - started[1])
        twice = sum(1 for n in api.imports.values() if n > 1)
        say(f"linkedin: rerun {rerun.credits} credits, {again} jobs/scans started, {twice} URLs paid twice")
        imports = (len(api.imports), max(api.imports.values(), default=0))
    last = rerun.runs[-1].summary
    uploads = int(scan.totals["urls_uploaded"])
    outcome.rows += [
        (INT_PER_PROSPECT, per(job.integrations, imported)),
        (HS_PER_PROSPECT, per(job.hubspot, imported)),
        (CREDITS_PER_PROSPECT, per(job.credits, imported)),
        (IMPORTED, f"{imported} of {m} asked"),
        (JOB_RUNS, str(len(job.runs))),
        (JOB_WALL, f"{job.wall:.1f} s"),
        (INT_PER_SCANNED, per(scan.integrations, scanned)),
        (HS_PER_SCANNED, per(scan.hubspot, scanned)),
        (CREDITS_PER_SCANNED, per(scan.credits, scanned)),
        (SCANNED, f"{scanned} of {audience} selected with a LinkedIn URL ({uploads} URLs uploaded)"),
        (SCAN_RUNS, str(len(scan.runs))),
        (SCAN_WALL, f"{scan.wall:.1f} s"),
        (RERUN_CHARGES, f"{rerun.credits} credits; {twice} of {imports[0]} URLs imported more than once"),
        (RERUN_STARTS, f"{again[0]} jobs (uploads included), {again[1]} scans"),
        (RERUN_CALLS, f"{rerun.integrations}, {rerun.hubspot}"),
    ]
    outcome.notes += [
        f"job: integrations calls {job.calls}; HubSpot {job.hubspot_calls}; runs {walls(job.runs)}; "
        f"contacts created {job.totals['contacts_created']}, matched {job.totals['contacts_matched']}; "
        f"failures {broken(job.runs)}",
        f"scan: integrations calls {scan.calls}; HubSpot {scan.hubspot_calls}; runs {walls(scan.runs)}; "
        f"results {scan.totals['results']}, scans {scan.totals['scans']}, upload jobs "
        f"{scan.totals['jobs_by_kind'].get('upload')}; failures {broken(scan.runs)}",
        f"rerun: integrations calls {rerun.calls}; HubSpot {rerun.hubspot_calls}; jobs {last.get('jobs')}, "
        f"uploads {last.get('uploads')}, scans {last.get('scans')}, results {last.get('results')}; "
        f"the most any URL was imported: {imports[1]}",
        f"mapping: mappings/linkedin.yaml with the job's max_results {m} (the sandbox's pool {m}) and "
        "max_credits_per_run lifted; the job phase runs it without `scans`, then the whole mapping (the job "
        "is not due again), so each phase counts only its own calls (each run's own overhead included); "
        f"the sandbox's jobs and scans take {times['job_seconds']:g} s and {times['scan_seconds']:g} s, "
        f"results {times['evaluate_seconds']:g} s more, {BETWEEN_RUNS:g} s between runs",
    ]
    return outcome

"""The benchmark's reconcile section: what a reconciliation costs per 10,000 contacts the state knows.

Issue 21's closing note asks for HubSpot calls and seconds per 10,000 contacts known to the
state. This seeds a HubSpot sandbox (150 ms a call, HubSpot's 100 calls per 10 s) with N
contacts, writes a completed research for each into a fresh SQLite state through the
repositories (no Saber involved), archives 1% and GDPR-deletes 1% of them, then runs
`saber-connector reconcile` in a subprocess, as cron would, and a second time (nothing left to
forget). Calls are counted from the sandbox's own request log, so retries count too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from connector.clock import utcnow
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.server import Knobs
from connector.state import StateStore
from tests.sync_harness import sandbox_env, write_mapping

# The figure names: a quick run's table shows each.
KNOWN = "contacts the state knows"
CALLS = "HubSpot calls per 10,000 contacts known, first reconcile"
SECONDS = "seconds per 10,000 contacts known, first reconcile"
FORGOTTEN = "people forgotten (archived + deleted for good), first reconcile"
SECOND_CALLS = "HubSpot calls per 10,000 contacts known, second reconcile"
RECONCILE_FIGURES = (KNOWN, CALLS, SECONDS, FORGOTTEN, SECOND_CALLS)
LATENCY = 0.15  # seconds HubSpot takes to answer, as the throughput section assumes


@dataclass
class Outcome:
    """One section's figures (name, value) and notes, for run.py's table."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def seed_state(url: str, ids: list[str]) -> None:
    """A completed research with personal values for each contact, written as a sync would."""
    now = utcnow()
    with StateStore(url) as store:
        for cid in ids:
            rid = f"r-{cid}"
            store.record_launch(
                cid, external_id=cid, fingerprint=f"fp-{cid}", research_id=rid, next_check_at=now
            )
            result = {"email": f"person{cid}@example.com", "phone": f"+1 415 555 {int(cid) % 10000:04d}"}
            store.record_result(
                cid,
                research_id=rid,
                status="completed",
                result={**result, "summary": f"Person {cid} leads sales."},
                completed_at=now - timedelta(days=1),
                error_code=None,
                error=None,
            )


def reconcile_once(box: RunningSandbox, env: dict[str, str], cwd: Path) -> tuple[float, int, dict[str, Any]]:
    """One `reconcile` subprocess: its wall time, the HubSpot calls the sandbox saw, its JSON report."""
    before = box.hubspot.count()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "connector.cli", "reconcile", "--output", "json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=3600,
        stdin=subprocess.DEVNULL,
    )
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"reconcile exited {done.returncode}: {done.stderr[-2000:]}")
    return wall, box.hubspot.count() - before, json.loads(done.stdout)


def measure(quick: bool, tmp: Path, say: Callable[[str], None]) -> Outcome:
    """Seed, delete 2% in HubSpot, reconcile twice; the figures per 10,000 contacts known."""
    n = 1_000 if quick else 10_000
    per = 10_000 / n
    with start_sandbox(contacts=n, seed=5, hubspot_knobs=Knobs(latency=LATENCY, seed=1)) as box:
        ids = box.hubspot.contact_ids()
        env = sandbox_env(box, tmp, write_mapping(tmp))
        say(f"reconcile: writing {len(ids)} researched contacts into the state")
        seed_state(env["CONNECTOR_STATE_URL"], ids)
        step = 50  # 1 in 50 archived and 1 in 50 deleted for good
        for i, cid in enumerate(ids):
            if i % step == 0:
                box.hubspot.archive_contact(cid)
            elif i % step == 1:
                box.hubspot.gdpr_delete_contact(cid)
        say("reconcile: first run")
        wall, calls, report = reconcile_once(box, env, tmp)
        say("reconcile: second run")
        _, second_calls, _ = reconcile_once(box, env, tmp)
    outcome = Outcome(f"reconcile ({len(ids)} contacts known, HubSpot {LATENCY * 1000:.0f} ms a call):")
    outcome.rows += [
        (KNOWN, str(report["checked"])),
        (CALLS, f"{calls * per:.0f}"),
        (SECONDS, f"{wall * per:.1f} s"),
        (FORGOTTEN, f"{len(report['archived'])} + {len(report['gone'])}"),
        (SECOND_CALLS, f"{second_calls * per:.0f}"),
    ]
    outcome.notes.append(
        "reconcile reads HubSpot by id, 100 a call (a second batch read with archived=true for the ids"
        " the first did not return) and calls Saber never; the wall time includes the process start,"
        " the state's scrub (secure delete, WAL checkpoint) and HubSpot's 100 calls per 10 s"
    )
    return outcome

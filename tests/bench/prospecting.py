"""The benchmark's prospecting section: what `saber-connector prospect` costs per account and per contact.

Issue 18's closing note asks for HubSpot and Saber calls per account searched and per contact
created on a portal of 200 target accounts. This runs `saber-connector prospect` in a
subprocess (as cron would) against the sandbox started here, with the throughput section's
latency and limits (HubSpot 150 ms, 100 calls per 10 s and 5 searches a second; Saber 300 ms
and its limits scaled down tenfold), then a second run that should create nobody. Calls are
counted from the sandboxes' own request logs, so retries count too. Kept apart from run.py
(which imports it and wraps the rows in its table) to keep that file's sections readable.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.commands.demo import demo_prospecting_mapping
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.server import Knobs
from tests.sync_harness import prepare, sandbox_env, settings_for

# The figure names: tests/bench/test_quick.py checks that the quick table shows each.
HS_PER_ACCOUNT = "HubSpot calls per account searched, first prospect"
HS_PER_CREATED = "HubSpot calls per contact created, first prospect"
SABER_PER_ACCOUNT = "Saber calls (contact search) per account searched, first prospect"
SABER_PER_CREATED = "Saber calls (contact search) per contact created, first prospect"
CREATED = "contacts created, first prospect"
SEARCHED = "accounts searched, first prospect"
WALL = "first prospect wall time"
SECOND_CREATED = "contacts created, second prospect"
SECOND_HS = "HubSpot calls, second prospect"
SECOND_SABER = "Saber calls (contact search), second prospect"
PROSPECTING_FIGURES = (
    HS_PER_ACCOUNT,
    HS_PER_CREATED,
    SABER_PER_ACCOUNT,
    SABER_PER_CREATED,
    CREATED,
    SEARCHED,
    WALL,
    SECOND_CREATED,
    SECOND_HS,
    SECOND_SABER,
)
SABER_LIMITS = {"writes_per_minute": 200, "write_burst": 40, "reads_per_minute": 10_000, "read_burst": 1_000}
CONTACTS_PER_ACCOUNT = 5  # seeded contacts per target account, so some people are already there


@dataclass
class Outcome:
    """One section's figures (name, value) and notes, for run.py's table."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    """One `prospect` subprocess: its summary and the calls the sandboxes saw."""

    wall: float
    summary: dict[str, Any]
    hubspot: int
    saber: int
    searches: int


def bench_mapping(directory: Path) -> Path:
    """The demo's prospecting mapping with `max_new_per_run` lifted, so one run searches every account."""
    text = demo_prospecting_mapping().read_text(encoding="utf-8")
    head, section = text.split("\nprospecting:", 1)
    lifted, count = re.subn(r"(max_new_per_run:\s*)\d+", r"\g<1>1000000", section)
    if count != 1:
        raise RuntimeError("the demo prospecting mapping has no single prospecting max_new_per_run line")
    path = directory / "prospecting.yaml"
    path.write_text(f"{head}\nprospecting:{lifted}", encoding="utf-8")
    return path


def run_prospect(box: RunningSandbox, env: dict[str, str], cwd: Path) -> Run:
    """`saber-connector prospect --output json` once, timed, with the calls counted by the sandboxes."""
    box.hubspot.clear_log()
    box.saber.clear_log()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "connector.cli", "prospect", "--output", "json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=1800,
        stdin=subprocess.DEVNULL,
    )
    wall = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"saber-connector prospect exited {done.returncode}: {done.stderr[-2000:]}")
    out = done.stdout
    summary = json.loads(out[out.index("{") :])
    return Run(
        wall=wall,
        summary=summary,
        hubspot=box.hubspot.count(),
        saber=box.saber.count(),
        searches=box.saber.count("contact_search"),
    )


def per(calls: int, of: int) -> str:
    return f"{calls / of:.2f} ({calls} / {of})" if of else f"- ({calls} calls, none to divide by)"


def measure(quick: bool, workdir: Path, say: Any) -> Outcome:
    """Two prospect runs on a portal of 200 target accounts (20 with `quick`)."""
    accounts = 20 if quick else 200
    outcome = Outcome(
        f"prospecting: {accounts} target accounts, HubSpot 150 ms / Saber 300 ms latency and limits, "
        "`saber-connector prospect` in a subprocess"
    )
    say(f"prospecting: seeding {accounts * CONTACTS_PER_ACCOUNT} contacts, {accounts} target accounts")
    with start_sandbox(
        contacts=accounts * CONTACTS_PER_ACCOUNT,
        target_accounts=accounts,
        hubspot_knobs=Knobs(latency=0.15, seed=1),
        saber_knobs=Knobs(latency=0.3, seed=2),
        **SABER_LIMITS,
    ) as box:
        mapping = bench_mapping(workdir)
        prepare(settings_for(box, workdir, mapping))
        env = sandbox_env(box, workdir, mapping)
        env.update({"CONNECTOR_LOG_LEVEL": "WARNING", "HTTP_MAX_BACKOFF": "60"})
        env.update({f"SABER_{k.upper()}": str(v) for k, v in SABER_LIMITS.items()})
        first = run_prospect(box, env, workdir)
        people, seen = first.summary["people"], first.summary["accounts"]
        created, searched = int(people["created"]), int(seen["searched"])
        say(f"prospecting: first run {first.wall:.1f}s, {searched} searched, {created} created")
        second = run_prospect(box, env, workdir)
        say(f"prospecting: second run {second.wall:.1f}s, {second.summary['people']['created']} created")
    outcome.rows += [
        (HS_PER_ACCOUNT, per(first.hubspot, searched)),
        (HS_PER_CREATED, per(first.hubspot, created)),
        (SABER_PER_ACCOUNT, per(first.searches, searched)),
        (SABER_PER_CREATED, per(first.searches, created)),
        (CREATED, str(created)),
        (SEARCHED, f"{searched} of {seen['seen']} seen"),
        (WALL, f"{first.wall:.1f} s"),
        (SECOND_CREATED, str(second.summary["people"]["created"])),
        (SECOND_HS, str(second.hubspot)),
        (SECOND_SABER, str(second.searches)),
    ]
    outcome.notes += [
        f"first prospect: {people['found']} people found, {people['already_in_hubspot']} already in "
        f"HubSpot, skipped {people['skipped']}, accounts skipped {seen['skipped']}; Saber calls in all "
        f"{first.saber}; the connector's own count {first.summary.get('api_calls')}",
        f"second prospect: accounts {second.summary['accounts']}, {second.hubspot} HubSpot calls "
        "(accounts searched within refresh_after_days are not searched again)",
        "mapping: connector/mapping/demo_prospecting.yaml (per_account 3, Engineering managers and up) "
        "with max_new_per_run lifted so that one run covers every target account",
    ]
    return outcome

"""`saber-connector prospect` as users run it: subprocesses, exit codes, a dry run, and SIGKILLs.

A SIGKILL at the moments that matter (the create applied but its answer never heard; a person
claimed and the create not applied) followed by a rerun must leave every person created once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.server import RecordedRequest
from tests.support import run_cli, start_cli, wait_or_raise
from tests.sync.prospect_world import build, created_at
from tests.sync_harness import sandbox_env

CREATE = "contacts_batch_create"


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=6, seed=3, research_delay=0.1) as running:
        yield running


def env_for(box: RunningSandbox, tmp_path: Path) -> dict[str, str]:
    return sandbox_env(box, tmp_path, tmp_path / "mapping.yaml")


def people_at_targets(box: RunningSandbox, companies: dict[str, str]) -> Counter[str]:
    """How many contacts of each name the target companies have."""
    names: Counter[str] = Counter()
    for key in ("acme", "globex"):
        names.update(f"{c.get('firstname')} {c.get('lastname')}" for c in created_at(box, companies[key]))
    return names


def test_prospect_json_summary_then_dry_run_creates_nothing(box: RunningSandbox, tmp_path: Path) -> None:
    """`prospect --output json` creates the missing people (exit 0); `--dry-run` then lists and creates nothing."""
    _, companies = build(box, tmp_path)
    env = env_for(box, tmp_path)
    proc = run_cli("prospect", "--output", "json", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["people"]["created"] == 5 and summary["api_calls"]["saber"]["search_contacts"] >= 2
    count = len(box.hubspot.contact_ids())
    dry = run_cli("prospect", "--dry-run", "--max-new", "3", env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and len(box.hubspot.contact_ids()) == count
    assert box.hubspot.count(CREATE) == 2  # Acme's and Globex's creates, nothing since
    assert max(people_at_targets(box, companies).values()) == 1


def test_sales_navigator_not_connected_exits_2_with_one_line(box: RunningSandbox, tmp_path: Path) -> None:
    """salesNavConnected false: exit 2, one line saying to connect Sales Navigator, no traceback, nothing created."""
    build(box, tmp_path)
    box.saber.sales_nav_connected = False
    proc = run_cli("prospect", env=env_for(box, tmp_path), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Sales Navigator" in proc.stderr and "Traceback" not in proc.stderr
    assert box.hubspot.count(CREATE) == 0


def test_a_mapping_without_prospecting_exits_2(box: RunningSandbox, tmp_path: Path) -> None:
    """A mapping with no prospecting section: exit 2 naming the section, no API asked to create."""
    build(box, tmp_path)
    mapping = tmp_path / "mapping.yaml"
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text[: text.index("\nprospecting:")] + "\n", encoding="utf-8")
    proc = run_cli("prospect", env=env_for(box, tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "prospecting" in proc.stderr, proc.stderr


def test_sigkill_after_a_create_landed_then_rerun_creates_nobody_twice(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Killed once HubSpot applied the first create and before the answer came back; the rerun finds them."""
    _, companies = build(box, tmp_path)
    child: list[subprocess.Popen[str]] = []

    def kill_on_create(entry: RecordedRequest) -> None:
        if entry.endpoint == CREATE and 200 <= entry.status < 300 and child:
            os.kill(child[0].pid, signal.SIGKILL)

    box.hubspot.on_request.append(kill_on_create)
    env = env_for(box, tmp_path)
    child.append(start_cli("prospect", env=env, cwd=tmp_path))
    child[0].wait(timeout=60)
    assert child[0].returncode == -signal.SIGKILL
    box.hubspot.on_request.remove(kill_on_create)
    assert sum(people_at_targets(box, companies).values()) == 3  # Acme's three landed
    rerun = run_cli("prospect", "--output", "json", env=env, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["people"]["recovered"] == 3
    names = people_at_targets(box, companies)
    assert max(names.values()) == 1 and sum(names.values()) == 5


def test_sigkill_after_the_claim_before_the_create_then_rerun_creates_each_once(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Killed with people claimed and their create not applied (held, then refused); the rerun creates each once."""
    _, companies = build(box, tmp_path)
    box.hubspot.knobs.latency = 0.3  # widens the window between the claim and the create
    box.hubspot.reset_next(endpoint=CREATE)  # and the create is never applied
    env = env_for(box, tmp_path)
    proc = start_cli("prospect", env=env, cwd=tmp_path)
    db = tmp_path / "state.db"

    def claimed() -> bool:
        if not db.exists():
            return False
        try:
            with sqlite3.connect(db) as conn:
                rows = conn.execute("SELECT count(*) FROM prospect_candidates WHERE status = 'claimed'")
                return bool(rows.fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return False

    wait_or_raise(claimed, 60, "a claimed candidate", interval=0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    box.hubspot.knobs.latency = 0.0
    box.hubspot.clear_faults()  # killed before its create was sent, the reset is still armed: not the rerun's
    assert sum(people_at_targets(box, companies).values()) == 0
    rerun = run_cli("prospect", "--output", "json", env=env, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    names = people_at_targets(box, companies)
    assert max(names.values()) == 1 and sum(names.values()) == 5


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_sigkill_at_a_random_moment_then_rerun_leaves_no_duplicate(
    box: RunningSandbox, tmp_path: Path, seed: int
) -> None:
    """Killed at a random moment of a run (start, searches, claims, creates), a rerun leaves every person created once."""
    _, companies = build(box, tmp_path)
    box.hubspot.knobs.latency = 0.05  # a run long enough for the moment to fall inside it
    env = env_for(box, tmp_path)
    proc = start_cli("prospect", env=env, cwd=tmp_path)
    moment = random.Random(seed).uniform(0.5, 4.0)
    try:
        proc.wait(timeout=moment)  # the run may finish first: then the rerun must create nobody
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    box.hubspot.knobs.latency = 0.0
    rerun = run_cli("prospect", "--output", "json", env=env, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    names = people_at_targets(box, companies)
    assert max(names.values()) == 1 and sum(names.values()) == 5

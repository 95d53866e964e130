"""`saber-connector linkedin ...` as users run it: subprocesses, exit codes, JSON, a dry run and SIGKILLs.

A SIGKILL at a random moment of a run (between any two requests to either API), followed by
reruns, must leave each prospect created once and one job for its key.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.server import RecordedRequest
from tests.linkedin.world import build, contacts_by_profile, expected, jobs_finished, key_of, sandbox
from tests.support import run_cli, start_cli, wait_for
from tests.sync_harness import sandbox_env

START = "job_start"


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=3, seed=3, integrations=True) as running:
        yield running


def env_for(box: RunningSandbox, tmp_path: Path) -> dict[str, str]:
    return sandbox_env(box, tmp_path, tmp_path / "mapping.yaml")


def test_run_json_then_status_and_explain_show_the_job(box: RunningSandbox, tmp_path: Path) -> None:
    """`linkedin run --output json` starts, then imports; `status` and `explain` name the job and its contacts."""
    settings = build(box, tmp_path)
    env = env_for(box, tmp_path)
    first = run_cli("linkedin", "run", "--output", "json", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["jobs"]["started"] == 1 and data["credits"] == {"budget": 500, "estimated": 5, "held": 5}
    jobs_finished(box, settings)
    second = json.loads(run_cli("linkedin", "run", "--output", "json", env=env, cwd=tmp_path).stdout)
    assert second["contacts"]["created"] == 5 and second["exit_code"] == 0
    status = run_cli("status", "--output", "json", env=env, cwd=tmp_path)
    linkedin = json.loads(status.stdout)["linkedin"]
    assert linkedin["totals"]["contacts_created"] == 5 and linkedin["last_run"]["contacts"]["created"] == 5
    assert "linkedin (all runs)" in run_cli("status", env=env, cwd=tmp_path).stdout
    hub = box.hubspot
    cid = next(c for c in hub.contact_ids() if hub.contact(c).get("saber_linkedin_url"))
    explained = json.loads(run_cli("explain", cid, "--output", "json", env=env, cwd=tmp_path).stdout)
    assert [p["job"] for p in explained["linkedin"]["prospects"]] == ["platform_leaders"]
    assert explained["linkedin"]["prospects"][0]["status"] == "created"
    jobs = json.loads(run_cli("linkedin", "jobs", "--output", "json", env=env, cwd=tmp_path).stdout)
    assert [j["status"] for j in jobs] == ["completed"]
    audiences = run_cli("linkedin", "audiences", env=env, cwd=tmp_path).stdout
    assert "saber-connector platform_leaders" in audiences
    text = run_cli("explain", cid, env=env, cwd=tmp_path).stdout
    assert "created by the connector; jobs: platform_leaders" in text


def test_dry_run_starts_nothing_and_prints_the_estimate(box: RunningSandbox, tmp_path: Path) -> None:
    """`--dry-run` lists the due job with its credits and the total; no audience, no job, no state written."""
    build(box, tmp_path)
    env = env_for(box, tmp_path)
    proc = run_cli("linkedin", "run", "--dry-run", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "would start job platform_leaders: 5 credits" in proc.stdout
    assert "would spend at most 5 credits" in proc.stdout
    api = sandbox(box)
    assert api.count(START) == 0 and api.count("audience_create") == 0
    as_json = json.loads(
        run_cli("linkedin", "run", "--dry-run", "--output", "json", env=env, cwd=tmp_path).stdout
    )
    assert as_json["would_start"][0]["credits"] == 5 and as_json["dry_run"] is True
    assert as_json["credits"] == {"budget": 500, "estimated": 5, "held": 0}
    status = json.loads(run_cli("status", "--output", "json", env=env, cwd=tmp_path).stdout)
    assert status["last_runs"] == [] and not status["linkedin"]


def test_a_key_without_prospecting_write_exits_3_naming_the_permission(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A key that may read but not start jobs: exit 3, one line naming prospecting:write, no traceback."""
    build(box, tmp_path)
    api = sandbox(box)
    api.add_key("sk_live_readonly", ["prospecting:read", "audiences:read", "audiences:write", "signals:read"])
    env = {**env_for(box, tmp_path), "INTEGRATIONS_API_KEY": "sk_live_readonly"}
    proc = run_cli("linkedin", "run", env=env, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "prospecting:write" in proc.stderr and "Traceback" not in proc.stderr
    assert "sk_live_readonly" not in proc.stderr + proc.stdout
    assert api.jobs_started == 0
    status = json.loads(run_cli("status", "--output", "json", env=env, cwd=tmp_path).stdout)
    last = status["last_runs"][0]
    assert last["outcome"] == "failed" and "prospecting:write" in last["error"]
    assert last["counts"]["failures"][0]["subject"] == "job:platform_leaders"


def test_the_lists_read_the_account_group(box: RunningSandbox, tmp_path: Path) -> None:
    """`linkedin groups|searches|specs` list what the account group holds, as text and as JSON."""
    build(box, tmp_path)
    env = env_for(box, tmp_path)
    groups = json.loads(run_cli("linkedin", "groups", "--output", "json", env=env, cwd=tmp_path).stdout)
    assert [g["name"] for g in groups] == ["Sandbox"]
    searches = run_cli("linkedin", "searches", env=env, cwd=tmp_path)
    assert searches.returncode == 0 and "3318" in searches.stdout and "lead_list" in searches.stdout
    specs = json.loads(run_cli("linkedin", "specs", "--output", "json", env=env, cwd=tmp_path).stdout)
    assert "66a1f0c2e4b0a1b2c3d4e5f6" in {s["id"] for s in specs}


def test_a_mapping_without_a_linkedin_section_exits_2(box: RunningSandbox, tmp_path: Path) -> None:
    """No `linkedin` section: exit 2 naming it, nothing asked of the account-group API."""
    build(box, tmp_path)
    mapping = tmp_path / "mapping.yaml"
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text[: text.index("\nlinkedin:")] + "\n", encoding="utf-8")
    proc = run_cli("linkedin", "run", env=env_for(box, tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "linkedin" in proc.stderr, proc.stderr
    assert sandbox(box).count() == 0


def test_sigkill_once_the_create_landed_then_rerun_finds_the_claims(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Killed once HubSpot applied the batch create and before the state heard it: the rerun finds all five, creates none."""
    settings = build(box, tmp_path)
    env = env_for(box, tmp_path)
    assert run_cli("linkedin", "run", env=env, cwd=tmp_path).returncode == 0
    jobs_finished(box, settings)
    child: list[subprocess.Popen[str]] = []

    def kill_on_create(entry: RecordedRequest) -> None:
        if entry.endpoint == "contacts_batch_create" and 200 <= entry.status < 300 and child:
            os.kill(child[0].pid, signal.SIGKILL)

    box.hubspot.on_request.append(kill_on_create)
    child.append(start_cli("linkedin", "run", env=env, cwd=tmp_path))
    child[0].wait(timeout=60)
    box.hubspot.on_request.remove(kill_on_create)
    assert child[0].returncode == -signal.SIGKILL and len(contacts_by_profile(box)) == 5
    rerun = json.loads(run_cli("linkedin", "run", "--output", "json", env=env, cwd=tmp_path).stdout)
    assert rerun["contacts"]["recovered"] == 5 and rerun["contacts"]["created"] == 0
    assert max(contacts_by_profile(box).values()) == 1 and box.hubspot.count("contacts_batch_create") == 1


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_sigkill_at_random_moments_then_reruns_leave_no_duplicate_and_one_job(
    box: RunningSandbox, tmp_path: Path, seed: int
) -> None:
    """Killed after a random request of the starting run and of the importing run, reruns create each prospect once under one job."""
    settings = build(box, tmp_path)
    env = env_for(box, tmp_path)
    rng = random.Random(seed)
    child: list[subprocess.Popen[str]] = []
    seen = {"n": 0, "at": 0}

    def kill_at(entry: RecordedRequest) -> None:
        seen["n"] += 1
        if seen["n"] == seen["at"] and child and child[-1].poll() is None:
            os.kill(child[-1].pid, signal.SIGKILL)

    api = sandbox(box)
    api.on_request.append(kill_at)
    box.hubspot.on_request.append(kill_at)
    for phase_requests in (4, 12):  # the starting run asks little; the importing one searches and creates
        seen["n"], seen["at"] = 0, rng.randint(1, phase_requests)
        child.append(start_cli("linkedin", "run", env=env, cwd=tmp_path))
        child[-1].wait(timeout=60)
        seen["at"] = 0
        rerun = run_cli("linkedin", "run", "--output", "json", env=env, cwd=tmp_path)
        assert rerun.returncode == 0, rerun.stderr
        jobs_finished(box, settings)
    assert any(c.returncode == -signal.SIGKILL for c in child)  # the moment fell inside a run

    def settled() -> dict | None:  # claims kept until HubSpot's search could show them (SEARCH_LAG)
        done = json.loads(run_cli("linkedin", "run", "--output", "json", env=env, cwd=tmp_path).stdout)
        return done if len(contacts_by_profile(box)) == len(expected()) else None

    final = wait_for(settled, timeout=40, interval=1.0)
    assert final["exit_code"] == 0 and final["jobs"]["started"] == 0
    profiles = contacts_by_profile(box)
    assert len(profiles) == len(expected()) and max(profiles.values()) == 1
    assert api.jobs_started == 1
    assert len({key_of(r) for r in api.requests_to(START)}) == 1

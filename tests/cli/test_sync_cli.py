"""The `sync`, `status` and `demo` commands as users run them: subprocesses, exit codes, a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.server import Knobs
from tests.support import run_cli as _cli
from tests.support import start_cli
from tests.sync_harness import prepare, sandbox_env, settings_for, wait_until, write_mapping

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def box() -> RunningSandbox:
    with start_sandbox(contacts=24, seed=3, research_delay=0.2) as running:
        yield running


def test_sync_json_summary_and_exit_code(box: RunningSandbox, tmp_path: Path) -> None:
    """`sync --wait --output json` prints the summary as JSON; record failures make exit code 1."""
    mapping = write_mapping(tmp_path)
    prepare(settings_for(box, tmp_path, mapping))
    proc = _cli(
        "sync", "--wait", "20", "--output", "json", env=sandbox_env(box, tmp_path, mapping), cwd=tmp_path
    )
    summary = json.loads(proc.stdout)
    assert summary["research"]["launched"] > 0
    assert summary["research"]["completed"] == summary["research"]["launched"]
    assert summary["api_calls"]["saber"] and summary["api_calls"]["hubspot"]
    # The example mapping's seniority options do not cover every answer: record-level failures.
    assert proc.returncode == (1 if summary["failures"] else 0), proc.stderr
    assert box.saber.api_key not in proc.stdout + proc.stderr
    assert box.hubspot.token not in proc.stdout + proc.stderr
    status = _cli("status", "--output", "json", env=sandbox_env(box, tmp_path, mapping), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["research"].get("completed") == summary["research"]["completed"]
    assert report["last_runs"][0]["outcome"] in ("ok", "partial")


def test_refused_key_exits_3_and_missing_key_exits_2(box: RunningSandbox, tmp_path: Path) -> None:
    """A key the API refuses gives exit code 3; a key not set gives exit code 2; neither prints a traceback."""
    mapping = write_mapping(tmp_path)
    env = sandbox_env(box, tmp_path, mapping)
    env["HUBSPOT_ACCESS_TOKEN"] = "pat-wrong-token"
    proc = _cli("sync", env=env, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and "pat-wrong-token" not in proc.stderr
    del env["SABER_API_KEY"]
    proc = _cli("sync", env=env, cwd=tmp_path)
    assert proc.returncode == 2 and "SABER_API_KEY" in proc.stderr


def test_unreachable_api_exits_3(tmp_path: Path) -> None:
    """An API that cannot be reached gives exit code 3."""
    with start_sandbox(contacts=3) as box:
        mapping = write_mapping(tmp_path)
        env = sandbox_env(box, tmp_path, mapping)
    env["HTTP_MAX_ATTEMPTS"] = "2"
    proc = _cli("sync", env=env, cwd=tmp_path)  # the sandbox is stopped: connection refused
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_sigkill_after_launches_then_rerun_pays_nothing_twice_and_loses_nothing(tmp_path: Path) -> None:
    """Killing `sync` right after launches, then re-running, launches nothing twice and loses no result."""
    slow = Knobs(latency=0.03)
    with start_sandbox(contacts=30, seed=3, research_delay=0.3, saber_knobs=slow) as box:
        mapping = write_mapping(tmp_path)
        prepare(settings_for(box, tmp_path, mapping))
        env = sandbox_env(box, tmp_path, mapping)
        env["CONNECTOR_CONCURRENCY"] = "2"
        proc = start_cli("sync", "--wait", "30", env=env, cwd=tmp_path)
        wait_until(lambda: box.saber.count("research_create") >= 6, timeout=60)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        launched_before = box.saber.count("research_create")
        rerun = _cli("sync", "--wait", "30", "--output", "json", env=env, cwd=tmp_path)
        assert rerun.returncode in (0, 1), rerun.stderr
        researched = [cid for cid in box.hubspot.contact_ids() if box.saber.research_for(cid)]
        # Exactly one paid research per contact, however many POSTs were retried or replayed.
        created = Counter(r["externalId"] for r in box.saber.all_research())
        assert created and max(created.values()) == 1
        assert launched_before >= 6
        for cid in researched:
            props = box.hubspot.contact(cid)
            assert props["saber_research_status"] == "completed", cid
            assert props["saber_summary"] == box.saber.research_for(cid)["result"]["summary"].strip()


def test_filter_hubspot_refuses_exits_2(box: RunningSandbox, tmp_path: Path) -> None:
    """A select filter HubSpot refuses (unknown property) stops `sync` with exit 2 naming select.filters."""
    from tests.sync_harness import EXAMPLE_MAPPING

    mapping = write_mapping(
        tmp_path, EXAMPLE_MAPPING.replace("property: lifecyclestage", "property: no_such_stage")
    )
    proc = _cli("sync", env=sandbox_env(box, tmp_path, mapping), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "select.filters" in proc.stderr and "Traceback" not in proc.stderr


def test_non_numeric_contact_is_a_usage_error_naming_the_option(box: RunningSandbox, tmp_path: Path) -> None:
    """`sync --contact abc` exits 2 naming `--contact` and asks neither API anything."""
    mapping = write_mapping(tmp_path)
    proc = _cli("sync", "--contact", "abc", env=sandbox_env(box, tmp_path, mapping), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "--contact" in proc.stderr and "'abc'" in proc.stderr and "Traceback" not in proc.stderr
    assert box.saber.count() == 0 and box.hubspot.count() == 0

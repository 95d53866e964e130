"""Ctrl-C or SIGTERM during `sync`: nothing new starts, what is in flight lands, the run says so."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from connector.sandbox.runner import start_sandbox
from connector.sandbox.server import Knobs
from connector.state import StateStore
from tests.support import run_cli
from tests.sync_harness import prepare, sandbox_env, settings_for, wait_until, write_mapping


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_sync_wait_records_an_interrupted_run_with_its_counts(
    tmp_path: Path, signum: int, code: int
) -> None:
    """A signal mid-`sync --wait` ends it with 128+signal, a partial summary and the run recorded as interrupted."""
    slow = Knobs(latency=0.05)
    with start_sandbox(contacts=40, seed=3, research_delay=30, saber_knobs=slow) as box:
        mapping = write_mapping(tmp_path)
        settings = settings_for(box, tmp_path, mapping)
        prepare(settings)
        env = sandbox_env(box, tmp_path, mapping)
        env["CONNECTOR_CONCURRENCY"] = "2"
        proc = subprocess.Popen(
            [sys.executable, "-m", "connector.cli", "sync", "--wait", "60", "--output", "json"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        wait_until(lambda: box.saber.count("research_create") >= 3, timeout=60)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == code, err
        assert "Traceback" not in err
        summary = json.loads(out)
        assert summary["outcome"] == "interrupted" and summary["exit_code"] == code
        launched = summary["research"]["launched"]
        assert launched >= 3
        # Every POST that Saber answered was recorded: nothing was paid for and forgotten.
        created = Counter(r["externalId"] for r in box.saber.all_research())
        assert len(created) == launched and set(created.values()) == {1}
        with StateStore(settings.connector_state_url) as store:
            run = store.last_runs(1)[0]
            assert run.outcome == "interrupted"
            assert run.counts["research"]["launched"] == launched
            assert store.get_cursor("contacts.lastmodifieddate") is None  # the next run starts over

        box.saber.complete_all_now()
        rerun = run_cli("sync", "--wait", "10", "--output", "json", env=env, cwd=tmp_path)
        assert rerun.returncode in (0, 1), rerun.stderr
        again = Counter(r["externalId"] for r in box.saber.all_research())
        assert set(again.values()) == {1}  # the rerun paid for no contact twice
        second = json.loads(rerun.stdout)
        assert second["research"]["launched"] == len(again) - launched > 0  # it launched the rest
        assert second["research"]["completed"] == launched  # and collected what the first had launched

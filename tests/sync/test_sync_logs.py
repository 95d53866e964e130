"""Every log line of a run carries its run id, worker threads included, and never a key."""

from __future__ import annotations

import json
from pathlib import Path

from connector.sandbox.runner import start_sandbox
from connector.sandbox.server import Knobs
from tests.support import run_cli
from tests.sync_harness import prepare, sandbox_env, settings_for, write_mapping


def test_run_id_is_bound_into_log_lines_from_worker_threads(tmp_path: Path) -> None:
    """Retries logged by the launch workers name the run they belong to."""
    knobs = Knobs(throttle_rate=0.3, seed=11)
    with start_sandbox(contacts=12, seed=3, research_delay=0.1, saber_knobs=knobs) as box:
        mapping = write_mapping(tmp_path)
        prepare(settings_for(box, tmp_path, mapping))
        env = sandbox_env(box, tmp_path, mapping)
        env["HTTP_MAX_ATTEMPTS"] = "10"
        proc = run_cli("sync", "--wait", "20", env=env, cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    retried = [
        line for line in lines if line.get("event") == "api_call_retried" and line.get("api") == "saber"
    ]
    assert retried, "the sandbox's 429s should have made the client retry"
    assert {line.get("run_id") for line in retried} == {1}
    assert box.saber.api_key not in proc.stderr and box.hubspot.token not in proc.stderr

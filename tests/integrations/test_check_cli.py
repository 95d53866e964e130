"""`saber-connector check` run as a process reports the integrations key when INTEGRATIONS_API_KEY is set."""

from __future__ import annotations

import json
from pathlib import Path

from connector.sandbox.runner import start_sandbox
from tests.support import run_cli
from tests.sync_harness import sandbox_env, write_mapping


def test_check_prints_the_integrations_key_group_and_permissions(tmp_path: Path) -> None:
    """Text and `--output json` both carry the groups reached, the group used and each permission; never the key."""
    with start_sandbox(contacts=2, seed=5) as box:
        assert box.integrations is not None
        env = sandbox_env(box, tmp_path, write_mapping(tmp_path))
        text = run_cli("check", env=env, cwd=tmp_path)
        out = run_cli("check", "--output", "json", env=env, cwd=tmp_path)
        key, group = box.integrations.api_key, box.integrations.group_id
    assert f"accepts INTEGRATIONS_API_KEY; account groups reached: {group} (Sandbox)" in text.stdout
    assert f"account group used: {group}" in text.stdout
    assert "prospecting:read ok" in text.stdout and "prospecting:write not probed" in text.stdout
    report = json.loads(out.stdout)
    assert report["integrations"]["group"] == group
    assert report["integrations"]["permissions"]["audiences:read"] == "ok"
    assert key not in text.stdout + text.stderr + out.stdout + out.stderr

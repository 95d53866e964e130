"""The `sandbox`, `demo` and `version` commands, run as the installed `saber-connector` script."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from importlib.metadata import version as installed_version
from pathlib import Path

import httpx

from connector import __version__

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("saber-connector")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "connector.cli"]
EXPORT = re.compile(r"^\s*export ([A-Z_]+)=(\S+)\s*$")


def _bare_env() -> dict[str, str]:
    """The environment without any connector settings, so the commands use their defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SABER_", "CONNECTOR_"))}
    env["CONNECTOR_LOG_FORMAT"] = "json"
    return env


def _read_until(lines: queue.Queue[str | None], marker: str, timeout: float) -> list[str]:
    """Lines from a reader thread until one contains `marker`; fail at the deadline or at EOF."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {marker!r} before the deadline; got {seen}")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            raise AssertionError(f"output ended before {marker!r}; got {seen}")
        seen.append(line)
        if marker in line:
            return seen


def test_sandbox_command_serves_both_apis_on_free_ports_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`sandbox` on port 0 prints working URLs and credentials for both APIs and exits 0 promptly on SIGTERM."""
    proc = subprocess.Popen(
        [
            *CLI,
            "sandbox",
            "--hubspot-port",
            "0",
            "--saber-port",
            "0",
            "--integrations-port",
            "0",
            "--contacts",
            "5",
        ],
        env=_bare_env(),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.log").open("w"),
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        output = _read_until(lines, "Press Ctrl-C to stop.", timeout=20)
        env = dict(m.groups() for line in output if (m := EXPORT.match(line)))
        assert set(env) == {
            "HUBSPOT_BASE_URL",
            "HUBSPOT_ACCESS_TOKEN",
            "SABER_BASE_URL",
            "SABER_API_KEY",
            "INTEGRATIONS_BASE_URL",
            "INTEGRATIONS_API_KEY",
        }
        for name in ("HUBSPOT_BASE_URL", "SABER_BASE_URL"):
            assert re.fullmatch(r"http://127\.0\.0\.1:[1-9]\d*", env[name]), env[name]
        assert env["HUBSPOT_BASE_URL"] != env["SABER_BASE_URL"]

        contacts_url = f"{env['HUBSPOT_BASE_URL']}/crm/v3/objects/contacts"
        assert httpx.get(contacts_url, timeout=10).status_code == 401  # the token is needed
        contacts = httpx.get(
            contacts_url, headers={"Authorization": f"Bearer {env['HUBSPOT_ACCESS_TOKEN']}"}, timeout=10
        )
        assert contacts.status_code == 200, contacts.text
        assert len(contacts.json()["results"]) == 5
        credits = httpx.get(
            f"{env['SABER_BASE_URL']}/v1/credits",
            headers={"Authorization": f"Bearer {env['SABER_API_KEY']}"},
            timeout=10,
        )
        assert credits.status_code == 200, credits.text
        assert credits.json()["remainingCredits"] == 1000  # the --credits default

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def test_demo_runs_a_full_sync_against_the_sandbox() -> None:
    """`demo` from the repository root sets up, syncs, shows a researched contact, then prospects and shows people created, exiting 0."""
    proc = subprocess.run(
        [*CLI, "demo", "--contacts", "8", "--wait", "30"],
        env=_bare_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sync ok" in proc.stdout
    assert "property group saber: created" in proc.stdout
    assert re.search(r"^\s+saber_research_status\s+None -> 'completed'$", proc.stdout, re.MULTILINE), (
        proc.stdout
    )
    created = re.search(r"people: (\d+) found, (\d+) already in HubSpot, (\d+) created", proc.stdout)
    assert created and int(created.group(3)) > 0 and int(created.group(2)) > 0, proc.stdout
    assert len(re.findall(r"^  created .+, .+$", proc.stdout, re.MULTILINE)) >= 3, proc.stdout


def test_version_prints_the_installed_version() -> None:
    """`version` prints the package version and nothing else."""
    proc = subprocess.run([*CLI, "version"], capture_output=True, text=True, timeout=30, env=_bare_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{__version__}\n"
    assert __version__ == installed_version("saber-connector")

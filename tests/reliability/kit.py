"""What the scenarios (and tests/service/test_service_run.py) share to run the connector as users do.

Four scenarios started `saber-connector run` in a subprocess, read its pages, built a clean
environment and picked free ports, each in its own copy; one copy each keeps them alike.
Nothing here needs pytest: `report.py` runs the scenarios without it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
# The settings the connector reads: none of the caller's may leak into a scenario's process.
PREFIXES = ("HUBSPOT_", "SABER_", "CONNECTOR_", "HTTP_")
_SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the connector's settings, able to import the project, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def http_env(port: int, *, public: bool = False) -> dict[str, str]:
    """The service's HTTP server on this loopback port; `public`: webhooks call it back there."""
    env = {"CONNECTOR_HTTP_HOST": "127.0.0.1", "CONNECTOR_HTTP_PORT": str(port)}
    if public:
        env["CONNECTOR_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    return env


def spawn(args: Sequence[str], env: dict[str, str], cwd: Path, log: object) -> subprocess.Popen[str]:
    """`saber-connector ARGS` in the background, stdout and stderr to the open file `log`, no stdin."""
    return subprocess.Popen(
        [sys.executable, "-m", "connector.cli", *args],
        env=env,
        cwd=cwd,
        stdout=log,  # type: ignore[arg-type]
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def stop(proc: subprocess.Popen[str], timeout: float = 40) -> None:
    """SIGTERM (a graceful stop, as a supervisor sends it), SIGKILL if it does not end in time."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextmanager
def running(
    env: dict[str, str], cwd: Path, log_path: Path, args: Sequence[str] = ("run",)
) -> Iterator[subprocess.Popen[str]]:
    """`spawn` logging to `log_path`; stopped (`stop`) however the block ends."""
    with open(log_path, "w", encoding="utf-8") as log:
        proc = spawn(args, env, cwd, log)
        try:
            yield proc
        finally:
            stop(proc)


def metric_values(text: str, name: str, exact: bool = False, **labels: str) -> list[float]:
    """The values of the samples of `name` in a /metrics page whose labels include `labels` (`exact`: are them)."""
    values = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if (found == labels) if exact else all(found.get(k) == v for k, v in labels.items()):
            values.append(float(match.group(3)))
    return values


class Service:
    """One `saber-connector run` process and its HTTP endpoints."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str, timeout: float = 5) -> httpx.Response:
        return httpx.get(self.url + path, timeout=timeout)

    def healthy(self) -> bool:
        """Alive: the process runs and /healthz answers 200."""
        if self.proc.poll() is not None:
            return False
        try:
            return self.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def started(self) -> bool:
        """/healthz answers 200; an AssertionError with the exit code if the process died first."""
        if self.proc.poll() is not None:
            raise AssertionError(f"run exited with {self.proc.returncode}")
        return self.healthy()

    def ready(self) -> dict:
        """/readyz's body."""
        return self.get("/readyz").json()

    def readiness(self) -> tuple[bool, str]:
        """(ready, reason) as /readyz says."""
        answer = self.get("/readyz")
        return answer.status_code == 200, str(answer.json().get("reason") or "")

    def metric(self, name: str, **labels: str) -> float:
        """The value of the one sample with exactly these labels (0 when it is not there yet)."""
        return next(iter(metric_values(self.get("/metrics").text, name, exact=True, **labels)), 0.0)

    def metric_sum(self, name: str, **labels: str) -> float:
        """The sum of one metric's samples whose labels include `labels`."""
        return sum(metric_values(self.get("/metrics", timeout=10).text, name, **labels))

    def cycles_through(self, kind: str) -> float:
        """Cycles of this kind that ran to their end (ok or partial: the example mapping leaves some values unmapped)."""
        return sum(
            self.metric_sum("saber_connector_cycles_total", kind=kind, outcome=o) for o in ("ok", "partial")
        )

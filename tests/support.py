"""Small helpers every kind of test uses: polling with a deadline, running the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class Timeout(AssertionError):
    """A condition was not met by its deadline (raised outside pytest, where `pytest.fail` does not fit)."""


def poll(
    predicate: Callable[[], Any],
    timeout: float,
    interval: float = 0.01,
    *,
    alive: subprocess.Popen[str] | None = None,
    ignore: tuple[type[BaseException], ...] = (),
) -> Any:
    """Poll until `predicate` returns something truthy and return it; None at the deadline.

    `alive`: give up as soon as that process has ended; `ignore`: errors that count as "not yet".
    """
    deadline = time.monotonic() + timeout
    while alive is None or alive.poll() is None:
        try:
            value = predicate()
        except ignore:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    return None


def wait_or_raise(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """`poll`, raising `Timeout` naming `what` at the deadline: for code that runs with or without pytest."""
    value = poll(predicate, timeout, interval)
    if not value:
        raise Timeout(f"{what}: not within {timeout:g} s")
    return value


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Poll until `predicate` returns something truthy and return it; fail the test at the deadline."""
    value = poll(predicate, timeout, interval)
    if not value:
        pytest.fail(f"condition not met within {timeout}s")
    return value


def start_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start `saber-connector ARGS` in the background with no standard input and its output discarded."""
    return subprocess.Popen(
        [sys.executable, "-m", "connector.cli", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def run_cli(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `saber-connector ARGS` in a subprocess with no standard input, as cron would."""
    return subprocess.run(
        [sys.executable, "-m", "connector.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )

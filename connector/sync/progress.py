"""Run progress: a live line on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from connector.logs import get_logger

if TYPE_CHECKING:
    from connector.sync.summary import RunSummary

log = get_logger("progress")


class Progress:
    """Shows the run's counters as they move; silent when disabled."""

    def __init__(self, enabled: bool = True, interval: float = 10.0, stream: Any = None):
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._interval = interval
        self._last_log = 0.0
        self._live: Any = None
        self._task: Any = None
        if enabled and getattr(self._stream, "isatty", lambda: False)():
            from rich.console import Console
            from rich.progress import Progress as RichProgress
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            self._live = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(file=self._stream),
                transient=True,
            )
            self._live.start()
            self._task = self._live.add_task("starting", total=None)

    def update(self, summary: RunSummary) -> None:
        if not self._enabled:
            return
        r = summary.research
        text = (
            f"seen {summary.contacts_seen} · skipped {sum(summary.skipped.values())} · "
            f"launched {r['launched']} · completed {r['completed']} · "
            f"written {summary.contacts_written}"
        )
        if self._live is not None:
            self._live.update(self._task, description=text)
            return
        now = time.monotonic()
        if now - self._last_log >= self._interval:
            self._last_log = now
            log.info(
                "progress",
                contacts_seen=summary.contacts_seen,
                launched=r["launched"],
                completed=r["completed"],
                contacts_written=summary.contacts_written,
            )

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

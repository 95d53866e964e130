"""Ctrl-C and SIGTERM stop a run gracefully: nothing new starts, what is in flight lands.

The first signal only sets an event. The cycle stops pulling and launching, lets calls in
flight return and be recorded, flushes the writes it holds and records the run as
interrupted with its counts; the process exits 128 + the signal's number (130, 143).
A second signal is not caught: it ends the process at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Whether a stop was asked for, and by which signal; safe to read from any thread."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def request(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum
        self.event.set()

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less when a stop is asked for meanwhile."""
        self.event.wait(max(0.0, seconds))


@contextmanager
def stop_on_signals(stop: StopRequest) -> Iterator[StopRequest]:
    """Route SIGINT and SIGTERM to `stop` while the block runs (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.request(signum)
        for s in SIGNALS:  # a second signal: the default action, at once
            signal.signal(s, signal.SIG_DFL if s == signal.SIGTERM else signal.default_int_handler)

    for s in SIGNALS:
        signal.signal(s, handle)
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

"""What `/healthz` and `/readyz` say: kept by the service, read by the HTTP server's threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from connector.state import StateStore


@dataclass(frozen=True, slots=True)
class CycleRecord:
    """How one cycle ended."""

    kind: str  # full | collect | webhook
    outcome: str  # ok | partial | failed | interrupted | skipped
    finished_at: datetime
    error: str | None = None


class ServiceStatus:
    """Alive while the scheduler runs; ready while the state answers and nothing blocks the cycles."""

    def __init__(self, store: StateStore, scheduler_running: Callable[[], bool]) -> None:
        self._store = store
        self._scheduler_running = scheduler_running
        self._lock = threading.Lock()
        self._last: CycleRecord | None = None
        self._blocked: str | None = None  # why cycles cannot do their work (a refused key, setup, ...)

    def alive(self) -> bool:
        return self._scheduler_running()

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        reasons = []
        try:
            self._store.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means: not ready, and why
            reasons.append(f"the state database does not answer: {exc}")
        with self._lock:
            blocked, last = self._blocked, self._last
        if blocked:
            reasons.append(blocked)
        body: dict[str, Any] = {
            "ready": not reasons,
            "reason": "; ".join(reasons) or None,
            "last_cycle": None
            if last is None
            else {**asdict(last), "finished_at": last.finished_at.isoformat()},
        }
        return not reasons, body

    def cycle_done(self, record: CycleRecord) -> None:
        with self._lock:
            self._last = record

    def block(self, reason: str) -> None:
        with self._lock:
            self._blocked = reason

    def unblock(self) -> None:
        with self._lock:
            self._blocked = None

    @property
    def blocked(self) -> str | None:
        return self._blocked

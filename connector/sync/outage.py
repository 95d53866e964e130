"""A breaker per API: a run of consecutive unavailable answers means the API is down for this run.

Runs are counted per operation, so a Saber whose writes fail while its reads answer is
still seen as down: a successful look-up does not hide a string of failed launches.

Each call already retried with back-off; when several calls in a row still fail, the rest
of the run would only burn the same retries contact after contact. Past the threshold
every further call through the breaker fails at once with `ApiOutage` (exit code 3); what
was already launched is kept, and the next run picks up the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from connector.errors import ApiOutage, FatalApiError, RetriableApiError, SkippableError

T = TypeVar("T")


class OutageBreaker:
    """Counts consecutive `RetriableApiError`s per operation of one API; thread-safe."""

    def __init__(self, api: str, threshold: int) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1, got {threshold}")
        self.api = api
        self.threshold = threshold
        self._lock = threading.Lock()
        self._consecutive: dict[str, int] = {}
        self._outage: FatalApiError | None = None  # an ApiOutage, or the first fatal refusal

    @property
    def open(self) -> bool:
        return self._outage is not None

    def call(self, operation: str, fn: Callable[[], T]) -> T:
        """Run `fn` unless the API is down; count its unavailability, reset on any answer."""
        self.guard()
        try:
            result = fn()
        except RetriableApiError as exc:
            self._failed(operation, exc)
            raise
        except SkippableError:
            self._answered(operation)  # a refusal of one record is an answer: the API is up
            raise
        except FatalApiError as exc:  # a refused key: every later call would be refused too
            with self._lock:
                self._outage = self._outage or exc
            raise
        self._answered(operation)
        return result

    def _answered(self, operation: str) -> None:
        with self._lock:
            self._consecutive[operation] = 0

    def guard(self) -> None:
        """Raise the outage (or the refusal) if the breaker has tripped, without calling the API."""
        if self._outage is not None:
            raise self._outage

    def _failed(self, operation: str, exc: RetriableApiError) -> None:
        with self._lock:
            failures = self._consecutive[operation] = self._consecutive.get(operation, 0) + 1
            if self._outage is None and failures >= self.threshold:
                self._outage = ApiOutage(
                    f"{self.api} is unavailable: {failures} {operation} calls in a row failed after their"
                    f" retries (last: {exc}); launches and signal asks stopped for this run,"
                    " what was launched is kept, and the next run picks up the rest",
                    api=exc.api,
                )
            outage = self._outage
        if outage is not None:
            raise outage from exc

"""When to look pending research (or a signal) up: when it usually finishes here, learned, not guessed.

Saber publishes no processing times, so the schedule learns them from this portal's own
completions (`timings` in the state database, shared by replicas). Once `MIN_KNOWN`
durations of a kind are known (and, on a first run, as many as its sample: learning from the
first few done alone would put every first look too early), the first look comes when most
work of that kind is done (the 90th percentile, plus a small margin), a second one when nearly
all is (the 98th), a third at the longest seen, and later ones as far apart as the work has
already run (its age doubles between looks), bounded by `CONNECTOR_POLL_MIN_SECONDS` and
`CONNECTOR_POLL_MAX_SECONDS`. Fast research is then written in seconds and slow research
costs about one look.

Until enough is known, a small sample (`SAMPLE`, the first launches of a run) is looked at
early and often (from the minimum, then every quarter of its age: a completion is seen within
25% of its time) to learn from, and the rest waits `FALLBACK_FIRST_LOOK` seconds; the moment
the sample teaches the schedule, the rest is rescheduled to it (`Schedule.learned`). With
webhooks on, Saber says when research is done and the only poll is a late safety net
(`CONNECTOR_WEBHOOK_POLL_SECONDS`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

KINDS = ("research", "contact_signal", "company_signal")
MIN_KNOWN = 5  # durations of a kind known before the schedule follows them
SAMPLE = 10  # launches of a kind per run looked at early while too few are known
FALLBACK_FIRST_LOOK = 300.0  # seconds to the first look of the rest, until the sample teaches better
MARKS = (0.90, 0.98, 1.0)  # the quantiles looked at, in order
MARGIN = 1.05  # a little past the mark: Saber's own clock and the answer's latency
MARGIN_SECONDS = 0.2
RECENT = 200  # durations a schedule is learned from
LEARNING_STEP = 0.25  # while learning, the next look comes after this share of the work's age


def quantile(values: Sequence[float], q: float) -> float:
    """The `q` quantile of `values` (nearest rank; `values` not empty)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def doubling(age: timedelta, minimum: float, maximum: float) -> timedelta:
    """As long as the work has run (doubling its age), kept between `minimum` and `maximum` seconds."""
    return timedelta(seconds=max(minimum, min(maximum, age.total_seconds())))


@dataclass
class KindSchedule:
    """The looks of one kind of work: learned marks, or the sample-and-fallback schedule."""

    minimum: float
    maximum: float
    durations: list[float]  # newest first, at most RECENT
    sampled: int = 0  # launches of this run looked at early

    @property
    def known(self) -> bool:
        return len(self.durations) >= max(MIN_KNOWN, self.sampled)

    def marks(self) -> list[float]:
        """Seconds after the launch at which to look, while known (empty while learning)."""
        if not self.known:
            return []
        return [quantile(self.durations, q) * MARGIN + MARGIN_SECONDS for q in MARKS]

    def first(self, launched_at: datetime, *, sample: bool) -> datetime:
        """The first look at work launched at `launched_at`."""
        marks = self.marks()
        if marks:
            return launched_at + timedelta(seconds=min(self.maximum, max(self.minimum, marks[0])))
        seconds = self.minimum if sample else max(self.minimum, min(self.maximum, FALLBACK_FIRST_LOOK))
        return launched_at + timedelta(seconds=seconds)

    def after(self, launched_at: datetime, now: datetime) -> datetime:
        """The next look at work launched at `launched_at` and still not done at `now`."""
        age = now - launched_at
        if not self.known:  # learning: often, so the sample teaches the schedule soon
            step = max(self.minimum, min(self.maximum, age.total_seconds() * LEARNING_STEP))
            return now + timedelta(seconds=step)
        for mark in self.marks():
            at = launched_at + timedelta(seconds=mark)
            if at >= now + timedelta(seconds=self.minimum):
                return min(at, now + timedelta(seconds=self.maximum))
        return now + doubling(age, self.minimum, self.maximum)


class Schedule:
    """The looks of every kind for one run, learning as completions come in (thread-safe).

    `load` reads the recent durations; `note` adds one as work completes (kept for `flush`
    to store); `learned` says which kinds just became known, so what was scheduled by the
    fallback can be brought forward.
    """

    def __init__(self, minimum: float, maximum: float, *, early_looks: bool = True) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.early_looks = early_looks  # False with webhooks: no sample is polled early
        self._kinds = {kind: KindSchedule(minimum, maximum, []) for kind in KINDS}
        self._new: dict[str, list[float]] = {kind: [] for kind in KINDS}
        self._just_learned: set[str] = set()
        self._lock = threading.Lock()

    def load(self, recent: Callable[[str], list[float]]) -> None:
        with self._lock:
            for kind in KINDS:
                self._kinds[kind].durations = recent(kind)[:RECENT]

    def first(self, kind: str, launched_at: datetime) -> datetime:
        """The first look at new work of `kind`; a launch may be taken into the learning sample."""
        with self._lock:
            schedule = self._kinds[kind]
            sample = self.early_looks and not schedule.known and schedule.sampled < SAMPLE
            if sample:
                schedule.sampled += 1
            return schedule.first(launched_at, sample=sample)

    def rescheduled_first(self, kind: str, launched_at: datetime) -> datetime:
        """Where a not-yet-looked-at launch's first look belongs now (no sample is taken)."""
        with self._lock:
            return self._kinds[kind].first(launched_at, sample=False)

    def after(self, kind: str, launched_at: datetime, now: datetime) -> datetime:
        with self._lock:
            return self._kinds[kind].after(launched_at, now)

    def known(self, kind: str) -> bool:
        with self._lock:
            return self._kinds[kind].known

    def sampling(self, kind: str) -> bool:
        """Whether this run's own launches of `kind` are being looked at early, to learn from."""
        with self._lock:
            return self._kinds[kind].sampled > 0

    def sampled(self, kind: str, count: int) -> None:
        """`count` pending items of `kind` (an earlier run's) are looked at early, to learn from."""
        with self._lock:
            self._kinds[kind].sampled += count

    def note(self, kind: str, seconds: float | None) -> None:
        """A completion of `kind` took `seconds` (None: unknown, not learned from)."""
        if seconds is None or seconds < 0 or not math.isfinite(seconds):
            return
        with self._lock:
            schedule = self._kinds[kind]
            was_known = schedule.known
            schedule.durations = [seconds, *schedule.durations][:RECENT]
            self._new[kind].append(seconds)
            if schedule.known and not was_known:
                self._just_learned.add(kind)

    def learned(self) -> set[str]:
        """Kinds that became known since the last call."""
        with self._lock:
            out, self._just_learned = self._just_learned, set()
            return out

    def flush(self, store: Callable[[str, list[float]], None]) -> None:
        """Hand the durations noted since the last flush to `store(kind, seconds)`."""
        with self._lock:
            new, self._new = self._new, {kind: [] for kind in KINDS}
        for kind, seconds in new.items():
            if seconds:
                store(kind, seconds)

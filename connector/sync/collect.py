"""Collecting: look one pending research up, record it when done, and the `--wait` rounds."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

from connector.errors import RecordFailure, RetriableApiError, SkippableError
from connector.logs import get_logger
from connector.saber.models import Research
from connector.state import ContactState, StateStore
from connector.sync.config import Cycle
from connector.sync.polling import next_check_at

log = get_logger("sync")

MAX_PAUSE = 5.0  # seconds one wait between rounds lasts at most, so Ctrl-C and new results are seen


def record_done(cycle: Cycle, contact_id: str, research: Research) -> None:
    """Store a finished research (completed or failed) and count it."""
    cycle.store.record_result(
        contact_id,
        research_id=research.id,
        status=research.status,
        result=research.raw if research.status == "completed" else None,
        completed_at=research.completed_at or cycle.clock(),
        error_code=research.error_code,
        error=None if research.error is None else str(research.error),
    )
    cycle.summary.research_event(research.status)
    if research.status == "failed":
        log.debug("research failed", contact_id=contact_id, error_code=research.error_code)


class Collector:
    """Looks pending research up: by external ID first, by the stored research id as a fallback."""

    def __init__(self, cycle: Cycle, fail: Callable[[RecordFailure], None] | None = None) -> None:
        self.cycle = cycle
        self.fail = fail or (lambda failure: None)

    def poll(self, state: ContactState) -> Research | None:
        """The finished research (recorded), or None while it is still running (next look scheduled)."""
        c = self.cycle
        research = self._lookup(state)
        now = c.clock()
        if research is None or not research.is_done:
            launched = state.launched_at or now
            if research is None or now - launched < c.config.research_timeout:
                c.store.record_poll(
                    state.contact_id,
                    next_check_at=next_check_at(
                        launched, now, c.config.poll_min_seconds, c.config.poll_max_seconds
                    ),
                )
                return None
            research = Research.failure(
                state.research_id or "",
                "RESEARCH_TIMEOUT",
                f"still processing after {c.config.research_timeout}",
            )
        if research.status == "completed" and research.result is None:
            # Saber said done but sent nothing to write (or garbage in its place): say so.
            self.fail(
                RecordFailure(
                    state.contact_id,
                    None,
                    "RESULT_MISSING",
                    f"research {research.id} is completed but its answer holds no result object;"
                    " only the research's own fields are written",
                )
            )
        record_done(c, state.contact_id, research)
        return research

    def _lookup(self, state: ContactState) -> Research | None:
        saber, source = self.cycle.saber, self.cycle.mapping.external_source

        def find() -> Research | None:
            found = saber.find_research(state.external_id or state.contact_id, source)
            if found is not None and (not state.research_id or found.id == state.research_id):
                return found
            if state.research_id:
                return saber.get_research(state.research_id)
            return found

        try:
            return self.cycle.saber_health.call("find_research", find)
        except (SkippableError, RetriableApiError) as exc:
            log.warning("research lookup failed", contact_id=state.contact_id, error=str(exc))
            if isinstance(exc, SkippableError):  # a garbled answer about this contact: on its record
                code = getattr(exc, "code", None) or "LOOKUP_FAILED"
                self.fail(RecordFailure(state.contact_id, None, code, f"research lookup: {exc}"))
            return None


def pending_rounds(
    store: StateStore,
    *,
    contact_ids: Sequence[str] | None,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    wait_seconds: float,
    between: Callable[[], None],
    stopped: Callable[[], bool] = lambda: False,
    look_now: bool = False,
) -> Iterator[list[ContactState]]:
    """The pending research due now, round after round until none is left or `wait_seconds` pass.

    Between rounds, `between()` runs (the writes so far land while we wait) and the wait
    lasts until the soonest next look-up, at most `MAX_PAUSE` seconds at a time. Both the
    clock and the sleep are injected, so the loop can be driven without waiting.
    """
    deadline = clock() + timedelta(seconds=max(0.0, wait_seconds))
    while True:
        now = clock()
        yield store.pending(due_before=None if look_now else now, contact_ids=contact_ids)
        look_now = False  # only the first round: later ones follow the polling schedule
        soonest = store.pending(contact_ids=contact_ids, limit=1)
        if not soonest or clock() >= deadline or stopped():
            return
        between()
        earliest = soonest[0].next_check_at or now
        pause = min((earliest - clock()).total_seconds(), (deadline - clock()).total_seconds())
        if pause > 0:
            sleep(min(pause, MAX_PAUSE))

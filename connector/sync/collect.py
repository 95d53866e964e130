"""Collecting: look one pending research up, record it when done, and the `--wait` rounds.

The rounds look up what is due (research, and signals in flight) on the learned schedule
(`connector.sync.polling`). `--wait W` is a promise: every pending research and signal is
looked at once more just before the wait ends (`LAST_LOOK_LEAD`), whatever its schedule
says, so what finished within `W` is written by that run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connector.errors import RUN_GOES_ON, SkippableError
from connector.logs import get_logger
from connector.mapping import Mapping
from connector.saber import SaberClient
from connector.saber.models import Research
from connector.state import ContactState, StateStore
from connector.state.signal_asks import SignalAskState
from connector.sync.context import EngineConfig
from connector.sync.failures import Failure, contact_failure
from connector.sync.outage import OutageBreaker
from connector.sync.polling import Schedule
from connector.sync.results import record_done
from connector.sync.summary import RunSummary

log = get_logger("sync")

MAX_PAUSE = 5.0  # seconds one wait between rounds lasts at most, so Ctrl-C and new results are seen
LAST_LOOK_LEAD = 3.0  # with --wait: the last look at everything pending, this long before the wait ends


class Collector:
    """Looks pending research up: by external ID first, by the stored research id as a fallback."""

    def __init__(
        self,
        *,
        mapping: Mapping,
        saber: SaberClient,
        saber_health: OutageBreaker,
        store: StateStore,
        summary: RunSummary,
        config: EngineConfig,
        clock: Callable[[], datetime],
        schedule: Schedule,
        fail: Callable[[Failure], None] | None = None,
    ) -> None:
        self.mapping = mapping
        self.saber = saber
        self.saber_health = saber_health
        self.store = store
        self.summary = summary
        self.config = config
        self.clock = clock
        self.schedule = schedule
        self.fail = fail or (lambda failure: None)

    def poll(self, state: ContactState) -> Research | None:
        """The finished research (recorded), or None while it is still running (next look scheduled)."""
        research = self._lookup(state)
        now = self.clock()
        if research is None or not research.is_done:
            launched = state.launched_at or now
            if research is None or now - launched < self.config.research_timeout:
                later = self.schedule.after("research", launched, now)
                self.store.record_poll(state.contact_id, next_check_at=later)
                return None
            research = Research.failure(
                state.research_id or "",
                "RESEARCH_TIMEOUT",
                f"still processing after {self.config.research_timeout}",
            )
        if research.status == "completed" and not research.has_findings:
            # Saber said done but sent nothing to write (or garbage in its place): say so.
            self.fail(
                contact_failure(
                    state.contact_id,
                    "RESULT_MISSING",
                    f"research {research.id} is completed but its answer holds no result object;"
                    " only the research's own fields are written",
                )
            )
        record_done(self.store, self.summary, self.clock, state.contact_id, research, self.schedule)
        return research

    def _lookup(self, state: ContactState) -> Research | None:
        saber, source = self.saber, self.mapping.external_source

        def find() -> Research | None:
            if state.research_id and not saber.external_ids.sent:  # launched without them: by id
                return saber.get_research(state.research_id)
            found = saber.find_research(state.external_id or state.contact_id, source)
            if found is not None and (not state.research_id or found.id == state.research_id):
                return found
            if state.research_id:
                return saber.get_research(state.research_id)
            return found

        try:
            return self.saber_health.call("find_research", find)
        except RUN_GOES_ON as exc:
            log.warning("research lookup failed", contact_id=state.contact_id, error=str(exc))
            if isinstance(exc, SkippableError):  # a garbled answer about this contact: on its record
                code = exc.code or "LOOKUP_FAILED"
                self.fail(contact_failure(state.contact_id, code, f"research lookup: {exc}"))
            return None


@dataclass(frozen=True)
class Round:
    """What one round looks up: research and signal asks that are due (or all, for a last look)."""

    research: list[ContactState]
    signals: list[SignalAskState]


def pending_rounds(
    store: StateStore,
    *,
    contact_ids: Sequence[str] | None,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    wait_seconds: float,
    between: Callable[[], None],
    idle: Callable[[], None] = lambda: None,
    stopped: Callable[[], bool] = lambda: False,
    look_now: bool = False,
) -> Iterator[Round]:
    """What is due now, round after round, until nothing is pending or `wait_seconds` pass.

    With a wait, one last round just before its end looks at everything still pending, due
    or not. Between rounds, `between()` runs (the writes so far land while we wait) and the
    wait lasts until the soonest next look, at most `MAX_PAUSE` seconds at a time. When nothing
    is pending, `idle()` writes what is in hand first (writing asks the signals its results
    need, which are then pending too). Both the clock and the sleep are injected, so the loop
    can be driven without waiting.
    """
    wait = max(0.0, wait_seconds)
    deadline = clock() + timedelta(seconds=wait)
    last_look = deadline - timedelta(seconds=min(LAST_LOOK_LEAD, wait * 0.05)) if wait > 0 else None
    while True:
        now = clock()
        final = last_look is not None and now >= last_look
        due = None if look_now or final else now
        yield Round(
            store.pending(due_before=due, contact_ids=contact_ids),
            store.signal_asks_due(due_before=due, contact_ids=contact_ids),
        )
        look_now = False  # only the first round: later ones follow the schedule
        soonest = _soonest(store, contact_ids)
        if soonest is None and wait > 0 and not final and not stopped():
            idle()
            soonest = _soonest(store, contact_ids)
        if soonest is None or final or clock() >= deadline or stopped():
            return
        between()
        wake = min(soonest, last_look) if last_look is not None else soonest
        pause = min((wake - clock()).total_seconds(), (deadline - clock()).total_seconds())
        if pause > 0:
            sleep(min(pause, MAX_PAUSE))


def _soonest(store: StateStore, contact_ids: Sequence[str] | None) -> datetime | None:
    """When the next look of anything pending is due (None: nothing is pending)."""
    research = store.pending(contact_ids=contact_ids, limit=1)
    signals = store.signal_asks_due(due_before=None, contact_ids=contact_ids, limit=1)
    never = datetime.min.replace(tzinfo=UTC)
    times = [x.next_check_at or never for x in research] + [a.next_check_at or never for a in signals]
    return min(times) if times else None

"""Collecting signals in flight: looked up by id (free), or found in the lists when the answer was lost.

An ask Saber took (`processing`, its id stored) is looked up on the learned schedule, like
research: a completed answer is kept for every contact that wants it, a failed one is
recorded with its `errorCode` (a later run asks again), and one past the signal timeout is
given up the same way. An ask with no id (the create's answer was lost, or the process died
between the POST and its answer) is looked for in Saber's lists; one not there after
`CONNECTOR_LOST_GRACE_SECONDS` was never made, and is dropped so that a later ask may pay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from connector.errors import RUN_GOES_ON, SkippableError
from connector.logs import get_logger
from connector.saber import SaberClient, SaberNotFound
from connector.saber.models import Signal
from connector.state import StateStore
from connector.state.signal_asks import AnswerRecord, SignalAskState
from connector.sync.context import EngineConfig
from connector.sync.failures import Failure, Subject
from connector.sync.outage import OutageBreaker
from connector.sync.polling import Schedule
from connector.sync.resolution import signal_kind
from connector.sync.signal_lists import SaberLists
from connector.sync.summary import RunSummary

log = get_logger("sync")


class SignalCollector:
    """Looks one ask in flight up; thread-safe (each look is its own calls and transactions)."""

    def __init__(
        self,
        *,
        saber: SaberClient,
        saber_health: OutageBreaker,
        store: StateStore,
        summary: RunSummary,
        config: EngineConfig,
        clock: Callable[[], datetime],
        schedule: Schedule,
        lists: SaberLists,
        fail: Callable[[Failure], None],
    ) -> None:
        self.saber = saber
        self.saber_health = saber_health
        self.store = store
        self.summary = summary
        self.config = config
        self.clock = clock
        self.schedule = schedule
        self.lists = lists
        self.fail = fail

    def look(self, ask: SignalAskState) -> bool:
        """Look one ask up; True when it settled (answered, failed or given up): its contacts move on."""
        now = self.clock()
        if ask.signal_id is None:
            return self._find_lost(ask, now)
        scope, signal_id = ask.spec.scope, ask.signal_id
        try:
            signal = self.saber_health.call(
                f"get_{scope}_signal", lambda: self.saber.get_signal(scope, signal_id)
            )
        except SaberNotFound:
            log.warning("signal not found at Saber; asked again when needed", signal_id=signal_id)
            self.store.drop_signal_ask(ask.key)
            return True
        except RUN_GOES_ON as exc:
            log.warning("signal look-up failed", signal_id=signal_id, error=str(exc))
            if isinstance(exc, SkippableError):  # a garbled answer: said, and looked at again later
                code = exc.code or "LOOKUP_FAILED"
                self.fail(Failure(Subject("signal", signal_id), code, f"signal look-up: {exc}"))
            self.store.record_signal_polled(ask.key, next_check_at=self._after(ask, now))
            return False
        return self._seen(ask, signal, now)

    def _seen(self, ask: SignalAskState, signal: Signal, now: datetime) -> bool:
        kind = signal_kind(ask.spec.scope)
        status = (signal.status or "").lower()
        if status == "completed":
            answered_at = signal.completed_at or now
            self.store.settle_signal_ask(AnswerRecord(ask.key, ask.spec, "asked", signal.raw, answered_at))
            self.schedule.note(kind, signal.processing_seconds)
            self.summary.count("signals_answered")
            return True
        if signal.failed:
            error = None if signal.error is None else str(signal.error)
            self.store.record_signal_failed(ask.key, error_code=signal.error_code, error=error)
            self.schedule.note(kind, signal.processing_seconds)
            self.summary.count("signals_failed")
            log.info("signal failed at Saber", target=ask.spec.target, error_code=signal.error_code)
            return True
        if now - ask.asked_at >= self.config.signal_timeout:
            timeout = f"still processing after {self.config.signal_timeout}"
            self.store.record_signal_failed(ask.key, error_code="SIGNAL_TIMEOUT", error=timeout)
            self.summary.count("signals_failed")
            return True
        self.store.record_signal_polled(ask.key, next_check_at=self._after(ask, now))
        return False

    def _after(self, ask: SignalAskState, now: datetime) -> datetime:
        return self.schedule.after(signal_kind(ask.spec.scope), ask.asked_at, now)

    def _find_lost(self, ask: SignalAskState, now: datetime) -> bool:
        """An ask with no id: in the lists (taken over), else given up after the grace."""
        listed = self.lists.read(ask.spec.scope, ask.spec.target)
        found = self.lists.match(listed, ask.spec, since=ask.asked_at)
        if found is not None and found.id:  # the one this ask made: paid, taken over
            log.info("lost signal ask found at Saber", signal_id=found.id, target=ask.spec.target)
            self.summary.count("signals_asked")
            self.summary.spend(f"{ask.spec.scope}_signals", self.config.signal_cost)
            if found.is_done:
                return self._seen(ask, found, now)
            self.store.record_signal_asked(ask.key, found.id, next_check_at=self._after(ask, now))
            return False
        older = self.lists.match(listed, ask.spec, since=None)
        if older is not None and older.is_done:  # an answer Saber already held serves as well
            self.summary.save("saber_lists", self.config.signal_cost)
            return self._seen(ask, older, now)
        if now - ask.asked_at >= timedelta(seconds=self.config.lost_grace_seconds):
            log.info(
                "lost signal ask was never made at Saber; asked again when needed", target=ask.spec.target
            )
            self.store.drop_signal_ask(ask.key)
            return True
        look = now + timedelta(seconds=self.config.lost_look_seconds)
        self.store.record_signal_polled(ask.key, next_check_at=look)
        return False

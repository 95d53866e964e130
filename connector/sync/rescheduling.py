"""Moving pending looks as the schedule learns: a sample of earlier runs' work now, the rest when due.

Work scheduled while its kind's processing times were unknown waits the fallback; a few of
it (`SAMPLE`) are looked at at once to learn from, and once a kind is known everything of
it is moved to when that kind usually finishes (`connector.sync.polling`). The moves are
effects (a dry run makes none).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connector.state import StateStore
from connector.sync.effects import Effects
from connector.sync.polling import SAMPLE, Schedule
from connector.sync.resolution import signal_kind


def sample_pending(
    store: StateStore, schedule: Schedule, effects: Effects, now: datetime, poll_min_seconds: float
) -> None:
    """Work left by earlier runs while its kind's times are unknown waits the fallback: a few
    of it are looked at now, to learn from, so the rest need not wait that long."""
    soon = now + timedelta(seconds=poll_min_seconds)
    if not schedule.known("research") and not schedule.sampling("research"):
        unlooked = store.unlooked_research()
        waiting = sorted((launched, cid) for cid, launched, at in unlooked if at and at > soon)
        effects.reschedule_research({cid: now for _, cid in waiting[:SAMPLE]})
        schedule.sampled("research", len(waiting[:SAMPLE]))
    picks: dict[str, datetime] = {}
    for kind in ("contact_signal", "company_signal"):
        if schedule.known(kind) or schedule.sampling(kind):
            continue
        asks = [a for a in store.unlooked_signal_asks() if signal_kind(a.spec.scope) == kind]
        waiting_asks = sorted(
            (a for a in asks if a.next_check_at and a.next_check_at > soon), key=lambda a: a.asked_at
        )
        picks.update({a.key: now for a in waiting_asks[:SAMPLE]})
        schedule.sampled(kind, len(waiting_asks[:SAMPLE]))
    effects.reschedule_signal_asks(picks)


def reschedule(store: StateStore, schedule: Schedule, effects: Effects, kinds: set[str]) -> None:
    """Work scheduled before its kind's times were known is looked at when that kind usually finishes."""
    if "research" in kinds:
        moves = {}
        for cid, launched, current in store.unlooked_research():
            at = schedule.rescheduled_first("research", launched)
            if current is None or abs((at - current).total_seconds()) >= 1:
                moves[cid] = at
        effects.reschedule_research(moves)
    signal_moves = {}
    for ask in store.unlooked_signal_asks():
        kind = signal_kind(ask.spec.scope)
        if kind in kinds:
            at = schedule.rescheduled_first(kind, ask.asked_at)
            if ask.next_check_at is None or abs((at - ask.next_check_at).total_seconds()) >= 1:
                signal_moves[ask.key] = at
    effects.reschedule_signal_asks(signal_moves)

"""Signal asks in flight, the contacts waiting on them, and learned durations, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.state import StateStore
from connector.state.signal_asks import AnswerRecord, AskSpec
from connector.state.timings import KEEP

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SPEC = AskSpec("k1", "company", "acme.com", "Hiring?", "boolean")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str, clock: Clock) -> Iterator[StateStore]:
    opened = StateStore(url, clock=clock)
    try:
        yield opened
    finally:
        opened.close()


def test_only_one_claim_of_an_ask_wins_even_from_many_threads_and_stores(url: str, clock: Clock) -> None:
    """Eight workers on two stores (two replicas) claim the same ask at once: exactly one wins."""
    stores = [StateStore(url, clock=clock) for _ in range(2)]
    try:
        wins: list[bool] = []
        start = threading.Barrier(8)

        def claim(i: int) -> None:
            start.wait()
            wins.append(stores[i % 2].claim_signal_ask(SPEC))

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(wins) == [False] * 7 + [True]
        (state,) = stores[0].signal_asks_for(["k1"]).values()
        assert state.status == "asking" and state.asked_at == T0 and state.signal_id is None
    finally:
        for s in stores:
            s.close()


def test_an_ask_moves_from_asking_to_processing_and_its_answer_replaces_it(
    store: StateStore, clock: Clock
) -> None:
    """Claimed, then Saber's id, then polled, then settled: the answer is kept and the ask is gone."""
    assert store.claim_signal_ask(SPEC)
    store.record_signal_asked("k1", "sig-1", next_check_at=T0 + timedelta(seconds=30))
    clock.now = T0 + timedelta(seconds=30)
    assert [a.key for a in store.signal_asks_due(due_before=clock.now)] == ["k1"]
    store.record_signal_polled("k1", next_check_at=T0 + timedelta(seconds=60))
    assert store.signal_asks_due(due_before=clock.now) == []
    state = store.signal_asks_for(["k1"])["k1"]
    assert (state.status, state.signal_id, state.check_count) == ("processing", "sig-1", 1)
    store.settle_signal_ask(AnswerRecord("k1", SPEC, "asked", {"id": "sig-1", "answer": True}, clock.now))
    assert store.signal_asks_for(["k1"]) == {}
    assert store.signal_answer("k1") == ({"id": "sig-1", "answer": True}, clock.now)


def test_a_failed_ask_is_claimed_again_only_by_a_later_run(store: StateStore, clock: Clock) -> None:
    """A failed ask blocks asking again in the run that saw it fail; a run that started later may claim it."""
    store.claim_signal_ask(SPEC)
    store.record_signal_failed("k1", error_code="INSUFFICIENT_DATA", error="not enough")
    assert store.count_signal_asks() == {"failed": 1}
    assert not store.claim_signal_ask(SPEC, failed_before=T0)  # this run: failed at T0, not before
    clock.now = T0 + timedelta(hours=1)
    assert store.claim_signal_ask(SPEC, failed_before=clock.now)
    assert store.signal_asks_for(["k1"])["k1"].status == "asking"


def test_released_claims_go_and_lost_answers_stay_to_be_looked_for(store: StateStore, clock: Clock) -> None:
    """A claim with nothing sent is released; a lost answer stays `asking`, due when it should be looked for."""
    store.claim_signal_ask(SPEC)
    store.release_signal_ask("k1")
    assert store.signal_asks_for(["k1"]) == {}
    store.claim_signal_ask(SPEC)
    store.record_signal_ask_lost("k1", next_check_at=T0 + timedelta(seconds=20))
    assert store.signal_asks_due(due_before=T0) == []
    assert [a.status for a in store.signal_asks_due(due_before=T0 + timedelta(seconds=20))] == ["asking"]
    store.release_signal_ask("k1")  # not released: it may have been sent
    assert "k1" in store.signal_asks_for(["k1"])
    store.drop_signal_ask("k1")
    assert store.signal_asks_for(["k1"]) == {}


def test_contacts_are_rewritten_once_nothing_they_wait_on_is_in_flight(store: StateStore) -> None:
    """A contact waiting on two asks is ready only when both are answered (or failed); waits are replaced."""
    other = AskSpec("k2", "contact", "https://linkedin.com/in/x", "Q?", "open_text")
    for spec in (SPEC, other):
        store.claim_signal_ask(spec)
        store.record_signal_asked(spec.key, f"sig-{spec.key}", next_check_at=T0)
    store.set_signal_waits({"c1": {"k1", "k2"}, "c2": {"k1"}, "c3": set()})
    assert store.contacts_to_rewrite() == []
    assert [a.key for a in store.signal_asks_due(due_before=None, contact_ids=["c2"])] == ["k1"]
    store.settle_signal_ask(AnswerRecord("k1", SPEC, "asked", {"answer": True}, T0))
    assert store.contacts_to_rewrite() == ["c2"]
    store.record_signal_failed("k2", error_code="X", error=None)
    assert store.contacts_to_rewrite() == ["c1", "c2"]
    assert store.contacts_to_rewrite(contact_ids=["c1"]) == ["c1"]
    store.set_signal_waits({"c1": set(), "c2": set()})
    assert store.contacts_to_rewrite() == []


def test_durations_are_kept_newest_first_and_pruned(store: StateStore) -> None:
    """Timings come back newest first; negatives are dropped; beyond KEEP per kind the oldest go."""
    store.record_timings("research", [1.0, -2.0, 3.0])
    store.record_timings("company_signal", [40.0])
    assert store.recent_timings("research") == [3.0, 1.0]
    store.record_timings("research", [float(i) for i in range(KEEP + 5)])
    recent = store.recent_timings("research", n=KEEP + 100)
    assert len(recent) == KEEP and recent[0] == KEEP + 4
    assert store.recent_timings("company_signal") == [40.0]

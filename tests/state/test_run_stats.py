"""The status report's questions of the state: credits per day, what waits and since when, error examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.state import StateStore
from connector.state.run_stats import RunStats


def test_credits_by_day_sums_syncs_used_and_linkedin_held_per_utc_day(store: StateStore) -> None:
    """A sync's `credits_used` and a linkedin run's held credits count on the UTC day the run started; older runs do not."""
    now = datetime.now(UTC)
    today, yesterday, old = now, now - timedelta(days=1), now - timedelta(days=40)
    store.runs.record_finished_run(today, outcome="ok", counts={"kind": "full", "credits_used": 4})
    store.runs.record_finished_run(today, outcome="ok", counts={"kind": "collect", "credits_used": 0})
    store.runs.record_finished_run(today, outcome="ok", counts={"kind": "linkedin", "credits": {"held": 7}})
    store.runs.record_finished_run(yesterday, outcome="partial", counts={"kind": "full", "credits_used": 3})
    store.runs.record_finished_run(old, outcome="ok", counts={"kind": "full", "credits_used": 100})
    days = RunStats(store.db).credits_by_day(now - timedelta(days=30))
    assert days == {today.date(): 11, yesterday.date(): 3}


def test_research_waiting_counts_processing_research_and_its_oldest_launch(store: StateStore) -> None:
    """Research still processing is counted, with the launch time of the oldest (a datetime in UTC)."""
    stats = RunStats(store.db)
    assert stats.research_waiting().count == 0 and stats.research_waiting().oldest is None
    for cid in ("1", "2"):
        store.record_launch(
            cid, external_id=cid, fingerprint="f", research_id=f"cr_{cid}", next_check_at=datetime.now(UTC)
        )
    waiting = stats.research_waiting()
    assert waiting.count == 2
    assert waiting.oldest is not None and waiting.oldest.tzinfo is not None
    assert datetime.now(UTC) - waiting.oldest < timedelta(minutes=1)


def test_writes_waiting_by_reason_agrees_with_the_ledger_count(store: StateStore) -> None:
    """Results waiting to be written, by reason, are the counts `count_write_pending` gives."""
    for cid, reason in (("1", "unwritten"), ("2", "unwritten"), ("3", "SIGNAL_PENDING")):
        store.record_launch(
            cid, external_id=cid, fingerprint="f", research_id=f"cr_{cid}", next_check_at=datetime.now(UTC)
        )
        store.set_write_pending(cid, reason)
    waiting = RunStats(store.db).writes_waiting()
    assert (
        {r: w.count for r, w in waiting.items()}
        == store.count_write_pending()
        == {
            "unwritten": 2,
            "SIGNAL_PENDING": 1,
        }
    )
    assert all(w.oldest is not None for w in waiting.values())


def test_error_examples_are_distinct_ids_per_code_latest_first(store: StateStore) -> None:
    """Each code gets up to `per_code` distinct record ids logged since the cut-off, the latest first."""
    for cid in ("10", "11", "10", "12", "13"):
        store.record_error(None, cid, "WRITE_FAILED", "refused", of_contact=False)
    store.record_error(None, "company:9", "COMPANY_MATCH_FAILED", "no match", of_contact=False)
    stats = RunStats(store.db)
    since = datetime.now(UTC) - timedelta(hours=1)
    found = stats.error_examples(["WRITE_FAILED", "COMPANY_MATCH_FAILED", "NONE"], since, per_code=3)
    assert found == {"WRITE_FAILED": ["13", "12", "10"], "COMPANY_MATCH_FAILED": ["company:9"], "NONE": []}
    assert stats.error_examples(["WRITE_FAILED"], datetime.now(UTC) + timedelta(hours=1)) == {
        "WRITE_FAILED": []
    }

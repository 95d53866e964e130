"""A Saber outage mid-run: launches stop after the threshold, the run exits 3, the next run finishes the job."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from connector.errors import ApiOutage
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.settings import Settings
from connector.state import StateStore
from tests.sync_harness import prepare, settings_for, sync, write_mapping

THRESHOLD = 3
ATTEMPTS = 2
WORKERS = 2


def _prepared(
    box: RunningSandbox, tmp_path: Path, *, threshold: int, attempts: int, workers: int
) -> Settings:
    """Settings for this sandbox with the outage knobs, and the mapped properties created."""
    settings = settings_for(
        box,
        tmp_path,
        write_mapping(tmp_path),
        connector_outage_threshold=threshold,
        http_max_attempts=attempts,
        connector_concurrency=workers,
    )
    prepare(settings)
    return settings


def test_saber_outage_stops_launches_exits_3_and_next_run_launches_the_rest(tmp_path: Path) -> None:
    """After THRESHOLD launches in a row fail past their retries, no more are tried; a later run pays once for each."""
    with start_sandbox(contacts=30, seed=3, research_delay=0.1) as box:
        settings = _prepared(box, tmp_path, threshold=THRESHOLD, attempts=ATTEMPTS, workers=WORKERS)
        box.saber.fail_next(10_000, status=503, endpoint="research_create")  # Saber's writes are down

        with pytest.raises(ApiOutage) as stopped:
            sync(settings, wait_seconds=5)
        assert stopped.value.exit_code == 3
        assert "Saber is unavailable" in str(stopped.value)
        # The breaker trips on the THRESHOLD-th failure; only calls already in flight finish.
        posts = box.saber.count("research_create")
        assert THRESHOLD * ATTEMPTS <= posts <= (THRESHOLD + WORKERS - 1) * ATTEMPTS
        assert box.saber.all_research() == []
        with StateStore(settings.connector_state_url) as store:
            assert store.last_runs(1)[0].outcome == "failed"
            assert store.get_cursor("contacts.lastmodifieddate") is None  # the cursor did not move

        box.saber.clear_faults()  # Saber is back
        second = sync(settings, wait_seconds=20)
        launched = second.research["launched"]
        assert launched > THRESHOLD
        assert second.pending == 0
        per_contact = Counter(r["externalId"] for r in box.saber.all_research())
        assert len(per_contact) == launched and set(per_contact.values()) == {1}  # nobody paid for twice
        assert second.credits_used == launched + second.signals_asked


def test_isolated_saber_failures_below_the_threshold_do_not_stop_the_run(tmp_path: Path) -> None:
    """Two failing launches separated by a success never reach a threshold of 2: the run carries on."""
    with start_sandbox(contacts=20, seed=3, research_delay=0.1) as box:
        settings = _prepared(box, tmp_path, threshold=2, attempts=1, workers=1)
        box.saber.fail_next(1, status=503, endpoint="research_create")
        summary = sync(settings, wait_seconds=20)
        assert summary.outcome in ("ok", "partial")
        assert summary.research["launched"] > 1
        assert len([f for f in summary.failures if f.code == "INTERNAL_ERROR"]) == 1

"""While results trickle in, HubSpot reads and writes wait for a full batch (or a bounded delay)."""

from __future__ import annotations

from pathlib import Path

from connector.sandbox.runner import start_sandbox
from connector.sandbox.server import Knobs
from tests.sync_harness import prepare, settings_for, sync, write_mapping


def _run(tmp_path: Path, delay: float) -> tuple[int, int, int]:
    """One `--wait` sync whose results finish over a few seconds: (researched, batch reads, batch updates)."""
    tmp_path.mkdir()
    with start_sandbox(contacts=40, seed=3, research_delay=0.6, saber_knobs=Knobs(latency=0.03)) as box:
        settings = settings_for(
            box,
            tmp_path,
            write_mapping(tmp_path),
            connector_concurrency=2,
            connector_write_delay_seconds=delay,
        )
        prepare(settings)
        box.hubspot.clear_log()
        summary = sync(settings, wait_seconds=30)
        assert summary.pending == 0 and summary.writes_pending == 0
        return (
            summary.research["completed"],
            box.hubspot.count("contacts_batch_read"),
            box.hubspot.count("contacts_batch_update"),
        )


def test_trickling_results_are_read_and_written_in_one_full_batch(tmp_path: Path) -> None:
    """With the default 10 s delay, results that finish over a few seconds go out in one read and one update."""
    researched, reads, updates = _run(tmp_path / "batched", 10.0)
    assert researched > 10
    assert (reads, updates) == (1, 1)


def test_a_zero_delay_sends_what_finished_each_round(tmp_path: Path) -> None:
    """With no delay allowed, each round's results are read and written at once (the bound works both ways)."""
    researched, reads, updates = _run(tmp_path / "eager", 0.0)
    assert researched > 10
    assert reads > 1 and updates > 1

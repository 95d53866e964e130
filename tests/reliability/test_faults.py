"""Faults (item 2): a sync under every fault converges to the clean run's HubSpot state and credits."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.sandbox.runner import start_sandbox
from tests.reliability.figures import assert_all_ok
from tests.reliability.scenarios import faults
from tests.sync_harness import ROOT_MAPPING, prepare, settings_for, sync, write_mapping

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_faulty_sync_converges_to_the_clean_runs_state_and_credits() -> None:
    """Under 429s, 5xx, resets, slow reads, 207s, 400s, failing signals and a credit run-out, nothing differs."""
    figures = faults.run(long=False)
    assert_all_ok(figures)
    by_name = {f.name: f.value for f in figures}
    assert by_name["faults injected in all"] > 50  # the faults really were there
    assert by_name["(contact, property) values compared"] > 0


def test_a_signal_that_fails_past_its_retries_is_asked_again_by_the_next_run(tmp_path: Path) -> None:
    """A signal ask that fails every attempt leaves the result pending; the next run asks it and writes it."""
    with start_sandbox(contacts=12, seed=3, research_delay=0.1) as box:
        settings = settings_for(
            box,
            tmp_path,
            write_mapping(tmp_path, ROOT_MAPPING.read_text(encoding="utf-8")),
            http_max_attempts=2,
            connector_outage_threshold=1000,  # failing signals in a row are not an outage here
            connector_lost_answer_grace_seconds=0.5,  # a 503 may have made it: looked for, then asked again
        )
        prepare(settings)
        box.saber.signal_failure_rate = 1.0  # every signal ask fails, all through the first run
        box.saber.signal_failure_attempts = 10**6
        first = sync(settings, wait_seconds=5)
        assert any(f.code == "SIGNAL_FAILED" for f in first.failures)
        assert first.writes_pending > 0  # not done: what is known landed, the signals wait
        assert box.saber.signals(created=True) == []  # nothing was made (or paid) by the failed asks
        box.saber.signal_failure_rate = 0.0
        second = sync(settings, wait_seconds=10)
        assert second.writes_pending == 0 and second.signals_asked > 0
        hiring = {box.hubspot.contact(c).get("saber_hiring_engineers") for c in box.hubspot.contact_ids()}
        assert hiring - {None}  # the company signal's answers landed

"""Reconciliation in `saber-connector run`: a subprocess against the sandbox, over real HTTP.

On `CONNECTOR_RECONCILE_SCHEDULE` the service forgets a contact HubSpot archived, and `/metrics`
and `/status` count the deletion followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.sandbox.runner import RunningSandbox, start_sandbox
from tests.privacy.world import people, sqlite_bytes
from tests.reliability import kit
from tests.reliability.kit import Service, free_port, http_env
from tests.sync_harness import sandbox_env, settings_for, wait_until, write_mapping

pytestmark = pytest.mark.slow


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=8, seed=3, research_delay=0.1, signal_delay=0.1) as running:
        yield running


def test_the_service_follows_an_archive_on_its_reconcile_schedule(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """With CONNECTOR_RECONCILE_SCHEDULE=2s a contact archived in HubSpot is forgotten and counted in /metrics."""
    mapping = write_mapping(tmp_path)
    settings = settings_for(box, tmp_path, mapping)
    port = free_port()
    env = sandbox_env(box, tmp_path, mapping)
    env.update(http_env(port))
    env.update({"CONNECTOR_SCHEDULE": "1h", "CONNECTOR_COLLECT_INTERVAL": "1s"})
    env["CONNECTOR_RECONCILE_SCHEDULE"] = "2s"
    with kit.running(env, tmp_path, tmp_path / "run.log") as proc:
        run = Service(proc, port)
        wait_until(run.started, timeout=30)
        wait_until(lambda: any(r["status"] == "completed" for r in box.saber.all_research()), timeout=60)
        person = people(box)[0]
        wait_until(lambda: person.email.encode() in sqlite_bytes(settings), timeout=60)
        box.hubspot.archive_contact(person.contact_id)
        wait_until(lambda: run.metric("saber_connector_deletions_followed") == 1, timeout=60)
        assert run.metric_sum("saber_connector_cycles_total", kind="reconcile", outcome="ok") >= 1
        assert person.email.encode() not in sqlite_bytes(settings)

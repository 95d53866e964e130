"""The linkedin figures of /metrics: the state's totals after each run, and what the run held and wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.clients import store_from
from connector.commands.linkedin import run_linkedin
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.service.metrics import Metrics
from tests.linkedin.world import build, jobs_finished
from tests.reliability.kit import metric_values

L = "saber_connector_linkedin_"


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=3, seed=3, integrations=True) as running:
        yield running


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return next(iter(metric_values(metrics.exposition().decode(), name, exact=True, **labels)), 0.0)


def test_metrics_show_jobs_by_status_and_the_totals_after_each_run(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """After the starting run one job is queued or running; after the import it is imported (the old status back at 0)."""
    settings = build(box, tmp_path)
    metrics = Metrics()
    first = run_linkedin(settings)
    with store_from(settings) as store:
        metrics.linkedin_finished(first, store.linkedin.totals())
    started = {s: sample(metrics, L + "jobs", status=s) for s in ("queued", "running")}
    assert sum(started.values()) == 1 and sample(metrics, L + "credits_held_total") == 5
    jobs_finished(box, settings)
    second = run_linkedin(settings)
    with store_from(settings) as store:
        metrics.linkedin_finished(second, store.linkedin.totals())
    assert sample(metrics, L + "jobs", status="imported") == 1
    assert all(sample(metrics, L + "jobs", status=s) == 0 for s, n in started.items() if n)
    assert sample(metrics, L + "contacts_created") == 5 and sample(metrics, L + "credits_spent") == 5

"""The linkedin cycle of `saber-connector run`: a subprocess against the sandbox, over real HTTP.

With a `linkedin` section and INTEGRATIONS_API_KEY, the service starts the due job, imports its
prospects on a later cycle, and /metrics shows the state's LinkedIn totals.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.sandbox.runner import RunningSandbox, start_sandbox
from tests.linkedin.world import build, contacts_by_profile, sandbox
from tests.reliability import kit
from tests.reliability.kit import Service, free_port, http_env
from tests.sync_harness import sandbox_env, wait_until

pytestmark = pytest.mark.slow

L = "saber_connector_linkedin_"


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=3, seed=3, research_delay=0.2, integrations=True) as running:
        yield running


def test_the_linkedin_cycle_imports_a_job_once_and_metrics_count_it(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """CONNECTOR_LINKEDIN_SCHEDULE=1s starts the job once, creates its five contacts once, /metrics counts them."""
    build(box, tmp_path)
    port = free_port()
    env = sandbox_env(box, tmp_path, tmp_path / "mapping.yaml")
    env.update(http_env(port))
    env.update(
        {
            "CONNECTOR_SCHEDULE": "1h",
            "CONNECTOR_COLLECT_INTERVAL": "1s",
            "CONNECTOR_LINKEDIN_SCHEDULE": "1s",
        }
    )
    with kit.running(env, tmp_path, tmp_path / "run.log") as proc:
        run = Service(proc, port)
        wait_until(run.started, timeout=30)
        wait_until(lambda: run.metric(L + "contacts_created") == 5, timeout=60)
        wait_until(
            lambda: run.metric("saber_connector_cycles_total", kind="linkedin", outcome="ok") >= 3, timeout=30
        )
        assert run.metric(L + "jobs", status="imported") == 1
        assert run.metric(L + "credits_spent") == 5
    profiles = contacts_by_profile(box)
    assert len(profiles) == 5 and max(profiles.values()) == 1
    assert sandbox(box).jobs_started == 1


def test_a_key_without_a_permission_fails_the_linkedin_cycle_alone(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A key lacking prospecting:write fails each linkedin cycle; the collect cycles go on and /readyz stays ready."""
    build(box, tmp_path)
    sandbox(box).add_key("sk_live_readonly", ["prospecting:read", "audiences:read", "audiences:write"])
    port = free_port()
    env = sandbox_env(box, tmp_path, tmp_path / "mapping.yaml")
    env.update(http_env(port))
    env.update(
        {
            "CONNECTOR_SCHEDULE": "1h",
            "CONNECTOR_COLLECT_INTERVAL": "1s",
            "CONNECTOR_LINKEDIN_SCHEDULE": "1s",
            "INTEGRATIONS_API_KEY": "sk_live_readonly",
        }
    )
    with kit.running(env, tmp_path, tmp_path / "run.log") as proc:
        run = Service(proc, port)
        wait_until(run.started, timeout=30)
        failed = ("saber_connector_cycles_total",)
        wait_until(lambda: run.metric(*failed, kind="linkedin", outcome="failed") >= 2, timeout=30)
        wait_until(lambda: run.metric(*failed, kind="collect", outcome="ok") >= 1, timeout=30)
        assert run.ready()["ready"] is True
    assert sandbox(box).jobs_started == 0
    assert "prospecting:write" in (tmp_path / "run.log").read_text(encoding="utf-8")

"""Prospecting in `saber-connector run`: a subprocess against the sandbox, over real HTTP.

With `CONNECTOR_PROSPECT_SCHEDULE` and a `prospecting` section, a prospect cycle creates the
people missing at the target accounts, the full cycle researches them, and /metrics counts what
prospecting did; without the setting, or without the section, no prospect cycle ever runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from connector.sandbox.runner import RunningSandbox, start_sandbox
from tests.reliability import kit
from tests.reliability.kit import Service, free_port, http_env
from tests.sync.prospect_world import build
from tests.sync_harness import sandbox_env, wait_until, write_mapping

pytestmark = pytest.mark.slow

P = "saber_connector_prospect_"


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=6, seed=3, research_delay=0.2) as running:
        yield running


@contextmanager
def service(box: RunningSandbox, tmp_path: Path, **env: str) -> Iterator[Service]:
    """`saber-connector run` with short schedules against this sandbox, stopped at the end."""
    port = free_port()
    values = sandbox_env(box, tmp_path, tmp_path / "mapping.yaml")
    values.update(http_env(port))
    values.update(
        {
            "CONNECTOR_SCHEDULE": "2s",
            "CONNECTOR_COLLECT_INTERVAL": "1s",
            "CONNECTOR_BACKOFF_INITIAL_SECONDS": "1",
        }
    )
    values.update(env)
    with kit.running(values, tmp_path, tmp_path / "run.log") as proc:
        running = Service(proc, port)
        wait_until(running.started, timeout=30)
        yield running


def _created(box: RunningSandbox, companies: dict[str, str]) -> list[str]:
    """Contacts whose primary company is one of the targets."""
    hub = box.hubspot
    return [
        c for c in hub.contact_ids() if hub.primary_company(c) in (companies["acme"], companies["globex"])
    ]


def test_a_prospect_cycle_creates_the_missing_people_and_a_full_cycle_researches_them(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """CONNECTOR_PROSPECT_SCHEDULE=1s creates the missing people once, the full cycle researches them, /metrics counts it."""
    _, companies = build(box, tmp_path)
    hub = box.hubspot
    bob = hub.add_contact({"firstname": "Bob", "lastname": "Berg"})  # already at Acme: never created
    hub.associate(bob, companies["acme"], primary=True)
    with service(box, tmp_path, CONNECTOR_PROSPECT_SCHEDULE="1s") as run:
        wait_until(lambda: len([c for c in _created(box, companies) if c != bob]) == 5, timeout=60)
        new = [c for c in _created(box, companies) if c != bob]
        wait_until(lambda: all(box.saber.research_for(cid) for cid in new), timeout=60)
        wait_until(
            lambda: all(hub.contact(cid).get("saber_research_status") == "completed" for cid in new),
            timeout=60,
        )
        wait_until(
            lambda: run.metric("saber_connector_cycles_total", kind="prospect", outcome="ok") >= 2, timeout=30
        )
        assert run.metric(P + "created_total") == 5
        assert run.metric(P + "accounts_searched_total") >= 2  # Globex, cut short, is searched again
        assert run.metric(P + "people_found_total") >= 6
        assert run.metric(P + "already_in_hubspot_total") == 1
        assert run.metric(P + "skipped_total", reason="already_in_hubspot") == 1
        assert run.metric(P + "saber_searches_total") == box.saber.count("contact_search") >= 2
    names = [
        f"{hub.contact(c).get('firstname')} {hub.contact(c).get('lastname')}"
        for c in _created(box, companies)
    ]
    assert len(names) == len(set(names)) == 6  # later cycles created nobody twice


def test_without_the_setting_no_prospect_cycle_runs(box: RunningSandbox, tmp_path: Path) -> None:
    """A prospecting section without CONNECTOR_PROSPECT_SCHEDULE: full cycles run, prospecting never does."""
    _, companies = build(box, tmp_path)
    with service(box, tmp_path) as run:
        wait_until(lambda: run.cycles_through("full") >= 2, timeout=60)
        assert run.metric_sum("saber_connector_cycles_total", kind="prospect") == 0
        assert box.saber.count("contact_search") == 0 and not _created(box, companies)


def test_the_setting_without_a_section_warns_once_and_runs_no_prospect_cycle(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """CONNECTOR_PROSPECT_SCHEDULE with a mapping that has no prospecting section: one warning line at start, no job."""
    write_mapping(tmp_path)
    with service(box, tmp_path, CONNECTOR_PROSPECT_SCHEDULE="1s") as run:
        wait_until(lambda: run.cycles_through("full") >= 2, timeout=60)
        assert run.metric_sum("saber_connector_cycles_total", kind="prospect") == 0
        assert box.saber.count("contact_search") == 0
    warnings = [
        line for line in (tmp_path / "run.log").read_text().splitlines() if "no prospecting section" in line
    ]
    assert len(warnings) == 1


def test_sales_navigator_not_connected_fails_the_prospect_cycle_alone(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """salesNavConnected false: each prospect cycle fails with the reason logged, full cycles run and /readyz stays ready."""
    _, companies = build(box, tmp_path)
    box.saber.sales_nav_connected = False
    with service(box, tmp_path, CONNECTOR_PROSPECT_SCHEDULE="1s") as run:
        wait_until(
            lambda: run.metric("saber_connector_cycles_total", kind="prospect", outcome="failed") >= 1,
            timeout=60,
        )
        full_before = run.cycles_through("full")
        wait_until(lambda: run.cycles_through("full") > full_before, timeout=60)
        assert run.readiness()[0] and not _created(box, companies)
    assert "Sales Navigator" in (tmp_path / "run.log").read_text()

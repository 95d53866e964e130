"""`forget` over real HTTP: no trace left in the state's files, the economy kept, idempotent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.commands.privacy import run_forget
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.state import StateStore
from tests.privacy.world import people, synced, traces_in_file, traces_in_tables
from tests.support import run_cli
from tests.sync_harness import sandbox_env, sync


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=12, seed=3, research_delay=0.1, signal_delay=0.1) as running:
        yield running


def test_forget_leaves_no_trace_in_the_sqlite_file_or_its_wal(box: RunningSandbox, tmp_path: Path) -> None:
    """After `forget`, a byte search of the SQLite file and its WAL finds none of the person's email, phone or summary."""
    settings = synced(box, tmp_path)
    person = people(box)[0]
    assert traces_in_file(settings, person.values()), "the values should be stored before forget"
    env = sandbox_env(box, tmp_path, Path(settings.connector_mapping))
    saber_calls, hubspot_writes = box.saber.count(), box.hubspot.count(method="PATCH")
    done = run_cli("forget", person.contact_id, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "removed" in done.stdout and person.contact_id in done.stdout
    assert traces_in_file(settings, person.values()) == []
    again = run_cli("forget", person.contact_id, env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "nothing to remove" in again.stdout
    assert box.saber.count() == saber_calls  # forget never calls Saber
    assert box.hubspot.count(method="PATCH") == hubspot_writes  # nor writes to HubSpot


def test_dry_run_lists_what_would_go_and_removes_nothing(box: RunningSandbox, tmp_path: Path) -> None:
    """`--dry-run` reports the rows a forget would remove and leaves every value in place."""
    settings = synced(box, tmp_path)
    person = people(box)[0]
    env = sandbox_env(box, tmp_path, Path(settings.connector_mapping))
    dry = run_cli("forget", person.contact_id, "--dry-run", "--output", "json", env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True and report["total"] > 0
    assert traces_in_file(settings, person.values())
    real = json.loads(run_cli("forget", person.contact_id, "--output", "json", env=env, cwd=tmp_path).stdout)
    assert real["total"] == report["total"]


def test_forget_by_email_finds_the_person_in_hubspot_and_the_state(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """`--email` forgets the contact HubSpot holds that email for, and the one whose stored research holds it."""
    settings = synced(box, tmp_path)
    first, second = people(box)[:2]
    hubspot_email = box.hubspot.contact(first.contact_id)["email"]
    assert hubspot_email
    outcome = run_forget(settings, [], [str(hubspot_email), second.email.upper()])
    assert set(outcome.report.contact_ids) >= {first.contact_id, second.contact_id}
    assert traces_in_file(settings, [*first.values(), *second.values()]) == []


def test_a_later_sync_pays_nothing_for_the_same_inputs_and_researches_changed_ones(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Forgotten people still in HubSpot cost nothing with the same inputs, and are researched again when they change."""
    settings = synced(box, tmp_path)
    first, second = people(box)[:2]
    run_forget(settings, [first.contact_id, second.contact_id])
    researched, credits = len(box.saber.all_research()), box.saber.credits_left
    again = sync(settings, full=True, wait_seconds=10)
    assert again.credits_used == 0, again.render()
    assert len(box.saber.all_research()) == researched and box.saber.credits_left == credits
    box.hubspot.edit_contact(second.contact_id, {"jobtitle": "Chief Privacy Officer"})
    changed = sync(settings, full=True, wait_seconds=30)
    assert changed.research.get("launched", 0) == 1, changed.render()
    assert len(box.saber.all_research()) == researched + 1


def test_forget_on_postgresql_leaves_no_row_holding_the_values(
    box: RunningSandbox, tmp_path: Path, pg_url: str
) -> None:
    """On PostgreSQL, after `forget` no row of any table holds the person's email, phone or summary."""
    settings = synced(box, tmp_path, connector_state_url=pg_url)
    person = people(box)[0]
    with StateStore.open(pg_url) as store:
        assert traces_in_tables(store, person.values()), "the values should be stored before forget"
    outcome = run_forget(settings, [person.contact_id])
    assert outcome.report.total > 0
    with StateStore.open(pg_url) as store:
        assert traces_in_tables(store, person.values()) == []
    assert run_forget(settings, [person.contact_id]).nothing

"""`reconcile` over real HTTP: HubSpot's archives and GDPR deletes followed, merges left alone, retention."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from connector.clock import utcnow
from connector.commands.privacy import run_reconcile
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.state import StateStore
from connector.state.tables import contacts
from tests.privacy.world import people, synced, traces_in_file, traces_in_tables
from tests.support import run_cli
from tests.sync_harness import sandbox_env


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=16, seed=3, research_delay=0.1, signal_delay=0.1) as running:
        yield running


def test_archived_and_gdpr_deleted_contacts_are_purged_and_merged_ones_kept(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """The next `reconcile` forgets a contact archived and one GDPR-deleted in HubSpot, and keeps two merged ones."""
    settings = synced(box, tmp_path)
    archived, gone, merged_a, merged_b, *_ = people(box)
    box.hubspot.archive_contact(archived.contact_id)
    box.hubspot.gdpr_delete_contact(gone.contact_id)
    box.hubspot.merge_contacts(merged_a.contact_id, merged_b.contact_id)
    env = sandbox_env(box, tmp_path, Path(settings.connector_mapping))
    saber_calls = box.saber.count()
    dry = run_cli("reconcile", "--dry-run", "--output", "json", env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["archived"] == [archived.contact_id]
    assert traces_in_file(settings, archived.values())  # a dry run removes nothing
    done = run_cli("reconcile", "--output", "json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["archived"] == [archived.contact_id] and report["gone"] == [gone.contact_id]
    assert set(report["merged"]) == {merged_a.contact_id, merged_b.contact_id}
    assert report["hubspot_calls"] >= 1 and report["rows_forgotten"] > 0
    assert traces_in_file(settings, [*archived.values(), *gone.values()]) == []
    assert traces_in_file(settings, [merged_a.email, merged_b.email]) == [merged_a.email, merged_b.email]
    assert box.saber.count() == saber_calls  # reconciling never calls Saber
    status = json.loads(run_cli("status", "--output", "json", env=env, cwd=tmp_path).stdout)
    assert status["privacy"]["deletions_followed"] == 2
    assert "deletions followed 2" in run_cli("status", env=env, cwd=tmp_path).stdout
    again = json.loads(run_cli("reconcile", "--output", "json", env=env, cwd=tmp_path).stdout)
    assert again["archived"] == [] and again["gone"] == [] and again["rows_forgotten"] == 0


def test_reconcile_on_postgresql_purges_a_gdpr_deleted_contact(
    box: RunningSandbox, tmp_path: Path, pg_url: str
) -> None:
    """On PostgreSQL, a GDPR-deleted contact's values are in no row after `reconcile`."""
    settings = synced(box, tmp_path, connector_state_url=pg_url)
    gone, kept = people(box)[:2]
    box.hubspot.gdpr_delete_contact(gone.contact_id)
    report = run_reconcile(settings)
    assert report is not None and report.gone == (gone.contact_id,)
    with StateStore.open(pg_url) as store:
        assert traces_in_tables(store, gone.values()) == []
        assert traces_in_tables(store, [kept.email])


def test_retention_empties_results_older_than_the_setting(box: RunningSandbox, tmp_path: Path) -> None:
    """A result older than CONNECTOR_RESULT_RETENTION_DAYS loses its personal fields at `reconcile`; newer ones stay."""
    settings = synced(box, tmp_path, connector_result_retention_days=30)
    old, recent = people(box)[:2]
    long_ago = utcnow() - timedelta(days=45)
    with StateStore.open(settings.connector_state_url) as store, store.engine.begin() as conn:
        conn.execute(
            update(contacts)
            .where(contacts.c.contact_id == old.contact_id)
            .values(completed_at=long_ago, launched_at=long_ago, updated_at=long_ago)
        )
    report = run_reconcile(settings)
    assert report is not None and report.results_expired == 1
    assert traces_in_file(settings, old.values()) == []
    assert traces_in_file(settings, [recent.email]) == [recent.email]

"""What `status` and `explain` say about prospecting, through the CLI against the sandbox over real HTTP.

`status` lists a prospect run with its own counts (not the sync's "seen 0, launched 0") and
prospecting's totals; `explain` of a contact the connector created says which account and which
search brought it in, and when.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.sandbox.runner import RunningSandbox, start_sandbox
from tests.support import run_cli
from tests.sync.prospect_world import ACME, build
from tests.sync_harness import sandbox_env


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=6, seed=3, research_delay=0.1) as running:
        yield running


def _prospected(box: RunningSandbox, tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The target companies and the CLI's environment, after one `prospect` run."""
    _, companies = build(box, tmp_path)
    env = sandbox_env(box, tmp_path, tmp_path / "mapping.yaml")
    proc = run_cli("prospect", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return companies, env


def test_status_shows_the_last_prospect_run_and_prospecting_totals(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """`status` (JSON and text) gives the last prospect run's counts and prospecting's totals, not sync figures."""
    _, env = _prospected(box, tmp_path)
    proc = run_cli("status", "--output", "json", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    last = report["prospecting"]["last_run"]
    assert last["outcome"] == "ok" and last["accounts_searched"] == 2
    assert last["people_found"] >= 5 and last["created"] == 5 and last["saber_search_calls"] >= 2
    assert last["already_in_hubspot"] == 0
    totals = report["prospecting"]["totals"]
    assert totals["people_created"] == 5 and totals["accounts_searched"] == 2
    assert report["skip_reasons"] == {}  # a prospect run's skips are not the sync's
    text = run_cli("status", env=env, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "prospect: accounts searched 2" in text.stdout and "seen 0, launched 0" not in text.stdout
    assert "prospecting (all runs): accounts searched 2" in text.stdout
    assert "created 5" in text.stdout


def test_a_second_run_shows_people_already_created_skipped_by_reason(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """After a second `prospect`, `status` shows its people skipped by reason and the totals unchanged."""
    _, env = _prospected(box, tmp_path)
    again = run_cli("prospect", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    report = json.loads(run_cli("status", "--output", "json", env=env, cwd=tmp_path).stdout)
    last = report["prospecting"]["last_run"]
    assert last["created"] == 0
    assert report["prospecting"]["totals"]["people_created"] == 5
    text = run_cli("status", env=env, cwd=tmp_path).stdout
    for reason, n in last["skipped"].items():
        assert f"people skipped {reason}: {n}" in text


def test_explain_says_which_account_and_search_brought_a_created_contact_in(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """`explain` of a created contact names its company (id and name), the search sent to Saber and when."""
    companies, env = _prospected(box, tmp_path)
    hub = box.hubspot
    ann_id = next(
        c
        for c in hub.contact_ids()
        if hub.primary_company(c) == companies["acme"] and hub.contact(c).get("firstname") == "Ann"
    )
    ann = hub.contact(ann_id)
    proc = run_cli("explain", ann_id, "--output", "json", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    brought = json.loads(proc.stdout)["prospecting"]
    assert brought["company_id"] == companies["acme"] and brought["company_name"] == "Acme Labs"
    assert brought["search"]["companyLinkedInUrls"] == [ACME]
    assert brought["created_at"] and brought["sales_navigator_url"] == ann["saber_sales_navigator_url"]
    text = run_cli("explain", ann_id, env=env, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert f"account: HubSpot company {companies['acme']} (Acme Labs)" in text.stdout
    assert "search: Saber contact search" in text.stdout and ACME in text.stdout


def test_explain_of_a_contact_prospecting_did_not_create_says_nothing_of_it(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """`explain` of a contact that was already in the portal has no prospecting part."""
    companies, env = _prospected(box, tmp_path)
    hub = box.hubspot
    other = next(cid for cid in hub.contact_ids() if hub.primary_company(cid) not in companies.values())
    proc = run_cli("explain", other, "--output", "json", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["prospecting"] is None
    assert "prospecting:" not in run_cli("explain", other, env=env, cwd=tmp_path).stdout

"""Why a contact did or did not change: skip reasons in the summary, kept edits, `--contact`, and `explain`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.clients import hubspot_from, store_from
from connector.commands.explain import explain_report, render_explain
from connector.mapping import build_inputs, load_mapping, parse_mapping
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.settings import Settings
from tests.sync_harness import EXAMPLE_MAPPING, prepared, sync


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=30, seed=3, research_delay=0.1) as running:
        yield running


@pytest.fixture
def settings(box: RunningSandbox, tmp_path: Path) -> Settings:
    return prepared(box, tmp_path)


def _by_selection(box: RunningSandbox) -> tuple[list[str], list[str], list[str]]:
    """Contacts that are researchable, selected but skipped, and not selected at all."""
    mapping = parse_mapping(EXAMPLE_MAPPING)
    good, skipped, unselected = [], [], []
    for cid in sorted(box.hubspot.contact_ids(), key=int):
        props = box.hubspot.contact(cid)
        if props.get("lifecyclestage") not in ("lead", "marketingqualifiedlead"):
            unselected.append(cid)
        elif build_inputs(mapping, props).inputs is None:
            skipped.append(cid)
        else:
            good.append(cid)
    return good, skipped, unselected


def _explain(settings: Settings, cid: str) -> dict:
    hubspot, store = hubspot_from(settings), store_from(settings)
    try:
        return explain_report(load_mapping(settings.connector_mapping), hubspot, store, cid)
    finally:
        hubspot.close()
        store.close()


def test_summary_lists_each_skip_reason_with_examples_and_counts_kept_edits(
    box: RunningSandbox, settings: Settings
) -> None:
    """The summary names skip reasons with example ids (JSON: with why), and counts a person's kept edit per property."""
    good, skipped, _ = _by_selection(box)
    first = sync(settings, wait_seconds=20)
    reasons = {r["reason"]: r for r in first.to_json()["skip_reasons"]}
    invalid = reasons["invalid_inputs"]
    assert invalid["count"] == len(skipped)
    assert invalid["examples"] and {e["contact_id"] for e in invalid["examples"]} <= set(skipped)
    assert all(e["detail"] for e in invalid["examples"])
    assert f"e.g. {invalid['examples'][0]['contact_id']}" in first.render()

    box.hubspot.edit_contact(good[0], {"saber_summary": "Typed by a person"})
    second = sync(settings)
    assert second.kept_edits == {"saber_summary": 1}
    assert second.to_json()["kept_edits"] == {"saber_summary": 1}
    assert "kept people's edits  1  (saber_summary 1)" in second.render()


def test_contact_the_filters_leave_out_is_reported_with_the_filter(
    box: RunningSandbox, settings: Settings
) -> None:
    """`--contact` for a contact the filters leave out says so, naming the filter; an unknown id says it is unknown."""
    _, _, unselected = _by_selection(box)
    summary = sync(settings, contact_ids=(unselected[0], "999999"))
    assert summary.skipped["not_selected"] == 1 and summary.skipped["not_found"] == 1
    notes = " ".join(summary.notes)
    assert (
        f"contact {unselected[0]}: select.filters leave it out (lifecyclestage IN lead, marketingqualifiedlead)"
        in notes
    )
    assert "contact 999999: HubSpot has no contact with this id" in notes


def test_dry_run_estimates_the_credits_it_would_spend(box: RunningSandbox, settings: Settings) -> None:
    """A dry run estimates research credits per launch and the signals it may have to ask."""
    good, _, _ = _by_selection(box)
    summary = sync(settings, dry_run=True)
    estimate = summary.to_json()["credit_estimate"]
    assert estimate == {"research": len(good), "signals_at_most": len(good)}  # one mapped signal
    assert f"credits (estimate)   research {len(good)}, signals up to {len(good)}" in summary.render()
    assert box.saber.count() == 0


def test_explain_shows_written_kept_and_skipped_contacts(box: RunningSandbox, settings: Settings) -> None:
    """`explain` gives each property's provenance and decision, a kept edit, and why a contact is skipped or left out."""
    good, skipped, unselected = _by_selection(box)
    sync(settings, wait_seconds=20)
    box.hubspot.edit_contact(good[0], {"saber_summary": "Typed by a person"})

    report = _explain(settings, good[0])
    assert report["selection"] == {"selected": True, "left_out_by": []}
    assert report["research"]["status"] == "completed"
    props = {p["property"]: p for p in report["properties"]}
    status = props["saber_research_status"]
    assert (status["mapped"], status["hubspot"], status["decision"]) == (
        "completed",
        "completed",
        "unchanged",
    )
    assert status["connector_wrote"] == "the value HubSpot holds now"
    summary = props["saber_summary"]
    assert summary["decision"] == "kept_edit" and summary["hubspot"] == "Typed by a person"
    assert summary["connector_wrote"] == "another value than HubSpot holds now"
    kubernetes = next(s for s in report["signals"] if s["signal"] == "runs_kubernetes")
    assert "credit" in kubernetes["how"]
    text = render_explain(report)
    assert "kept_edit: kept: a person changed what the connector wrote" in text

    skip = _explain(settings, skipped[0])
    assert skip["inputs"]["skip_reason"] and skip["inputs"]["sent"] is None
    assert skip["state"]["skip_reason"] == skip["inputs"]["skip_reason"]
    assert "skipped: " in render_explain(skip)

    left = _explain(settings, unselected[0])
    assert left["selection"]["selected"] is False
    assert left["selection"]["left_out_by"][0].startswith("select.filters[0]: lifecyclestage IN")
    assert _explain(settings, "999999")["exists"] is False
    assert box.saber.count("research_create") == len(good)  # explaining spent nothing


def test_explain_command_prints_text_and_json(
    box: RunningSandbox, settings: Settings, tmp_path: Path
) -> None:
    """`explain ID` prints the report, `--output json` the same as JSON; an unknown id exits 1, a non-number 2."""
    from tests.support import run_cli
    from tests.sync_harness import sandbox_env

    good, _, _ = _by_selection(box)
    sync(settings, wait_seconds=20)
    env = sandbox_env(box, tmp_path, Path(settings.connector_mapping))
    text = run_cli("explain", good[0], env=env, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert f"contact {good[0]}" in text.stdout and "saber_research_status" in text.stdout
    data = run_cli("explain", good[0], "--output", "json", env=env, cwd=tmp_path)
    assert json.loads(data.stdout)["research"]["status"] == "completed"
    assert run_cli("explain", "999999", env=env, cwd=tmp_path).returncode == 1
    bad = run_cli("explain", "abc", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "CONTACT_ID" in bad.stderr

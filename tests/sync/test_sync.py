"""End-to-end sync cycles against the sandbox over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.mapping import build_inputs, parse_mapping
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.settings import Settings
from connector.state import StateStore
from tests.sync_harness import (
    EXAMPLE_MAPPING,
    TIME_DEPENDENT,
    portal_values,
    prepare,
    prepared,
    settings_for,
    sync,
    wait_until,
    write_mapping,
)

OPTIONS = {"VP": "vp", "Director": "director", "C-Level": "c_level"}
MAPPED = parse_mapping(EXAMPLE_MAPPING).output_properties()


@pytest.fixture
def box() -> RunningSandbox:
    with start_sandbox(contacts=30, seed=3, research_delay=0.2) as running:
        yield running


@pytest.fixture
def settings(box: RunningSandbox, tmp_path: Path) -> Settings:
    return prepared(box, tmp_path)


def _eligible(box: RunningSandbox) -> set[str]:
    """Contacts the example mapping selects (lead stages) whose inputs are usable."""
    mapping = parse_mapping(EXAMPLE_MAPPING)
    out = set()
    for cid in box.hubspot.contact_ids():
        props = box.hubspot.contact(cid)
        lead = props.get("lifecyclestage") in ("lead", "marketingqualifiedlead")
        if lead and build_inputs(mapping, props).inputs is not None:
            out.add(cid)
    return out


def _kubernetes(research: dict) -> dict | None:
    for signal in research["result"].get("signals", []):
        if signal["question"] == "Does this person's team run Kubernetes in production?":
            return signal
    return None


def test_first_sync_writes_expected_values_and_skips_ineligible_with_reasons(
    box: RunningSandbox, settings: Settings
) -> None:
    """A first sync researches every eligible contact and writes its answers; the rest are skipped."""
    summary = sync(settings, wait_seconds=20)
    researched = _eligible(box)
    assert researched, "the seeded portal should have researchable contacts"
    assert summary.research["launched"] == len(researched)
    assert summary.research["completed"] == len(researched)
    assert summary.pending == 0
    # Lead-stage contacts whose inputs are missing or unusable are skipped with a reason.
    assert summary.skipped.get("invalid_inputs", 0) > 0
    for cid in researched:
        research = box.saber.research_for(cid)
        result = research["result"]
        props = box.hubspot.contact(cid)
        assert props["saber_summary"] == result["summary"].strip()
        assert props["saber_research_status"] == "completed"
        assert props["saber_researched_at"]
        assert props["saber_seniority"] == OPTIONS.get(result["seniority"])
        if result.get("email"):
            assert props["saber_email"] == result["email"]
        signal = _kubernetes(research)
        answer = signal["answer"]["boolean"]["value"] if signal and signal.get("answer") else None
        assert props["saber_runs_kubernetes"] == (None if answer is None else str(answer).lower())
    # Seniorities without an option are reported per contact and property, not written.
    unmapped = [
        cid for cid in researched if box.saber.research_for(cid)["result"]["seniority"] not in OPTIONS
    ]
    failures = {(f.contact_id, f.property) for f in summary.failures}
    assert {(cid, "saber_seniority") for cid in unmapped} <= failures
    # Nothing is written for contacts that were not researched.
    for cid in set(box.hubspot.contact_ids()) - researched:
        assert all(box.hubspot.contact(cid).get(p) in (None, "") for p in MAPPED)


def test_second_sync_with_nothing_changed_calls_no_saber_and_writes_nothing(
    box: RunningSandbox, settings: Settings
) -> None:
    """A second sync over an unchanged portal makes no Saber call and no HubSpot write."""
    sync(settings, wait_seconds=20)
    box.saber.clear_log()
    box.hubspot.clear_log()
    summary = sync(settings)
    assert box.saber.count() == 0
    assert box.hubspot.count("contacts_batch_update") == 0
    assert summary.contacts_written == 0


def test_changing_a_company_re_researches_that_contact_only(box: RunningSandbox, settings: Settings) -> None:
    """Editing one contact's company in HubSpot launches research for that contact alone."""
    sync(settings, wait_seconds=20)
    cid = sorted(_eligible(box), key=int)[0]
    box.hubspot.edit_contact(cid, {"company": "Brand New Company Ltd"})
    box.saber.clear_log()
    summary = sync(settings, wait_seconds=20)
    creates = box.saber.requests_to("research_create")
    assert [r.body["externalId"] for r in creates] == [cid]
    assert summary.research["launched"] == 1
    assert box.saber.research_for(cid)["companyName"] == "Brand New Company Ltd"


def test_hand_edited_values_survive_unless_edited_and_if_empty(
    box: RunningSandbox, settings: Settings
) -> None:
    """Values a person typed survive re-research under `unless_edited` and `if_empty`."""
    sync(settings, wait_seconds=20)
    cid = sorted(_eligible(box), key=int)[0]
    box.hubspot.edit_contact(
        cid, {"saber_summary": "Typed by a person", "saber_email": "person@typed.example"}
    )
    box.hubspot.edit_contact(cid, {"jobtitle": "Chief Kubernetes Officer"})  # new inputs: new research
    summary = sync(settings, wait_seconds=20)
    assert summary.research["launched"] == 1
    after = box.hubspot.contact(cid)
    assert after["saber_summary"] == "Typed by a person"
    assert after["saber_email"] == "person@typed.example"
    assert after["saber_research_status"] == "completed"


def test_dry_run_launches_asks_and_writes_nothing(box: RunningSandbox, settings: Settings) -> None:
    """A dry run reports what it would launch and changes nothing anywhere."""
    summary = sync(settings, dry_run=True)
    assert box.saber.count("research_create") == 0
    assert box.hubspot.count("contacts_batch_update") == 0
    planned = {p.contact_id for p in summary.plan if p.action == "launch"}
    assert planned == _eligible(box)
    assert summary.dry_run and summary.research["launched"] == 0


def test_dry_run_after_research_shows_property_changes(box: RunningSandbox, settings: Settings) -> None:
    """With results stored, a dry run lists per-contact property changes it would write."""
    sync(settings, wait_seconds=20)
    cid = sorted(_eligible(box), key=int)[0]
    box.hubspot.edit_contact(cid, {"saber_research_status": ""})
    box.hubspot.clear_log()
    summary = sync(settings, dry_run=True, contact_ids=(cid,))
    writes = [p for p in summary.plan if p.action == "write"]
    assert [p.contact_id for p in writes] == [cid]
    assert writes[0].changes["saber_research_status"]["to"] == "completed"
    assert box.hubspot.count("contacts_batch_update") == 0


def test_contact_option_limits_the_run(box: RunningSandbox, settings: Settings) -> None:
    """`--contact` researches only the given contacts."""
    cid = sorted(_eligible(box), key=int)[1]
    summary = sync(settings, contact_ids=(cid,), wait_seconds=20)
    assert summary.contacts_seen == 1
    assert [r.body["externalId"] for r in box.saber.requests_to("research_create")] == [cid]


def test_max_new_caps_launches_and_next_run_continues(box: RunningSandbox, settings: Settings) -> None:
    """`--max-new` caps launches in a run; the next run launches the rest."""
    total = len(_eligible(box))
    first = sync(settings, max_new=3, wait_seconds=20)
    assert first.research["launched"] == 3
    second = sync(settings, wait_seconds=20)
    assert second.research["launched"] == total - 3


def test_credits_running_out_stop_launches_and_next_run_continues(
    box: RunningSandbox, settings: Settings
) -> None:
    """When credits run out mid-run, launches stop cleanly; after a top-up the next run continues."""
    total = len(_eligible(box))
    box.saber.credits_left = 5
    first = sync(settings, wait_seconds=20)
    assert first.research["launched"] == 5
    assert first.credits_exhausted
    assert first.outcome in ("ok", "partial")
    box.saber.credits_left = 1000
    second = sync(settings, wait_seconds=20)
    assert second.research["launched"] == total - 5
    creates = [r.body["externalId"] for r in box.saber.requests_to("research_create") if r.status < 300]
    assert len(creates) == len(set(creates)) == total


def test_pending_research_is_collected_by_the_next_run(box: RunningSandbox, settings: Settings) -> None:
    """Research still pending when a run ends (no --wait) is collected and written by the next run."""
    box.saber.research_delay = 3600  # nothing completes during the run
    # Nothing learned yet: most research is first looked at late; a short longest wait keeps that short.
    settings = settings.model_copy(update={"connector_poll_max_seconds": 0.5})
    first = sync(settings)
    assert first.research["launched"] > 0 and first.pending == first.research["launched"]
    box.saber.complete_all_now()
    with StateStore(settings.connector_state_url) as store:
        # The next (cron) run comes once the polling schedule says the research is due.
        wait_until(
            lambda: not store.pending() or len(store.pending(due_before=datetime.now(UTC))) == first.pending
        )
    second = sync(settings)
    assert second.research["completed"] == first.research["launched"]
    assert second.research["launched"] == 0
    assert second.pending == 0


@pytest.mark.slow
def test_faulty_apis_end_in_the_same_state_as_a_clean_run(tmp_path: Path) -> None:
    """With 429s, 5xx, resets and slow answers, the sync ends with the same HubSpot values as a clean run."""
    from connector.sandbox.server import Knobs

    props = [p for p in MAPPED if p not in TIME_DEPENDENT]
    results = []
    for name, knobs in (
        ("clean", None),
        (
            "faulty",
            Knobs(
                latency=0.005,
                latency_jitter=0.02,
                error_rate=0.08,
                throttle_rate=0.08,
                reset_rate=0.03,
                seed=5,
            ),
        ),
    ):
        with start_sandbox(
            contacts=25, seed=3, research_delay=0.2, hubspot_knobs=knobs, saber_knobs=knobs
        ) as box:
            d = tmp_path / name
            d.mkdir()
            s = settings_for(box, d, write_mapping(d), http_max_attempts=12)
            prepare(s)
            summary = sync(s, wait_seconds=30)
            assert summary.pending == 0
            if knobs is not None:
                assert box.saber.count() > 0 and any(r.status >= 429 for r in box.saber.requests)
            results.append(portal_values(box, props))
    assert results[0] == results[1]


def test_launch_that_keeps_failing_is_retried_by_the_next_run(box: RunningSandbox, tmp_path: Path) -> None:
    """A launch Saber keeps refusing with 5xx is reported, and the next run launches it although HubSpot did not change."""
    settings = settings_for(box, tmp_path, write_mapping(tmp_path), connector_concurrency=1)
    prepare(settings)
    cid = sorted(_eligible(box), key=int)[0]  # launched first: one worker goes in id order
    box.saber.fail_next(settings.http_max_attempts, status=503, endpoint="research_create")
    first = sync(settings, wait_seconds=20)
    assert cid in {f.contact_id for f in first.failures}
    assert box.saber.research_for(cid) is None
    second = sync(settings, wait_seconds=20)
    assert second.research["launched"] == 1
    assert box.hubspot.contact(cid)["saber_research_status"] == "completed"


@pytest.mark.postgres
def test_sync_keeps_its_state_in_postgresql(box: RunningSandbox, tmp_path: Path, pg_url: str) -> None:
    """With CONNECTOR_STATE_URL on PostgreSQL, a sync writes results and a second one finds nothing to do."""
    s = settings_for(box, tmp_path, write_mapping(tmp_path), connector_state_url=pg_url)
    prepare(s)
    first = sync(s, wait_seconds=20)
    assert first.research["completed"] == len(_eligible(box)) > 0
    box.saber.clear_log()
    second = sync(s)
    assert box.saber.count() == 0 and second.contacts_written == 0

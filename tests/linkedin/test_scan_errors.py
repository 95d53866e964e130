"""Signal scans when things are not plain: write policies, 409 AUDIENCE_NOT_READY, 402, 403, wrong shapes.

Over real HTTP against the sandboxes, driving the scan stage directly (see `test_scans`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connector.integrations.client import IntegrationsClient
from connector.integrations.models import JobRequest
from connector.mapping import load_mapping
from connector.sandbox.runner import RunningSandbox
from tests.linkedin.test_scans import SELECTED, SPEC, World, closing, make_world, scan_mapping, scan_sandbox
from tests.support import wait_for
from tests.sync_harness import EXAMPLE_MAPPING, write_mapping


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with scan_sandbox() as running:
        yield running


@pytest.fixture
def world(box: RunningSandbox, tmp_path: Path) -> Iterator[World]:
    yield from closing(make_world(tmp_path, box, scan_mapping()))


@pytest.fixture
def tmp_world(box: RunningSandbox, tmp_path: Path) -> Iterator[list[World]]:
    """Worlds made by the test (with its own mapping), closed afterwards."""
    made: list[World] = []
    yield made
    for w in made:
        w.client.close()
        w.hubspot.close()
        w.store.close()


def world_with(made: list[World], box: RunningSandbox, tmp_path: Path, text: str) -> World:
    made.append(make_world(tmp_path, box, text))
    return made[-1]


def landed(w: World) -> bool:
    """Every selected contact has its scan status."""
    return all(w.values(n)["saber_scan_status"] for n in SELECTED)


def test_if_empty_keeps_a_value_already_there_and_the_others_are_written(
    box: RunningSandbox, tmp_path: Path, tmp_world: list[World]
) -> None:
    """With `write: if_empty`, a contact whose property holds a value keeps it; empty ones get the result."""
    w = world_with(tmp_world, box, tmp_path, scan_mapping(top_write="if_empty"))
    for name in SELECTED:
        box.hubspot.edit_contact(w.contacts[name], {"saber_scan_top": "typed by a person"})
    box.hubspot.edit_contact(w.contacts["ann"], {"saber_scan_top": None})
    w.run()
    w.run_until(lambda s: landed(w))
    assert all(w.values(n)["saber_scan_top"] == "typed by a person" for n in SELECTED if n != "ann")
    ann_signals = w.api.prospect_signals_for(w.prospect_of("ann"))
    items = [i for g in ann_signals["results"] for i in g["items"]]
    best = max(items, key=lambda i: float(i["score"]))["summary"] if items else None
    assert w.values("ann")["saber_scan_top"] == best


def test_a_scan_on_an_audience_still_being_filled_starts_once_it_is_ready(
    box: RunningSandbox, tmp_path: Path, tmp_world: list[World]
) -> None:
    """409 AUDIENCE_NOT_READY keeps the scan planned, with no failure; a later run starts it, once."""
    api = box.integrations
    assert api is not None
    client = IntegrationsClient(api.url, api.api_key)
    try:
        audience = client.create_audience("filled slowly")
        api.job_seconds = 3.0
        urls = ["https://www.linkedin.com/in/slow-one", "https://www.linkedin.com/in/slow-two"]
        request = JobRequest("url_upload", {"profileUrls": urls}, None, False, audience.id)
        job = client.start_job(request, idempotency_key="test-slow-fill")
        extra = f"""    by_id:
      signal_specification: "{SPEC}"
      audience: "{audience.id}"
      properties:
        saber_scan_status: {{from: status}}
"""
        text = EXAMPLE_MAPPING + "\nlinkedin:\n  scans:\n" + extra
        w = world_with(tmp_world, box, tmp_path, text)
        first = w.run()
        assert first.failures == [] and api.scans_started == 0
        (row,) = w.store.linkedin.open_scans()
        assert row.status == "planned" and row.scan_id is None
        wait_for(lambda: client.job(job.id).finished, timeout=15)
        w.run()
        assert api.scans_started == 1
        (started,) = w.store.linkedin.scans()
        assert started.key == row.key and started.scan_id is not None
    finally:
        client.close()


def test_a_402_stops_uploading_and_the_same_upload_goes_out_once_credits_are_back(world: World) -> None:
    """An upload answered 402 is not started and nothing else is; the next run sends the same upload (same key), each URL imported once."""
    world.api.credits = 3
    first = world.run()
    assert first.stopped and "credits" in first.stopped
    assert world.api.jobs_started == 0 and not world.api.imports
    (planned,) = world.store.linkedin.open_jobs("upload")
    assert planned.status == "planned"
    world.api.credits = 5000
    world.run_until(lambda s: landed(world))
    assert world.api.jobs_started == 1
    assert [r.key for r in world.store.linkedin.jobs() if r.kind == "upload"] == [planned.key]
    assert set(world.api.imports.values()) == {1} and len(world.api.imports) == len(SELECTED)


def test_a_key_without_signals_write_records_the_missing_permission_and_starts_later(world: World) -> None:
    """A 403 on the scan's start is recorded against the scan, naming the permission; the scan stays planned."""
    from connector.sandbox.integrations import PERMISSIONS

    world.api.add_key("sk_live_no_scans", PERMISSIONS - {"signals:write"})
    full = world.client
    world.client = IntegrationsClient(world.api.url, "sk_live_no_scans")
    try:
        world.run()
        summary = world.run_until(lambda s: any(f["subject"] == "scan:hiring_signals" for f in s.failures))
        failure = next(f for f in summary.failures if f["subject"] == "scan:hiring_signals")
        assert "signals:write" in failure["message"]
        assert world.api.scans_started == 0
        (row,) = world.store.linkedin.open_scans()
        assert row.status == "planned"
    finally:
        world.client.close()
        world.client = full
    world.run_until(lambda s: landed(world))
    assert world.api.scans_started == 1


def test_an_answer_of_the_wrong_shape_is_recorded_against_the_prospect_and_read_again(world: World) -> None:
    """A prospect's results of the wrong shape are a failure against that prospect, never a traceback; a later run reads them again."""
    world.run()
    world.run_until(lambda s: world.api.scans_started == 1 and not world.store.linkedin.open_scans())
    body = {
        "success": True,
        "data": {"prospectId": "x", "status": "maybe", "results": []},
        "traceId": "ab" * 12,
    }
    world.api.fail_next(1, status=200, endpoint="prospect_signals", body=body)
    summary = world.run()
    wrong = [f for f in summary.failures if f["subject"].startswith("prospect:")]
    assert len(wrong) == 1 and "maybe" in wrong[0]["message"]
    world.run_until(lambda s: landed(world))
    assert all(world.values(n)["saber_scan_status"] == "evaluated" for n in SELECTED)


def best_summary(w: World, name: str) -> str | None:
    """The best item's summary the sandbox answers now for a contact's prospect (None: nothing found)."""
    signals = w.api.prospect_signals_for(w.prospect_of(name))
    items = [i for g in signals["results"] for i in g["items"]]
    return max(items, key=lambda i: float(i["score"]))["summary"] if items else None


def test_a_later_result_keeps_a_person_s_edit_and_nothing_found_clears_only_the_connector_s_values(
    world: World,
) -> None:
    """When a later scan finds other things, a person's edit stays (`unless_edited`), and "nothing found" empties what the connector wrote."""
    world.run()
    world.run_until(lambda s: landed(world))
    before = {n: world.values(n)["saber_scan_top"] for n in SELECTED}
    edited = next(n for n in reversed(SELECTED) if before[n])
    world.box.hubspot.edit_contact(world.contacts[edited], {"saber_scan_top": "a person's note"})
    # The mapping now asks another specification: its results differ.
    other = "66a1f0c2e4b0a1b2c3d4e5f7"
    world.mapping = load_mapping(write_mapping(world.tmp_path, scan_mapping().replace(SPEC, other)))
    later = world.now + timedelta(days=8)
    world.run(at=later)
    world.run_until(lambda s: not world.store.linkedin.open_scans() and s.results_pending == 0, at=later)
    after = {n: best_summary(world, n) for n in SELECTED}
    assert world.values(edited)["saber_scan_top"] == "a person's note"
    cleared = [n for n in SELECTED if n != edited and before[n] and after[n] is None]
    assert cleared, "the sandbox's two specifications should differ for someone"
    for name in SELECTED:
        if name == edited:
            continue
        values = world.values(name)
        assert values["saber_scan_top"] == after[name]
        if after[name] is None:
            assert values["saber_scan_items"] == "0" and values["saber_scan_score"] is None


def test_a_lost_answer_to_an_upload_or_a_scan_start_is_replayed_never_started_twice(world: World) -> None:
    """An upload and a scan whose start was applied but whose answer was lost are sent again with the same key: one of each, each URL imported once."""
    world.api.reset_next(endpoint="job_start", after=True)
    world.api.reset_next(endpoint="scan_start", after=True)
    world.run()
    world.run_until(lambda s: landed(world))
    assert world.api.jobs_started == 1 and world.api.scans_started == 1
    assert set(world.api.imports.values()) == {1} and len(world.api.imports) == len(SELECTED)
    for endpoint in ("job_start", "scan_start"):
        sent = world.api.requests_to(endpoint)
        assert [r.status for r in sent][-1] == 200  # the replay
        keys = {next(v for k, v in r.headers.items() if k.lower() == "idempotency-key") for r in sent}
        assert len(keys) == 1 and len(sent) == 2


def test_uploads_hold_their_credits_against_the_run_s_budget_and_the_rest_wait(world: World) -> None:
    """With room for 4 credits, 4 URLs go up; the other 2 go up when the scan is next due, each once."""
    first = world.run(budget=4)
    assert (first.uploads_started, first.urls_uploaded, first.credits_held) == (1, 4, 4)
    world.run_until(lambda s: not world.store.linkedin.open_scans() and s.results_pending == 0)
    assert len(world.api.imports) == 4
    later = world.now + timedelta(days=8)
    again = world.run(at=later)
    assert (again.uploads_started, again.urls_uploaded) == (1, 2)
    world.run_until(lambda s: landed(world), at=later)
    assert set(world.api.imports.values()) == {1} and len(world.api.imports) == len(SELECTED)


def test_an_outage_reading_results_is_recorded_and_the_results_are_read_next_run(world: World) -> None:
    """An API failing to answer results (5xx past the retries) stops the reading with one failure against the scan; the next run reads them."""
    held = [world.prospect_of(n) for n in SELECTED]
    for pid in held:  # nothing evaluated before the outage
        world.api.hold_pending(pid)
    world.run()
    world.run_until(lambda s: world.api.scans_started == 1 and not world.store.linkedin.open_scans())
    world.api.fail_next(100, status=503, endpoint="prospect_signals")
    for pid in held:
        world.api.release_pending(pid)
    down = world.run()
    assert [f["subject"] for f in down.failures] == ["scan:hiring_signals"]
    assert not any(world.values(n)["saber_scan_status"] for n in SELECTED)
    world.api.clear_faults()
    world.run_until(lambda s: landed(world))

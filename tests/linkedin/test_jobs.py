"""LinkedIn prospecting jobs into HubSpot contacts, over real HTTP against the sandbox.

A run starts the due job (its audience created first) and a later run imports the completed
job's prospects: each created once, matched when HubSpot already has them, never a second job.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.clients import store_from
from connector.commands.linkedin import run_linkedin
from connector.errors import ConnectorError
from connector.integrations.models import linkedin_key
from connector.sandbox.runner import RunningSandbox, start_sandbox
from tests.linkedin.world import (
    URL_PROPERTY,
    build,
    contacts_by_profile,
    expected,
    jobs_finished,
    key_of,
    linkedin_section,
    sandbox,
    started_job_ids,
)
from tests.support import wait_for

START = "job_start"


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=3, seed=3, integrations=True) as running:
        yield running


def test_a_job_imports_its_prospects_once_and_a_rerun_starts_no_second_job(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """The first run starts the job, the next imports its five prospects, a third changes nothing."""
    settings = build(box, tmp_path)
    first = run_linkedin(settings)
    assert (first.jobs_started, first.credits_held, first.exit_code()) == (1, 5, 0)
    jobs_finished(box, settings)
    second = run_linkedin(settings)
    assert (second.jobs_completed, second.prospects_imported, second.contacts_created) == (1, 5, 5)
    assert second.jobs_started == 0
    third = run_linkedin(settings)
    assert (third.jobs_started, third.contacts_created, third.prospects_imported) == (0, 0, 0)
    profiles = contacts_by_profile(box)
    assert sorted(profiles) == sorted(linkedin_key(p["linkedinUrl"]) for p in expected())
    assert max(profiles.values()) == 1
    assert sandbox(box).jobs_started == 1 and box.hubspot.count("contacts_batch_create") == 1


def test_the_created_contact_holds_the_mapped_values(box: RunningSandbox, tmp_path: Path) -> None:
    """A created contact carries the `contact` part's fields: names, headline, URL, company and the fixed value."""
    settings = build(box, tmp_path)
    run_linkedin(settings)
    jobs_finished(box, settings)
    run_linkedin(settings)
    person = expected(1)[0]
    hub = box.hubspot
    found = [
        hub.contact(c) for c in hub.contact_ids() if hub.contact(c).get(URL_PROPERTY) == person["linkedinUrl"]
    ]
    assert len(found) == 1
    contact = found[0]
    assert (contact["firstname"], contact["lastname"]) == (person["firstName"], person["lastName"])
    assert contact["jobtitle"] == person["headline"] and contact["company"] == person["company"]["name"]
    assert contact["website"] == person["company"]["website"] and contact["lifecyclestage"] == "lead"


def test_a_prospect_already_in_hubspot_is_matched_not_created(box: RunningSandbox, tmp_path: Path) -> None:
    """One person with the same profile URL spelled otherwise, one with the same name at the same company: both matched."""
    settings = build(box, tmp_path)
    people = expected()
    hub = box.hubspot
    by_url = hub.add_contact(
        {URL_PROPERTY: "http://LinkedIn.com/in/" + people[0]["publicIdentifier"] + "/", "firstname": "X"}
    )
    by_name = hub.add_contact(
        {
            "firstname": people[1]["firstName"].upper(),
            "lastname": people[1]["lastName"],
            "company": people[1]["company"]["name"],
        }
    )
    namesake = hub.add_contact(  # the same name at another company: not them
        {"firstname": people[2]["firstName"], "lastname": people[2]["lastName"], "company": "Elsewhere Inc"}
    )
    run_linkedin(settings)
    jobs_finished(box, settings)
    summary = run_linkedin(settings)
    assert (summary.contacts_matched, summary.contacts_created) == (2, 3)
    with store_from(settings) as store:
        assert [p.prospect_id for p in store.linkedin.prospects_of_contact(by_url)]
        matched = store.linkedin.prospects_of_contact(by_name)
        assert [p.status for p in matched] == ["matched"] and matched[0].job == "platform_leaders"
        assert not store.linkedin.prospects_of_contact(namesake)
    assert contacts_by_profile(box)[linkedin_key(people[2]["linkedinUrl"])] == 1


def test_a_start_whose_answer_was_lost_is_replayed_with_the_same_key(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """The start applied and its answer lost: the retry carries the same Idempotency-Key and is answered 200."""
    settings = build(box, tmp_path)
    api = sandbox(box)
    api.reset_next(endpoint=START, after=True)
    summary = run_linkedin(settings)
    assert (summary.jobs_started, summary.jobs_replayed) == (1, 1)
    starts = api.requests_to(START)
    assert len(starts) == 2 and [r.status for r in starts][-1] == 200
    keys = {key_of(r) for r in starts}
    assert len(keys) == 1 and next(iter(keys), "").startswith("sc-li-")
    assert api.jobs_started == 1 and len(started_job_ids(settings)) == 1


def test_no_credits_left_stops_starting_and_a_later_run_starts_with_the_same_key(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A 402 starts nothing (exit 0, the line in `stopped`); once credits are back, the planned job starts with its key."""
    settings = build(box, tmp_path)
    api = sandbox(box)
    api.credits = 3
    summary = run_linkedin(settings)
    assert summary.exit_code() == 0 and summary.jobs_started == 0
    assert summary.stopped is not None and "credits" in summary.stopped
    assert api.jobs_started == 0 and summary.credits_held == 0
    api.credits = 5000
    again = run_linkedin(settings)
    assert again.jobs_started == 1 and api.jobs_started == 1
    keys = {key_of(r) for r in api.requests_to(START)}
    assert len(keys) == 1  # the refused start and the later one: one job, one key
    assert api.count("audience_create") == 1


def test_a_job_the_api_refuses_is_recorded_against_it(box: RunningSandbox, tmp_path: Path) -> None:
    """max_results above the plan's cap: 422 recorded against the job (exit 1), and it is not asked again."""
    settings = build(box, tmp_path, linkedin_section(max_results=50))
    sandbox(box).plan_cap = 20
    summary = run_linkedin(settings)
    assert summary.exit_code() == 1 and summary.jobs_started == 0
    assert [f["subject"] for f in summary.failures] == ["job:platform_leaders"]
    assert summary.failures[0]["code"] == "VALIDATION_ERROR"
    with store_from(settings) as store:
        assert [r.status for r in store.linkedin.jobs()] == ["refused"]
    again = run_linkedin(settings)
    assert again.exit_code() == 0 and sandbox(box).count(START) == 1


def test_a_job_over_the_run_budget_is_not_started(box: RunningSandbox, tmp_path: Path) -> None:
    """A job estimated above max_credits_per_run starts nothing and says why (no credit spent)."""
    settings = build(box, tmp_path, linkedin_section(max_results=40, budget=30))
    summary = run_linkedin(settings)
    assert summary.jobs_started == 0 and sandbox(box).count(START) == 0
    assert summary.failures and summary.failures[0]["code"] == "OVER_BUDGET"


def test_a_failed_job_is_recorded_and_imports_nothing(box: RunningSandbox, tmp_path: Path) -> None:
    """A job that ends `failed` is recorded against the job with its code; no contact is created."""
    settings = build(box, tmp_path)
    sandbox(box).fail_next_job("LINKEDIN_ACCOUNT_DISCONNECTED")
    run_linkedin(settings)
    jobs_finished(box, settings)
    before = len(box.hubspot.contact_ids())
    summary = run_linkedin(settings)
    assert summary.jobs_failed == 1 and summary.exit_code() == 1
    assert summary.failures[0]["code"] == "LINKEDIN_ACCOUNT_DISCONNECTED"
    assert len(box.hubspot.contact_ids()) == before


def test_an_audience_not_ready_is_imported_by_a_later_run(box: RunningSandbox, tmp_path: Path) -> None:
    """409 AUDIENCE_NOT_READY when the completed job's audience is read: nothing created, the next run imports it."""
    settings = build(box, tmp_path)
    run_linkedin(settings)
    jobs_finished(box, settings)
    not_ready = {
        "success": False,
        "data": None,
        "error": {"code": "AUDIENCE_NOT_READY", "message": "Audience is being filled", "details": None},
        "traceId": "0" * 24,
    }
    sandbox(box).fail_next(status=409, endpoint="audience_prospects", body=not_ready)
    waiting = run_linkedin(settings)
    assert (waiting.contacts_created, waiting.exit_code()) == (0, 0)
    with store_from(settings) as store:
        assert [r.status for r in store.linkedin.jobs()] == ["completed"]
    later = run_linkedin(settings)
    assert later.contacts_created == 5 and max(contacts_by_profile(box).values()) == 1


def test_a_job_that_does_not_fit_what_is_left_waits_for_the_next_run(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Two jobs of 5 credits under a budget of 8: one starts, the other is deferred and starts next run."""
    section = linkedin_section(budget=8).replace(
        "  contact:",
        '    post_people:\n      source: post_commenters\n      post_url: "https://www.linkedin.com/feed/update/urn:li:activity:1"\n'
        "      max_results: 5\n  contact:",
    )
    settings = build(box, tmp_path, section)
    first = run_linkedin(settings)
    assert (first.jobs_started, first.jobs_deferred, first.credits_held, first.credits_estimated) == (
        1,
        1,
        5,
        10,
    )
    second = run_linkedin(settings)
    assert (second.jobs_started, second.jobs_deferred) == (1, 0)
    assert sandbox(box).jobs_started == 2 and len(set(started_job_ids(settings))) == 2


def test_a_job_due_again_starts_under_a_new_key_and_creates_nobody_twice(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Once `every_days` has passed the job starts again with another key; its prospects are known, none created."""
    settings = build(box, tmp_path, linkedin_section(every_days=0.00002))  # due again after 1.7 s
    run_linkedin(settings)
    jobs_finished(box, settings)
    assert run_linkedin(settings).contacts_created == 5
    wait_for(lambda: run_linkedin(settings).jobs_started == 1, timeout=15, interval=0.2)
    jobs_finished(box, settings)
    again = run_linkedin(settings)
    assert (again.prospects_imported, again.contacts_created) == (5, 0)
    assert sandbox(box).jobs_started == 2 and len({key_of(r) for r in sandbox(box).requests_to(START)}) == 2
    assert max(contacts_by_profile(box).values()) == 1


def test_a_refused_job_corrected_in_the_mapping_starts_at_once(box: RunningSandbox, tmp_path: Path) -> None:
    """Refused (422), then its max_results lowered in the mapping: the next run starts it without waiting every_days."""
    settings = build(box, tmp_path, linkedin_section(max_results=50))
    sandbox(box).plan_cap = 20
    assert run_linkedin(settings).exit_code() == 1
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        mapping.read_text(encoding="utf-8").replace("max_results: 50", "max_results: 5"), "utf-8"
    )
    assert run_linkedin(settings).jobs_started == 1 and sandbox(box).jobs_started == 1


@pytest.mark.slow
def test_claims_a_lost_create_left_wait_for_the_search_then_are_created_once(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A create whose answer was lost (and never applied): the claims are kept while HubSpot's search may lag, then created once."""
    settings = build(box, tmp_path)
    run_linkedin(settings)
    jobs_finished(box, settings)
    box.hubspot.reset_next(endpoint="contacts_batch_create")
    with pytest.raises(ConnectorError):
        run_linkedin(settings)
    soon = run_linkedin(settings)
    assert (soon.claims_waiting, soon.contacts_created, soon.recovered) == (5, 0, 0)
    assert not contacts_by_profile(box)
    wait_for(lambda: run_linkedin(settings).contacts_created == 5, timeout=30, interval=0.5)
    assert len(contacts_by_profile(box)) == 5 and max(contacts_by_profile(box).values()) == 1
    with store_from(settings) as store:
        assert [r.status for r in store.linkedin.jobs()] == ["imported"] and not store.linkedin.claimed()


def test_a_run_while_another_holds_the_lock_does_nothing(box: RunningSandbox, tmp_path: Path) -> None:
    """Two linkedin runs never overlap: the second is skipped (exit 0) and starts nothing."""
    settings = build(box, tmp_path)
    with store_from(settings) as store, store.run_lock("linkedin") as locked:
        assert locked
        summary = run_linkedin(settings)
    assert summary.outcome == "skipped" and summary.exit_code() == 0
    assert summary.stopped is not None and "lock" in summary.stopped
    assert sandbox(box).count(START) == 0

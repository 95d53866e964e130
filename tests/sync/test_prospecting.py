"""The prospecting stage over real HTTP against the sandbox: who is created, who never is, and why.

A first run creates exactly the people missing at the target accounts, associated to their
company and within `per_account` and `max_new_per_run`; a second creates nobody; a person HubSpot
already has (by Sales Navigator URL or by name at that company) is never created; Saber's
`salesNavConnected: false`, a 422 and a dry run behave as the issue says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.commands.prospect import run_prospect
from connector.errors import ConfigError
from connector.hubspot.errors import HubSpotUnavailableError
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.state import StateStore
from connector.sync.prospecting import ProspectingStopped
from tests.sync.prospect_world import ACME, GLOBEX, build, created_at, names_at, person
from tests.sync_harness import sync


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=6, seed=3, research_delay=0.1) as running:
        yield running


def test_first_run_creates_the_missing_people_within_the_limits_and_sync_researches_them(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A first prospect creates per_account people at Acme and the rest of max_new_per_run at Globex, associated; sync researches them."""
    settings, companies = build(box, tmp_path)
    before = set(box.hubspot.contact_ids())
    summary = run_prospect(settings)
    assert summary.exit_code == 0, summary.failures
    assert names_at(box, companies["acme"]) == ["Ann Ames", "Bob Berg", "Cid Cole"]
    assert names_at(box, companies["globex"]) == ["Gil Gray", "Hal Hunt"]
    assert summary.created == 5 and summary.accounts_seen == 2  # the budget was spent before the third
    new = set(box.hubspot.contact_ids()) - before
    assert len(new) == 5
    ann = next(c for c in created_at(box, companies["acme"]) if c["firstname"] == "Ann")
    assert (
        ann["company"] == "Acme Labs" and ann["website"] == "acme.example" and ann["lifecyclestage"] == "lead"
    )
    assert ann["saber_sales_navigator_url"]
    assert summary.api_calls["saber"]["search_contacts"] >= 2
    with StateStore(str(settings.connector_state_url)) as store:
        (last,) = store.last_runs(1)
    assert last.outcome == "ok" and last.counts["kind"] == "prospect"
    assert last.counts["people"]["created"] == 5
    result = sync(settings, full=True, wait_seconds=15)
    assert result.research["launched"] >= 5
    assert all(box.saber.research_for(cid) for cid in new)


def test_a_second_run_creates_nobody_and_a_cut_short_account_is_finished_first(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """max_new 2 cuts Acme short; the next run finishes Acme first; a further run creates nobody."""
    settings, companies = build(box, tmp_path)
    first = run_prospect(settings, max_new=2)
    assert first.created == 2 and names_at(box, companies["acme"]) == ["Ann Ames", "Bob Berg"]
    second = run_prospect(settings, max_new=1)
    assert second.created == 1 and names_at(box, companies["acme"]) == ["Ann Ames", "Bob Berg", "Cid Cole"]
    assert names_at(box, companies["globex"]) == []
    run_prospect(settings)
    count = len(box.hubspot.contact_ids())
    last = run_prospect(settings)
    assert last.created == 0 and len(box.hubspot.contact_ids()) == count


def test_people_already_in_hubspot_by_url_or_by_name_at_the_company_are_never_created(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A contact holding Ann's Sales Navigator URL, and a Bob Berg at Acme, keep them from being created."""
    ann_url = "https://www.linkedin.com/sales/lead/ACwAAannames"
    settings, companies = build(box, tmp_path, ann_url=ann_url)
    hub = box.hubspot
    hub.add_contact(
        {"firstname": "Someone", "lastname": "Else", "saber_sales_navigator_url": ann_url.upper()}
    )
    bob = hub.add_contact({"firstname": "bob", "lastname": "BERG"})
    hub.associate(bob, companies["acme"], primary=True)
    hub.add_contact({"firstname": "Gil", "lastname": "Gray"})  # a namesake at no company: not him
    summary = run_prospect(settings)
    assert summary.already_in_hubspot == 2 and summary.skipped["already_in_hubspot"] == 2, summary.to_json()
    assert names_at(box, companies["acme"]) == ["Cid Cole", "Dee Dunn", "Eve Enz", "bob BERG"]
    assert names_at(box, companies["globex"]) == ["Gil Gray", "Hal Hunt"]


def test_sales_navigator_not_connected_stops_with_one_line_and_creates_nothing(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """salesNavConnected false stops prospecting (exit 2) with the line naming Sales Navigator; nothing is created."""
    settings, _ = build(box, tmp_path)
    box.saber.sales_nav_connected = False
    before = len(box.hubspot.contact_ids())
    with pytest.raises(ProspectingStopped) as stopped:
        run_prospect(settings)
    assert stopped.value.exit_code == 2 and "Sales Navigator" in str(stopped.value)
    assert len(box.hubspot.contact_ids()) == before


def test_a_url_saber_cannot_process_is_recorded_and_the_other_accounts_go_on(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A 422 for Acme's URL skips Acme with url_rejected; Globex's people are still created."""
    settings, companies = build(box, tmp_path)
    box.saber.people.unprocessable.add(ACME)
    summary = run_prospect(settings)
    assert summary.accounts_skipped["url_rejected"] == 1 and summary.accounts_skipped["no_linkedin_url"] == 1
    assert names_at(box, companies["acme"]) == []
    assert names_at(box, companies["globex"]) == ["Gil Gray", "Hal Hunt"]
    # The account with no LinkedIn page is looked at again once it has one; Acme waits its refresh.
    page = "https://www.linkedin.com/company/no-page-inc"
    box.saber.people.set_headcount(page, 0)
    box.saber.people.add_people(page, [person("Ivy", "Irwin")])
    box.hubspot.edit_company(companies["nourl"], {"linkedin_company_page": page})
    again = run_prospect(settings)
    assert names_at(box, companies["nourl"]) == ["Ivy Irwin"]
    assert again.accounts_skipped["searched_recently"] == 2 and again.created == 1


def test_dry_run_lists_who_would_be_created_and_creates_nothing(box: RunningSandbox, tmp_path: Path) -> None:
    """A dry run lists, per account, the people it would create and the ones it skips, and creates nobody."""
    settings, _ = build(box, tmp_path)
    before = len(box.hubspot.contact_ids())
    summary = run_prospect(settings, dry_run=True)
    assert summary.would_create == 5 and summary.created == 0
    assert len(box.hubspot.contact_ids()) == before
    text = summary.render()
    assert "Ann Ames: would create" in text and "Hal Hunt: would create" in text
    assert person("x", "y")["department"] == "Engineering"


def test_a_filter_saber_refuses_stops_with_exit_2_naming_it(box: RunningSandbox, tmp_path: Path) -> None:
    """A department outside Sales Navigator's taxonomy: Saber's 400 stops prospecting (exit 2) naming the mapping key."""
    settings, _ = build(box, tmp_path)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        mapping.read_text(encoding="utf-8").replace("[Engineering]", "[Engineering Ops]"), encoding="utf-8"
    )
    with pytest.raises(ProspectingStopped) as stopped:
        run_prospect(settings)
    assert stopped.value.exit_code == 2 and "prospecting.search.departments" in str(stopped.value)
    assert box.hubspot.count("contacts_batch_create") == 0


def test_a_402_stops_prospecting_cleanly(box: RunningSandbox, tmp_path: Path) -> None:
    """Saber's 402 on a search stops prospecting with a line saying so; nothing is created and the exit is 0."""
    settings, _ = build(box, tmp_path)
    box.saber.fail_next(status=402, endpoint="contact_search")
    summary = run_prospect(settings)
    assert summary.stopped and "402" in summary.stopped and summary.exit_code == 0
    assert summary.created == 0 and box.hubspot.count("contacts_batch_create") == 0


def test_a_create_whose_answer_was_lost_is_looked_up_before_it_is_sent_again(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A create cut off (the connection reset) stops the run (exit 3) with its people claimed; the next run looks them up, then creates each once."""
    settings, companies = build(box, tmp_path)
    box.hubspot.reset_next(endpoint="contacts_batch_create")
    with pytest.raises(HubSpotUnavailableError) as lost:
        run_prospect(settings)
    assert lost.value.exit_code == 3
    with StateStore(str(settings.connector_state_url)) as store:
        assert len(store.prospects.claimed()) == 3
    reads = box.hubspot.count("associations_batch_read")
    summary = run_prospect(settings)
    assert box.hubspot.count("associations_batch_read") > reads  # looked for at Acme first
    assert summary.recovered == 0 and summary.created == 5
    assert names_at(box, companies["acme"]) == ["Ann Ames", "Bob Berg", "Cid Cole"]


def test_a_companys_contacts_are_read_through_associations_page_by_page(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """`companies.contacts_of` lists every contact associated with each company, across association pages."""
    from connector.clients import hubspot_from

    settings, companies = build(box, tmp_path)
    hub = box.hubspot
    people = [hub.add_contact({"firstname": f"P{i}", "lastname": "Q"}) for i in range(5)]
    for cid in people:
        hub.associate(cid, companies["acme"], primary=cid == people[0])
    hub.association_page = 2
    with hubspot_from(settings) as hubspot:
        found = hubspot.companies.contacts_of([companies["acme"], companies["globex"]])
    assert sorted(found[companies["acme"]], key=int) == people and found[companies["globex"]] == []


def test_a_second_prospect_run_at_the_same_time_does_nothing(box: RunningSandbox, tmp_path: Path) -> None:
    """While one prospect run holds its lock another is skipped, searching and creating nothing."""
    settings, _ = build(box, tmp_path)
    with StateStore(str(settings.connector_state_url)) as store, store.run_lock("prospect") as held:
        assert held
        summary = run_prospect(settings)
    assert summary.outcome == "skipped" and summary.stopped and "another prospect run" in summary.stopped
    assert box.saber.count("contact_search") == 0 and box.hubspot.count("contacts_batch_create") == 0


def test_a_property_the_portal_lacks_stops_before_any_search(box: RunningSandbox, tmp_path: Path) -> None:
    """A missing contact property the `contact` part writes, or company property `accounts` reads: exit 2, no search."""
    settings, _ = build(box, tmp_path)
    box.hubspot.delete_property("saber_sales_navigator_url")
    with pytest.raises(ConfigError) as missing:
        run_prospect(settings)
    assert missing.value.exit_code == 2 and "contact property saber_sales_navigator_url" in str(missing.value)
    assert box.saber.count("contact_search") == 0


def test_a_name_found_with_accents_matches_the_plain_spelling_at_the_company(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Saber's "Zoë Zorn" is the "zoe zorn" HubSpot has at Globex: skipped as already in HubSpot, not created."""
    settings, companies = build(box, tmp_path)
    mapping = tmp_path / "mapping.yaml"
    text = mapping.read_text(encoding="utf-8").replace("max_new_per_run: 5", "max_new_per_run: 10")
    mapping.write_text(text, encoding="utf-8")
    box.saber.people.add_people(GLOBEX, [person("Zoë", "Zorn", None)])
    zoe = box.hubspot.add_contact({"firstname": "zoe", "lastname": "zorn"})
    box.hubspot.associate(zoe, companies["globex"], primary=True)
    summary = run_prospect(settings)
    assert summary.skipped["already_in_hubspot"] == 1
    assert names_at(box, companies["globex"]) == ["Gil Gray", "Hal Hunt", "zoe zorn"]

"""Prospecting's state: accounts searched or cut short, people claimed before their create and created after."""

from __future__ import annotations

from datetime import timedelta

from connector.clock import utcnow
from connector.state import StateStore
from connector.state.prospects import CLAIMED, CREATED, candidate_key


def test_a_candidates_key_is_its_url_else_the_account_and_folded_name() -> None:
    """The same URL spelt differently is one key; without a URL the name is folded and scoped to the account."""
    url = "https://www.linkedin.com/sales/lead/ACwAAx"
    assert candidate_key("1", url, "A", "B") == candidate_key("2", url.upper() + "/", "C", "D")
    assert candidate_key("1", None, "Zoë", " Smith ") == candidate_key("1", "", "zoe", "SMITH")
    assert candidate_key("1", None, "Zoë", "Smith") != candidate_key("2", None, "Zoë", "Smith")


def test_claims_become_created_or_are_released_and_a_created_contact_knows_its_search(
    store: StateStore,
) -> None:
    """A claim is kept until created (with the contact id) or released; released ones can be claimed again."""
    prospects = store.prospects
    people = [
        {"key": "k1", "url": "u1", "first": "Ann", "last": "Ames"},
        {"key": "k2", "first": "Bob", "last": "Berg"},
    ]
    prospects.claim("101", people, {"companyLinkedInUrls": ["https://www.linkedin.com/company/acme"]})
    assert [c.key for c in prospects.claimed()] == ["k1", "k2"]
    prospects.record_created({"k1": "501"})
    prospects.release(["k1", "k2"])  # a created person is never released
    found = prospects.candidates(["k1", "k2"])
    assert list(found) == ["k1"] and found["k1"].status == CREATED and found["k1"].contact_id == "501"
    brought = prospects.brought_in("501")
    assert brought is not None and brought.company_id == "101" and "acme" in (brought.search or "")
    prospects.claim("101", people[1:], {})
    assert prospects.candidates(["k2"])["k2"].status == CLAIMED
    assert prospects.created_since("101", utcnow() - timedelta(days=1)) == 2
    assert prospects.created_since("101", utcnow() + timedelta(seconds=5)) == 0


def test_accounts_cut_short_come_back_first_and_skips_keep_their_reason(store: StateStore) -> None:
    """An unfinished account is listed until finished; a skipped one keeps its reason and is not unfinished."""
    prospects = store.prospects
    prospects.record_account("101", finished=False)
    prospects.record_account("102", finished=True, skip_reason="no_linkedin_url")
    assert prospects.unfinished_accounts() == ["101"]
    prospects.record_account("101", finished=True)
    assert prospects.unfinished_accounts() == []
    states = prospects.accounts(["101", "102", "999"])
    assert sorted(states) == ["101", "102"] and states["102"].skip_reason == "no_linkedin_url"


def test_a_finished_prospect_run_is_recorded_without_interrupting_a_running_sync(store: StateStore) -> None:
    """`record_finished_run` adds a finished row and leaves a sync marked running as it is."""
    sync_run = store.start_run()
    store.runs.record_finished_run(utcnow(), outcome="ok", counts={"kind": "prospect"})
    runs = store.last_runs(2)
    assert runs[0].counts["kind"] == "prospect" and runs[0].finished_at is not None
    assert runs[1].id == sync_run and runs[1].outcome == "running"

"""The state of HubSpot companies: what was written where, what waits, which contact matched which company."""

from __future__ import annotations

from connector.state import StateStore


def test_written_hashes_merge_per_company_and_settle_what_waited(store: StateStore) -> None:
    """Hashes merge property by property; a write landing clears the pending reason and its error."""
    store.set_company_pending("101", "acme.com", "BATCH_FAILED", "HubSpot answered 500")
    assert [c.company_id for c in store.companies_pending()] == ["101"]
    store.record_company_written("101", "acme.com", {"saber_hiring": "h1"})
    store.record_company_written("101", None, {"saber_reasoning": "h2"})
    state = store.get_companies(["101", "999"])
    assert list(state) == ["101"]
    assert state["101"].written == {"saber_hiring": "h1", "saber_reasoning": "h2"}
    assert state["101"].domain == "acme.com"  # a None domain keeps the one known
    assert state["101"].write_pending is None and state["101"].last_error is None
    assert store.companies_pending() == []


def test_contact_matches_are_kept_and_counted_by_reason(store: StateStore) -> None:
    """Each contact keeps its matched company or the reason none matched; reasons are counted by code."""
    for cid in ("1", "2", "3"):
        store.record_skip(cid, None)  # the rows exist
    store.record_company_matches(
        {
            "1": ("101", None),
            "2": (None, "ambiguous_domain: 2 companies have acme.io"),
            "3": (None, "no_company"),
        }
    )
    states = store.get_many(["1", "2", "3"])
    assert states["1"].company_id == "101" and states["1"].company_unmatched is None
    assert states["2"].company_id is None and states["2"].company_unmatched.startswith("ambiguous_domain")
    assert store.company_unmatched_counts() == {"ambiguous_domain": 1, "no_company": 1}
    store.record_company_matches({"2": ("102", None)})
    assert store.company_unmatched_counts() == {"no_company": 1}


def test_pending_company_work_survives_until_the_matches_settle_it(store: StateStore) -> None:
    """Contacts marked pending stay listed until their match is recorded as settled."""
    for cid in ("1", "2"):
        store.record_skip(cid, None)
    store.mark_company_pending(["1", "2"])
    assert store.company_pending_contacts() == ["1", "2"]
    store.record_company_matches({"1": ("101", None)}, settled=False)
    assert store.company_pending_contacts() == ["1", "2"]
    store.record_company_matches({"1": ("101", None), "2": (None, "no_association")})
    assert store.company_pending_contacts() == []
    assert store.get_many(["1"])["1"].company_pending is None

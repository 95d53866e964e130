"""`HubSpotAdapter.contacts.presence` over real HTTP against the sandbox: active, merged, archived, gone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.hubspot import HubSpotAuthError, Presence
from connector.hubspot.adapter import HubSpotAdapter
from connector.sandbox.hubspot import HubSpotSandbox
from tests.hubspot_fixtures import fast_adapter, running


@pytest.fixture
def box() -> Iterator[HubSpotSandbox]:
    """A small portal a test may change."""
    with running(contacts=12, seed=4) as sandbox:
        yield sandbox


@pytest.fixture
def adapter(box: HubSpotSandbox) -> Iterator[HubSpotAdapter]:
    """An adapter with short back-offs, on the portal."""
    with fast_adapter(box) as hubspot:
        yield hubspot


def _reads(box: HubSpotSandbox) -> list[tuple[bool, int]]:
    """The batch reads the sandbox saw: (archived=true, number of ids), in order."""
    return [
        ([v.lower() for v in r.query.get("archived", [])] == ["true"], len(r.body["inputs"]))
        for r in box.requests_to("contacts_batch_read")
    ]


def test_tells_active_merged_archived_and_gone_apart(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """Each id gets its state: live, merged into its survivor, archived, or GDPR-deleted and never known."""
    live, a, b, archived, deleted, gone_archived = box.contact_ids()[:6]
    survivor = box.merge_contacts(a, b)
    box.archive_contact(archived)
    box.gdpr_delete_contact(deleted)
    box.archive_contact(gone_archived)
    box.gdpr_delete_contact(gone_archived)
    ids = [live, a, b, survivor, archived, deleted, gone_archived, "999999", live]
    box.requests.clear()
    assert adapter.contacts.presence(ids) == {
        live: Presence("active", None),
        a: Presence("merged", survivor),
        b: Presence("merged", survivor),
        survivor: Presence("active", None),
        archived: Presence("archived", None),
        deleted: Presence("gone", None),
        gone_archived: Presence("gone", None),
        "999999": Presence("gone", None),
    }
    assert _reads(box) == [(False, 8), (True, 4)]  # the archived read asks only for what the live one missed
    assert adapter.calls["read_contacts"] == 1 and adapter.calls["read_archived_contacts"] == 1


def test_an_id_merged_into_an_archived_contact_is_archived_with_it(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """A merged-away id whose survivor was archived reads as archived, naming the survivor."""
    a, b = box.contact_ids()[:2]
    survivor = box.merge_contacts(a, b)
    box.archive_contact(survivor)
    assert adapter.contacts.presence([a, survivor]) == {
        a: Presence("archived", survivor),
        survivor: Presence("archived", None),
    }


def test_all_present_makes_no_archived_read(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """When every id is live, one batch read answers and no archived read is sent."""
    ids = box.contact_ids()
    box.requests.clear()
    assert set(adapter.contacts.presence(ids).values()) == {Presence("active")}
    assert _reads(box) == [(False, len(ids))]
    assert adapter.contacts.presence([]) == {}


def test_reads_at_most_100_ids_a_call() -> None:
    """250 ids take three live reads and, for the 120 archived or gone ones, two archived reads."""
    with running(contacts=250, seed=9) as box, fast_adapter(box) as adapter:
        ids = box.contact_ids()
        for cid in ids[130:]:
            box.archive_contact(cid)
        for cid in ids[200:]:
            box.gdpr_delete_contact(cid)
        box.requests.clear()
        answer = adapter.contacts.presence(ids)
        assert [answer[i].state for i in ids] == ["active"] * 130 + ["archived"] * 70 + ["gone"] * 50
        assert _reads(box) == [(False, 100), (False, 100), (False, 50), (True, 100), (True, 20)]
        assert adapter.calls["read_contacts"] == 3 and adapter.calls["read_archived_contacts"] == 2


def test_retries_a_throttled_read_and_counts_it(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """A 429 on the archived read is retried, counted in calls and retries, and the answer stays right."""
    live, archived = box.contact_ids()[:2]
    box.archive_contact(archived)
    limited = {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "category": "RATE_LIMITS",
    }
    box.answer_next(429, limited, endpoint="contacts_batch_read")
    assert adapter.contacts.presence([live, archived]) == {
        live: Presence("active"),
        archived: Presence("archived"),
    }
    assert adapter.calls["read_contacts"] == 2 and adapter.retries["read_contacts"] == 1
    assert adapter.calls["read_archived_contacts"] == 1


def test_a_refused_token_raises(box: HubSpotSandbox) -> None:
    """A token HubSpot refuses raises HubSpotAuthError rather than calling every contact gone."""
    with fast_adapter(box, token="pat-wrong") as adapter, pytest.raises(HubSpotAuthError):
        adapter.contacts.presence(box.contact_ids()[:1])

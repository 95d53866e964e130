"""The HubSpot sandbox's archive and GDPR delete of contacts, over plain HTTP, as HubSpot answers them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hubspot
import pytest
import urllib3
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    PublicGdprDeleteInput,
    SimplePublicObjectId,
)

from connector.sandbox.hubspot import HubSpotSandbox
from tests.hubspot_fixtures import BATCH_READ, CONTACTS, SEARCH, http, running

BATCH_ARCHIVE = "/crm/v3/objects/contacts/batch/archive"
GDPR_DELETE = "/crm/v3/objects/contacts/gdpr-delete"


@pytest.fixture
def box() -> Iterator[HubSpotSandbox]:
    """A small portal a test may change."""
    with running(contacts=8, seed=3) as sandbox:
        yield sandbox


def _read(box: HubSpotSandbox, ids: list[str], *, archived: bool = False) -> tuple[int, dict[str, Any]]:
    with http(box) as client:
        params = {"archived": "true"} if archived else {}
        answer = client.post(
            BATCH_READ, params=params, json={"inputs": [{"id": i} for i in ids], "properties": []}
        )
    return answer.status_code, answer.json()


def _listed(box: HubSpotSandbox, *, archived: bool) -> list[str]:
    with http(box) as client:
        params = {"limit": "100", "archived": "true" if archived else "false"}
        return [r["id"] for r in client.get(CONTACTS, params=params).json()["results"]]


def _searched(box: HubSpotSandbox) -> list[str]:
    with http(box) as client:
        body = {"filterGroups": [], "properties": ["email"], "limit": 100}
        return [r["id"] for r in client.post(SEARCH, json=body).json()["results"]]


def test_delete_archives_a_contact_that_only_archived_reads_see(box: HubSpotSandbox) -> None:
    """DELETE answers 204 and the contact leaves search, list and batch read but shows under archived=true."""
    cid, other = box.contact_ids()[:2]
    with http(box) as client:
        answer = client.delete(f"{CONTACTS}/{cid}")
        assert answer.status_code == 204 and answer.content == b""
        assert client.get(f"{CONTACTS}/{cid}").status_code == 404
        one = client.get(f"{CONTACTS}/{cid}", params={"archived": "true"})
        assert one.status_code == 200 and one.json()["archived"] is True
        assert client.get(f"{CONTACTS}/{other}", params={"archived": "true"}).status_code == 404
    assert cid not in _searched(box) and cid not in _listed(box, archived=False)
    assert _listed(box, archived=True) == [cid]
    status, body = _read(box, [cid, other])
    assert status == 207 and [r["id"] for r in body["results"]] == [other]
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND" and body["errors"][0]["context"]["ids"] == [
        cid
    ]
    status, body = _read(box, [cid, other], archived=True)
    assert status == 207 and [r["id"] for r in body["results"]] == [cid]
    assert body["results"][0]["archived"] is True and body["results"][0]["archivedAt"]
    assert body["errors"][0]["context"]["ids"] == [other]


def test_batch_archive_answers_204_and_skips_unknown_ids(box: HubSpotSandbox) -> None:
    """A batch archive of known and unknown ids answers 204 and archives the known ones."""
    a, b = box.contact_ids()[:2]
    with http(box) as client:
        answer = client.post(BATCH_ARCHIVE, json={"inputs": [{"id": a}, {"id": b}, {"id": "999999"}]})
        assert answer.status_code == 204
        assert client.delete(f"{CONTACTS}/{a}").status_code == 204  # archiving again is no error
        assert client.post(BATCH_ARCHIVE, json={"inputs": "x"}).status_code == 400
        too_many = {"inputs": [{"id": str(i)} for i in range(101)]}
        assert client.post(BATCH_ARCHIVE, json=too_many).status_code == 400
    assert box.archived_contact_ids() == sorted([a, b], key=int)
    assert a not in box.contact_ids() and b not in box.contact_ids()


def test_gdpr_delete_removes_a_contact_for_good(box: HubSpotSandbox) -> None:
    """A GDPR delete answers 204 and no read finds the contact again, archived or not."""
    live, archived, by_email = box.contact_ids()[:3]
    email = box.contact(by_email)["email"]
    box.archive_contact(archived)
    with http(box) as client:
        assert client.post(GDPR_DELETE, json={"objectId": live}).status_code == 204
        assert client.post(GDPR_DELETE, json={"objectId": archived}).status_code == 204
        answer = client.post(GDPR_DELETE, json={"objectId": email, "idProperty": "email"})
        assert answer.status_code == 204
        unknown = client.post(GDPR_DELETE, json={"objectId": "999999"})
        assert unknown.status_code == 404 and unknown.json()["category"] == "OBJECT_NOT_FOUND"
        assert client.post(GDPR_DELETE, json={}).status_code == 400
    gone = [live, archived, by_email]
    assert not set(gone) & set(_searched(box) + _listed(box, archived=False) + _listed(box, archived=True))
    status, body = _read(box, gone)
    assert status == 207 and body["results"] == []
    status, body = _read(box, gone, archived=True)
    assert status == 207 and body["results"] == []


def test_merged_away_ids_read_as_the_survivor_and_follow_its_fate(box: HubSpotSandbox) -> None:
    """A merged-away id reads as its survivor, archived with it, and gone with it after a GDPR delete."""
    a, b = box.contact_ids()[:2]
    survivor = box.merge_contacts(a, b)
    status, body = _read(box, [a])
    assert status == 200 and body["results"][0]["id"] == survivor
    box.archive_contact(survivor)
    status, body = _read(box, [a], archived=True)
    assert status == 200 and body["results"][0]["id"] == survivor
    box.gdpr_delete_contact(survivor)
    assert _read(box, [a], archived=True)[1]["results"] == []
    assert _read(box, [a])[1]["results"] == []


def test_deleting_needs_the_write_scope(box: HubSpotSandbox) -> None:
    """Archive and GDPR delete are refused with 403 when the app lacks crm.objects.contacts.write."""
    box.granted_scopes = {"crm.objects.contacts.read"}
    cid = box.contact_ids()[0]
    with http(box) as client:
        assert client.delete(f"{CONTACTS}/{cid}").status_code == 403
        assert client.post(BATCH_ARCHIVE, json={"inputs": [{"id": cid}]}).status_code == 403
        assert client.post(GDPR_DELETE, json={"objectId": cid}).status_code == 403
    assert cid in box.contact_ids()


def test_the_official_client_archives_purges_and_reads_archived(box: HubSpotSandbox) -> None:
    """hubspot-api-client's archive, batch archive, GDPR purge and archived batch read work against the sandbox."""
    one, two, three, four = box.contact_ids()[:4]
    client = hubspot.HubSpot(access_token=box.token, host=box.url, retry=urllib3.Retry(total=0))
    contacts = client.crm.contacts
    assert contacts.basic_api.archive(one) is None
    assert (
        contacts.batch_api.archive(BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=two)]))
        is None
    )
    assert contacts.basic_api.purge(PublicGdprDeleteInput(object_id=three)) is None
    body = BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=i) for i in (one, two, three, four)], properties=["email"]
    )
    archived = contacts.batch_api.read(body, archived=True)
    assert sorted((r.id for r in archived.results), key=int) == [one, two]
    assert all(r.archived and r.archived_at is not None for r in archived.results)
    live = contacts.batch_api.read(body, archived=False)
    assert [r.id for r in live.results] == [four]
    page = contacts.basic_api.get_page(limit=100, archived=True)
    assert sorted((r.id for r in page.results), key=int) == [one, two]

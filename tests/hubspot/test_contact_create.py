"""Contact batch create with company associations, and company search by filters, over real HTTP.

The adapter (`ContactApi.create`, `CompanyApi.search`) against the sandbox, and the sandbox's
`POST /crm/v3/objects/contacts/batch/create` against HubSpot's published contract.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.hubspot import (
    CreateMaybeApplied,
    HubSpotAdapter,
    HubSpotUnavailableError,
    NewContact,
    SearchFilter,
)
from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.server import Fault
from tests.hubspot_fixtures import embedded_errors, fast_adapter, http, running
from tests.support import wait_for

CREATE = "/crm/v3/objects/contacts/batch/create"
ENDPOINT = "contacts_batch_create"
PRIMARY = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]


def person(n: int, company_id: str | None = None, **props: str) -> NewContact:
    """A new contact keyed by a Sales Navigator URL, with a unique email unless told."""
    values = {"firstname": f"Ada{n}", "lastname": "Prospect", "email": f"ada{n}@prospect.example", **props}
    return NewContact(f"https://www.linkedin.com/sales/lead/ACw{n:04d}", values, company_id)


def adapter_for(box: HubSpotSandbox, **options: float) -> HubSpotAdapter:
    return fast_adapter(box, **options)


# ---------------------------------------------------------------- the adapter
def test_created_contacts_have_their_values_and_their_company_as_primary() -> None:
    """Each created contact carries its values and its account's company as its Primary company."""
    with running(contacts=5) as box:
        company = box.add_company({"name": "Prospect Inc", "domain": "prospect.example"})
        hs = adapter_for(box)
        result = hs.contacts.create([person(1, company), person(2, company)])
        assert not result.failures and not result.unmatched
        assert set(result.created) == {person(1).key, person(2).key}
        first = result.created[person(1).key]
        assert box.contact(first)["email"] == "ada1@prospect.example"
        assert box.contact(first)["firstname"] == "Ada1"
        assert box.primary_company(first) == company
        links = hs.companies.associations(list(result.created.values()))
        assert {c.company_id for c in links.contacts.values()} == {company}


def test_created_contacts_are_seen_by_the_incremental_pull() -> None:
    """A created contact has createdate and lastmodifieddate set now, so a modified-since search finds it."""
    with running(contacts=20) as box:
        hs = adapter_for(box)
        before = datetime.now(UTC) - timedelta(seconds=1)
        result = hs.contacts.create([person(1)])
        found = [c.id for c in hs.contacts.search(properties=["email"], modified_after=before)]
        assert found == [result.created[person(1).key]]


def test_a_large_create_goes_in_calls_of_100_and_matches_every_id_to_its_input() -> None:
    """250 contacts take three calls, and each created id belongs to the input with that key."""
    with running(contacts=1) as box:
        hs = adapter_for(box)
        people = [person(n) for n in range(250)]
        result = hs.contacts.create(people)
        assert box.count(ENDPOINT) == 3
        assert [len(r.body["inputs"]) for r in box.requests_to(ENDPOINT)] == [100, 100, 50]
        assert len(result.created) == 250 and not result.failures
        for p in people:
            assert box.contact(result.created[p.key])["email"] == p.properties["email"]


def test_a_duplicate_email_fails_with_the_existing_id_and_the_rest_is_created() -> None:
    """An email HubSpot already holds fails that input with the existing contact's id; the others land."""
    with running(contacts=1) as box:
        existing = box.add_contact({"email": "ada2@prospect.example", "firstname": "Ada"})
        hs = adapter_for(box)
        result = hs.contacts.create([person(1), person(2), person(3)])
        assert set(result.created) == {person(1).key, person(3).key}
        (failure,) = result.failures
        assert (failure.key, failure.code, failure.existing_id) == (person(2).key, "CONFLICT", existing)
        assert "Contact already exists" in failure.message
        assert len(box.contact_ids()) == 4  # the seeded one, the existing one, two created


def test_the_same_email_twice_in_one_create_is_sent_once() -> None:
    """A second input with an email an earlier input has is refused locally, never sent."""
    with running(contacts=1) as box:
        hs = adapter_for(box)
        twin = NewContact("twin", {"email": "ADA1@prospect.example", "firstname": "Twin"})
        result = hs.contacts.create([person(1), twin])
        assert list(result.created) == [person(1).key]
        assert [(f.key, f.code) for f in result.failures] == [("twin", "DUPLICATE_EMAIL")]
        assert box.count(ENDPOINT) == 1


def test_an_unknown_property_fails_only_its_input() -> None:
    """A property the portal lacks fails the input carrying it, naming it; the rest is created."""
    with running(contacts=1) as box:
        hs = adapter_for(box)
        result = hs.contacts.create([person(1), person(2, saber_nope="x"), person(3)])
        assert set(result.created) == {person(1).key, person(3).key}
        (failure,) = result.failures
        assert (failure.key, failure.code, failure.property) == (
            person(2).key,
            "PROPERTY_DOESNT_EXIST",
            "saber_nope",
        )


def test_an_invalid_email_fails_only_its_input() -> None:
    """An email HubSpot cannot read as an address fails that input with INVALID_EMAIL."""
    with running(contacts=1) as box:
        hs = adapter_for(box)
        result = hs.contacts.create([person(1), person(2, email="not-an-address")])
        assert list(result.created) == [person(1).key]
        assert [(f.key, f.code, f.property) for f in result.failures] == [
            (person(2).key, "INVALID_EMAIL", "email")
        ]


def test_an_unknown_company_fails_only_the_input_associated_with_it() -> None:
    """An association to a company the portal does not have fails that input; the others are created."""
    with running(contacts=1) as box:
        company = box.add_company({"name": "Real Co"})
        hs = adapter_for(box)
        result = hs.contacts.create(
            [person(1, company), person(2, "123"), person(3, company), person(4, company)]
        )
        assert set(result.created) == {person(n).key for n in (1, 3, 4)}
        (failure,) = result.failures
        assert (failure.key, failure.code) == (person(2).key, "VALIDATION_ERROR")
        assert "123" in failure.message
        assert all(box.primary_company(cid) == company for cid in result.created.values())


def test_a_429_is_retried_and_creates_each_contact_once() -> None:
    """A rate-limited create applied nothing, so it is sent again and each contact exists once."""
    with running(contacts=1) as box:
        box.throttle_next(1, retry_after=0.01, endpoint=ENDPOINT)
        hs = adapter_for(box)
        result = hs.contacts.create([person(1)])
        assert box.count(ENDPOINT) == 2
        assert list(result.created) == [person(1).key]
        assert len(box.contact_ids()) == 2


def test_a_5xx_after_the_create_was_applied_is_not_retried_and_names_the_inputs() -> None:
    """A 5xx may hide an applied create: it is sent once, and the error names the inputs to look up."""
    with running(contacts=1) as box:
        box._script(1, Fault(status=502, after=True), ENDPOINT)
        hs = adapter_for(box)
        with pytest.raises(CreateMaybeApplied) as raised:
            hs.contacts.create([person(1), person(2)])
        assert box.count(ENDPOINT) == 1
        assert raised.value.keys == [person(1).key, person(2).key]
        assert raised.value.unsent == []
        assert len(box.contact_ids()) == 3  # they were created: a blind resend would have doubled them


def test_a_read_timeout_is_not_retried_and_keeps_the_earlier_batches_results() -> None:
    """A create whose answer never came is not resent; the earlier calls' ids and the unsent keys are kept."""
    with running(contacts=1) as box:
        people = [person(n) for n in range(150)]
        box._script(1, Fault(status=200, slow=1.5), ENDPOINT)  # the first call: applied, answered too late
        hs = adapter_for(box, read_timeout=0.3)
        with pytest.raises(CreateMaybeApplied) as raised:
            hs.contacts.create(people)
        wait_for(lambda: box.count(ENDPOINT) == 1)  # the slow answer is logged once it is sent
        assert len(box.contact_ids()) == 101  # applied: a blind resend would have doubled them
        assert raised.value.keys == [p.key for p in people[:100]]
        assert raised.value.unsent == [p.key for p in people[100:]]


def test_a_5xx_on_a_later_create_leaves_the_earlier_creates_ids_with_their_caller() -> None:
    """A create that may have been applied names only its own inputs, not those an earlier create made."""
    with running(contacts=1) as box:
        people = [person(n) for n in range(120)]
        hs = adapter_for(box)
        first = hs.contacts.create(people[:100])
        box._script(1, Fault(status=503, after=True), ENDPOINT)
        with pytest.raises(CreateMaybeApplied) as raised:
            hs.contacts.create(people[100:])
        assert len(first.created) == 100
        assert raised.value.keys == [p.key for p in people[100:]]
        assert raised.value.result.created == {}


def test_keys_must_be_given_and_unique() -> None:
    """A create without a key per input, or with one key twice, is refused before any call."""
    with running(contacts=1) as box:
        hs = adapter_for(box)
        with pytest.raises(ValueError, match="unique"):
            hs.contacts.create([person(1), person(1)])
        assert box.count(ENDPOINT) == 0


# ---------------------------------------------------------------- the sandbox's contract
def test_sandbox_create_answers_201_with_the_echoed_trace_id() -> None:
    """A valid batch create answers 201 COMPLETE, each created object carrying its objectWriteTraceId."""
    with running(contacts=1) as box, http(box) as client:
        company = box.add_company({"name": "Echo Co"})
        body = {
            "inputs": [
                {
                    "properties": {"email": "echo@echo.example"},
                    "associations": [{"to": {"id": company}, "types": PRIMARY}],
                    "objectWriteTraceId": "t-1",
                }
            ]
        }
        answer = client.post(CREATE, json=body)
        assert answer.status_code == 201
        data = answer.json()
        assert data["status"] == "COMPLETE" and {"startedAt", "completedAt"} <= data.keys()
        (created,) = data["results"]
        assert created["objectWriteTraceId"] == "t-1"
        assert created["properties"]["email"] == "echo@echo.example"
        assert created["createdAt"] and created["updatedAt"]
        assert box.company_links(created["id"]) == {company: True}


def test_sandbox_refuses_a_duplicate_email_with_hubspots_conflict() -> None:
    """An email a contact already has answers 409 CONFLICT naming the existing id, and creates nothing."""
    with running(contacts=1) as box, http(box) as client:
        existing = box.add_contact({"email": "taken@dup.example"})
        body = {
            "inputs": [
                {"properties": {"email": "new@dup.example"}, "associations": []},
                {"properties": {"email": "TAKEN@dup.example"}, "associations": []},
            ]
        }
        answer = client.post(CREATE, json=body)
        assert answer.status_code == 409
        data = answer.json()
        assert data["category"] == "CONFLICT" and data["status"] == "error"
        assert data["message"] == f"Contact already exists. Existing ID: {existing}"
        assert len(box.contact_ids()) == 2


def test_sandbox_refuses_an_unknown_property_naming_it() -> None:
    """An unknown property answers 400 VALIDATION_ERROR with HubSpot's embedded per-property error."""
    with running(contacts=1) as box, http(box) as client:
        body = {"inputs": [{"properties": {"email": "a@b.example", "nope": "x"}, "associations": []}]}
        answer = client.post(CREATE, json=body)
        assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"
        (error,) = embedded_errors(answer.json())
        assert (error["name"], error["error"]) == ("nope", "PROPERTY_DOESNT_EXIST")
        assert len(box.contact_ids()) == 1


@pytest.mark.parametrize(
    ("inputs", "needle"),
    [
        ([{"properties": {}}], "associations"),
        ([{"associations": []}], "properties"),
        ([{"properties": {}, "associations": [{"to": {"id": "1"}}]}], "types"),
        (
            [{"properties": {}, "associations": [{"to": {"id": "1"}, "types": [{"associationTypeId": 1}]}]}],
            "associationCategory",
        ),
        ([{"properties": {}, "associations": [], "objectWriteTraceId": 5}], "objectWriteTraceId"),
        ([{"properties": {}, "associations": []}] * 101, "Too many inputs"),
    ],
)
def test_sandbox_refuses_malformed_creates(inputs: list[dict[str, object]], needle: str) -> None:
    """A body the spec does not allow (or over 100 inputs) answers 400 and creates nothing."""
    with running(contacts=1) as box, http(box) as client:
        answer = client.post(CREATE, json={"inputs": inputs})
        assert answer.status_code == 400, answer.text
        assert needle in answer.json()["message"]
        assert len(box.contact_ids()) == 1


def test_sandbox_refuses_an_association_type_that_is_not_contact_to_company() -> None:
    """Only contact → company types (1 Primary, 279 unlabelled) are accepted towards a company."""
    with running(contacts=1) as box, http(box) as client:
        company = box.add_company({"name": "Typed Co"})
        wrong = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 2}]
        body = {"inputs": [{"properties": {}, "associations": [{"to": {"id": company}, "types": wrong}]}]}
        answer = client.post(CREATE, json=body)
        assert answer.status_code == 400 and "[2]" in answer.json()["message"]


def test_sandbox_create_needs_the_contacts_write_scope() -> None:
    """A token without crm.objects.contacts.write is refused with HubSpot's 403 MISSING_SCOPES."""
    with running(contacts=1) as box, http(box) as client:
        box.granted_scopes = {"crm.objects.contacts.read"}
        answer = client.post(CREATE, json={"inputs": [{"properties": {}, "associations": []}]})
        assert answer.status_code == 403 and answer.json()["category"] == "MISSING_SCOPES"


# ---------------------------------------------------------------- company search by filters
def test_company_search_by_filters_pages_by_id_and_finds_exactly_the_matches() -> None:
    """Companies matching every filter come back once each, in id order, over keyset pages."""
    with running(contacts=1) as box:
        box.define_company_property("saber_target_account", "bool", "booleancheckbox")
        ids = [box.add_company({"name": f"Target {n}", "domain": f"t{n}.example"}) for n in range(7)]
        for cid in ids[:5]:
            box.edit_company(cid, {"saber_target_account": "true"})
        box.edit_company(ids[1], {"name": "Excluded"})
        hs = adapter_for(box)
        box.clear_log()
        filters = [
            SearchFilter("saber_target_account", "EQ", "true"),
            SearchFilter("name", "NEQ", "Excluded"),
            SearchFilter("domain", "HAS_PROPERTY"),
        ]
        found = list(hs.companies.search(filters, ["name", "saber_target_account"], page_size=2))
        assert [c.id for c in found] == [ids[0], *ids[2:5]]
        assert all(c.properties["saber_target_account"] == "true" for c in found)
        assert box.count("companies_search") == 2
        keysets = [r.body["filterGroups"][0]["filters"][-1] for r in box.requests_to("companies_search")[1:]]
        assert keysets == [{"propertyName": "hs_object_id", "operator": "GT", "value": ids[2]}]


def test_company_search_with_in_values_finds_each_one() -> None:
    """An IN filter finds each listed company, and more than 100 values are refused before a call."""
    with running(contacts=1) as box:
        ids = [box.add_company({"name": f"In {n}", "domain": f"in{n}.example"}) for n in range(3)]
        hs = adapter_for(box)
        found = hs.companies.search([SearchFilter("domain", "IN", values=("in0.example", "in2.example"))])
        assert [c.id for c in found] == [ids[0], ids[2]]
        box.clear_log()
        with pytest.raises(ValueError, match="100"):
            hs.companies.search([SearchFilter("domain", "IN", values=tuple(f"d{n}" for n in range(101)))])
        with pytest.raises(ValueError, match="at most 5"):
            hs.companies.search([SearchFilter("name", "HAS_PROPERTY")] * 6)
        with pytest.raises(ValueError, match="unknown operator"):
            hs.companies.search([SearchFilter("name", "LIKE", "x")])
        assert box.count("companies_search") == 0


# ---------------------------------------------------------------- answers the adapter must read right
def test_a_conflict_it_cannot_place_is_isolated_by_halving() -> None:
    """A 409 whose existing contact matches no input's email halves the batch until each part lands."""
    with running(contacts=1) as box:
        conflict = {
            "status": "error",
            "message": "Contact already exists. Existing ID: 99999",
            "category": "CONFLICT",
        }
        box.answer_next(409, conflict, endpoint=ENDPOINT)
        hs = adapter_for(box)
        result = hs.contacts.create([person(n) for n in range(4)])
        assert len(result.created) == 4 and not result.failures
        assert [len(r.body["inputs"]) for r in box.requests_to(ENDPOINT)] == [4, 2, 2]


def test_a_207_leaves_the_inputs_it_does_not_confirm_as_failures() -> None:
    """A 207 creating some inputs reports the others as failures, with HubSpot's error when it names them."""
    with running(contacts=1) as box:
        created = {
            "id": "777",
            "properties": {},
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
        }
        error = {
            "status": "error",
            "category": "INTERNAL_ERROR",
            "message": "try again",
            "context": {"objectWriteTraceId": [person(2).key]},
        }
        body = {
            "status": "COMPLETE",
            "results": [{**created, "objectWriteTraceId": person(1).key, "archived": False}],
            "numErrors": 1,
            "errors": [error],
            "startedAt": "2026-01-01T00:00:00Z",
            "completedAt": "2026-01-01T00:00:00Z",
        }
        box.answer_next(207, body, endpoint=ENDPOINT)
        hs = adapter_for(box)
        result = hs.contacts.create([person(1), person(2), person(3)])
        assert result.created == {person(1).key: "777"}
        codes = {f.key: f.code for f in result.failures}
        assert codes == {person(2).key: "INTERNAL_ERROR", person(3).key: "NOT_CONFIRMED"}


def test_results_without_trace_ids_are_matched_by_email_else_reported_unmatched() -> None:
    """An answer without the echoed trace ids is matched by email; what cannot be matched is never guessed."""
    with running(contacts=1) as box:
        stamp = "2026-01-01T00:00:00Z"
        results = [
            {
                "id": "801",
                "properties": {"email": "ada2@prospect.example"},
                "createdAt": stamp,
                "updatedAt": stamp,
            },
            {"id": "802", "properties": {}, "createdAt": stamp, "updatedAt": stamp},
        ]
        body = {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp}
        box.answer_next(201, body, endpoint=ENDPOINT)
        hs = adapter_for(box)
        nameless = NewContact("nameless", {"firstname": "No email"})
        result = hs.contacts.create([nameless, person(2)])
        assert result.created == {person(2).key: "801"}
        assert result.unmatched == ["802"]
        assert [(f.key, f.code) for f in result.failures] == [("nameless", "UNATTRIBUTED")]


def test_a_refused_connection_is_not_taken_for_an_applied_create() -> None:
    """With HubSpot unreachable the create was never sent: a plain unavailable error, not CreateMaybeApplied."""
    with running(contacts=1) as box:
        hs = adapter_for(box)
        box.go_down()
        try:
            with pytest.raises(HubSpotUnavailableError) as raised:
                hs.contacts.create([person(1)])
            assert not isinstance(raised.value, CreateMaybeApplied)
            assert raised.value.maybe_applied is False
        finally:
            box.come_back()


def test_a_reset_connection_is_taken_for_a_create_that_may_have_landed() -> None:
    """A connection reset once the request was sent may hide an applied create: it is not resent."""
    with running(contacts=1) as box:
        box.reset_next(1, endpoint=ENDPOINT)
        hs = adapter_for(box)
        with pytest.raises(CreateMaybeApplied):
            hs.contacts.create([person(1)])
        assert box.count(ENDPOINT) == 1

"""The sandbox's HubSpot companies and v4 associations, over plain HTTP: HubSpot's answers and refusals.

The required fields asserted here are those of HubSpot's public OpenAPI specs
(HubSpot/HubSpot-public-api-spec-collection: CRM/Companies/Rollouts/424/v3/companies.json and
CRM/Associations/Rollouts/50914/v4/associations.json).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import hubspot
import pytest
import urllib3
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
)

from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.hubspot_companies import company_domain_of
from tests.hubspot_fixtures import embedded_errors, http, running

COMPANIES = "/crm/v3/objects/companies"
SEARCH = f"{COMPANIES}/search"
BATCH_READ = f"{COMPANIES}/batch/read"
BATCH_UPDATE = f"{COMPANIES}/batch/update"
PROPERTIES = "/crm/v3/properties/companies"
GROUPS = f"{PROPERTIES}/groups"
ASSOCIATIONS = "/crm/v4/associations/contacts/companies/batch/read"

# Required fields of the OpenAPI schemas the answers are instances of.
SIMPLE_PUBLIC_OBJECT = {"archived", "createdAt", "id", "properties", "updatedAt"}
BATCH_RESPONSE = {"completedAt", "results", "startedAt", "status"}
STANDARD_ERROR = {"category", "context", "errors", "links", "message", "status"}
COLLECTION_WITH_TOTAL = {"results", "total"}
ASSOCIATION_MULTI = {"from", "to"}
ASSOCIATED_OBJECT = {"associationTypes", "toObjectId"}
ASSOCIATION_SPEC = {"category", "typeId"}


@pytest.fixture(scope="module")
def box() -> Iterator[HubSpotSandbox]:
    """A 120-contact portal with its seeded companies; tests must not change it."""
    with running(contacts=120, seed=11) as sandbox:
        yield sandbox


@pytest.fixture
def fresh() -> Iterator[HubSpotSandbox]:
    """A small portal a test may change."""
    with running(contacts=40, seed=3) as sandbox:
        yield sandbox


def _duplicate_domain(sandbox: HubSpotSandbox) -> str:
    held = Counter(sandbox.company(c)["domain"] for c in sandbox.company_ids())
    return next(d for d, n in sorted(held.items(), key=str) if d and n == 2)


# ------------------------------------------------------------------------------ seed
def test_seed_gives_companies_for_the_contacts_domains_with_real_portals_gaps(box: HubSpotSandbox) -> None:
    """Companies exist for the contacts' domains; some have no domain, some domains have two, some contacts no company."""
    companies = [box.company(c) for c in box.company_ids()]
    domains = Counter(c["domain"] for c in companies if c["domain"])
    contact_domains = {
        company_domain_of(box.contact(c)) for c in box.contact_ids() if box.contact(c)["company"]
    }
    assert any(c["domain"] is None for c in companies)
    assert sum(1 for n in domains.values() if n == 2) >= 1 and max(domains.values()) == 2
    assert set(domains) <= contact_domains
    links = {c: box.company_links(c) for c in box.contact_ids()}
    with_company = [c for c, linked in links.items() if linked]
    assert len(with_company) < sum(1 for c in box.contact_ids() if box.contact(c)["company"])
    assert all(sum(linked.values()) == 1 for c, linked in links.items() if linked)  # one primary each
    assert any(len(linked) == 2 for linked in links.values())  # a second, unlabelled company
    assert all(not links[c] for c in box.contact_ids() if not box.contact(c)["company"])
    assert int(box.company_ids()[0]) > 2**31  # ids past int32, as real portals have


def test_seed_is_deterministic() -> None:
    """The same contacts and seed give the same companies and associations."""
    with running(contacts=60, seed=5) as one, running(contacts=60, seed=5) as two:
        assert [one.company(c) for c in one.company_ids()] == [two.company(c) for c in two.company_ids()]
        assert [one.company_links(c) for c in one.contact_ids()] == [
            two.company_links(c) for c in two.contact_ids()
        ]


# ------------------------------------------------------------------------------ auth and limits
@pytest.mark.parametrize("path", [SEARCH, BATCH_READ, BATCH_UPDATE, ASSOCIATIONS])
def test_company_endpoints_refuse_a_wrong_token_with_401(box: HubSpotSandbox, path: str) -> None:
    """Every company and association endpoint wants the token: 401 INVALID_AUTHENTICATION otherwise."""
    with http(box, token="pat-wrong") as client:
        answer = client.post(path, json={"inputs": []})
    assert answer.status_code == 401 and answer.json()["category"] == "INVALID_AUTHENTICATION"


def test_missing_company_scopes_are_403_naming_the_scope(fresh: HubSpotSandbox) -> None:
    """A token without the companies scopes is refused with 403 naming the granular scope it lacks."""
    fresh.granted_scopes = {"crm.objects.contacts.read", "crm.schemas.contacts.read"}
    with http(fresh) as client:
        search = client.post(SEARCH, json={})
        update = client.post(BATCH_UPDATE, json={"inputs": []})
        schema = client.get(PROPERTIES)
        links = client.post(ASSOCIATIONS, json={"inputs": [{"id": fresh.contact_ids()[0]}]})
    assert search.status_code == update.status_code == schema.status_code == 403
    assert search.json()["errors"][0]["context"] == {"requiredGranularScopes": ["crm.objects.companies.read"]}
    assert update.json()["errors"][0]["context"] == {
        "requiredGranularScopes": ["crm.objects.companies.write"]
    }
    assert schema.json()["errors"][0]["context"] == {"requiredGranularScopes": ["crm.schemas.companies.read"]}
    assert links.status_code in (200, 207)  # reading a contact's associations needs the contacts scope


def test_company_search_shares_the_search_limit_and_other_calls_carry_rate_headers() -> None:
    """Company searches count against the per-second search limit (no headers); batch calls report the window."""
    with running(contacts=10, searches_per_second=2, requests_per_10s=50) as small, http(small) as client:
        searches = [client.post(SEARCH, json={}), client.post("/crm/v3/objects/contacts/search", json={})]
        third = client.post(SEARCH, json={})
        read = client.post(BATCH_READ, json={"inputs": [], "properties": []})
        links = client.post(ASSOCIATIONS, json={"inputs": []})
    assert [a.status_code for a in searches] == [200, 200]
    assert third.status_code == 429 and third.json()["policyName"] == "SECONDLY"
    assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in searches[0].headers)
    assert read.headers["X-HubSpot-RateLimit-Remaining"] == "49"
    assert links.headers["X-HubSpot-RateLimit-Remaining"] == "48"


# ------------------------------------------------------------------------------ search
def test_search_by_domain_in_finds_both_holders_of_a_domain_in_the_spec_shape(box: HubSpotSandbox) -> None:
    """`domain IN` (any case) finds every company with the domain; the answer is a CollectionResponseWithTotal."""
    shared = _duplicate_domain(box)
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "domain", "operator": "IN", "values": [shared.upper(), "x.io"]}]}
        ],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        "properties": ["numberofemployees"],
        "limit": 200,
        "after": "0",
    }
    with http(box) as client:
        answer = client.post(SEARCH, json=body).json()
    assert set(answer) >= COLLECTION_WITH_TOTAL and answer["total"] == 2
    assert [r["id"] for r in answer["results"]] == box.companies_with_domain(shared)
    result = answer["results"][0]
    assert set(result) >= SIMPLE_PUBLIC_OBJECT
    assert set(result["properties"]) == {
        "createdate",
        "domain",
        "hs_lastmodifieddate",
        "hs_object_id",
        "name",
        "numberofemployees",
    }
    assert result["properties"]["domain"] == shared and "paging" not in answer


def test_search_pages_with_after_and_the_depth_cap(box: HubSpotSandbox) -> None:
    """Offset paging gives paging.next.after until the end; past 10,000 results is a 400."""
    with http(box) as client:
        first = client.post(SEARCH, json={"limit": 5}).json()
        rest = client.post(SEARCH, json={"limit": 200, "after": first["paging"]["next"]["after"]}).json()
        deep = client.post(SEARCH, json={"limit": 100, "after": 9_950})
    assert [r["id"] for r in first["results"] + rest["results"]] == box.company_ids()
    assert "paging" not in rest and deep.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "domain",
                            "operator": "IN",
                            "values": [f"d{i}.com" for i in range(101)],
                        }
                    ]
                }
            ]
        },
        {"filterGroups": [{"filters": [{"propertyName": "no_such", "operator": "EQ", "value": "x"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "domain", "operator": "LIKE", "value": "x"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "domain", "operator": "HAS_PROPERTY"}] * 7}]},
        {"filterGroups": [{"filters": []}] * 6},
        {"limit": 201},
        {"sorts": [{"propertyName": "name"}, {"propertyName": "domain"}]},
        {"sorts": [{"propertyName": "lastname"}]},  # a contact property, not a company one
    ],
)
def test_invalid_company_searches_are_400_validation_errors(
    box: HubSpotSandbox, body: dict[str, Any]
) -> None:
    """Over 100 IN values, unknown properties or operators, too many filters or groups, big limits: 400."""
    with http(box) as client:
        answer = client.post(SEARCH, json=body)
    assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"


def test_search_without_domain_and_sorted_by_a_property(box: HubSpotSandbox) -> None:
    """NOT_HAS_PROPERTY finds the companies with no domain; a sort by a number orders them."""
    body = {
        "filterGroups": [{"filters": [{"propertyName": "domain", "operator": "NOT_HAS_PROPERTY"}]}],
        "sorts": [{"propertyName": "numberofemployees", "direction": "DESCENDING"}],
        "properties": ["numberofemployees"],
        "limit": 200,
    }
    with http(box) as client:
        results = client.post(SEARCH, json=body).json()["results"]
    assert results and all(r["properties"]["domain"] is None for r in results)
    sizes = [int(r["properties"]["numberofemployees"]) for r in results]
    assert sizes == sorted(sizes, reverse=True)


# ------------------------------------------------------------------------------ read and update
def test_batch_read_gives_207_with_standard_errors_for_unknown_ids(box: HubSpotSandbox) -> None:
    """Known companies come back; unknown ids are listed in one OBJECT_NOT_FOUND StandardError."""
    known = box.company_ids()[:2]
    inputs = [{"id": known[0]}, {"id": "424242"}, {"id": known[1]}, {"id": box.contact_ids()[0]}]
    with http(box) as client:
        answer = client.post(
            BATCH_READ, json={"inputs": inputs, "properties": ["industry"], "propertiesWithHistory": []}
        )
        too_many = client.post(
            BATCH_READ, json={"inputs": [{"id": str(i)} for i in range(101)], "properties": []}
        )
    assert answer.status_code == 207
    body = answer.json()
    assert set(body) >= BATCH_RESPONSE and body["status"] == "COMPLETE" and body["numErrors"] == 1
    assert [r["id"] for r in body["results"]] == known and "industry" in body["results"][0]["properties"]
    (error,) = body["errors"]
    assert set(error) >= STANDARD_ERROR and error["category"] == "OBJECT_NOT_FOUND"
    assert error["context"] == {"ids": ["424242", box.contact_ids()[0]]}  # a contact id is no company id
    assert too_many.status_code == 400


def test_get_one_company_and_404(box: HubSpotSandbox) -> None:
    """GET one company gives the default properties plus those asked; an unknown id is a 404."""
    cid = box.company_ids()[3]
    with http(box) as client:
        one = client.get(f"{COMPANIES}/{cid}", params={"properties": "industry,city"})
        missing = client.get(f"{COMPANIES}/1")
    assert one.status_code == 200 and one.json()["id"] == cid
    assert {"industry", "city", "name", "domain"} <= set(one.json()["properties"])
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"


def test_one_invalid_company_value_rejects_the_batch_with_embedded_errors(fresh: HubSpotSandbox) -> None:
    """A bad value (or a read-only or unknown property) fails the whole batch with 400, writing nothing."""
    fresh.define_company_property("saber_headcount", "number")
    first, second = fresh.company_ids()[:2]
    inputs = [
        {"id": first, "properties": {"saber_headcount": "12"}},
        {"id": second, "properties": {"saber_headcount": "a dozen", "hs_object_id": "1", "nope": "x"}},
    ]
    with http(fresh) as client:
        answer = client.post(BATCH_UPDATE, json={"inputs": inputs})
    assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"
    codes = {e["name"]: e["error"] for e in embedded_errors(answer.json())}
    assert codes == {
        "saber_headcount": "INVALID_LONG",
        "hs_object_id": "READ_ONLY_VALUE",
        "nope": "PROPERTY_DOESNT_EXIST",
    }
    assert fresh.company(first)["saber_headcount"] is None


def test_batch_update_writes_bumps_the_stamp_and_gives_207_for_unknown_ids(fresh: HubSpotSandbox) -> None:
    """Valid values land as HubSpot stores them; unknown ids come back as per-record errors (207)."""
    fresh.define_company_property("saber_checked_at", "datetime")
    cid = fresh.company_ids()[0]
    before = fresh.company(cid)["hs_lastmodifieddate"]
    inputs = [
        {"id": cid, "properties": {"saber_checked_at": "1700000000000", "description": "Makes things"}},
        {"id": "777", "properties": {"description": "ghost"}},
    ]
    with http(fresh) as client:
        answer = client.post(BATCH_UPDATE, json={"inputs": inputs})
        dupes = client.post(BATCH_UPDATE, json={"inputs": [inputs[0], inputs[0]]})
        too_many = client.post(
            BATCH_UPDATE, json={"inputs": [{"id": str(i), "properties": {}} for i in range(101)]}
        )
    assert answer.status_code == 207
    body = answer.json()
    assert [r["id"] for r in body["results"]] == [cid]
    assert body["results"][0]["properties"]["saber_checked_at"] == "2023-11-14T22:13:20.000Z"
    assert body["errors"][0]["context"] == {"ids": ["777"]} and set(body["errors"][0]) >= STANDARD_ERROR
    assert fresh.company(cid)["description"] == "Makes things"
    assert (fresh.company(cid)["hs_lastmodifieddate"] or "") > (before or "")
    assert dupes.status_code == too_many.status_code == 400


# ------------------------------------------------------------------------------ properties and groups
def test_company_properties_and_groups_are_their_own(fresh: HubSpotSandbox) -> None:
    """Company properties and groups are created, listed, patched and 409 apart from the contacts' ones."""
    prop = {
        "name": "saber_hiring",
        "label": "Saber hiring",
        "type": "bool",
        "fieldType": "booleancheckbox",
        "groupName": "saber",
    }
    with http(fresh) as client:
        orphan = client.post(PROPERTIES, json=prop)
        group = client.post(GROUPS, json={"name": "saber", "label": "Saber"})
        created = client.post(PROPERTIES, json=prop)
        again = client.post(PROPERTIES, json=prop)
        fetched = client.get(f"{PROPERTIES}/saber_hiring")
        listed = {p["name"] for p in client.get(PROPERTIES).json()["results"]}
        groups = [g["name"] for g in client.get(GROUPS).json()["results"]]
        one_group = client.get(f"{GROUPS}/saber")
        contact_side = client.get("/crm/v3/properties/contacts/saber_hiring")
        contact_groups = [
            g["name"] for g in client.get("/crm/v3/properties/contacts/groups").json()["results"]
        ]
        patched = client.patch(f"{PROPERTIES}/industry", json={"label": "Sector"})
    assert orphan.status_code == 400 and group.status_code == 201
    assert created.status_code == 201 and [o["value"] for o in created.json()["options"]] == ["true", "false"]
    assert again.status_code == 409 and again.json()["category"] == "OBJECT_ALREADY_EXISTS"
    assert fetched.json()["groupName"] == "saber"
    assert {"saber_hiring", "name", "domain", "numberofemployees"} <= listed and "firstname" not in listed
    assert groups[0] == "companyinformation" and "saber" in groups and one_group.json()["label"] == "Saber"
    assert contact_side.status_code == 404 and "saber" not in contact_groups
    assert patched.status_code == 200 and fresh.company_property_names().count("industry") == 1


# ------------------------------------------------------------------------------ associations v4
def test_associations_batch_read_in_the_spec_shape_with_the_primary_label(box: HubSpotSandbox) -> None:
    """Each contact's companies as PublicAssociationMultiWithLabel: type 1 Primary with 279, or 279 alone."""
    two = next(c for c in box.contact_ids() if len(box.company_links(c)) == 2)
    with http(box) as client:
        answer = client.post(ASSOCIATIONS, json={"inputs": [{"id": two}]})
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) >= BATCH_RESPONSE and body["status"] == "COMPLETE"
    (entry,) = body["results"]
    assert set(entry) >= ASSOCIATION_MULTI and entry["from"] == {"id": two}
    assert all(set(t) >= ASSOCIATED_OBJECT and isinstance(t["toObjectId"], int) for t in entry["to"])
    types = {str(t["toObjectId"]): t["associationTypes"] for t in entry["to"]}
    primary = box.primary_company(two)
    assert types[primary] == [
        {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"},
        {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None},
    ]
    (other,) = set(types) - {primary}
    assert types[other] == [{"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}]
    assert all(set(s) >= ASSOCIATION_SPEC for t in entry["to"] for s in t["associationTypes"])


def test_a_contact_without_companies_is_a_207_no_associations_error(box: HubSpotSandbox) -> None:
    """A contact with no company (or an unknown id) comes back as a NO_ASSOCIATIONS_FOUND StandardError."""
    alone = next(c for c in box.contact_ids() if not box.company_links(c))
    linked = next(c for c in box.contact_ids() if box.company_links(c))
    with http(box) as client:
        answer = client.post(ASSOCIATIONS, json={"inputs": [{"id": alone}, {"id": linked}, {"id": "999999"}]})
    assert answer.status_code == 207
    body = answer.json()
    assert [r["from"]["id"] for r in body["results"]] == [linked] and body["numErrors"] == 2
    assert all(set(e) >= STANDARD_ERROR for e in body["errors"])
    assert [e["context"] for e in body["errors"]] == [{"fromObjectId": [alone]}, {"fromObjectId": ["999999"]}]
    assert {e["subCategory"] for e in body["errors"]} == {"crm.associations.NO_ASSOCIATIONS_FOUND"}


def test_associations_page_per_input_with_after(fresh: HubSpotSandbox) -> None:
    """Past a page of associations an input gets paging.next.after; sent back with the id it gives the rest."""
    fresh.association_page = 2
    contact = fresh.contact_ids()[0]
    companies = fresh.company_ids()[:5]
    for cid in companies:
        fresh.associate(contact, cid)
    with http(fresh) as client:
        seen: list[str] = []
        item: dict[str, Any] = {"id": contact}
        for _ in range(5):
            entry = client.post(ASSOCIATIONS, json={"inputs": [item]}).json()["results"][0]
            seen += [str(t["toObjectId"]) for t in entry["to"]]
            if "paging" not in entry:
                break
            item = {"id": contact, "after": entry["paging"]["next"]["after"]}
    assert sorted(seen) == sorted(fresh.company_links(contact)) and len(seen) == len(set(seen)) >= 5


def test_the_company_to_contact_direction_uses_types_2_and_280(fresh: HubSpotSandbox) -> None:
    """Companies → contacts lists each linked contact, type 2 for whose primary company it is."""
    contact = next(c for c in fresh.contact_ids() if fresh.primary_company(c))
    company = fresh.primary_company(contact) or ""
    with http(fresh) as client:
        entry = client.post(
            "/crm/v4/associations/companies/contacts/batch/read", json={"inputs": [{"id": company}]}
        ).json()
    types = {
        str(t["toObjectId"]): [s["typeId"] for s in t["associationTypes"]] for t in entry["results"][0]["to"]
    }
    assert types[contact] == [2, 280]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/crm/v4/associations/contacts/widgets/batch/read", {"inputs": [{"id": "51"}]}),
        ("/crm/v4/associations/contacts/contacts/batch/read", {"inputs": [{"id": "51"}]}),
        (ASSOCIATIONS, {"inputs": [{"id": str(i)} for i in range(1_001)]}),
        (ASSOCIATIONS, {"inputs": [{"after": "1"}]}),
        (ASSOCIATIONS, {"inputs": "51"}),
    ],
)
def test_invalid_association_reads_are_400(box: HubSpotSandbox, path: str, body: dict[str, Any]) -> None:
    """Unknown object types or pairs, over 1,000 inputs, inputs without an id: 400 VALIDATION_ERROR."""
    with http(box) as client:
        answer = client.post(path, json=body)
    assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"


# ------------------------------------------------------------------------------ the official client
def test_the_official_client_deserialises_the_company_and_association_answers(fresh: HubSpotSandbox) -> None:
    """hubspot-api-client 12.x reads every company, property and association answer into its models."""
    client = hubspot.HubSpot(access_token=fresh.token, host=fresh.url, retry=urllib3.Retry(total=0))
    cid = fresh.company_ids()[0]
    contact = next(c for c in fresh.contact_ids() if fresh.primary_company(c))
    found = client.crm.companies.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(limit=2, properties=["industry"])
    )
    read = client.crm.companies.batch_api.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[{"id": cid}, {"id": "1"}], properties=["name"], properties_with_history=[]
        )
    )
    updated = client.crm.companies.batch_api.update(
        batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": cid, "properties": {"city": "Oslo"}}, {"id": "2", "properties": {"city": "Rome"}}]
        )
    )
    one = client.crm.companies.basic_api.get_by_id(company_id=cid, properties=["city"])
    props = client.crm.properties.core_api.get_all(object_type="companies")
    groups = client.crm.properties.groups_api.get_all(object_type="companies")
    links = client.crm.associations.v4.batch_api.get_page(
        from_object_type="contacts",
        to_object_type="companies",
        batch_input_public_fetch_associations_batch_request=BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[{"id": contact}, {"id": "1"}]
        ),
    )
    assert found.total == len(fresh.company_ids()) and found.results[0].updated_at is not None
    assert read.errors[0].context == {"ids": ["1"]} and read.results[0].id == cid
    assert [r.id for r in updated.results] == [cid] and updated.errors[0].context == {"ids": ["2"]}
    assert one.properties["city"] == "Oslo"
    assert "numberofemployees" in [p.name for p in props.results]
    assert groups.results[0].name == "companyinformation"
    assert links.results[0]._from.id == contact
    assert str(links.results[0].to[0].to_object_id) in fresh.company_links(contact)
    assert links.errors[0].context == {"fromObjectId": ["1"]}


def test_a_merged_contact_keeps_both_companies_and_an_archived_one_has_none(fresh: HubSpotSandbox) -> None:
    """Merging keeps the companies of both contacts (the primary's primary wins); an archived contact reads as none."""
    linked = [c for c in fresh.contact_ids() if fresh.primary_company(c)]
    first, second, gone = linked[0], linked[1], linked[2]
    wanted = {*fresh.company_links(first), *fresh.company_links(second)}
    lead = fresh.primary_company(first)
    merged = fresh.merge_contacts(first, second)
    fresh.archive_contact(gone)
    with http(fresh) as client:
        body = client.post(ASSOCIATIONS, json={"inputs": [{"id": merged}, {"id": gone}]}).json()
    (entry,) = body["results"]
    assert {str(t["toObjectId"]) for t in entry["to"]} == wanted and fresh.primary_company(merged) == lead
    assert body["errors"][0]["context"] == {"fromObjectId": [gone]}
